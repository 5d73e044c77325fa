package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.testing.SerializingS3Proxy;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.Fault;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.Operation;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.RequestCounter;
import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.InstanceRecord;
import dev.latchkey.core.testing.TestingClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The instance registry on S3, beyond the store contract: the requests publishing, removing and listing cost, what
 * the record's object holds, and that a listing skips what is not a record and what vanishes while it reads.
 */
class TestS3InstanceRegistry
{
    private static final Instant NOW = Instant.parse("2026-12-01T00:00:00.123Z");

    private final TestingClock clock = new TestingClock(NOW);
    private final TestingS3Stores stores = new TestingS3Stores();
    private final SerializingS3Proxy proxy = TestingS3.shared().serializingProxy();

    @AfterEach
    void closeStores()
    {
        stores.closeAll();
    }

    @Test
    void publishingIsOnePutRemovingOneDeleteAndListingOneListAndAGetPerInstance()
    {
        String prefix = TestingS3.uniquePrefix("instances-requests");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        S3IdentityStore other = stores.openAnother(store, clock);
        InstanceRecord a = instance("instance-a", 3);
        InstanceRecord b = instance("host-b:8080", 4);
        InstanceRecord c = instance("pod-c", 5);

        assertThat(requests(prefix, () -> store.publishInstance(a))).as("a first publish, on a handle that has not written").isEqualTo(Map.of(Operation.PUT_OBJECT, 1L));
        assertThat(requests(prefix, () -> other.publishInstance(b))).isEqualTo(Map.of(Operation.PUT_OBJECT, 1L));
        assertThat(requests(prefix, () -> other.publishInstance(c))).isEqualTo(Map.of(Operation.PUT_OBJECT, 1L));
        InstanceRecord again = a.publishedAgain(FeedPosition.of(9), NOW.plusSeconds(9), NOW.plusSeconds(10));
        assertThat(requests(prefix, () -> store.publishInstance(again))).as("publishing again").isEqualTo(Map.of(Operation.PUT_OBJECT, 1L));

        for (S3IdentityStore handle : List.of(store, other)) {
            List<InstanceRecord> listed = new ArrayList<>();
            assertThat(requests(prefix, () -> listed.addAll(handle.listInstances())))
                    .as("a LIST of instances/, and a GET of each instance's object")
                    .isEqualTo(Map.of(Operation.LIST_OBJECTS, 1L, Operation.GET_OBJECT, 3L));
            assertThat(listed).as("in instance id order, every field as published").containsExactly(b, again, c);
        }

        assertThat(requests(prefix, () -> other.removeInstance("instance-a"))).isEqualTo(Map.of(Operation.DELETE_OBJECT, 1L));
        assertThat(requests(prefix, () -> store.removeInstance("never-published"))).as("removing an absent record").isEqualTo(Map.of(Operation.DELETE_OBJECT, 1L));
        assertThat(requests(prefix, () -> assertThatThrownBy(() -> store.removeInstance("not an id/")).isInstanceOf(IllegalArgumentException.class)))
                .as("an invalid id is refused before any request").isEmpty();
        assertThat(store.listInstances()).containsExactly(b, c);

        List<InstanceRecord> none = new ArrayList<>();
        other.removeInstance("host-b:8080");
        other.removeInstance("pod-c");
        assertThat(requests(prefix, () -> none.addAll(store.listInstances()))).as("an empty registry: the LIST alone").isEqualTo(Map.of(Operation.LIST_OBJECTS, 1L));
        assertThat(none).isEmpty();
        assertThat(store.headPosition()).as("the registry is not a change").isEqualTo(FeedPosition.START);
    }

    @Test
    void theRecordIsSmallJsonWithInstantsAndTheHeartbeatAsIsoStrings()
    {
        String prefix = TestingS3.uniquePrefix("instances-json");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        // finer than a millisecond, and a heartbeat that is not whole seconds: both come back exactly
        InstanceRecord record = new InstanceRecord("instance-a", "", "1.2.3-SNAPSHOT", NOW.minusSeconds(60).plusNanos(456_789), FeedPosition.START,
                NOW.minusMillis(1), NOW, Duration.ofMillis(2_500));
        store.publishInstance(record);

        assertThat(store.listInstances()).containsExactly(record);
        assertThat(read(prefix + "instances/instance-a.json")).isEqualTo("{\"instanceId\":\"instance-a\",\"url\":\"\",\"version\":\"1.2.3-SNAPSHOT\","
                + "\"startedAt\":\"2026-11-30T23:59:00.123456789Z\",\"appliedPosition\":0,\"feedReadAt\":\"2026-12-01T00:00:00.122Z\","
                + "\"publishedAt\":\"2026-12-01T00:00:00.123Z\",\"heartbeat\":\"PT2.5S\"}");
    }

    @Test
    void aListingSkipsObjectsThatHoldNoRecordOfTheirInstance()
    {
        String prefix = TestingS3.uniquePrefix("instances-garbage");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        InstanceRecord a = instance("instance-a", 3);
        InstanceRecord z = instance("instance-z", 4);
        store.publishInstance(a);
        store.publishInstance(z);
        write(prefix + "instances/garbage.json", "not json at all");
        write(prefix + "instances/empty.json", "");
        write(prefix + "instances/truncated.json", "{\"instanceId\":\"truncated\",\"url\":\"\"}");
        write(prefix + "instances/bad-heartbeat.json", new String(Documents.write(Documents.Instance.of(instance("bad-heartbeat", 1))), StandardCharsets.UTF_8)
                .replace("PT10S", "PT0S"));
        write(prefix + "instances/copied.json", new String(Documents.write(Documents.Instance.of(instance("instance-q", 1))), StandardCharsets.UTF_8));
        write(prefix + "instances/notes.txt", "not a record's name");
        write(prefix + "instances/nested/instance-n.json", new String(Documents.write(Documents.Instance.of(instance("instance-n", 1))), StandardCharsets.UTF_8));

        List<InstanceRecord> listed = new ArrayList<>();
        Map<Operation, Long> made = requests(prefix, () -> listed.addAll(store.listInstances()));
        assertThat(listed).containsExactly(a, z);
        assertThat(made).as("a GET of each .json object directly under instances/").isEqualTo(Map.of(Operation.LIST_OBJECTS, 1L, Operation.GET_OBJECT, 7L));
    }

    @Test
    void anObjectDeletedBetweenTheListAndItsGetIsLeftOut()
    {
        String prefix = TestingS3.uniquePrefix("instances-vanishing");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        S3IdentityStore stopping = stores.openAnother(store, clock);
        InstanceRecord a = instance("instance-a", 3);
        InstanceRecord b = instance("instance-b", 4);
        InstanceRecord c = instance("instance-c", 5);
        List.of(a, b, c).forEach(store::publishInstance);

        String objectOfB = prefix + ObjectLayout.instance("instance-b");
        Fault stop = proxy.beforeNext(request -> request.operation() == Operation.GET_OBJECT && request.key().map(objectOfB::equals).orElse(false),
                () -> stopping.removeInstance("instance-b"));
        assertThat(store.listInstances()).containsExactly(a, c);
        assertThat(stop.fired()).isTrue();
        assertThat(stop.failure()).isEmpty();
    }

    @Test
    void aMissingBucketIsUnavailableForTheRegistry()
    {
        S3StoreConfig config = S3StoreConfig.of("no-such-bucket-here")
                .withEndpoint(TestingS3.shared().endpoint())
                .withPathStyle(true)
                .withPrefix(TestingS3.uniquePrefix("instances-missing"));
        S3IdentityStore store = stores.open(config, clock);

        assertUnavailable(() -> store.publishInstance(instance("instance-a", 1)));
        assertUnavailable(() -> store.removeInstance("instance-a"));
        assertUnavailable(store::listInstances);
    }

    private static void assertUnavailable(Executable call)
    {
        assertThatThrownBy(call::execute)
                .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
                .hasMessageContaining("S3 answered 404 NoSuchBucket");
    }

    private Map<Operation, Long> requests(String prefix, Runnable call)
    {
        try (RequestCounter counter = proxy.countRequests(request -> request.isUnder(prefix))) {
            call.run();
            Map<Operation, Long> made = new HashMap<>();
            counter.counts().forEach((operation, count) -> {
                if (count > 0) {
                    made.put(operation, count);
                }
            });
            return made;
        }
    }

    private static InstanceRecord instance(String instanceId, long applied)
    {
        return new InstanceRecord(instanceId, "http://" + instanceId + ":8080", "1.2.3", NOW.minusSeconds(60), FeedPosition.of(applied), NOW.minusSeconds(1), NOW,
                Duration.ofSeconds(10));
    }

    private static void write(String key, String content)
    {
        try (S3Client client = TestingS3.shared().newClient()) {
            client.putObject(put -> put.bucket(TestingS3.SHARED_BUCKET).key(key), RequestBody.fromString(content, StandardCharsets.UTF_8));
        }
    }

    private static String read(String key)
    {
        try (S3Client client = TestingS3.shared().newClient()) {
            return client.getObjectAsBytes(get -> get.bucket(TestingS3.SHARED_BUCKET).key(key)).asUtf8String();
        }
    }
}

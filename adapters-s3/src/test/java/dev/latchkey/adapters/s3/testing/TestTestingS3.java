package dev.latchkey.adapters.s3.testing;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.Fault;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.Operation;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.RequestCounter;
import dev.latchkey.core.testing.Waiting;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.TestInstance.Lifecycle.PER_CLASS;

/**
 * What the S3 adapter relies on S3Mock for, checked against the real process: conditional writes, reads and deletes,
 * listing, the serializing proxy, and a paused server.
 */
@TestInstance(PER_CLASS)
final class TestTestingS3
{
    private static final String ETAG = "\"[0-9a-f]{32}\"";
    private static final int RACERS = 32;

    private TestingS3 s3;
    private S3Client client;

    @BeforeAll
    void start()
    {
        s3 = TestingS3.shared();
        client = s3.newClient();
    }

    @AfterAll
    void stop()
    {
        client.close();
    }

    @Test
    void putIfNoneMatchOnExistingKeyFails()
    {
        String key = TestingS3.uniquePrefix("if-none-match") + "object";
        String etag = put(client, PutObjectRequest.builder().ifNoneMatch("*"), key, "first");
        assertThat(etag).matches(ETAG);

        assertThatThrownBy(() -> put(client, PutObjectRequest.builder().ifNoneMatch("*"), key, "second"))
                .isInstanceOfSatisfying(S3Exception.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(412);
                    assertThat(e.awsErrorDetails().errorCode()).isEqualTo("PreconditionFailed");
                });
        assertThat(get(client, key)).isEqualTo("first");
    }

    @Test
    void putIfMatch()
    {
        String key = TestingS3.uniquePrefix("if-match") + "object";
        String first = put(client, PutObjectRequest.builder(), key, "first");

        assertThatThrownBy(() -> put(client, PutObjectRequest.builder().ifMatch("\"0123456789abcdef0123456789abcdef\""), key, "second"))
                .isInstanceOfSatisfying(S3Exception.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(412);
                    assertThat(e.awsErrorDetails().errorCode()).isEqualTo("PreconditionFailed");
                });
        assertThat(get(client, key)).isEqualTo("first");

        String second = put(client, PutObjectRequest.builder().ifMatch(first), key, "second");
        assertThat(second).matches(ETAG).isNotEqualTo(first);
        assertThat(get(client, key)).isEqualTo("second");
        // the old version's etag no longer matches
        assertThatThrownBy(() -> put(client, PutObjectRequest.builder().ifMatch(first), key, "third"))
                .isInstanceOfSatisfying(S3Exception.class, e -> assertThat(e.statusCode()).isEqualTo(412));
    }

    @Test
    void putIfMatchOnMissingKeyFails()
    {
        String key = TestingS3.uniquePrefix("if-match-missing") + "object";
        assertThatThrownBy(() -> put(client, PutObjectRequest.builder().ifMatch("\"0123456789abcdef0123456789abcdef\""), key, "value"))
                .isInstanceOfSatisfying(NoSuchKeyException.class, e -> assertThat(e.statusCode()).isEqualTo(404));
    }

    @Test
    void getIfNoneMatchCurrentEtagIsNotModified()
    {
        String key = TestingS3.uniquePrefix("get-if-none-match") + "object";
        String etag = put(client, PutObjectRequest.builder(), key, "value");

        // the SDK surfaces 304 as a plain S3Exception, with no error code
        assertThatThrownBy(() -> client.getObjectAsBytes(request -> request.bucket(s3.bucket()).key(key).ifNoneMatch(etag)))
                .isExactlyInstanceOf(S3Exception.class)
                .satisfies(e -> {
                    assertThat(((S3Exception) e).statusCode()).isEqualTo(304);
                    assertThat(((S3Exception) e).awsErrorDetails().errorCode()).isNull();
                });
        assertThatThrownBy(() -> client.headObject(request -> request.bucket(s3.bucket()).key(key).ifNoneMatch(etag)))
                .isInstanceOfSatisfying(S3Exception.class, e -> assertThat(e.statusCode()).isEqualTo(304));

        ResponseBytes<GetObjectResponse> changed = client.getObjectAsBytes(request -> request.bucket(s3.bucket()).key(key)
                .ifNoneMatch("\"0123456789abcdef0123456789abcdef\""));
        assertThat(changed.asUtf8String()).isEqualTo("value");
        assertThat(changed.response().eTag()).isEqualTo(etag);
    }

    @Test
    void deleteIfMatch()
    {
        String key = TestingS3.uniquePrefix("delete-if-match") + "object";
        String etag = put(client, PutObjectRequest.builder(), key, "value");

        assertThatThrownBy(() -> client.deleteObject(request -> request.bucket(s3.bucket()).key(key).ifMatch("\"0123456789abcdef0123456789abcdef\"")))
                .isInstanceOfSatisfying(S3Exception.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(412);
                    assertThat(e.awsErrorDetails().errorCode()).isEqualTo("PreconditionFailed");
                });
        assertThat(get(client, key)).isEqualTo("value");

        assertThat(client.deleteObject(request -> request.bucket(s3.bucket()).key(key).ifMatch(etag)).sdkHttpResponse().statusCode()).isEqualTo(204);
        assertThatThrownBy(() -> get(client, key)).isInstanceOf(NoSuchKeyException.class);
        // conditional on a missing object: 404, where an unconditional delete of a missing key succeeds
        assertThatThrownBy(() -> client.deleteObject(request -> request.bucket(s3.bucket()).key(key).ifMatch(etag)))
                .isInstanceOfSatisfying(NoSuchKeyException.class, e -> assertThat(e.statusCode()).isEqualTo(404));
        assertThat(client.deleteObject(request -> request.bucket(s3.bucket()).key(key)).sdkHttpResponse().statusCode()).isEqualTo(204);
    }

    @Test
    void listStartAfterAndMaxKeys()
    {
        String prefix = TestingS3.uniquePrefix("list");
        for (String name : List.of("d", "a", "c", "b")) {
            put(client, PutObjectRequest.builder(), prefix + name, name);
        }

        ListObjectsV2Response first = client.listObjectsV2(request -> request.bucket(s3.bucket()).prefix(prefix).startAfter(prefix + "a").maxKeys(2));
        assertThat(first.contents()).extracting(S3Object::key).containsExactly(prefix + "b", prefix + "c");
        assertThat(first.isTruncated()).isTrue();
        assertThat(first.contents()).extracting(S3Object::eTag).allMatch(etag -> etag.matches(ETAG));

        ListObjectsV2Response second = client.listObjectsV2(request -> request.bucket(s3.bucket()).prefix(prefix).maxKeys(2)
                .continuationToken(first.nextContinuationToken()));
        assertThat(second.contents()).extracting(S3Object::key).containsExactly(prefix + "d");
        assertThat(second.isTruncated()).isFalse();
    }

    @Test
    void proxyForwardsRequestsUnchanged()
    {
        String prefix = TestingS3.uniquePrefix("proxy");
        String key = prefix + "a key with spaces+plus/ünïcödé";
        try (S3Client proxied = s3.serializingProxy().newClient()) {
            String etag = put(proxied, PutObjectRequest.builder().ifNoneMatch("*").contentType("application/json").metadata(Map.of("origin", "test")),
                    key, "{\"value\": 1}");
            assertThat(etag).matches(ETAG);
            assertThat(get(client, key)).isEqualTo("{\"value\": 1}");

            ResponseBytes<GetObjectResponse> read = proxied.getObjectAsBytes(request -> request.bucket(s3.bucket()).key(key));
            assertThat(read.asUtf8String()).isEqualTo("{\"value\": 1}");
            assertThat(read.response().eTag()).isEqualTo(etag);
            assertThat(read.response().contentType()).isEqualTo("application/json");
            assertThat(read.response().metadata()).containsEntry("origin", "test");

            HeadObjectResponse head = proxied.headObject(request -> request.bucket(s3.bucket()).key(key));
            assertThat(head.contentLength()).isEqualTo(12);
            assertThat(head.eTag()).isEqualTo(etag);

            assertThatThrownBy(() -> proxied.getObjectAsBytes(request -> request.bucket(s3.bucket()).key(key).ifNoneMatch(etag)))
                    .isInstanceOfSatisfying(S3Exception.class, e -> assertThat(e.statusCode()).isEqualTo(304));
            assertThatThrownBy(() -> put(proxied, PutObjectRequest.builder().ifMatch("\"0123456789abcdef0123456789abcdef\""), key, "x"))
                    .isInstanceOfSatisfying(S3Exception.class, e -> {
                        assertThat(e.statusCode()).isEqualTo(412);
                        assertThat(e.awsErrorDetails().errorCode()).isEqualTo("PreconditionFailed");
                    });
            assertThatThrownBy(() -> get(proxied, prefix + "missing")).isInstanceOf(NoSuchKeyException.class);

            assertThat(proxied.listObjectsV2(request -> request.bucket(s3.bucket()).prefix(prefix)).contents())
                    .extracting(S3Object::key)
                    .containsExactly(key);

            String empty = put(proxied, PutObjectRequest.builder(), prefix + "empty", "");
            assertThat(get(proxied, prefix + "empty")).isEmpty();
            assertThat(empty).matches(ETAG);

            proxied.deleteObject(request -> request.bucket(s3.bucket()).key(key).ifMatch(etag));
            assertThatThrownBy(() -> get(client, key)).isInstanceOf(NoSuchKeyException.class);
        }
    }

    @Test
    void proxyMakesIfNoneMatchAtomic()
            throws Exception
    {
        ExecutorService executor = Executors.newFixedThreadPool(RACERS);
        try (S3Client proxied = s3.serializingProxy().newClient()) {
            for (int round = 0; round < 3; round++) {
                String key = TestingS3.uniquePrefix("race-" + round) + "object";
                CountDownLatch go = new CountDownLatch(1);
                List<Future<Integer>> statuses = new ArrayList<>();
                for (int racer = 0; racer < RACERS; racer++) {
                    String value = "racer " + racer;
                    statuses.add(executor.submit(() -> {
                        go.await();
                        try {
                            put(proxied, PutObjectRequest.builder().ifNoneMatch("*"), key, value);
                            return 200;
                        }
                        catch (S3Exception e) {
                            return e.statusCode();
                        }
                    }));
                }
                go.countDown();
                List<Integer> results = new ArrayList<>();
                for (Future<Integer> status : statuses) {
                    results.add(status.get(60, TimeUnit.SECONDS));
                }
                assertThat(results).as("round %s", round).containsOnly(200, 412).filteredOn(status -> status == 200).hasSize(1);
                assertThat(get(client, key)).startsWith("racer ");
            }
        }
        finally {
            executor.shutdownNow();
        }
    }

    @Test
    void proxyForwardsReadsOfOneKeySideBySideAndAWriteAfterThem()
            throws Exception
    {
        ExecutorService executor = Executors.newFixedThreadPool(3);
        try (TestingS3 own = TestingS3.start("side-by-side");
                S3Client ownClient = own.newClient();
                S3Client proxied = own.serializingProxy().newClient()) {
            SerializingS3Proxy proxy = own.serializingProxy();
            put(ownClient, "side-by-side", "key", "before");
            try (RequestCounter writes = proxy.countRequests(request -> request.operation() == Operation.PUT_OBJECT)) {
                own.pause();
                List<Future<String>> reads = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    reads.add(executor.submit(() -> proxied.getObjectAsBytes(request -> request.bucket("side-by-side").key("key")).asUtf8String()));
                }
                assertThat(Waiting.until(() -> proxy.forwarding() == 2, Duration.ofSeconds(30))).as("both reads of the key forwarded to the paused server at once").isTrue();

                Future<?> write = executor.submit(() -> put(proxied, "side-by-side", "key", "after"));
                assertThat(Waiting.until(() -> writes.total() == 1, Duration.ofSeconds(30))).as("the write received by the proxy").isTrue();
                assertThat(proxy.forwarding()).as("the write waits for the reads of its key").isEqualTo(2);

                own.resume();
                for (Future<String> read : reads) {
                    assertThat(read.get(60, TimeUnit.SECONDS)).isEqualTo("before");
                }
                write.get(60, TimeUnit.SECONDS);
                assertThat(ownClient.getObjectAsBytes(request -> request.bucket("side-by-side").key("key")).asUtf8String()).isEqualTo("after");
            }
            finally {
                own.resume();
            }
        }
        finally {
            executor.shutdownNow();
        }
    }


    @Test
    void proxyCountsRequests()
    {
        SerializingS3Proxy proxy = s3.serializingProxy();
        String prefix = TestingS3.uniquePrefix("proxy-count");
        try (S3Client proxied = proxy.newClient()) {
            RequestCounter counter = proxy.countRequests(request -> request.isUnder(prefix));
            try (RequestCounter other = proxy.countRequests(request -> request.isUnder(prefix + "other/"))) {
                put(proxied, PutObjectRequest.builder(), prefix + "object", "value");
                assertThat(get(proxied, prefix + "object")).isEqualTo("value");
                proxied.headObject(request -> request.bucket(s3.bucket()).key(prefix + "object"));
                assertThat(proxied.listObjectsV2(request -> request.bucket(s3.bucket()).prefix(prefix)).contents()).hasSize(1);
                proxied.deleteObject(request -> request.bucket(s3.bucket()).key(prefix + "object"));
                assertThat(other.total()).isZero();
            }
            counter.close();
            put(proxied, PutObjectRequest.builder(), prefix + "after", "value");

            assertThat(counter.counts()).containsExactlyInAnyOrderEntriesOf(Map.of(
                    Operation.PUT_OBJECT, 1L,
                    Operation.GET_OBJECT, 1L,
                    Operation.HEAD_OBJECT, 1L,
                    Operation.LIST_OBJECTS, 1L,
                    Operation.DELETE_OBJECT, 1L,
                    Operation.OTHER, 0L));
            assertThat(counter.total()).isEqualTo(5);
        }
    }

    @Test
    void proxyDropsResponseAfterForwarding()
    {
        SerializingS3Proxy proxy = s3.serializingProxy();
        String key = TestingS3.uniquePrefix("proxy-drop") + "object";
        try (S3Client proxied = proxy.newClient();
                RequestCounter puts = proxy.countRequests(request -> request.isPutOf(key))) {
            String first = put(proxied, PutObjectRequest.builder().ifNoneMatch("*"), key, "first");
            Fault drop = proxy.dropNextResponse(request -> request.isPutOf(key));

            // the server executes the PUT, its answer is lost, and the SDK's retry finds the condition failed
            assertThatThrownBy(() -> put(proxied, PutObjectRequest.builder().ifMatch(first), key, "second"))
                    .isInstanceOfSatisfying(S3Exception.class, e -> assertThat(e.statusCode()).isEqualTo(412));
            assertThat(drop.fired()).isTrue();
            assertThat(drop.firedOn().orElseThrow().header("if-match")).contains(first);
            assertThat(get(client, key)).isEqualTo("second");
            assertThat(puts.total()).isEqualTo(3);

            // fired once: the next request is answered
            assertThat(put(proxied, PutObjectRequest.builder(), key, "third")).matches(ETAG);
        }
    }

    @Test
    void proxyRunsActionBeforeForwarding()
    {
        SerializingS3Proxy proxy = s3.serializingProxy();
        String key = TestingS3.uniquePrefix("proxy-before") + "object";
        try (S3Client proxied = proxy.newClient()) {
            // the action writes the same key through the proxy: it runs before the request takes the key
            Fault before = proxy.beforeNext(request -> request.isPutOf(key), () -> put(proxied, PutObjectRequest.builder().ifNoneMatch("*"), key, "other"));

            assertThatThrownBy(() -> put(proxied, PutObjectRequest.builder().ifNoneMatch("*"), key, "mine"))
                    .isInstanceOfSatisfying(S3Exception.class, e -> assertThat(e.statusCode()).isEqualTo(412));
            assertThat(before.fired()).isTrue();
            assertThat(before.failure()).isEmpty();
            assertThat(get(client, key)).isEqualTo("other");

            Fault failing = proxy.beforeNext(request -> request.isPutOf(key), () -> {
                throw new IllegalStateException("injected");
            });
            assertThat(put(proxied, PutObjectRequest.builder(), key, "forwarded anyway")).matches(ETAG);
            assertThat(failing.failure()).get().extracting(Throwable::getMessage).isEqualTo("injected");
            assertThat(get(client, key)).isEqualTo("forwarded anyway");

            Fault unmatched = proxy.dropNextResponse(request -> request.isPutOf(key + "-never"));
            proxy.clearFaults();
            assertThat(unmatched.fired()).isFalse();
        }
    }

    @Test
    void pausedServerTimesOutAndResumes()
    {
        long pid;
        try (TestingS3 own = TestingS3.start("paused-a", "paused-b");
                S3Client ownClient = own.newClient()) {
            pid = own.pid();
            assertThat(own.buckets()).containsExactly("paused-a", "paused-b");
            assertThat(own.bucket()).isEqualTo("paused-a");
            ownClient.headBucket(request -> request.bucket("paused-b"));
            put(ownClient, "paused-a", "key", "before");

            own.pause();
            long started = System.nanoTime();
            assertThatThrownBy(() -> ownClient.getObjectAsBytes(request -> request.bucket("paused-a").key("key")
                    .overrideConfiguration(configuration -> configuration.apiCallTimeout(Duration.ofSeconds(1)))))
                    .isInstanceOf(SdkClientException.class);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));

            own.resume();
            assertThat(ownClient.getObjectAsBytes(request -> request.bucket("paused-a").key("key")
                    .overrideConfiguration(configuration -> configuration.apiCallTimeout(Duration.ofSeconds(5)))).asUtf8String()).isEqualTo("before");
        }
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("closed server's process alive").isFalse();
    }

    @Test
    void closingPausedServerStopsIt()
    {
        TestingS3 own = TestingS3.start("closing");
        long pid = own.pid();
        own.pause();
        own.close();
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    }

    @Test
    void uniquePrefix()
    {
        String prefix = TestingS3.uniquePrefix("name");
        assertThat(prefix).matches("name-[0-9a-f]{8}/");
        assertThat(TestingS3.uniquePrefix("name")).isNotEqualTo(prefix);
    }

    @Test
    void missingJarFailsClearly()
    {
        String previous = System.getProperty(TestingS3.JAR_PROPERTY);
        System.setProperty(TestingS3.JAR_PROPERTY, "/nonexistent/s3mock.jar");
        try {
            assertThatThrownBy(() -> TestingS3.start("never"))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining(TestingS3.JAR_PROPERTY)
                    .hasMessageContaining("/nonexistent/s3mock.jar");
        }
        finally {
            if (previous == null) {
                System.clearProperty(TestingS3.JAR_PROPERTY);
            }
            else {
                System.setProperty(TestingS3.JAR_PROPERTY, previous);
            }
        }
    }

    private String put(S3Client s3Client, PutObjectRequest.Builder request, String key, String value)
    {
        return s3Client.putObject(request.bucket(s3.bucket()).key(key).build(), RequestBody.fromString(value, StandardCharsets.UTF_8)).eTag();
    }

    private static void put(S3Client s3Client, String bucket, String key, String value)
    {
        s3Client.putObject(request -> request.bucket(bucket).key(key), RequestBody.fromString(value, StandardCharsets.UTF_8));
    }

    private String get(S3Client s3Client, String key)
    {
        return s3Client.getObjectAsBytes(request -> request.bucket(s3.bucket()).key(key)).asUtf8String();
    }
}

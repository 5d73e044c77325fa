package dev.latchkey.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest.BodyPublishers;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static dev.latchkey.server.TestingLatchkeyServer.ACCOUNTS;
import static dev.latchkey.server.TestingLatchkeyServer.ROOT_KEY;
import static dev.latchkey.server.TestingLatchkeyServer.uniqueName;
import static dev.latchkey.server.TestingLatchkeyServer.userPath;
import static dev.latchkey.server.TestingLatchkeyServer.usersPath;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Coherence one can see, with two instances (servers in this JVM) on one filesystem store whose feeds are read only
 * once an hour, so that only a confirmation or a read-your-writes token can explain an instance knowing of a write:
 * write positions, {@code wait=all}, {@code X-Latchkey-Min-Position}, the instance registry and the change status.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public class TestHttpCoherence
{
    private static final String VERIFY = "/api/v1/auth/verify";
    private static final String INSTANCES = "/api/v1/admin/instances";
    private static final String MIN_POSITION = "X-Latchkey-Min-Position";

    private TestingLatchkeyServer a;
    private TestingLatchkeyServer b;

    @BeforeAll
    public void startServers(@TempDir Path directory)
    {
        Map<String, String> settings = Map.of("LATCHKEY_POLL_INTERVAL", "1h", "LATCHKEY_NEGATIVE_TTL", "1h", "LATCHKEY_HEARTBEAT", "1s", "LATCHKEY_WAIT_TIMEOUT", "3s");
        a = TestingLatchkeyServer.start(directory, with(settings, "LATCHKEY_INSTANCE_ID", "coherence-a"));
        b = TestingLatchkeyServer.start(directory, with(settings, "LATCHKEY_INSTANCE_ID", "coherence-b"));
    }

    @AfterAll
    public void stopServers()
    {
        for (TestingLatchkeyServer server : new TestingLatchkeyServer[] {b, a}) {
            if (server != null) {
                server.close();
            }
        }
    }

    private static Map<String, String> with(Map<String, String> settings, String name, String value)
    {
        Map<String, String> all = new HashMap<>(settings);
        all.put(name, value);
        return all;
    }

    @Test
    public void everyWriteAnswersItsFeedPosition()
    {
        String account = uniqueName("positions");
        TestingResponse created = a.client().post(ACCOUNTS, ROOT_KEY, Map.of("account_id", account, "admin_user_id", "alice"));
        created.assertOk();
        long first = Long.parseLong(created.header("X-Latchkey-Position").orElseThrow());
        TestingResponse registered = a.client().post(usersPath(account), ROOT_KEY, Map.of("user_id", "bob"));
        registered.assertOk();
        long second = Long.parseLong(registered.header("X-Latchkey-Position").orElseThrow());

        assertThat(first).isPositive();
        assertThat(second).isGreaterThan(first);
        assertThat(registered.header("X-Latchkey-Applied")).as("only with wait=all").isEmpty();
        // reads answer no position
        assertThat(a.client().get(usersPath(account), ROOT_KEY).header("X-Latchkey-Position")).isEmpty();
    }

    @Test
    public void waitAllReturnsOnceEveryInstanceAppliedTheWrite()
    {
        String account = uniqueName("wait-all");
        a.createAccount(account, "alice");
        String bob = a.registerUser(account, "bob", "user");
        // b caches bob's key; its feed is read once an hour
        b.assertKeyWorks(bob);

        TestingResponse regenerated = a.client().post(userPath(account, "bob") + "/key?wait=all", ROOT_KEY, Map.of());
        regenerated.assertOk();

        assertThat(regenerated.header("X-Latchkey-Applied")).contains("2/2");
        assertThat(regenerated.header("X-Latchkey-Lagging")).isEmpty();
        // at the answer, b has applied the regeneration: the old key is refused at its very next request
        b.assertKeyRejected(bob);
        b.assertKeyWorks(regenerated.json().path("result").path("user_key").textValue());
    }

    @Test
    public void aWriteWithAnUnknownWaitIsRefusedAndNotMade()
    {
        String account = uniqueName("bad-wait");
        a.createAccount(account, "alice");
        a.client().post(usersPath(account) + "?wait=some", ROOT_KEY, Map.of("user_id", "bob")).assertInvalidField("wait");
        assertThat(a.userIds(account)).containsExactly("alice");
    }

    @Test
    public void aTokenMakesAnInstanceApplyTheWriteFirst()
    {
        String account = uniqueName("token");
        a.createAccount(account, "alice");
        String bob = a.registerUser(account, "bob", "user");
        b.assertKeyWorks(bob);
        TestingResponse removed = a.client().delete(userPath(account, "bob"), ROOT_KEY);
        removed.assertOk();
        String position = removed.header("X-Latchkey-Position").orElseThrow();

        // without the token b still serves its cached key (its next feed read is up to an hour away)
        b.assertKeyWorks(bob);
        Map<String, String> headers = new HashMap<>(TestingHttpClient.keyHeader(bob));
        headers.put(MIN_POSITION, position);
        b.client().send("GET", VERIFY, headers, BodyPublishers.noBody()).assertError(401, "UNAUTHENTICATED");
        b.assertKeyRejected(bob);
    }

    @Test
    public void aSeededKeyRememberedAsUnknownIsAcceptedWithTheToken()
    {
        String account = uniqueName("seeded");
        a.createAccount(account, "alice");
        String seed = "seed-" + account + "-0123456789abcdef";
        // carol's seeded key, registered and removed through b, then presented to b: b remembers its id as unknown
        JsonNode first = b.client().post(usersPath(account), ROOT_KEY, Map.of("user_id", "carol", "seed", seed)).assertOk();
        String seededKey = first.get("user_key").textValue();
        b.client().delete(userPath(account, "carol"), ROOT_KEY).assertOk();
        b.assertKeyRejected(seededKey);

        TestingResponse registered = a.client().post(usersPath(account), ROOT_KEY, Map.of("user_id", "carol", "seed", seed));
        assertThat(registered.assertOk().get("user_key").textValue()).isEqualTo(seededKey);
        // without the token b still answers from what it remembers (the seeded-key caveat)
        b.assertKeyRejected(seededKey);
        Map<String, String> headers = new HashMap<>(TestingHttpClient.keyHeader(seededKey));
        headers.put(MIN_POSITION, registered.header("X-Latchkey-Position").orElseThrow());
        assertThat(b.client().send("GET", VERIFY, headers, BodyPublishers.noBody()).assertOk().get("user_id").textValue()).isEqualTo("carol");
    }

    @Test
    public void aPositionNotReachedIsUnavailableAndAMalformedOneBadInput()
    {
        Map<String, String> beyond = new HashMap<>(TestingHttpClient.keyHeader(ROOT_KEY));
        beyond.put(MIN_POSITION, Long.toString(Long.MAX_VALUE / 2));
        b.client().send("GET", VERIFY, beyond, BodyPublishers.noBody()).assertError(503, "UNAVAILABLE");
        b.client().send("GET", ACCOUNTS, beyond, BodyPublishers.noBody()).assertError(503, "UNAVAILABLE");

        Map<String, String> malformed = new HashMap<>(TestingHttpClient.keyHeader(ROOT_KEY));
        malformed.put(MIN_POSITION, "-1");
        b.client().send("GET", VERIFY, malformed, BodyPublishers.noBody()).assertError(400, "INVALID_ARGUMENT");
        b.client().send("GET", ACCOUNTS, malformed, BodyPublishers.noBody()).assertError(400, "INVALID_ARGUMENT");
    }

    @Test
    public void verifyAnswersTheAgeOfItsDecision()
    {
        TestingResponse answer = b.client().get(VERIFY, ROOT_KEY);
        answer.assertOk();
        assertThat(answer.header("X-Latchkey-Age").orElseThrow()).matches("[0-9]+");
        assertThat(b.client().get(VERIFY, "lk_not-a-key").header("X-Latchkey-Age")).isPresent();
    }

    @Test
    public void rootSeesTheLiveInstancesWithTheirPositions()
    {
        String account = uniqueName("instances");
        String admin = a.createAccount(account, "alice");
        a.client().post(usersPath(account) + "?wait=all", ROOT_KEY, Map.of("user_id", "bob")).assertOk();

        JsonNode listed = a.client().get(INSTANCES, ROOT_KEY).assertOk();
        long head = listed.get("head_position").asLong();
        List<String> ids = listed.get("instances").findValuesAsText("instance_id");
        assertThat(ids).containsExactlyInAnyOrder("coherence-a", "coherence-b");
        for (JsonNode instance : listed.get("instances")) {
            assertThat(instance.get("applied_position").asLong()).isBetween(1L, head);
            assertThat(instance.get("lag").asLong()).isEqualTo(head - instance.get("applied_position").asLong());
            assertThat(instance.get("url").textValue()).startsWith("http://127.0.0.1:");
            assertThat(instance.get("self").asBoolean()).isEqualTo("coherence-a".equals(instance.get("instance_id").textValue()));
        }
        a.client().get(INSTANCES, admin).assertError(403, "PERMISSION_DENIED");
        a.client().get(INSTANCES, null).assertError(401, "UNAUTHENTICATED");
    }

    @Test
    public void theStatusOfAChangeNamesWhoAppliedIt()
    {
        String account = uniqueName("status");
        String admin = a.createAccount(account, "alice");
        String other = a.createAccount(uniqueName("status-other"), "alice");
        TestingResponse registered = a.client().post(usersPath(account) + "?wait=all", ROOT_KEY, Map.of("user_id", "bob"));
        registered.assertOk();
        String position = registered.header("X-Latchkey-Position").orElseThrow();

        JsonNode status = a.client().get("/api/v1/admin/changes/" + position, admin).assertOk();
        assertThat(status.get("account_id").textValue()).isEqualTo(account);
        assertThat(status.get("type").textValue()).isEqualTo("user_added");
        assertThat(status.get("live").asInt()).isEqualTo(2);
        assertThat(status.get("applied")).hasSize(2);
        // another account's admin learns nothing of it; a position not committed is not found
        a.client().get("/api/v1/admin/changes/" + position, other).assertError(404, "NOT_FOUND");
        a.client().get("/api/v1/admin/changes/" + (Long.parseLong(position) + 1_000_000), ROOT_KEY).assertError(404, "NOT_FOUND");
        a.client().get("/api/v1/admin/changes/zero", ROOT_KEY).assertInvalidField("position");
    }
}

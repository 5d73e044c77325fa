package dev.latchkey.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.http.HttpRequest.BodyPublishers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static dev.latchkey.server.TestingLatchkeyServer.ACCOUNTS;
import static dev.latchkey.server.TestingLatchkeyServer.ROOT_KEY;
import static dev.latchkey.server.TestingLatchkeyServer.accountPath;
import static dev.latchkey.server.TestingLatchkeyServer.uniqueName;
import static dev.latchkey.server.TestingLatchkeyServer.userPath;
import static dev.latchkey.server.TestingLatchkeyServer.usersPath;
import static dev.latchkey.server.TestingResponse.fieldNames;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every endpoint of http-api.md on its happy path, against a real server: result shapes and types, the key
 * headers, keys that stop working, listings, pagination, health, readiness and metrics.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public class TestHttpApi
{
    private static final String VERIFY = "/api/v1/auth/verify";
    private static final String SEED = "correct-horse-battery-staple";
    private static final String SEEDED_ACME_ALICE = "lk_MThk9gHgoLMhupCD_x11OoPcpmUHSmK2sh1mj0lNRYaJFlXPc331DOl";
    private static final ObjectMapper MAPPER = JsonMapper.builder().build();

    private TestingLatchkeyServer server;
    private TestingHttpClient client;

    @BeforeAll
    public void startServer(@TempDir Path directory)
    {
        server = TestingLatchkeyServer.start(directory);
        client = server.client();
    }

    @AfterAll
    public void stopServer()
    {
        if (server != null) {
            server.close();
        }
    }

    @Test
    public void testOneSelectorPerCore()
    {
        // verify runs on the selector threads: Jetty's default of one per two cores would leave a core idle (on a
        // 1-core machine both give one, and this case cannot tell them apart; the bound below can)
        assertThat(server.selectorThreads()).isEqualTo(Math.min(Runtime.getRuntime().availableProcessors(), 15));
    }

    @Test
    public void testKeyFormatVector()
    {
        // the vector of http-api.md, checked by the test's own implementation of the format
        assertThat(TestingKeys.wellFormed("0123456789ABCDEF", "abcdefghijklmnopqrstuvwxyz012345"))
                .isEqualTo("lk_0123456789ABCDEF_abcdefghijklmnopqrstuvwxyz01234517yAzm");
        assertThat(TestingKeys.isWellFormed(SEEDED_ACME_ALICE)).isTrue();
    }

    @Test
    public void testHealth()
    {
        JsonNode result = client.get("/health", null).assertOk();
        assertThat(result).isEqualTo(json("status", "up"));
    }

    @Test
    public void testReady()
    {
        JsonNode result = client.get("/ready", null).assertOk();
        assertThat(fieldNames(result)).containsExactlyInAnyOrder("store", "feed_lag_seconds");
        assertThat(result.get("store").textValue()).isEqualTo("filesystem");
        assertThat(result.get("feed_lag_seconds").isNumber()).isTrue();
        assertThat(result.get("feed_lag_seconds").doubleValue()).isBetween(0.0, 3.0);
    }

    /**
     * With the change feed unreadable (its directory replaced by a file) and {@code LATCHKEY_MAX_STALE=0}, account
     * keys fail closed with 503 (even one in the cache), {@code /ready} answers 503 with its fields in
     * {@code error.details}, the root key and {@code /health} keep working; once the feed is back, so is everything.
     */
    @Test
    public void testStoreUnreachable(@TempDir Path directory)
            throws IOException
    {
        Map<String, String> settings = Map.of("LATCHKEY_MAX_STALE", "0", "LATCHKEY_POLL_INTERVAL", "10ms", "LATCHKEY_READY_MAX_LAG", "100ms");
        try (TestingLatchkeyServer failing = TestingLatchkeyServer.start(directory, settings)) {
            TestingHttpClient http = failing.client();
            String adminKey = failing.createAccount("acme", "alice");
            String unknownKey = TestingKeys.wellFormed("NotInAnyCache000", "u".repeat(32));
            http.get(VERIFY, adminKey).assertOk();
            Path feed = directory.resolve("feed");
            Path away = directory.resolve("feed.away");
            Files.move(feed, away);
            Files.writeString(feed, "not a directory");

            TestingResponse refused = awaitStatus(() -> http.get(VERIFY, adminKey), 503);
            refused.assertError(503, "UNAVAILABLE");
            assertThat(refused.header("X-Latchkey-Role")).isEmpty();
            http.get(VERIFY, unknownKey).assertError(503, "UNAVAILABLE");
            http.get(usersPath("acme"), adminKey).assertError(503, "UNAVAILABLE");
            http.get(VERIFY, "not-a-key").assertError(401, "UNAUTHENTICATED");
            assertThat(http.get(VERIFY, ROOT_KEY).assertOk().get("role").textValue()).isEqualTo("root");
            JsonNode details = awaitStatus(() -> http.get("/ready", null), 503).assertErrorDetails(503, "UNAVAILABLE");
            assertThat(fieldNames(details)).containsExactlyInAnyOrder("store", "feed_lag_seconds");
            assertThat(details.get("store").textValue()).isEqualTo("filesystem");
            assertThat(details.get("feed_lag_seconds").doubleValue()).isGreaterThanOrEqualTo(0.1);
            assertThat(head(http, "/ready", null)).as("HEAD /ready while not ready").isEqualTo(503);
            assertThat(head(http, VERIFY, unknownKey)).as("HEAD verify of a key that needs the store").isEqualTo(503);
            http.get("/health", null).assertOk();
            String metrics = http.get("/metrics", null).body();
            assertThat(metric(metrics, "latchkey_auth_total{outcome=\"unavailable\"}")).isGreaterThanOrEqualTo(3);
            assertThat(metric(metrics, "latchkey_feed_lag_seconds")).isGreaterThanOrEqualTo(0.1);

            Files.delete(feed);
            Files.move(away, feed);
            assertThat(awaitStatus(() -> http.get(VERIFY, adminKey), 200).assertOk().get("user_id").textValue()).isEqualTo("alice");
            awaitStatus(() -> http.get("/ready", null), 200).assertOk();
            http.get(VERIFY, unknownKey).assertError(401, "UNAUTHENTICATED");
        }
    }

    @Test
    public void testMetrics()
    {
        String account = uniqueName("metrics");
        String adminKey = server.createAccount(account, "alice");
        client.get(VERIFY, ROOT_KEY).assertOk();

        String before = metrics();
        assertThat(before)
                .contains("latchkey_auth_total{outcome=\"ok\"")
                .contains("latchkey_auth_total{outcome=\"invalid\"")
                .contains("latchkey_auth_total{outcome=\"malformed\"")
                .contains("latchkey_auth_total{outcome=\"unavailable\"")
                .contains("latchkey_store_key_lookups_total")
                .contains("latchkey_feed_lag_seconds");

        // the root key and a malformed key never touch the store; a new account key is looked up once
        client.get(VERIFY, ROOT_KEY).assertOk();
        client.get(VERIFY, "not-a-key").assertError(401, "UNAUTHENTICATED");
        String afterNoStore = metrics();
        assertThat(metric(afterNoStore, "latchkey_auth_total{outcome=\"ok\"}")).isEqualTo(metric(before, "latchkey_auth_total{outcome=\"ok\"}") + 1);
        assertThat(metric(afterNoStore, "latchkey_auth_total{outcome=\"malformed\"}")).isEqualTo(metric(before, "latchkey_auth_total{outcome=\"malformed\"}") + 1);
        assertThat(metric(afterNoStore, "latchkey_store_key_lookups_total")).isEqualTo(metric(before, "latchkey_store_key_lookups_total"));

        client.get(VERIFY, adminKey).assertOk();
        client.get(VERIFY, adminKey).assertOk();
        String afterLookup = metrics();
        assertThat(metric(afterLookup, "latchkey_auth_total{outcome=\"ok\"}")).isEqualTo(metric(afterNoStore, "latchkey_auth_total{outcome=\"ok\"}") + 2);
        assertThat(metric(afterLookup, "latchkey_store_key_lookups_total")).isBetween(
                metric(afterNoStore, "latchkey_store_key_lookups_total") + 1,
                metric(afterNoStore, "latchkey_store_key_lookups_total") + 2);

        client.get(VERIFY, TestingKeys.wellFormed("UnknownKeyId0001", "s".repeat(32))).assertError(401, "UNAUTHENTICATED");
        assertThat(metric(metrics(), "latchkey_auth_total{outcome=\"invalid\"}")).isEqualTo(metric(afterLookup, "latchkey_auth_total{outcome=\"invalid\"}") + 1);
    }

    @Test
    public void testVerifyRoot()
    {
        TestingResponse response = client.get(VERIFY, ROOT_KEY);
        JsonNode result = response.assertOk();
        assertThat(fieldNames(result)).containsExactly("role", "account_id", "user_id", "key_id", "scopes", "expires_at");
        assertThat(result.get("role").textValue()).isEqualTo("root");
        assertThat(result.get("key_id").isNull()).isTrue();
        assertThat(result.get("scopes").toString()).isEqualTo("[\"*\"]");
        assertThat(result.get("expires_at").isNull()).isTrue();
        assertThat(result.get("account_id").isNull()).isTrue();
        assertThat(result.get("user_id").isNull()).isTrue();
        assertThat(response.header("X-Latchkey-Role")).contains("root");
        assertThat(response.header("X-Latchkey-Account")).isEmpty();
        assertThat(response.header("X-Latchkey-User")).isEmpty();
    }

    @Test
    public void testVerifyAccountUsers()
    {
        String account = uniqueName("verify");
        String adminKey = server.createAccount(account, "alice");
        String userKey = server.registerUser(account, "bob", "user");

        TestingResponse admin = client.get(VERIFY, adminKey);
        assertThat(admin.assertOk()).isEqualTo(primaryKeyIdentity(adminKey, "admin", account, "alice"));
        assertThat(admin.header("X-Latchkey-Role")).contains("admin");
        assertThat(admin.header("X-Latchkey-Account")).contains(account);
        assertThat(admin.header("X-Latchkey-User")).contains("alice");

        TestingResponse user = client.get(VERIFY, userKey);
        assertThat(user.assertOk()).isEqualTo(primaryKeyIdentity(userKey, "user", account, "bob"));
        assertThat(user.header("X-Latchkey-Role")).contains("user");
        assertThat(user.header("X-Latchkey-Account")).contains(account);
        assertThat(user.header("X-Latchkey-User")).contains("bob");
    }

    @Test
    public void testKeyHeaders()
    {
        String account = uniqueName("headers");
        String adminKey = server.createAccount(account, "alice");

        for (String scheme : List.of("Bearer", "bearer", "BEARER", "bEaReR")) {
            TestingResponse response = client.send("GET", VERIFY, Map.of("Authorization", scheme + " " + adminKey), BodyPublishers.noBody());
            assertThat(response.assertOk().get("user_id").textValue()).as(scheme).isEqualTo("alice");
        }
        assertThat(client.send("GET", VERIFY, Map.of("Authorization", "Bearer " + ROOT_KEY), BodyPublishers.noBody()).assertOk().get("role").textValue())
                .isEqualTo("root");
        // both headers with the same key: fine; with different keys: 400
        client.send("GET", VERIFY, Map.of("X-API-Key", adminKey, "Authorization", "Bearer " + adminKey), BodyPublishers.noBody()).assertOk();
        client.send("GET", VERIFY, Map.of("X-API-Key", adminKey, "Authorization", "Bearer " + ROOT_KEY), BodyPublishers.noBody())
                .assertError(400, "INVALID_ARGUMENT");
        client.send("GET", accountPath(account) + "/users", Map.of("X-API-Key", ROOT_KEY, "Authorization", "Bearer " + adminKey), BodyPublishers.noBody())
                .assertError(400, "INVALID_ARGUMENT");
        // another scheme is no key at all
        client.send("GET", VERIFY, Map.of("Authorization", "Basic " + adminKey), BodyPublishers.noBody()).assertError(401, "UNAUTHENTICATED");
        client.send("GET", VERIFY, Map.of("Authorization", adminKey), BodyPublishers.noBody()).assertError(401, "UNAUTHENTICATED");
        // the key works on admin endpoints through either header
        client.send("GET", usersPath(account), Map.of("Authorization", "Bearer " + adminKey), BodyPublishers.noBody()).assertOk();
        client.send("GET", ACCOUNTS, Map.of("Authorization", "Bearer " + ROOT_KEY), BodyPublishers.noBody()).assertOk();
    }

    @Test
    public void testCreateAccount()
    {
        String account = uniqueName("create");
        JsonNode result = client.post(ACCOUNTS, ROOT_KEY, Map.of("account_id", account, "admin_user_id", "alice")).assertOk();
        assertThat(fieldNames(result)).containsExactly("account_id", "admin_user_id", "user_key");
        assertThat(result.get("account_id").textValue()).isEqualTo(account);
        assertThat(result.get("admin_user_id").textValue()).isEqualTo("alice");
        String key = result.get("user_key").textValue();
        assertThat(key).hasSize(58).matches(TestingKeys.SHAPE);
        assertThat(TestingKeys.isWellFormed(key)).isTrue();
        assertThat(client.get(VERIFY, key).assertOk()).isEqualTo(primaryKeyIdentity(key, "admin", account, "alice"));

        client.post(ACCOUNTS, ROOT_KEY, Map.of("account_id", account, "admin_user_id", "bob")).assertError(409, "ALREADY_EXISTS");
        assertThat(server.userIds(account)).containsExactly("alice");
    }

    @Test
    public void testSeededKeyVector()
    {
        JsonNode result = client.post(ACCOUNTS, ROOT_KEY, Map.of("account_id", "acme", "admin_user_id", "alice", "seed", SEED)).assertOk();
        assertThat(result.get("user_key").textValue()).isEqualTo(SEEDED_ACME_ALICE);
        assertThat(client.get(VERIFY, SEEDED_ACME_ALICE).assertOk()).isEqualTo(primaryKeyIdentity(SEEDED_ACME_ALICE, "admin", "acme", "alice"));

        // the same seed gives the same key again, and changes nothing
        assertThat(client.post(userPath("acme", "alice") + "/key", ROOT_KEY, Map.of("seed", SEED)).assertOk())
                .isEqualTo(json("user_key", SEEDED_ACME_ALICE));
        assertThat(client.post(userPath("acme", "alice") + "/key", SEEDED_ACME_ALICE, Map.of("seed", SEED)).assertOk())
                .isEqualTo(json("user_key", SEEDED_ACME_ALICE));
        server.assertKeyWorks(SEEDED_ACME_ALICE);
        assertThat(client.get(usersPath("acme"), ROOT_KEY).assertOk().get(0).get("key_prefix").textValue()).isEqualTo("lk_MThk9gHgoLMhupCD");

        // another seed replaces it
        String other = client.post(userPath("acme", "alice") + "/key", ROOT_KEY, Map.of("seed", "another-seed-of-enough-length")).assertOk()
                .get("user_key").textValue();
        assertThat(other).isNotEqualTo(SEEDED_ACME_ALICE);
        assertThat(TestingKeys.isWellFormed(other)).isTrue();
        server.assertKeyRejected(SEEDED_ACME_ALICE);
        server.assertKeyWorks(other);
        // and the seed gives the original back
        assertThat(client.post(userPath("acme", "alice") + "/key", other, Map.of("seed", SEED)).assertOk()).isEqualTo(json("user_key", SEEDED_ACME_ALICE));
        server.assertKeyRejected(other);
        server.assertKeyWorks(SEEDED_ACME_ALICE);
    }

    @Test
    public void testSeededKeysDependOnAccountAndUser()
    {
        String account = uniqueName("seeded");
        String alice = client.post(ACCOUNTS, ROOT_KEY, Map.of("account_id", account, "admin_user_id", "alice", "seed", SEED)).assertOk()
                .get("user_key").textValue();
        String bob = client.post(usersPath(account), ROOT_KEY, Map.of("user_id", "bob", "seed", SEED)).assertOk().get("user_key").textValue();
        assertThat(List.of(alice, bob)).doesNotHaveDuplicates().doesNotContain(SEEDED_ACME_ALICE);
        assertThat(server.verifiedRole(alice)).isEqualTo("admin");
        assertThat(server.verifiedRole(bob)).isEqualTo("user");
        assertThat(client.post(userPath(account, "bob") + "/key", alice, Map.of("seed", SEED)).assertOk()).isEqualTo(json("user_key", bob));
    }

    @Test
    public void testListAccounts()
    {
        String first = uniqueName("list-b");
        String second = uniqueName("list-A");
        server.createAccount(first, "alice");
        server.createAccount(second, "alice");
        server.registerUser(second, "bob", "user");
        server.registerUser(second, "carol", "admin");

        JsonNode accounts = client.get(ACCOUNTS, ROOT_KEY).assertOk();
        assertThat(accounts.isArray()).isTrue();
        List<String> ids = new ArrayList<>();
        for (JsonNode account : accounts) {
            assertThat(fieldNames(account)).containsExactly("account_id", "created_at", "user_count");
            assertThat(account.get("user_count").isIntegralNumber()).isTrue();
            String createdAt = account.get("created_at").textValue();
            assertThat(createdAt).endsWith("Z");
            assertThat(Instant.parse(createdAt)).isBetween(Instant.now().minusSeconds(600), Instant.now().plusSeconds(5));
            ids.add(account.get("account_id").textValue());
        }
        assertThat(ids).isSorted().doesNotHaveDuplicates().contains(first, second, "default");
        assertThat(account(accounts, first).get("user_count").intValue()).isEqualTo(1);
        assertThat(account(accounts, second).get("user_count").intValue()).isEqualTo(3);
    }

    @Test
    public void testDefaultAccountExistsEmpty()
    {
        JsonNode defaultAccount = account(client.get(ACCOUNTS, ROOT_KEY).assertOk(), "default");
        assertThat(defaultAccount.get("user_count").intValue()).isEqualTo(0);
        assertThat(client.get(usersPath("default"), ROOT_KEY).assertOk()).isEmpty();
    }

    @Test
    public void testDeleteAccountRevokesEveryKey()
    {
        String account = uniqueName("delete");
        String adminKey = server.createAccount(account, "alice");
        String userKey = server.registerUser(account, "bob", "user");
        String secondAdminKey = server.registerUser(account, "carol", "admin");
        String survivor = uniqueName("survivor");
        String survivorKey = server.createAccount(survivor, "alice");
        Stream.of(adminKey, userKey, secondAdminKey, survivorKey).forEach(server::assertKeyWorks);

        assertThat(client.delete(accountPath(account), ROOT_KEY).assertOk()).isEqualTo(json("deleted", true));

        Stream.of(adminKey, userKey, secondAdminKey).forEach(server::assertKeyRejected);
        server.assertKeyWorks(survivorKey);
        assertThat(client.get(ACCOUNTS, ROOT_KEY).assertOk().findValuesAsText("account_id")).doesNotContain(account).contains(survivor);
        client.delete(accountPath(account), ROOT_KEY).assertError(404, "NOT_FOUND");
        client.get(usersPath(account), ROOT_KEY).assertError(404, "NOT_FOUND");
        client.post(usersPath(account), ROOT_KEY, Map.of("user_id", "dave")).assertError(404, "NOT_FOUND");

        // the id can be used again, and the old keys stay dead
        String newAdminKey = server.createAccount(account, "alice");
        server.assertKeyWorks(newAdminKey);
        Stream.of(adminKey, userKey, secondAdminKey).forEach(server::assertKeyRejected);
    }

    @Test
    public void testRegisterUser()
    {
        String account = uniqueName("register");
        String adminKey = server.createAccount(account, "alice");

        JsonNode result = client.post(usersPath(account), adminKey, Map.of("user_id", "bob")).assertOk();
        assertThat(fieldNames(result)).containsExactly("account_id", "user_id", "user_key");
        assertThat(result.get("account_id").textValue()).isEqualTo(account);
        assertThat(result.get("user_id").textValue()).isEqualTo("bob");
        String bobKey = result.get("user_key").textValue();
        assertThat(TestingKeys.isWellFormed(bobKey)).isTrue();
        assertThat(server.verifiedRole(bobKey)).isEqualTo("user");

        String carolKey = client.post(usersPath(account), ROOT_KEY, Map.of("user_id", "carol", "role", "admin")).assertOk().get("user_key").textValue();
        assertThat(server.verifiedRole(carolKey)).isEqualTo("admin");
        String daveKey = client.post(usersPath(account), carolKey, Map.of("user_id", "dave", "role", "user")).assertOk().get("user_key").textValue();
        assertThat(server.verifiedRole(daveKey)).isEqualTo("user");

        client.post(usersPath(account), adminKey, Map.of("user_id", "bob", "role", "admin")).assertError(409, "ALREADY_EXISTS");
        assertThat(server.verifiedRole(bobKey)).isEqualTo("user");
        client.post(usersPath(uniqueName("absent")), ROOT_KEY, Map.of("user_id", "bob")).assertError(404, "NOT_FOUND");
        assertThat(server.userIds(account)).containsExactly("alice", "bob", "carol", "dave");
    }

    @Test
    public void testIdentifiersAtTheLimits()
    {
        String account = "A".repeat(100) + uniqueName("x.y@z-w_v");
        assertThat(account.length()).isLessThanOrEqualTo(128);
        String longAccount = account + "0".repeat(128 - account.length());
        String longUser = "u".repeat(128);
        String adminKey = server.createAccount(longAccount, longUser);
        assertThat(client.get(VERIFY, adminKey).assertOk()).isEqualTo(primaryKeyIdentity(adminKey, "admin", longAccount, longUser));
        server.registerUser(longAccount, "first.last@example.com", "user");
        server.registerUser(longAccount, "_under-score.", "user");
        assertThat(server.userIds(longAccount)).containsExactly("_under-score.", "first.last@example.com", longUser);
        client.delete(userPath(longAccount, "first.last@example.com"), adminKey).assertOk();
        client.delete(accountPath(longAccount), ROOT_KEY).assertOk();
    }

    @Test
    public void testIdsAreCaseSensitive()
    {
        String lower = uniqueName("case");
        String upper = lower.toUpperCase(Locale.ROOT);
        String lowerKey = server.createAccount(lower, "alice");
        String upperKey = server.createAccount(upper, "Alice");
        server.registerUser(lower, "Alice", "user");
        assertThat(server.userIds(lower)).containsExactly("Alice", "alice");
        assertThat(server.userIds(upper)).containsExactly("Alice");
        assertThat(client.get(VERIFY, upperKey).assertOk().get("account_id").textValue()).isEqualTo(upper);
        client.get(usersPath(upper), lowerKey).assertError(403, "PERMISSION_DENIED");
        client.delete(accountPath(upper), ROOT_KEY).assertOk();
        server.assertKeyWorks(lowerKey);
        server.assertKeyRejected(upperKey);
    }

    @Test
    public void testListUsers()
    {
        String account = uniqueName("users");
        String adminKey = server.createAccount(account, "mallory");
        Map<String, String> keys = new HashMap<>();
        keys.put("mallory", adminKey);
        for (String user : List.of("bob", "Zed", "alice", "a.c", "abc", "0x", "a@b", "a-b", "_u")) {
            keys.put(user, server.registerUser(account, user, user.equals("alice") ? "admin" : "user"));
        }

        JsonNode users = client.get(usersPath(account), adminKey).assertOk();
        assertThat(users.isArray()).isTrue();
        List<String> ids = new ArrayList<>();
        for (JsonNode user : users) {
            assertThat(fieldNames(user)).containsExactly("user_id", "role", "key_prefix", "created_at", "last_used_at");
            String id = user.get("user_id").textValue();
            ids.add(id);
            String key = keys.get(id);
            assertThat(user.get("key_prefix").textValue()).isEqualTo(TestingKeys.keyPrefix(key)).hasSize(19).startsWith("lk_");
            assertThat(user.get("role").textValue()).isEqualTo(id.equals("alice") || id.equals("mallory") ? "admin" : "user");
            assertThat(user.get("created_at").textValue()).endsWith("Z");
            Instant.parse(user.get("created_at").textValue());
            assertThat(user.toString()).doesNotContain(TestingKeys.secret(key));
        }
        // ordinal order: digits, upper case, _, lower case
        assertThat(ids).containsExactly("0x", "Zed", "_u", "a-b", "a.c", "a@b", "abc", "alice", "bob", "mallory");
        assertThat(client.get(usersPath(account) + "?role=admin", adminKey).assertOk().findValuesAsText("user_id")).containsExactly("alice", "mallory");
        assertThat(client.get(usersPath(account) + "?role=user", ROOT_KEY).assertOk().findValuesAsText("user_id"))
                .containsExactly("0x", "Zed", "_u", "a-b", "a.c", "a@b", "abc", "bob");
        assertThat(names(account, "?name=a*")).containsExactly("a-b", "a.c", "a@b", "abc", "alice");
        assertThat(names(account, "?name=a.c")).containsExactly("a.c");
        assertThat(names(account, "?name=a%3Fc")).containsExactly("a.c", "abc");
        assertThat(names(account, "?name=%3F%3F%3F")).containsExactly("Zed", "a-b", "a.c", "a@b", "abc", "bob");
        assertThat(names(account, "?name=*o*")).containsExactly("bob", "mallory");
        assertThat(names(account, "?name=bo")).isEmpty();
        assertThat(names(account, "?name=*")).hasSize(10);
        assertThat(names(account, "?name=a*&role=admin")).containsExactly("alice");
        assertThat(names(account, "?name=a*&limit=2")).containsExactly("a-b", "a.c");
        assertThat(names(account, "?name=a*&limit=2&cursor=a.c")).containsExactly("a@b", "abc");
        assertThat(names(account, "?cursor=bob")).containsExactly("mallory");
        assertThat(names(account, "?cursor=zzz")).isEmpty();
        assertThat(names(account, "?cursor=b")).containsExactly("bob", "mallory");
        assertThat(names(account, "?limit=1&role=user&cursor=a@b")).containsExactly("abc");
    }

    @Test
    public void testPaginationWalksEveryUserOnce()
    {
        String account = uniqueName("pages");
        server.createAccount(account, "admin");
        Set<String> expected = new HashSet<>(Set.of("admin"));
        for (int i = 0; i < 104; i++) {
            String user = (i % 3 == 0 ? "User" : i % 3 == 1 ? "user" : "_u") + i;
            server.registerUser(account, user, i % 10 == 0 ? "admin" : "user");
            expected.add(user);
        }

        // the default page holds 100 users
        assertThat(client.get(usersPath(account), ROOT_KEY).assertOk()).hasSize(100);
        assertThat(client.get(usersPath(account) + "?limit=1000", ROOT_KEY).assertOk()).hasSize(105);

        for (int limit : new int[] {1, 7, 50, 105, 1000}) {
            List<String> walked = new ArrayList<>();
            String cursor = null;
            for (int pages = 0; pages < 200; pages++) {
                JsonNode page = client.get(usersPath(account) + "?limit=" + limit + (cursor == null ? "" : "&cursor=" + cursor), ROOT_KEY).assertOk();
                assertThat(page.size()).isLessThanOrEqualTo(limit);
                if (page.isEmpty()) {
                    break;
                }
                page.forEach(user -> walked.add(user.get("user_id").textValue()));
                cursor = walked.get(walked.size() - 1);
            }
            assertThat(walked).as("walk with limit %s", limit).isSorted().doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(expected);
        }
    }

    @Test
    public void testRemoveUser()
    {
        String account = uniqueName("remove");
        String adminKey = server.createAccount(account, "alice");
        String bobKey = server.registerUser(account, "bob", "user");
        String carolKey = server.registerUser(account, "carol", "user");

        assertThat(client.delete(userPath(account, "bob"), adminKey).assertOk()).isEqualTo(json("deleted", true));
        server.assertKeyRejected(bobKey);
        server.assertKeyWorks(carolKey);
        assertThat(server.userIds(account)).containsExactly("alice", "carol");
        client.delete(userPath(account, "bob"), adminKey).assertError(404, "NOT_FOUND");
        client.delete(userPath(uniqueName("absent"), "bob"), ROOT_KEY).assertError(404, "NOT_FOUND");

        // bob can be registered again, with a new key; the old one stays dead
        String newBobKey = server.registerUser(account, "bob", "user");
        server.assertKeyWorks(newBobKey);
        server.assertKeyRejected(bobKey);
    }

    @Test
    public void testSetRole()
    {
        String account = uniqueName("role");
        String adminKey = server.createAccount(account, "alice");
        String bobKey = server.registerUser(account, "bob", "user");

        JsonNode promoted = client.put(userPath(account, "bob") + "/role", adminKey, Map.of("role", "admin")).assertOk();
        assertThat(promoted).isEqualTo(json("account_id", account, "user_id", "bob", "role", "admin"));
        assertThat(fieldNames(promoted)).containsExactly("account_id", "user_id", "role");
        TestingResponse verified = client.get(VERIFY, bobKey);
        assertThat(verified.assertOk().get("role").textValue()).isEqualTo("admin");
        assertThat(verified.header("X-Latchkey-Role")).contains("admin");
        // bob now administers the account
        client.get(usersPath(account), bobKey).assertOk();

        assertThat(client.put(userPath(account, "bob") + "/role", ROOT_KEY, Map.of("role", "admin")).assertOk())
                .isEqualTo(json("account_id", account, "user_id", "bob", "role", "admin"));
        assertThat(client.put(userPath(account, "bob") + "/role", ROOT_KEY, Map.of("role", "user")).assertOk())
                .isEqualTo(json("account_id", account, "user_id", "bob", "role", "user"));
        assertThat(server.verifiedRole(bobKey)).isEqualTo("user");
        client.get(usersPath(account), bobKey).assertError(403, "PERMISSION_DENIED");
        assertThat(client.get(usersPath(account) + "?role=admin", adminKey).assertOk().findValuesAsText("user_id")).containsExactly("alice");
        client.put(userPath(account, "nobody") + "/role", adminKey, Map.of("role", "admin")).assertError(404, "NOT_FOUND");
        client.put(userPath(uniqueName("absent"), "bob") + "/role", ROOT_KEY, Map.of("role", "admin")).assertError(404, "NOT_FOUND");
    }

    @Test
    public void testRegenerateKey()
    {
        String account = uniqueName("regenerate");
        String adminKey = server.createAccount(account, "alice");
        String bobKey = server.registerUser(account, "bob", "user");
        server.assertKeyWorks(bobKey);

        // no body, an empty body, an empty object, a null seed: all random
        String previous = bobKey;
        for (Object body : new Object[] {null, "", "{}", "{\"seed\": null}", Map.of("unknown", 1)}) {
            JsonNode result = client.post(userPath(account, "bob") + "/key", adminKey, body).assertOk();
            assertThat(fieldNames(result)).containsExactly("user_key");
            String next = result.get("user_key").textValue();
            assertThat(TestingKeys.isWellFormed(next)).isTrue();
            assertThat(TestingKeys.keyId(next)).isNotEqualTo(TestingKeys.keyId(previous));
            server.assertKeyRejected(previous);
            server.assertKeyWorks(next);
            assertThat(server.verifiedRole(next)).isEqualTo("user");
            JsonNode listed = client.get(usersPath(account) + "?name=bob", adminKey).assertOk();
            assertThat(listed.get(0).get("key_prefix").textValue()).isEqualTo(TestingKeys.keyPrefix(next));
            previous = next;
        }
        server.assertKeyRejected(bobKey);

        // an admin regenerates its own key
        String newAdminKey = client.post(userPath(account, "alice") + "/key", adminKey, null).assertOk().get("user_key").textValue();
        server.assertKeyRejected(adminKey);
        assertThat(server.verifiedRole(newAdminKey)).isEqualTo("admin");

        client.post(userPath(account, "nobody") + "/key", newAdminKey, null).assertError(404, "NOT_FOUND");
        client.post(userPath(uniqueName("absent"), "bob") + "/key", ROOT_KEY, null).assertError(404, "NOT_FOUND");
    }

    @Test
    public void testUnknownFieldsAreIgnored()
    {
        String account = uniqueName("unknown-fields");
        JsonNode created = client.post(ACCOUNTS, ROOT_KEY,
                "{\"account_id\": \"" + account + "\", \"admin_user_id\": \"alice\", \"extra\": {\"nested\": [1, 2]}, \"api_key\": \"x\"}").assertOk();
        String adminKey = created.get("user_key").textValue();
        client.post(usersPath(account), adminKey, "{\"user_id\": \"bob\", \"role\": \"user\", \"user_key\": \"lk_x\", \"n\": 1}").assertOk();
        client.put(userPath(account, "bob") + "/role", adminKey, "{\"role\": \"admin\", \"comment\": null}").assertOk();
        client.post(userPath(account, "bob") + "/key", adminKey, "{\"note\": true}").assertOk();
        assertThat(server.userIds(account)).containsExactly("alice", "bob");
    }

    /**
     * Repeats the request until it answers this status (the feed is read in the background), for at most 10 s.
     */
    private static TestingResponse awaitStatus(Supplier<TestingResponse> request, int status)
    {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        TestingResponse response = request.get();
        while (response.status() != status && System.nanoTime() < deadline) {
            response = request.get();
        }
        assertThat(response.status()).as("status of %s within 10 s", response).isEqualTo(status);
        return response;
    }

    private List<String> names(String account, String query)
    {
        return client.get(usersPath(account) + query, ROOT_KEY).assertOk().findValuesAsText("user_id");
    }

    private static JsonNode account(JsonNode accounts, String id)
    {
        for (JsonNode account : accounts) {
            if (account.get("account_id").textValue().equals(id)) {
                return account;
            }
        }
        throw new AssertionError("no account " + id + " in " + accounts);
    }

    private String metrics()
    {
        TestingResponse response = client.get("/metrics", null);
        assertThat(response.status()).isEqualTo(200);
        assertThat(response.header("Content-Type")).hasValueSatisfying(type -> assertThat(type).startsWith("text/plain"));
        return response.body();
    }

    /**
     * The value of one series of the Prometheus text; {@code series} is the name with its labels, without braces
     * when it has none (labels are matched as a prefix inside the braces).
     */
    private static double metric(String text, String series)
    {
        String name = series.contains("{") ? series.substring(0, series.indexOf('{')) : series;
        String labels = series.contains("{") ? series.substring(series.indexOf('{') + 1, series.length() - 1) : "";
        Pattern line = Pattern.compile("^" + Pattern.quote(name) + "(\\{([^}]*)\\})? (\\S+)$", Pattern.MULTILINE);
        Matcher matcher = line.matcher(text);
        while (matcher.find()) {
            String found = matcher.group(2) == null ? "" : matcher.group(2);
            if (found.startsWith(labels)) {
                return Double.parseDouble(matcher.group(3));
            }
        }
        throw new AssertionError("no series " + series + " in the metrics");
    }

    /**
     * What verify answers for a primary key: its identity, its key id, every scope and no expiry.
     */
    private static JsonNode primaryKeyIdentity(String key, String role, String account, String user)
    {
        return json("role", role, "account_id", account, "user_id", user, "key_id", key.substring("lk_".length(), "lk_".length() + 16),
                "scopes", List.of("*"), "expires_at", null);
    }

    private static JsonNode json(Object... keysAndValues)
    {
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            map.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return MAPPER.valueToTree(map);
    }

    /**
     * The status of a HEAD request (no body comes back to check).
     */
    private static int head(TestingHttpClient http, String path, String key)
    {
        return http.send("HEAD", path, TestingHttpClient.keyHeader(key), BodyPublishers.noBody()).status();
    }

    @Test
    public void testHeadRunsTheSameChecksAsGet()
    {
        String adminKey = server.createAccount(uniqueName("head"), "alice");
        assertThat(head(client, VERIFY, null)).isEqualTo(401);
        assertThat(head(client, VERIFY, "not-a-key")).isEqualTo(401);
        assertThat(head(client, VERIFY, adminKey)).isEqualTo(200);
        assertThat(head(client, ACCOUNTS, null)).isEqualTo(401);
        assertThat(head(client, ACCOUNTS, adminKey)).as("an admin may not list accounts").isEqualTo(403);
        assertThat(head(client, ACCOUNTS, ROOT_KEY)).isEqualTo(200);
        assertThat(head(client, usersPath("acme-not-there"), null)).isEqualTo(401);
        assertThat(head(client, "/ready", null)).isEqualTo(200);
        assertThat(head(client, "/health", null)).isEqualTo(200);
        assertThat(head(client, "/metrics", null)).isEqualTo(200);
    }

    /**
     * The verify path is answered ahead of Javalin; any other spelling of it (a trailing slash) goes through
     * Javalin's route. Both must answer alike.
     */
    @Test
    public void testVerifyFastPathAnswersAsTheRoute()
    {
        String adminKey = server.createAccount(uniqueName("fast"), "alice");
        String unknownKey = TestingKeys.wellFormed("NotInAnyCache001", "u".repeat(32));
        List<Map<String, String>> requests = List.of(
                TestingHttpClient.keyHeader(adminKey),
                Map.of("Authorization", "Bearer " + adminKey),
                TestingHttpClient.keyHeader(ROOT_KEY),
                TestingHttpClient.keyHeader(unknownKey),
                TestingHttpClient.keyHeader("not-a-key"),
                Map.of(),
                Map.of("X-API-Key", adminKey, "Authorization", "Bearer " + ROOT_KEY));
        for (Map<String, String> headers : requests) {
            TestingResponse fast = client.send("GET", VERIFY, headers, BodyPublishers.noBody());
            TestingResponse route = client.send("GET", VERIFY + "/", headers, BodyPublishers.noBody());
            assertThat(fast.status()).as("status for %s", headers.keySet()).isEqualTo(route.status());
            for (String header : List.of("X-Latchkey-Role", "X-Latchkey-Account", "X-Latchkey-User", "Content-Type")) {
                assertThat(fast.header(header)).as(header).isEqualTo(route.header(header));
            }
            JsonNode fastJson = fast.json();
            JsonNode routeJson = route.json();
            assertThat(fieldNames(fastJson)).containsExactlyElementsOf(fieldNames(routeJson));
            assertThat(fastJson.get("result")).isEqualTo(routeJson.get("result"));
            assertThat(fastJson.get("error")).isEqualTo(routeJson.get("error"));
            assertThat(fastJson.get("status")).isEqualTo(routeJson.get("status"));
        }
    }
}

package dev.latchkey.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest.BodyPublishers;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static dev.latchkey.server.TestingLatchkeyServer.ROOT_KEY;
import static dev.latchkey.server.TestingLatchkeyServer.accountPath;
import static dev.latchkey.server.TestingLatchkeyServer.uniqueName;
import static dev.latchkey.server.TestingLatchkeyServer.userPath;
import static dev.latchkey.server.TestingLatchkeyServer.usersPath;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Who did what over HTTP: the audit trail's endpoint and its role rules, the request id every answer echoes, the
 * access log naming the caller, and last-used times in the listings. Each test works in an account of its own.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public class TestHttpAudit
{
    private static final String AUDIT = "/api/v1/admin/audit";
    private static final String VERIFY = "/api/v1/auth/verify";
    private static final String INSTANCE = "audit-test:1933";
    private static final Duration DEADLINE = Duration.ofSeconds(20);

    private TestingLatchkeyServer server;
    private TestingHttpClient client;

    @BeforeAll
    public void startServer(@TempDir Path directory)
    {
        server = TestingLatchkeyServer.start(directory, Map.of("LATCHKEY_INSTANCE_ID", INSTANCE, "LATCHKEY_USAGE_FLUSH", "200ms"));
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
    public void eachWriteIsAuditedWithItsActorInstanceAndRequestId()
    {
        String account = uniqueName("audited");
        TestingResponse created = client.send("POST", TestingLatchkeyServer.ACCOUNTS, headers(ROOT_KEY, "create-" + account),
                BodyPublishers.ofString("{\"account_id\":\"" + account + "\",\"admin_user_id\":\"alice\"}"));
        String alice = created.assertOk().path("user_key").textValue();
        assertThat(created.header("X-Request-Id")).contains("create-" + account);
        String aliceKeyId = alice.substring(3, 19);
        TestingResponse registered = client.send("POST", usersPath(account), headers(alice, "register-" + account),
                BodyPublishers.ofString("{\"user_id\":\"bob\",\"role\":\"user\"}"));
        String bob = registered.assertOk().path("user_key").textValue();
        client.delete(userPath(account, "bob"), alice).assertOk();

        JsonNode page = client.get(AUDIT + "?account_id=" + account, ROOT_KEY).assertOk();
        List<JsonNode> records = records(page);
        assertThat(records).extracting(record -> record.path("type").textValue()).containsExactly("user_removed", "user_added", "account_created");
        JsonNode added = records.get(1);
        assertThat(added.path("account_id").textValue()).isEqualTo(account);
        assertThat(added.path("user_id").textValue()).isEqualTo("bob");
        assertThat(added.path("key_ids").get(0).textValue()).isEqualTo(bob.substring(3, 19));
        assertThat(added.path("actor").path("role").textValue()).isEqualTo("admin");
        assertThat(added.path("actor").path("user_id").textValue()).isEqualTo("alice");
        assertThat(added.path("actor").path("key_id").textValue()).isEqualTo(aliceKeyId);
        assertThat(added.path("instance_id").textValue()).isEqualTo(INSTANCE);
        assertThat(added.path("request_id").textValue()).isEqualTo("register-" + account);
        assertThat(records.get(2).path("actor").path("role").textValue()).isEqualTo("root");
        assertThat(records.get(2).path("actor").path("key_id").isNull()).isTrue();
        assertThat(records.get(2).path("request_id").textValue()).isEqualTo("create-" + account);
        assertThat(records.get(0).path("request_id").textValue()).matches("[0-9a-f]{32}");
        assertThat(page.path("next_cursor").isNull()).isTrue();
        // never a key or a hash
        String body = client.get(AUDIT, ROOT_KEY).body();
        assertThat(body).doesNotContain(alice, bob, alice.substring(20), bob.substring(20));
        server.storedSecretHashes().forEach(hash -> assertThat(body).doesNotContain(hash));
    }

    @Test
    public void anAdminSeesItsOwnAccountOnlyAndAUserNothing()
    {
        String account = uniqueName("own");
        String other = uniqueName("others");
        String alice = server.createAccount(account, "alice");
        server.createAccount(other, "carol");
        String bob = server.registerUser(account, "bob", "user");

        List<JsonNode> seen = records(client.get(AUDIT + "?limit=1000", alice).assertOk());
        assertThat(seen).isNotEmpty().allMatch(record -> record.path("account_id").textValue().equals(account));
        assertThat(seen).hasSize(2);
        client.get(AUDIT + "?account_id=" + other, alice).assertError(403, "PERMISSION_DENIED");
        client.get(AUDIT, bob).assertError(403, "PERMISSION_DENIED");
        client.get(AUDIT, "lk_" + "a".repeat(60)).assertError(401, "UNAUTHENTICATED");
        assertThat(records(client.get(AUDIT + "?account_id=" + other, ROOT_KEY).assertOk())).hasSize(1);
    }

    @Test
    public void theTrailPagesWithACursorAndRefusesBadParameters()
    {
        String account = uniqueName("paged");
        server.createAccount(account, "alice");
        for (int i = 0; i < 4; i++) {
            server.registerUser(account, "user-" + i, "user");
        }
        List<String> seen = new ArrayList<>();
        Optional<String> cursor = Optional.empty();
        int pages = 0;
        do {
            JsonNode page = client.get(AUDIT + "?account_id=" + account + "&limit=2" + cursor.map(c -> "&cursor=" + c).orElse(""), ROOT_KEY).assertOk();
            records(page).forEach(record -> seen.add(record.path("position").asText()));
            cursor = page.path("next_cursor").isNull() ? Optional.empty() : Optional.of(page.path("next_cursor").textValue());
            pages++;
        }
        while (cursor.isPresent() && pages < 10);
        assertThat(pages).isEqualTo(3);
        assertThat(seen).hasSize(5).doesNotHaveDuplicates();
        assertThat(seen.stream().map(Long::parseLong).toList()).isSortedAccordingTo((a, b) -> Long.compare(b, a));

        for (String limit : List.of("0", "1001", "x", "-1")) {
            client.get(AUDIT + "?limit=" + limit, ROOT_KEY).assertInvalidField("limit");
        }
        for (String bad : List.of("0", "x", "-3", "1.5")) {
            client.get(AUDIT + "?cursor=" + bad, ROOT_KEY).assertInvalidField("cursor");
        }
        client.get(AUDIT + "?account_id=bad%20id", ROOT_KEY).assertInvalidField("account_id");
    }

    @Test
    public void everyAnswerCarriesTheRequestIdItWasSentOrANewOne()
    {
        TestingResponse sent = client.send("GET", VERIFY, headers(ROOT_KEY, "trace-1.a:b_c"), BodyPublishers.noBody());
        assertThat(sent.header("X-Request-Id")).contains("trace-1.a:b_c");
        for (String invalid : List.of("has space", "x".repeat(129), "semi;colon")) {
            TestingResponse replaced = client.send("GET", VERIFY, headers(ROOT_KEY, invalid), BodyPublishers.noBody());
            assertThat(replaced.header("X-Request-Id")).hasValueSatisfying(id -> assertThat(id).matches("[0-9a-f]{32}"));
        }
        assertThat(client.get("/health", null).header("X-Request-Id")).isPresent();
        assertThat(client.get("/no/such/route", ROOT_KEY).header("X-Request-Id")).isPresent();
        String first = client.get(VERIFY, ROOT_KEY).header("X-Request-Id").orElseThrow();
        assertThat(client.get(VERIFY, ROOT_KEY).header("X-Request-Id")).isPresent().isNotEqualTo(Optional.of(first));
    }

    @Test
    public void theAccessLogNamesTheRequestAndTheCallersKeyIdNeverTheKey()
            throws InterruptedException
    {
        String account = uniqueName("logged");
        String alice = server.createAccount(account, "alice");
        try (TestingLogCapture log = TestingLogCapture.start()) {
            client.send("GET", usersPath(account), headers(alice, "logged-" + account), BodyPublishers.noBody()).assertOk();
            String line = log.awaitLine(text -> text.contains("logged-" + account), DEADLINE);
            assertThat(line).contains("request_id=logged-" + account, "actor=key:" + alice.substring(3, 19)).doesNotContain(alice);
            client.send("GET", accountPath(account).replace("/" + account, ""), headers(ROOT_KEY, "root-" + account), BodyPublishers.noBody()).assertOk();
            assertThat(log.awaitLine(text -> text.contains("root-" + account), DEADLINE)).contains("actor=root").doesNotContain(ROOT_KEY);
        }
    }

    @Test
    public void listingsShowWhenEachKeyWasLastUsed()
            throws InterruptedException
    {
        String account = uniqueName("used");
        String alice = server.createAccount(account, "alice");
        server.registerUser(account, "bob", "user");
        String unused = client.post(userPath(account, "alice") + "/keys", alice, Map.of("name", "unused")).assertOk().path("key_id").textValue();
        Instant before = Instant.now().minusSeconds(1);

        client.get(VERIFY, alice).assertOk();

        JsonNode keys = awaitKeys(account, "alice", listed -> !listed.get(0).path("last_used_at").isNull());
        assertThat(Instant.parse(keys.get(0).path("last_used_at").textValue())).isBetween(before, Instant.now().plusSeconds(1));
        assertThat(keys.get(1).path("key_id").textValue()).isEqualTo(unused);
        assertThat(keys.get(1).path("last_used_at").isNull()).isTrue();
        JsonNode users = client.get(usersPath(account), alice).assertOk();
        Map<String, JsonNode> byUser = new HashMap<>();
        users.forEach(user -> byUser.put(user.path("user_id").textValue(), user.path("last_used_at")));
        assertThat(byUser.get("alice").isNull()).isFalse();
        assertThat(byUser.get("bob").isNull()).as("bob's key was never used").isTrue();
    }

    private JsonNode awaitKeys(String account, String user, java.util.function.Predicate<JsonNode> wanted)
            throws InterruptedException
    {
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        while (true) {
            JsonNode keys = client.get(userPath(account, user) + "/keys", ROOT_KEY).assertOk();
            if (wanted.test(keys) || System.nanoTime() > deadline) {
                assertThat(wanted.test(keys)).as("keys of %s within %s: %s", user, DEADLINE, keys).isTrue();
                return keys;
            }
            Thread.sleep(50);
        }
    }

    private static List<JsonNode> records(JsonNode page)
    {
        List<JsonNode> records = new ArrayList<>();
        page.path("records").forEach(records::add);
        return records;
    }

    private static Map<String, String> headers(String key, String requestId)
    {
        return Map.of(TestingHttpClient.API_KEY, key, "X-Request-Id", requestId);
    }
}

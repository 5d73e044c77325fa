package dev.latchkey.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.latchkey.server.TestingLatchkeyServer.ROOT_KEY;
import static dev.latchkey.server.TestingLatchkeyServer.uniqueName;
import static dev.latchkey.server.TestingLatchkeyServer.userPath;
import static dev.latchkey.server.TestingLatchkeyServer.usersPath;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The key lifecycle over HTTP: extra keys with a name, scopes and an expiry, listed and deleted one by one; the
 * primary key regenerated with a grace period; verify answering with the key's id and scopes, and checking the
 * scopes a proxy asks for. Each test works in an account of its own.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public class TestHttpKeys
{
    private static final String VERIFY = "/api/v1/auth/verify";

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
    public void aUserCreatesANamedScopedKeyThatVerifiesWithItsIdScopesAndExpiry()
    {
        String account = uniqueName("keys");
        server.createAccount(account, "alice");
        String bob = server.registerUser(account, "bob", "user");
        Instant before = Instant.now();

        JsonNode created = client.post(userPath(account, "bob") + "/keys", bob,
                Map.of("name", "ci job", "scopes", List.of("docs:read", "docs:write"), "ttl", 3600)).assertOk();

        assertThat(created.path("name").textValue()).isEqualTo("ci job");
        assertThat(created.path("primary").booleanValue()).isFalse();
        assertThat(created.path("scopes").toString()).isEqualTo("[\"docs:read\",\"docs:write\"]");
        assertThat(created.path("account_id").textValue()).isEqualTo(account);
        assertThat(created.path("user_id").textValue()).isEqualTo("bob");
        String key = created.path("user_key").textValue();
        String keyId = created.path("key_id").textValue();
        assertThat(key).startsWith("lk_" + keyId + "_");
        assertThat(created.path("key_prefix").textValue()).isEqualTo("lk_" + keyId);
        Instant expiresAt = Instant.parse(created.path("expires_at").textValue());
        assertThat(Duration.between(before, expiresAt)).isBetween(Duration.ofSeconds(3599), Duration.ofSeconds(3700));

        TestingResponse verified = client.get(VERIFY, key);
        JsonNode identity = verified.assertOk();
        assertThat(identity.path("role").textValue()).isEqualTo("user");
        assertThat(identity.path("user_id").textValue()).isEqualTo("bob");
        assertThat(identity.path("key_id").textValue()).isEqualTo(keyId);
        assertThat(identity.path("scopes").toString()).isEqualTo("[\"docs:read\",\"docs:write\"]");
        assertThat(Instant.parse(identity.path("expires_at").textValue())).isEqualTo(expiresAt);
        assertThat(verified.header("X-Latchkey-Key-Id")).contains(keyId);
        assertThat(verified.header("X-Latchkey-Scopes")).contains("docs:read docs:write");

        JsonNode primary = client.get(VERIFY, bob).assertOk();
        assertThat(primary.path("scopes").toString()).isEqualTo("[\"*\"]");
        assertThat(primary.path("expires_at").isNull()).isTrue();
        TestingResponse root = client.get(VERIFY, ROOT_KEY);
        assertThat(root.assertOk().path("key_id").isNull()).isTrue();
        assertThat(root.header("X-Latchkey-Key-Id")).isEmpty();
        assertThat(root.header("X-Latchkey-Scopes")).contains("*");
    }

    @Test
    public void verifyRefusesAKeyWithoutEveryRequestedScope()
    {
        String account = uniqueName("scopes");
        server.createAccount(account, "alice");
        String bob = server.registerUser(account, "bob", "user");
        String docs = createKey(account, "bob", Map.of("scopes", List.of("docs:*", "billing:read")));

        client.get(VERIFY + "?scope=docs:read", docs).assertOk();
        client.get(VERIFY + "?scope=docs:read&scope=billing:read", docs).assertOk();
        client.get(VERIFY + "?scope=docs:read&scope=billing:write", docs).assertError(403, "PERMISSION_DENIED");
        client.get(VERIFY + "?scope=admin:read", docs).assertError(403, "PERMISSION_DENIED");
        client.get(VERIFY + "?scope=anything&scope=at:all", bob).assertOk();
        client.get(VERIFY + "?scope=anything", ROOT_KEY).assertOk();
        client.get(VERIFY + "?scope=docs:read", "lk_" + "a".repeat(60)).assertError(401, "UNAUTHENTICATED");
        // the route Javalin serves for the variants of the path answers the same
        client.get(VERIFY + "/?scope=admin:read", docs).assertError(403, "PERMISSION_DENIED");
        client.get(VERIFY + "/?scope=docs:read", docs).assertOk();
    }

    @Test
    public void aKeyWithoutTheAdminScopeNeverAdministersEvenForAnAdmin()
    {
        String account = uniqueName("narrow");
        String alice = server.createAccount(account, "alice");
        String narrow = createKey(account, "alice", Map.of("scopes", List.of("docs:read")));
        String admin = createKey(account, "alice", Map.of("scopes", List.of("latchkey:admin")));

        client.get(usersPath(account), narrow).assertError(403, "PERMISSION_DENIED");
        client.post(usersPath(account), narrow, Map.of("user_id", "carol")).assertError(403, "PERMISSION_DENIED");
        client.get(userPath(account, "alice") + "/keys", narrow).assertError(403, "PERMISSION_DENIED");
        client.post(userPath(account, "alice") + "/keys", narrow, Map.of()).assertError(403, "PERMISSION_DENIED");
        client.get(usersPath(account), admin).assertOk();
        client.get(usersPath(account), alice).assertOk();
        assertThat(server.userIds(account)).containsExactly("alice");
    }

    @Test
    public void keysAreListedWithoutSecretsAndDeletedOneByOne()
    {
        String account = uniqueName("list");
        server.createAccount(account, "alice");
        String bob = server.registerUser(account, "bob", "user");
        String first = createKey(account, "bob", Map.of("name", "first"));
        String second = createKey(account, "bob", Map.of("name", "second", "expires_at", "2035-06-01T12:00:00+02:00"));

        TestingResponse listing = client.get(userPath(account, "bob") + "/keys", bob);
        JsonNode keys = listing.assertOk();
        assertThat(keys).hasSize(3);
        assertThat(keys.get(0).path("primary").booleanValue()).isTrue();
        assertThat(keys.get(0).path("name").isNull()).isTrue();
        assertThat(keys.get(1).path("name").textValue()).isEqualTo("first");
        assertThat(keys.get(2).path("expires_at").textValue()).isEqualTo("2035-06-01T10:00:00Z");
        for (String key : List.of(bob, first, second)) {
            assertThat(listing.body()).doesNotContain(key.substring(24));
        }
        assertThat(listing.body()).doesNotContain("user_key").doesNotContain("hash");

        String firstId = keys.get(1).path("key_id").textValue();
        assertThat(client.delete(userPath(account, "bob") + "/keys/" + firstId, bob).assertOk().path("deleted").booleanValue()).isTrue();
        client.get(VERIFY, first).assertError(401, "UNAUTHENTICATED");
        client.get(VERIFY, second).assertOk();
        client.get(VERIFY, bob).assertOk();
        client.delete(userPath(account, "bob") + "/keys/" + firstId, bob).assertError(404, "NOT_FOUND");
        String aliceKeyId = client.get(userPath(account, "alice") + "/keys", ROOT_KEY).assertOk().get(0).path("key_id").textValue();
        client.delete(userPath(account, "bob") + "/keys/" + aliceKeyId, ROOT_KEY).assertError(404, "NOT_FOUND");

        // the primary key may go too: the user then lists without a key prefix
        String primaryId = keys.get(0).path("key_id").textValue();
        client.delete(userPath(account, "bob") + "/keys/" + primaryId, ROOT_KEY).assertOk();
        client.get(VERIFY, bob).assertError(401, "UNAUTHENTICATED");
        JsonNode users = client.get(usersPath(account), ROOT_KEY).assertOk();
        JsonNode bobListed = users.get(1);
        assertThat(bobListed.path("user_id").textValue()).isEqualTo("bob");
        assertThat(bobListed.path("key_prefix").isNull()).isTrue();
    }

    @Test
    public void theTwentyFirstLiveKeyIsRefused()
    {
        String account = uniqueName("limit");
        server.createAccount(account, "alice");
        server.registerUser(account, "bob", "user");
        List<String> keys = new ArrayList<>();
        for (int i = 1; i < 20; i++) {
            keys.add(createKey(account, "bob", Map.of()));
        }
        client.post(userPath(account, "bob") + "/keys", ROOT_KEY, Map.of()).assertError(412, "FAILED_PRECONDITION");
        assertThat(client.get(userPath(account, "bob") + "/keys", ROOT_KEY).assertOk()).hasSize(20);
        keys.forEach(server::assertKeyWorks);
    }

    @Test
    public void regeneratingWithAGracePeriodKeepsTheOldKeyWorkingAsPrevious()
    {
        String account = uniqueName("grace");
        server.createAccount(account, "alice");
        String bob = server.registerUser(account, "bob", "user");
        Instant before = Instant.now();

        JsonNode regenerated = client.post(userPath(account, "bob") + "/key", ROOT_KEY, Map.of("grace_period", 600)).assertOk();

        String newKey = regenerated.path("user_key").textValue();
        Instant until = Instant.parse(regenerated.path("previous_key_expires_at").textValue());
        assertThat(Duration.between(before, until)).isBetween(Duration.ofSeconds(599), Duration.ofSeconds(700));
        client.get(VERIFY, bob).assertOk();
        client.get(VERIFY, newKey).assertOk();
        JsonNode keys = client.get(userPath(account, "bob") + "/keys", ROOT_KEY).assertOk();
        assertThat(keys).hasSize(2);
        assertThat(keys.get(0).path("name").textValue()).isEqualTo("previous");
        assertThat(keys.get(0).path("primary").booleanValue()).isFalse();
        assertThat(Instant.parse(keys.get(0).path("expires_at").textValue())).isEqualTo(until);
        assertThat(keys.get(1).path("primary").booleanValue()).isTrue();

        JsonNode plain = client.post(userPath(account, "bob") + "/key", ROOT_KEY, null).assertOk();
        assertThat(TestingResponse.fieldNames(plain)).containsExactly("user_key");
        client.get(VERIFY, newKey).assertError(401, "UNAUTHENTICATED");
        // the previous key keeps its grace period
        client.get(VERIFY, bob).assertOk();
    }

    private String createKey(String account, String user, Map<String, Object> body)
    {
        return client.post(userPath(account, user) + "/keys", ROOT_KEY, body).assertOk().path("user_key").textValue();
    }
}

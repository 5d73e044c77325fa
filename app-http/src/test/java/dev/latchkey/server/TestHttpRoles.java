package dev.latchkey.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.stream.Stream;

import static dev.latchkey.server.TestingLatchkeyServer.ACCOUNTS;
import static dev.latchkey.server.TestingLatchkeyServer.ROOT_KEY;
import static dev.latchkey.server.TestingLatchkeyServer.accountPath;
import static dev.latchkey.server.TestingLatchkeyServer.uniqueName;
import static dev.latchkey.server.TestingLatchkeyServer.userPath;
import static dev.latchkey.server.TestingLatchkeyServer.usersPath;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * The role table of http-api.md, operation by operation and caller by caller, plus the rules around it: role
 * {@code root} is never assignable, an admin naming another account is refused whether or not it exists, and an
 * account keeps at least one admin.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public class TestHttpRoles
{
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

    /**
     * Who calls: the root key, an admin of the account the operation names, an admin of another account, a user of
     * the account the operation names; and keys that do not authenticate: none at all, a well-formed key that was
     * never issued, a key whose check characters are wrong, the key of a removed user.
     */
    enum Caller
    {
        ROOT, OWN_ADMIN, OTHER_ADMIN, USER, NO_KEY, INVALID_KEY, MALFORMED_KEY, REVOKED_KEY;

        boolean authenticates()
        {
            return this == ROOT || this == OWN_ADMIN || this == OTHER_ADMIN || this == USER;
        }
    }

    /**
     * Each operation acts on the fixture's target account; {@code victim} is a user of it with role user,
     * {@code deputy} a second admin.
     */
    enum Operation
    {
        CREATE_ACCOUNT(true, EnumSet.of(Caller.ROOT),
                (fixture, key) -> fixture.client.post(ACCOUNTS, key, Map.of("account_id", uniqueName("created"), "admin_user_id", "alice"))),
        LIST_ACCOUNTS(false, EnumSet.of(Caller.ROOT), (fixture, key) -> fixture.client.get(ACCOUNTS, key)),
        DELETE_ACCOUNT(true, EnumSet.of(Caller.ROOT), (fixture, key) -> fixture.client.delete(accountPath(fixture.account), key)),
        REGISTER_USER(true, EnumSet.of(Caller.ROOT, Caller.OWN_ADMIN),
                (fixture, key) -> fixture.client.post(usersPath(fixture.account), key, Map.of("user_id", "newcomer"))),
        REGISTER_ADMIN(true, EnumSet.of(Caller.ROOT, Caller.OWN_ADMIN),
                (fixture, key) -> fixture.client.post(usersPath(fixture.account), key, Map.of("user_id", "newcomer", "role", "admin"))),
        LIST_USERS(false, EnumSet.of(Caller.ROOT, Caller.OWN_ADMIN), (fixture, key) -> fixture.client.get(usersPath(fixture.account), key)),
        REMOVE_USER(true, EnumSet.of(Caller.ROOT, Caller.OWN_ADMIN), (fixture, key) -> fixture.client.delete(userPath(fixture.account, "victim"), key)),
        PROMOTE(true, EnumSet.of(Caller.ROOT, Caller.OWN_ADMIN),
                (fixture, key) -> fixture.client.put(userPath(fixture.account, "victim") + "/role", key, Map.of("role", "admin"))),
        DEMOTE(true, EnumSet.of(Caller.ROOT, Caller.OWN_ADMIN),
                (fixture, key) -> fixture.client.put(userPath(fixture.account, "deputy") + "/role", key, Map.of("role", "user"))),
        REGENERATE_KEY(true, EnumSet.of(Caller.ROOT, Caller.OWN_ADMIN),
                (fixture, key) -> fixture.client.post(userPath(fixture.account, "victim") + "/key", key, null)),
        REGENERATE_SEEDED_KEY(true, EnumSet.of(Caller.ROOT, Caller.OWN_ADMIN),
                (fixture, key) -> fixture.client.post(userPath(fixture.account, "victim") + "/key", key, Map.of("seed", "a-seed-long-enough-for-this"))),
        VERIFY(false, EnumSet.of(Caller.ROOT, Caller.OWN_ADMIN, Caller.OTHER_ADMIN, Caller.USER),
                (fixture, key) -> fixture.client.get("/api/v1/auth/verify", key));

        private final boolean writes;
        private final Set<Caller> allowed;
        private final BiFunction<Fixture, String, TestingResponse> call;

        Operation(boolean writes, Set<Caller> allowed, BiFunction<Fixture, String, TestingResponse> call)
        {
            this.writes = writes;
            this.allowed = allowed;
            this.call = call;
        }
    }

    /**
     * A fresh target account (admin {@code alice}, admin {@code deputy}, user {@code victim}, and the removed user
     * {@code revoked}), and another account with its admin {@code oscar}; the key of each caller.
     */
    private record Fixture(TestingHttpClient client, String account, Map<Caller, String> keys)
    {
        String key(Caller caller)
        {
            return keys.get(caller);
        }
    }

    private Fixture fixture()
    {
        String account = uniqueName("target");
        String other = uniqueName("other");
        Map<Caller, String> keys = new EnumMap<>(Caller.class);
        keys.put(Caller.ROOT, ROOT_KEY);
        keys.put(Caller.OWN_ADMIN, server.createAccount(account, "alice"));
        server.registerUser(account, "deputy", "admin");
        keys.put(Caller.USER, server.registerUser(account, "victim", "user"));
        keys.put(Caller.OTHER_ADMIN, server.createAccount(other, "oscar"));
        String revoked = server.registerUser(account, "revoked", "user");
        client.delete(userPath(account, "revoked"), ROOT_KEY).assertOk();
        keys.put(Caller.REVOKED_KEY, revoked);
        keys.put(Caller.INVALID_KEY, TestingKeys.wellFormed("NeverIssued" + "0".repeat(5), "s".repeat(32)));
        String valid = keys.get(Caller.USER);
        keys.put(Caller.MALFORMED_KEY, valid.substring(0, 57) + (valid.charAt(57) == 'A' ? 'B' : 'A'));
        return new Fixture(client, account, keys);
    }

    public static Stream<Arguments> roleTable()
    {
        return Arrays.stream(Operation.values())
                .flatMap(operation -> Arrays.stream(Caller.values()).map(caller -> arguments(caller, operation)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("roleTable")
    public void testRoleTable(Caller caller, Operation operation)
    {
        Fixture fixture = fixture();
        String before = state(fixture.account);

        TestingResponse response = operation.call.apply(fixture, fixture.key(caller));

        if (!caller.authenticates()) {
            response.assertError(401, "UNAUTHENTICATED");
            assertThat(state(fixture.account)).as("state after an unauthenticated %s", operation).isEqualTo(before);
        }
        else if (operation.allowed.contains(caller)) {
            response.assertOk();
            if (operation.writes) {
                assertThat(state(fixture.account)).as("state after %s", operation).isNotEqualTo(before);
            }
            else {
                assertThat(state(fixture.account)).as("state after %s", operation).isEqualTo(before);
            }
        }
        else {
            response.assertError(403, "PERMISSION_DENIED");
            assertThat(state(fixture.account)).as("state after a refused %s", operation).isEqualTo(before);
            server.assertKeyWorks(fixture.key(Caller.USER));
        }
    }

    @Test
    public void testRoleTableCoversEveryCallerAndOperation()
    {
        // the table above must not silently shrink: 8 callers x 12 operations, 4 of them never authenticate
        assertThat(roleTable()).hasSize(96);
        assertThat(Arrays.stream(Caller.values()).filter(Caller::authenticates)).containsExactly(Caller.ROOT, Caller.OWN_ADMIN, Caller.OTHER_ADMIN, Caller.USER);
        assertThat(TestingKeys.isWellFormed(fixture().key(Caller.INVALID_KEY))).isTrue();
        assertThat(TestingKeys.isWellFormed(fixture().key(Caller.MALFORMED_KEY))).isFalse();
    }

    /**
     * {@code /health}, {@code /ready} and {@code /metrics} answer whatever key comes with the request, or none.
     */
    @ParameterizedTest
    @EnumSource(Caller.class)
    public void testOpenEndpointsIgnoreKeys(Caller caller)
    {
        Fixture fixture = fixture();
        String key = fixture.key(caller);
        assertThat(client.get("/health", key).assertOk().get("status").textValue()).isEqualTo("up");
        assertThat(client.get("/ready", key).assertOk().get("store").textValue()).isEqualTo("filesystem");
        TestingResponse metrics = client.get("/metrics", key);
        assertThat(metrics.status()).isEqualTo(200);
        assertThat(metrics.body()).contains("latchkey_auth_total");
    }

    /**
     * An admin or user naming an account not its own is refused with 403 whether the account exists or not (no
     * existence oracle); root gets 404 for an absent one.
     */
    @ParameterizedTest
    @EnumSource(value = Operation.class, names = {"REGISTER_USER", "REGISTER_ADMIN", "LIST_USERS", "REMOVE_USER", "PROMOTE", "DEMOTE", "REGENERATE_KEY", "REGENERATE_SEEDED_KEY", "DELETE_ACCOUNT"})
    public void testNamingAbsentAccount(Operation operation)
    {
        Fixture fixture = fixture();
        Fixture absent = new Fixture(client, uniqueName("absent"), fixture.keys);
        for (Caller caller : List.of(Caller.OWN_ADMIN, Caller.OTHER_ADMIN, Caller.USER)) {
            operation.call.apply(absent, fixture.key(caller)).assertError(403, "PERMISSION_DENIED");
        }
        operation.call.apply(absent, ROOT_KEY).assertError(404, "NOT_FOUND");
    }

    @Test
    public void testAdminOfAnotherAccountGetsNoConflictOrExistenceAnswer()
    {
        Fixture fixture = fixture();
        String otherAdmin = fixture.key(Caller.OTHER_ADMIN);
        // victim exists: a 409 would tell; absent users: a 404 would tell
        client.post(usersPath(fixture.account), otherAdmin, Map.of("user_id", "victim")).assertError(403, "PERMISSION_DENIED");
        client.delete(userPath(fixture.account, "nobody"), otherAdmin).assertError(403, "PERMISSION_DENIED");
        client.put(userPath(fixture.account, "nobody") + "/role", otherAdmin, Map.of("role", "user")).assertError(403, "PERMISSION_DENIED");
        client.post(userPath(fixture.account, "nobody") + "/key", otherAdmin, null).assertError(403, "PERMISSION_DENIED");
        client.delete(userPath(fixture.account, "alice"), fixture.key(Caller.USER)).assertError(403, "PERMISSION_DENIED");
        // an admin naming an absent user of its own account learns it is absent
        client.delete(userPath(fixture.account, "nobody"), fixture.key(Caller.OWN_ADMIN)).assertError(404, "NOT_FOUND");
        client.post(usersPath(fixture.account), fixture.key(Caller.OWN_ADMIN), Map.of("user_id", "victim")).assertError(409, "ALREADY_EXISTS");
    }

    @Test
    public void testRootRoleIsNeverAssignable()
    {
        Fixture fixture = fixture();
        String before = state(fixture.account);
        for (Caller caller : List.of(Caller.ROOT, Caller.OWN_ADMIN, Caller.OTHER_ADMIN, Caller.USER)) {
            String key = fixture.key(caller);
            client.post(usersPath(fixture.account), key, Map.of("user_id", "wannabe", "role", "root")).assertError(403, "PERMISSION_DENIED");
            client.put(userPath(fixture.account, "victim") + "/role", key, Map.of("role", "root")).assertError(403, "PERMISSION_DENIED");
            client.put(userPath(fixture.account, "alice") + "/role", key, Map.of("role", "root")).assertError(403, "PERMISSION_DENIED");
        }
        assertThat(state(fixture.account)).isEqualTo(before);
        assertThat(server.verifiedRole(fixture.key(Caller.USER))).isEqualTo("user");
        assertThat(server.verifiedRole(fixture.key(Caller.OWN_ADMIN))).isEqualTo("admin");

        // a user merely named root is an ordinary admin
        String named = client.post(ACCOUNTS, ROOT_KEY, Map.of("account_id", uniqueName("x"), "admin_user_id", "root")).assertOk().get("user_key").textValue();
        assertThat(server.verifiedRole(named)).isEqualTo("admin");
    }

    @Test
    public void testLastAdminCannotBeRemovedOrDemoted()
    {
        String account = uniqueName("last-admin");
        String aliceKey = server.createAccount(account, "alice");
        String bobKey = server.registerUser(account, "bob", "user");

        for (String key : List.of(ROOT_KEY, aliceKey)) {
            client.delete(userPath(account, "alice"), key).assertError(412, "FAILED_PRECONDITION");
            client.put(userPath(account, "alice") + "/role", key, Map.of("role", "user")).assertError(412, "FAILED_PRECONDITION");
        }
        // setting the role it already has is no demotion
        client.put(userPath(account, "alice") + "/role", aliceKey, Map.of("role", "admin")).assertOk();
        assertThat(server.verifiedRole(aliceKey)).isEqualTo("admin");
        client.delete(userPath(account, "bob"), aliceKey).assertOk();
        server.assertKeyRejected(bobKey);
        assertThat(server.userIds(account)).containsExactly("alice");
    }

    @Test
    public void testAdminMayDemoteOrRemoveItselfWhenAnotherAdminRemains()
    {
        String account = uniqueName("self");
        String aliceKey = server.createAccount(account, "alice");
        String carolKey = server.registerUser(account, "carol", "admin");

        JsonNode demoted = client.put(userPath(account, "alice") + "/role", aliceKey, Map.of("role", "user")).assertOk();
        assertThat(demoted.get("role").textValue()).isEqualTo("user");
        assertThat(server.verifiedRole(aliceKey)).isEqualTo("user");
        // alice is a user now: she can no longer administer, and carol is the last admin
        client.get(usersPath(account), aliceKey).assertError(403, "PERMISSION_DENIED");
        client.put(userPath(account, "carol") + "/role", carolKey, Map.of("role", "user")).assertError(412, "FAILED_PRECONDITION");
        client.delete(userPath(account, "carol"), carolKey).assertError(412, "FAILED_PRECONDITION");

        // with a second admin again, carol removes herself and her key dies
        client.put(userPath(account, "alice") + "/role", carolKey, Map.of("role", "admin")).assertOk();
        assertThat(client.delete(userPath(account, "carol"), carolKey).assertOk().get("deleted").booleanValue()).isTrue();
        server.assertKeyRejected(carolKey);
        assertThat(server.verifiedRole(aliceKey)).isEqualTo("admin");
        assertThat(server.userIds(account)).containsExactly("alice");
    }

    /**
     * Every account and the target account's users, as root sees them.
     */
    private String state(String account)
    {
        TestingResponse users = client.get(usersPath(account) + "?limit=1000", ROOT_KEY);
        return client.get(ACCOUNTS, ROOT_KEY).assertOk() + " " + users.status() + " " + users.json().path("result");
    }
}

package dev.latchkey.server;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKeyGenerator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.UncheckedIOException;
import java.net.http.HttpRequest.BodyPublisher;
import java.net.http.HttpRequest.BodyPublishers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static dev.latchkey.server.TestingLatchkeyServer.ACCOUNTS;
import static dev.latchkey.server.TestingLatchkeyServer.ROOT_KEY;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * The table of bad inputs: each row is one request that http-api.md says must fail, with the status, the error
 * code and (for a bad field) the {@code details.field} it must answer. Every answer must be the error envelope
 * without a stack trace (the client checks that on every response), and must leave the store as it was.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public class TestHttpBadInputs
{
    private static final String ACCOUNT = "acme";
    private static final String USERS = ACCOUNTS + "/" + ACCOUNT + "/users";
    private static final String BOB = USERS + "/bob";
    private static final String VERIFY = "/api/v1/auth/verify";
    private static final int MAX_BODY = 64 * 1024;
    private static final String LONG_ID = "a".repeat(129);
    private static final String FULL = "full";
    private static final String SEEDED = "dana";
    private static final String SEED = "correct-horse-battery-staple";

    /**
     * Identifiers that break one rule each (see "Identifiers" in http-api.md), and how to write them in a path.
     */
    private static final Map<String, String> BAD_IDENTIFIERS = badIdentifiers();

    /**
     * Who sends the request: root, {@code alice} (admin of acme), {@code oscar} (admin of another account),
     * {@code bob} (user of acme), or nobody.
     */
    enum Caller
    {
        ROOT, ADMIN, OTHER_ADMIN, USER, NONE
    }

    /**
     * One row of the table.
     *
     * @param field the expected {@code error.details.field}, or null when the error has no details
     */
    record BadInput(String description, String method, String target, Caller caller, Map<String, String> headers, Object body, int status, String code, String field)
    {
        @Override
        public String toString()
        {
            return description;
        }
    }

    private TestingLatchkeyServer server;
    private TestingHttpClient client;
    private final Map<Caller, String> keys = new EnumMap<>(Caller.class);

    @BeforeAll
    public void startServer(@TempDir Path directory)
    {
        server = TestingLatchkeyServer.start(directory);
        client = server.client();
        keys.put(Caller.ROOT, ROOT_KEY);
        keys.put(Caller.ADMIN, server.createAccount(ACCOUNT, "alice"));
        keys.put(Caller.USER, server.registerUser(ACCOUNT, "bob", "user"));
        keys.put(Caller.OTHER_ADMIN, server.createAccount("other", "oscar"));
        // a user already holding 20 live keys, and one whose key id the rows know (a seeded key)
        server.registerUser(ACCOUNT, FULL, "user");
        for (int i = 1; i < 20; i++) {
            client.post(USERS + "/" + FULL + "/keys", ROOT_KEY, Map.of()).assertOk();
        }
        client.post(USERS, ROOT_KEY, Map.of("user_id", SEEDED, "seed", SEED)).assertOk();
    }

    @AfterAll
    public void stopServer()
    {
        if (server != null) {
            server.close();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badInputs")
    public void testBadInput(BadInput input)
    {
        String before = state();
        Map<String, String> headers = new LinkedHashMap<>(input.headers);
        if (keys.containsKey(input.caller)) {
            headers.put(TestingHttpClient.API_KEY, keys.get(input.caller));
        }

        TestingResponse response = send(input, headers);

        if (input.field == null) {
            response.assertError(input.status, input.code);
        }
        else {
            assertThat(input.status).isEqualTo(400);
            response.assertInvalidField(input.field);
        }
        assertThat(state()).as("accounts and users after %s", input).isEqualTo(before);
    }

    /**
     * Sends the row's request through {@link #answered}.
     */
    private TestingResponse send(BadInput input, Map<String, String> headers)
    {
        return answered(() -> client.send(input.method, input.target, headers, publisher(input.body)));
    }

    /**
     * Sends a request, again when it got no response at all, up to three times. The server refuses some requests
     * before reading all of them (a body, header block or target too large): it answers and closes the connection
     * while the client may still be sending, and the client's TCP stack can then see the reset before the answer;
     * and the next request may go out on a pooled connection the server is just closing. Both are inherent races
     * of HTTP/1.1, not wrong answers. Every row is a request the server must refuse, the callers check that the
     * store is unchanged, and an answer, once read, must be the documented one.
     */
    private static TestingResponse answered(Supplier<TestingResponse> request)
    {
        for (int attempt = 1; ; attempt++) {
            try {
                return request.get();
            }
            catch (UncheckedIOException e) {
                if (attempt == 3) {
                    throw e;
                }
            }
        }
    }

    public static Stream<BadInput> badInputs()
    {
        List<BadInput> rows = new ArrayList<>();
        malformedBodies(rows);
        wrongTypesAndMissingFields(rows);
        badValues(rows);
        badKeyRequests(rows);
        badIdentifiers(rows);
        badQueryParameters(rows);
        badKeyHeaders(rows);
        unknownRoutes(rows);
        wrongMethods(rows);
        oversizedBodies(rows);
        checkOrder(rows);
        return rows.stream();
    }

    @Test
    public void testTableIsComplete()
    {
        List<BadInput> rows = badInputs().toList();
        assertThat(rows).extracting(BadInput::description).doesNotHaveDuplicates();
        assertThat(rows).extracting(BadInput::code)
                .contains("INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED", "NOT_FOUND", "METHOD_NOT_ALLOWED", "PAYLOAD_TOO_LARGE");
        // every bad identifier in the body fields, and in the path and the cursor when it can be written there
        long inPath = BAD_IDENTIFIERS.values().stream().filter(segment -> segment != null).count();
        assertThat(rows).filteredOn(row -> "admin_user_id".equals(row.field) && row.description.contains("admin_user_id '")).hasSizeGreaterThan(10);
        assertThat(rows).filteredOn(row -> "cursor".equals(row.field)).hasSize((int) inPath);
        assertThat(rows).filteredOn(row -> row.description.contains("in the path")).hasSizeGreaterThanOrEqualTo((int) inPath * 5);
    }

    /**
     * Targets that are not valid percent-encoding or UTF-8, sent as raw bytes ({@code URI} refuses them). A bad path
     * is refused by the HTTP layer before any route, and must still get the error envelope.
     */
    @ParameterizedTest
    @MethodSource("undecodableTargets")
    public void testUndecodableTarget(String target, String field)
    {
        String before = state();

        TestingResponse response = client.sendRaw("GET", target, Map.of(TestingHttpClient.API_KEY, ROOT_KEY));

        if (field == null) {
            response.assertError(400, "INVALID_ARGUMENT");
        }
        else {
            response.assertInvalidField(field);
        }
        assertThat(state()).isEqualTo(before);
    }

    public static Stream<Arguments> undecodableTargets()
    {
        return Stream.of(
                arguments(ACCOUNTS + "/%zz/users", null),
                arguments(ACCOUNTS + "/a%2/users", null),
                arguments(ACCOUNTS + "/%C3%28/users", null),
                arguments(ACCOUNTS + "/%00/users", null),
                arguments(USERS + "?limit=%zz", "limit"),
                arguments(USERS + "?role=%zz", "role"),
                arguments(USERS + "?cursor=%zz", "cursor"),
                arguments(USERS + "?name=%zz", "name"));
    }

    /**
     * Limits of the HTTP layer itself (not in http-api.md's table): the status says which, the body is the error
     * envelope.
     */
    @Test
    public void testOversizedRequestHeadAndTarget()
    {
        Map<String, String> padded = Map.of(TestingHttpClient.API_KEY, ROOT_KEY, "X-Padding", "p".repeat(MAX_BODY));
        answered(() -> client.send("GET", VERIFY, padded, BodyPublishers.noBody())).assertError(431, "INVALID_ARGUMENT");
        answered(() -> client.send("POST", ACCOUNTS, padded, BodyPublishers.ofString("{\"account_id\": \"t1\", \"admin_user_id\": \"a\"}")))
                .assertError(431, "INVALID_ARGUMENT");

        String before = state();
        answered(() -> client.send("GET", USERS + "?name=" + "n".repeat(MAX_BODY), Map.of(TestingHttpClient.API_KEY, ROOT_KEY), BodyPublishers.noBody()))
                .assertError(414, "INVALID_ARGUMENT");
        answered(() -> client.send("DELETE", ACCOUNTS + "/" + "a".repeat(MAX_BODY), Map.of(TestingHttpClient.API_KEY, ROOT_KEY), BodyPublishers.noBody()))
                .assertError(414, "INVALID_ARGUMENT");
        assertThat(state()).isEqualTo(before);
    }

    /**
     * A client that announces a large body and waits for {@code 100 Continue} is answered at once, before it sends
     * any of it.
     */
    @Test
    public void testAnnouncedOversizedBodyIsRefusedBeforeItIsSent()
    {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put(TestingHttpClient.API_KEY, ROOT_KEY);
        headers.put("Content-Type", "application/json");
        headers.put("Content-Length", String.valueOf(4 * MAX_BODY));
        headers.put("Expect", "100-continue");
        String before = state();

        client.sendRaw("POST", ACCOUNTS, headers).assertError(413, "PAYLOAD_TOO_LARGE");

        assertThat(state()).isEqualTo(before);
    }

    /**
     * The bound is inclusive: a body of exactly 64 KiB is read.
     */
    @Test
    public void testBodyOfExactlyTheLimitIsAccepted()
    {
        String account = TestingLatchkeyServer.uniqueName("limit");
        byte[] body = padded("{\"account_id\": \"" + account + "\", \"admin_user_id\": \"alice\", \"pad\": \"", MAX_BODY);
        assertThat(body).hasSize(MAX_BODY);
        client.post(ACCOUNTS, ROOT_KEY, body).assertOk();
        client.post(ACCOUNTS + "/" + account + "/users/alice/key", ROOT_KEY, padded("{\"seed\": null, \"pad\": \"", MAX_BODY)).assertOk();
        assertThat(server.userIds(account)).containsExactly("alice");
    }

    /**
     * Seeds are at least 16 characters, identifiers at most 128: the boundaries themselves are accepted.
     */
    @Test
    public void testBoundaryValuesAreAccepted()
    {
        String account = TestingLatchkeyServer.uniqueName("bounds");
        String key = client.post(ACCOUNTS, ROOT_KEY, Map.of("account_id", account, "admin_user_id", "a".repeat(128), "seed", "s".repeat(16)))
                .assertOk().get("user_key").textValue();
        assertThat(TestingKeys.isWellFormed(key)).isTrue();
        client.post(ACCOUNTS + "/" + account + "/users", ROOT_KEY, Map.of("user_id", "_x@y.z-1", "role", "admin")).assertOk();
        assertThat(client.get(ACCOUNTS + "/" + account + "/users?limit=1000&cursor=" + "a".repeat(128) + "&role=admin&name=", ROOT_KEY).assertOk())
                .isEmpty();
        assertThat(client.get(ACCOUNTS + "/" + account + "/users?limit=1", ROOT_KEY).assertOk()).hasSize(1);
        assertThat(server.userIds(account)).containsExactly("_x@y.z-1", "a".repeat(128));
    }

    private static void malformedBodies(List<BadInput> rows)
    {
        List<String> malformed = List.of(
                "{",
                "{\"account_id\": \"t1\"",
                "not json",
                "{'account_id': 't1', 'admin_user_id': 'a'}",
                "{\"account_id\": \"t1\", \"admin_user_id\": \"a\",}",
                "{\"account_id\": \"t1\" \"admin_user_id\": \"a\"}",
                "/* comment */ {\"account_id\": \"t1\", \"admin_user_id\": \"a\"}",
                "{\"account_id\": \"t1\", \"admin_user_id\": \"a\", \"n\": NaN}",
                "{\"account_id\": \"t1\", \"admin_user_id\": \"a\"} trailing",
                "{\"account_id\": \"t1\", \"admin_user_id\": \"a\"} {}",
                "{\"account_id\": \"t1\", \"admin_user_id\": \"a\"}]",
                "[]",
                "[{\"account_id\": \"t1\", \"admin_user_id\": \"a\"}]",
                "\"t1\"",
                "42",
                "null",
                "true");
        for (String body : malformed) {
            rows.add(invalid("create account, body " + body, "POST", ACCOUNTS, body));
            rows.add(invalid("register user, body " + body, "POST", USERS, body.replace("account_id", "user_id")));
            rows.add(invalid("set role, body " + body, "PUT", BOB + "/role", body.replace("account_id", "role")));
            rows.add(invalid("regenerate key, body " + body, "POST", BOB + "/key", body.replace("account_id", "seed")));
        }
        byte[] badUtf8 = concat("{\"account_id\": \"t", new byte[] {(byte) 0xC3, (byte) 0x28}, "\", \"admin_user_id\": \"a\"}");
        rows.add(invalid("create account, body not UTF-8", "POST", ACCOUNTS, badUtf8));
        for (String body : List.of("", "   \n\t ")) {
            rows.add(invalid("create account, body '" + body.strip() + "' of " + body.length(), "POST", ACCOUNTS, body));
            rows.add(invalid("register user, body '" + body.strip() + "' of " + body.length(), "POST", USERS, body));
            rows.add(invalid("set role, body '" + body.strip() + "' of " + body.length(), "PUT", BOB + "/role", body));
        }
    }

    private static void wrongTypesAndMissingFields(List<BadInput> rows)
    {
        for (String value : List.of("5", "1.5", "true", "[]", "[\"t1\"]", "{}", "null")) {
            rows.add(field("create account, account_id " + value, "POST", ACCOUNTS, "{\"account_id\": " + value + ", \"admin_user_id\": \"a\"}", "account_id"));
            rows.add(field("create account, admin_user_id " + value, "POST", ACCOUNTS, "{\"account_id\": \"t1\", \"admin_user_id\": " + value + "}", "admin_user_id"));
            rows.add(field("register user, user_id " + value, "POST", USERS, "{\"user_id\": " + value + "}", "user_id"));
            rows.add(field("set role, role " + value, "PUT", BOB + "/role", "{\"role\": " + value + "}", "role"));
            if (!value.equals("null")) {
                rows.add(field("create account, seed " + value, "POST", ACCOUNTS, "{\"account_id\": \"t1\", \"admin_user_id\": \"a\", \"seed\": " + value + "}", "seed"));
                rows.add(field("register user, role " + value, "POST", USERS, "{\"user_id\": \"u1\", \"role\": " + value + "}", "role"));
                rows.add(field("register user, seed " + value, "POST", USERS, "{\"user_id\": \"u1\", \"seed\": " + value + "}", "seed"));
                rows.add(field("regenerate key, seed " + value, "POST", BOB + "/key", "{\"seed\": " + value + "}", "seed"));
            }
        }
        rows.add(field("create account, no account_id", "POST", ACCOUNTS, "{\"admin_user_id\": \"a\"}", "account_id"));
        rows.add(field("create account, no admin_user_id", "POST", ACCOUNTS, "{\"account_id\": \"t1\"}", "admin_user_id"));
        rows.add(field("create account, only unknown fields", "POST", ACCOUNTS, "{\"accountId\": \"t1\", \"admin\": \"a\"}", "account_id"));
        rows.add(field("register user, no user_id", "POST", USERS, "{\"role\": \"user\"}", "user_id"));
        rows.add(field("set role, no role", "PUT", BOB + "/role", "{}", "role"));
        rows.add(invalid("create account, no body", "POST", ACCOUNTS, null));
        rows.add(invalid("register user, no body", "POST", USERS, null));
        rows.add(invalid("set role, no body", "PUT", BOB + "/role", null));
    }

    private static void badValues(List<BadInput> rows)
    {
        for (String role : List.of("Admin", "ADMIN", "USER", " admin", "admin ", "superuser", "")) {
            rows.add(field("register user, role '" + role + "'", "POST", USERS, "{\"user_id\": \"u1\", \"role\": \"" + role + "\"}", "role"));
            rows.add(field("set role, role '" + role + "'", "PUT", BOB + "/role", "{\"role\": \"" + role + "\"}", "role"));
        }
        rows.add(row("register user, role root", "POST", USERS, Caller.ROOT, "{\"user_id\": \"u1\", \"role\": \"root\"}", 403, "PERMISSION_DENIED"));
        rows.add(row("set role, role root", "PUT", BOB + "/role", Caller.ROOT, "{\"role\": \"root\"}", 403, "PERMISSION_DENIED"));
        rows.add(row("set role of an admin, role root", "PUT", USERS + "/alice/role", Caller.ADMIN, "{\"role\": \"root\"}", 403, "PERMISSION_DENIED"));
        for (String seed : List.of("", "x", "fifteen-chars!!")) {
            String json = "\"seed\": \"" + seed + "\"";
            rows.add(field("create account, seed of " + seed.length(), "POST", ACCOUNTS, "{\"account_id\": \"t1\", \"admin_user_id\": \"a\", " + json + "}", "seed"));
            rows.add(field("register user, seed of " + seed.length(), "POST", USERS, "{\"user_id\": \"u1\", " + json + "}", "seed"));
            rows.add(field("regenerate key, seed of " + seed.length(), "POST", BOB + "/key", "{" + json + "}", "seed"));
        }
    }

    private static void badKeyRequests(List<BadInput> rows)
    {
        String keys = BOB + "/keys";
        for (String name : List.of("", "   ", "n".repeat(65), "a/b", "tab\\there", "caf\u00e9")) {
            rows.add(field("create key, name " + (name.length() > 20 ? name.length() + " characters" : "'" + name + "'"), "POST", keys, "{\"name\": \"" + name + "\"}", "name"));
        }
        rows.add(field("create key, name not a string", "POST", keys, "{\"name\": 5}", "name"));
        List<String> badScopes = List.of("\"docs:read\"", "[]", "[\"\"]", "[\"a b\"]", "[\"docs,read\"]", "[1]", "[\"" + "s".repeat(65) + "\"]",
                IntStream.range(0, 33).mapToObj(i -> "\"s" + i + "\"").collect(Collectors.joining(", ", "[", "]")));
        for (String scopes : badScopes) {
            rows.add(field("create key, scopes " + (scopes.length() > 30 ? scopes.length() + " characters" : scopes), "POST", keys, "{\"scopes\": " + scopes + "}", "scopes"));
        }
        for (String expiresAt : List.of("\"2020-01-01T00:00:00Z\"", "\"tomorrow\"", "\"2027-01-01\"", "\"2999-01-01T00:00:00Z\"", "5")) {
            rows.add(field("create key, expires_at " + expiresAt, "POST", keys, "{\"expires_at\": " + expiresAt + "}", "expires_at"));
        }
        for (String ttl : List.of("0", "-1", "315360001", "1.5", "\"60\"", "true")) {
            rows.add(field("create key, ttl " + ttl, "POST", keys, "{\"ttl\": " + ttl + "}", "ttl"));
        }
        rows.add(field("create key, both expires_at and ttl", "POST", keys, "{\"expires_at\": \"2030-01-01T00:00:00Z\", \"ttl\": 60}", "expires_at"));
        for (String grace : List.of("-1", "604801", "1.5", "\"60\"")) {
            rows.add(field("regenerate key, grace_period " + grace, "POST", BOB + "/key", "{\"grace_period\": " + grace + "}", "grace_period"));
        }
        rows.add(field("delete key, key_id not 16 characters", "DELETE", keys + "/short", null, "key_id"));
        rows.add(field("delete key, key_id with a character outside base62", "DELETE", keys + "/aaaaaaaaaaaaaaa-", null, "key_id"));
        rows.add(row("delete key, unknown key id", "DELETE", keys + "/" + "a".repeat(16), Caller.ROOT, null, 404, "NOT_FOUND"));
        String danasKeyId = ApiKeyGenerator.seeded(SEED, AccountId.of(ACCOUNT), UserId.of(SEEDED)).keyId().value();
        rows.add(row("delete key, the key id of another user", "DELETE", keys + "/" + danasKeyId, Caller.ROOT, null, 404, "NOT_FOUND"));
        rows.add(row("delete key, the key id of another user, as that user", "DELETE", keys + "/" + danasKeyId, Caller.USER, null, 404, "NOT_FOUND"));
        rows.add(row("create key, a 21st live key", "POST", USERS + "/" + FULL + "/keys", Caller.ROOT, "{}", 412, "FAILED_PRECONDITION"));
        rows.add(row("regenerate key with a grace period, a 21st live key", "POST", USERS + "/" + FULL + "/key", Caller.ROOT, "{\"grace_period\": 60}", 412,
                "FAILED_PRECONDITION"));
        rows.add(row("create key, absent user", "POST", USERS + "/nobody/keys", Caller.ROOT, "{}", 404, "NOT_FOUND"));
        rows.add(row("list keys, absent user", "GET", USERS + "/nobody/keys", Caller.ROOT, null, 404, "NOT_FOUND"));
        rows.add(row("list keys, absent account", "GET", ACCOUNTS + "/absent/users/bob/keys", Caller.ROOT, null, 404, "NOT_FOUND"));
        rows.add(row("create key for another user, as a user", "POST", USERS + "/alice/keys", Caller.USER, "{}", 403, "PERMISSION_DENIED"));
        rows.add(row("list the keys of another user, as a user", "GET", USERS + "/alice/keys", Caller.USER, null, 403, "PERMISSION_DENIED"));
        rows.add(row("create key, admin of another account", "POST", keys, Caller.OTHER_ADMIN, "{}", 403, "PERMISSION_DENIED"));
        rows.add(row("regenerate own key, as a user", "POST", BOB + "/key", Caller.USER, null, 403, "PERMISSION_DENIED"));
        rows.add(new BadInput("user, create key with a bad ttl for another user", "POST", USERS + "/alice/keys", Caller.USER, Map.of(), "{\"ttl\": 0}", 400, "INVALID_ARGUMENT", "ttl"));
        rows.add(new BadInput("verify, a requested scope that is not a scope", "GET", VERIFY + "?scope=a%20b", Caller.USER, Map.of(), null, 400, "INVALID_ARGUMENT", "scope"));
        rows.add(row("verify without a key, a requested scope that is not a scope", "GET", VERIFY + "?scope=a%20b", Caller.NONE, null, 401, "UNAUTHENTICATED"));
    }

    private static void badIdentifiers(List<BadInput> rows)
    {
        BAD_IDENTIFIERS.forEach((id, inPath) -> {
            String json = jsonString(id);
            String shown = id.length() > 20 ? id.length() + " characters" : "'" + id + "'";
            rows.add(field("create account, account_id " + shown, "POST", ACCOUNTS, "{\"account_id\": " + json + ", \"admin_user_id\": \"a\"}", "account_id"));
            rows.add(field("create account, admin_user_id " + shown, "POST", ACCOUNTS, "{\"account_id\": \"t1\", \"admin_user_id\": " + json + "}", "admin_user_id"));
            rows.add(field("register user, user_id " + shown, "POST", USERS, "{\"user_id\": " + json + "}", "user_id"));
            if (inPath != null) {
                rows.add(field("list users, account_id " + shown + " in the path", "GET", ACCOUNTS + "/" + inPath + "/users", null, "account_id"));
                rows.add(field("delete account, account_id " + shown + " in the path", "DELETE", ACCOUNTS + "/" + inPath, null, "account_id"));
                rows.add(field("remove user, user_id " + shown + " in the path", "DELETE", USERS + "/" + inPath, null, "user_id"));
                rows.add(field("set role, user_id " + shown + " in the path", "PUT", USERS + "/" + inPath + "/role", "{\"role\": \"user\"}", "user_id"));
                rows.add(field("regenerate key, user_id " + shown + " in the path", "POST", USERS + "/" + inPath + "/key", null, "user_id"));
                rows.add(field("list users, cursor " + shown, "GET", USERS + "?cursor=" + inPath, null, "cursor"));
            }
        });
        // only account ids may not start with _
        rows.add(field("create account, account_id '_t1'", "POST", ACCOUNTS, "{\"account_id\": \"_t1\", \"admin_user_id\": \"a\"}", "account_id"));
        rows.add(field("list users, account_id '_acme' in the path", "GET", ACCOUNTS + "/_acme/users", null, "account_id"));
        rows.add(field("register user in account '_acme'", "POST", ACCOUNTS + "/_acme/users", "{\"user_id\": \"u1\"}", "account_id"));
    }

    private static void badQueryParameters(List<BadInput> rows)
    {
        for (String limit : List.of("0", "-1", "1001", "2147483648", "abc", "1.5", "1e3", "0x10", "%201", "1%20")) {
            rows.add(field("list users, limit=" + limit, "GET", USERS + "?limit=" + limit, null, "limit"));
        }
        for (String role : List.of("root", "Admin", "admins", "any", "admin,user")) {
            rows.add(field("list users, role=" + role, "GET", USERS + "?role=" + role, null, "role"));
        }
    }

    private static void badKeyHeaders(List<BadInput> rows)
    {
        String other = TestingKeys.wellFormed("0123456789ABCDEF", "abcdefghijklmnopqrstuvwxyz012345");
        rows.add(new BadInput("X-API-Key and Authorization differ (verify)", "GET", VERIFY, Caller.ROOT, Map.of("Authorization", "Bearer " + other), null,
                400, "INVALID_ARGUMENT", null));
        rows.add(new BadInput("X-API-Key and Authorization differ (list users)", "GET", USERS, Caller.ROOT, Map.of("Authorization", "Bearer " + other), null,
                400, "INVALID_ARGUMENT", null));
        rows.add(new BadInput("X-API-Key and Authorization differ (create account)", "POST", ACCOUNTS, Caller.ROOT, Map.of("Authorization", "Bearer " + other),
                "{\"account_id\": \"t1\", \"admin_user_id\": \"a\"}", 400, "INVALID_ARGUMENT", null));
        Map<String, Map<String, String>> unauthenticated = new LinkedHashMap<>();
        unauthenticated.put("empty X-API-Key", Map.of("X-API-Key", ""));
        unauthenticated.put("blank X-API-Key", Map.of("X-API-Key", "   "));
        unauthenticated.put("Authorization Basic", Map.of("Authorization", "Basic " + ROOT_KEY));
        unauthenticated.put("Authorization without scheme", Map.of("Authorization", ROOT_KEY));
        unauthenticated.put("Authorization Bearer without key", Map.of("Authorization", "Bearer"));
        unauthenticated.put("Authorization Bearer and spaces", Map.of("Authorization", "Bearer    "));
        unauthenticated.put("not a key", Map.of("X-API-Key", "not-a-key"));
        unauthenticated.put("root key with a suffix", Map.of("X-API-Key", ROOT_KEY + "x"));
        unauthenticated.put("root key cut short", Map.of("X-API-Key", ROOT_KEY.substring(1)));
        unauthenticated.put("key with a wrong check", Map.of("X-API-Key", other.substring(0, 52) + "000000"));
        unauthenticated.put("key in upper case", Map.of("X-API-Key", other.toUpperCase(Locale.ROOT)));
        unauthenticated.put("key with another prefix", Map.of("X-API-Key", "LK" + other.substring(2)));
        unauthenticated.put("key one character short", Map.of("X-API-Key", other.substring(0, 57)));
        unauthenticated.put("well-formed key never issued", Map.of("X-API-Key", other));
        unauthenticated.forEach((name, headers) -> {
            rows.add(new BadInput(name + " (verify)", "GET", VERIFY, Caller.NONE, headers, null, 401, "UNAUTHENTICATED", null));
            rows.add(new BadInput(name + " (list users)", "GET", USERS, Caller.NONE, headers, null, 401, "UNAUTHENTICATED", null));
        });
    }

    private static void unknownRoutes(List<BadInput> rows)
    {
        List<String> unknown = List.of(
                "/",
                "/api",
                "/api/v1",
                "/api/v1/admin",
                "/api/v2/admin/accounts",
                "/API/v1/admin/accounts",
                "/api/v1/admin/Accounts",
                ACCOUNTS + "//users",
                ACCOUNTS + "/acme/settings",
                ACCOUNTS + "/acme/agents",
                USERS + "/bob/settings",
                USERS + "/bob/keys/" + "a".repeat(16) + "/extra",
                USERS + "/bob/role/admin",
                USERS + "/bob/key/old",
                "/api/v1/admin/migrate",
                "/api/v1/auth",
                VERIFY + "/extra",
                "/healthz",
                "/metrics/extra",
                "/favicon.ico");
        for (String path : unknown) {
            rows.add(row("unknown route GET " + path, "GET", path, Caller.ROOT, null, 404, "NOT_FOUND"));
            rows.add(row("unknown route POST " + path + " without a key", "POST", path, Caller.NONE, "{}", 404, "NOT_FOUND"));
        }
    }

    private static void wrongMethods(List<BadInput> rows)
    {
        Map<String, List<String>> wrong = new LinkedHashMap<>();
        wrong.put(ACCOUNTS, List.of("PUT", "DELETE", "PATCH"));
        wrong.put(ACCOUNTS + "/acme", List.of("GET", "POST", "PUT", "PATCH"));
        wrong.put(USERS, List.of("PUT", "DELETE", "PATCH"));
        wrong.put(BOB, List.of("GET", "POST", "PUT", "PATCH"));
        wrong.put(BOB + "/role", List.of("GET", "POST", "DELETE", "PATCH"));
        wrong.put(BOB + "/key", List.of("GET", "PUT", "DELETE", "PATCH"));
        wrong.put(VERIFY, List.of("POST", "PUT", "DELETE"));
        wrong.put("/health", List.of("POST", "DELETE"));
        wrong.put("/ready", List.of("POST", "PUT"));
        wrong.put("/metrics", List.of("POST", "DELETE"));
        wrong.forEach((path, methods) -> methods.forEach(method ->
                rows.add(row("wrong method " + method + " " + path, method, path, Caller.ROOT, null, 405, "METHOD_NOT_ALLOWED"))));
    }

    private static void oversizedBodies(List<BadInput> rows)
    {
        byte[] account = padded("{\"account_id\": \"big\", \"admin_user_id\": \"alice\", \"pad\": \"", MAX_BODY + 1);
        byte[] user = padded("{\"user_id\": \"big\", \"pad\": \"", MAX_BODY + 1);
        byte[] role = padded("{\"role\": \"admin\", \"pad\": \"", MAX_BODY + 1);
        byte[] seed = padded("{\"seed\": \"a-seed-long-enough-for-it\", \"pad\": \"", MAX_BODY + 1);
        rows.add(row("create account, body of 64 KiB + 1", "POST", ACCOUNTS, Caller.ROOT, account, 413, "PAYLOAD_TOO_LARGE"));
        rows.add(row("create account, chunked body of 64 KiB + 1", "POST", ACCOUNTS, Caller.ROOT, new Chunked(account), 413, "PAYLOAD_TOO_LARGE"));
        rows.add(row("register user, body of 64 KiB + 1", "POST", USERS, Caller.ADMIN, user, 413, "PAYLOAD_TOO_LARGE"));
        rows.add(row("register user, chunked body of 64 KiB + 1", "POST", USERS, Caller.ADMIN, new Chunked(user), 413, "PAYLOAD_TOO_LARGE"));
        rows.add(row("set role, body of 64 KiB + 1", "PUT", BOB + "/role", Caller.ADMIN, role, 413, "PAYLOAD_TOO_LARGE"));
        rows.add(row("regenerate key, body of 64 KiB + 1", "POST", BOB + "/key", Caller.ADMIN, seed, 413, "PAYLOAD_TOO_LARGE"));
        rows.add(row("regenerate key, chunked body of 64 KiB + 1", "POST", BOB + "/key", Caller.ADMIN, new Chunked(seed), 413, "PAYLOAD_TOO_LARGE"));
        // authentication answers first
        rows.add(row("create account, body of 64 KiB + 1 without a key", "POST", ACCOUNTS, Caller.NONE, account, 401, "UNAUTHENTICATED"));
    }

    /**
     * Authentication (401), then validation (400), then authorization (403), then existence (404).
     */
    private static void checkOrder(List<BadInput> rows)
    {
        rows.add(row("no key and a malformed body", "POST", ACCOUNTS, Caller.NONE, "{", 401, "UNAUTHENTICATED"));
        rows.add(row("no key and a bad account id in the path", "GET", ACCOUNTS + "/_acme/users", Caller.NONE, null, 401, "UNAUTHENTICATED"));
        rows.add(row("no key and a bad limit", "GET", USERS + "?limit=0", Caller.NONE, null, 401, "UNAUTHENTICATED"));
        rows.add(row("no key and role root", "POST", USERS, Caller.NONE, "{\"user_id\": \"u1\", \"role\": \"root\"}", 401, "UNAUTHENTICATED"));
        rows.add(new BadInput("user creating an account with a bad account id", "POST", ACCOUNTS, Caller.USER, Map.of(),
                "{\"account_id\": \"_t1\", \"admin_user_id\": \"a\"}", 400, "INVALID_ARGUMENT", "account_id"));
        rows.add(new BadInput("user creating an account with a malformed body", "POST", ACCOUNTS, Caller.USER, Map.of(), "{", 400, "INVALID_ARGUMENT", null));
        rows.add(new BadInput("admin of another account, bad user id in the path", "DELETE", USERS + "/a%20b", Caller.OTHER_ADMIN, Map.of(), null,
                400, "INVALID_ARGUMENT", "user_id"));
        rows.add(new BadInput("admin of another account, short seed", "POST", BOB + "/key", Caller.OTHER_ADMIN, Map.of(), "{\"seed\": \"short\"}",
                400, "INVALID_ARGUMENT", "seed"));
        rows.add(new BadInput("user, bad limit", "GET", USERS + "?limit=0", Caller.USER, Map.of(), null, 400, "INVALID_ARGUMENT", "limit"));
        rows.add(new BadInput("user, bad role in the body", "PUT", BOB + "/role", Caller.USER, Map.of(), "{\"role\": \"owner\"}", 400, "INVALID_ARGUMENT", "role"));
        rows.add(row("user setting role root", "PUT", BOB + "/role", Caller.USER, "{\"role\": \"root\"}", 403, "PERMISSION_DENIED"));
        rows.add(row("admin of another account, absent user", "DELETE", USERS + "/nobody", Caller.OTHER_ADMIN, null, 403, "PERMISSION_DENIED"));
        rows.add(new BadInput("root, absent account and no user id", "POST", ACCOUNTS + "/absent/users", Caller.ROOT, Map.of(), "{}", 400, "INVALID_ARGUMENT", "user_id"));
        rows.add(new BadInput("root, absent user and a bad role", "PUT", USERS + "/nobody/role", Caller.ROOT, Map.of(), "{\"role\": \"owner\"}",
                400, "INVALID_ARGUMENT", "role"));
        rows.add(new BadInput("root, absent user and a short seed", "POST", USERS + "/nobody/key", Caller.ROOT, Map.of(), "{\"seed\": \"short\"}",
                400, "INVALID_ARGUMENT", "seed"));
        rows.add(row("root, absent user", "POST", USERS + "/nobody/key", Caller.ROOT, null, 404, "NOT_FOUND"));
    }

    private static BadInput invalid(String description, String method, String target, Object body)
    {
        return new BadInput(description, method, target, Caller.ROOT, Map.of(), body, 400, "INVALID_ARGUMENT", null);
    }

    private static BadInput field(String description, String method, String target, Object body, String field)
    {
        return new BadInput(description, method, target, Caller.ROOT, Map.of(), body, 400, "INVALID_ARGUMENT", field);
    }

    private static BadInput row(String description, String method, String target, Caller caller, Object body, int status, String code)
    {
        return new BadInput(description, method, target, caller, Map.of(), body, status, code, null);
    }

    /**
     * A body sent with {@code Transfer-Encoding: chunked} (no {@code Content-Length}).
     */
    private record Chunked(byte[] bytes)
    {
        @Override
        public String toString()
        {
            return "chunked " + bytes.length + " bytes";
        }
    }

    private static BodyPublisher publisher(Object body)
    {
        if (body == null) {
            return BodyPublishers.noBody();
        }
        if (body instanceof Chunked chunked) {
            return BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(chunked.bytes));
        }
        if (body instanceof byte[] bytes) {
            return BodyPublishers.ofByteArray(bytes);
        }
        return BodyPublishers.ofString((String) body, StandardCharsets.UTF_8);
    }

    /**
     * Each bad identifier and its path segment (null when it cannot be written as one: the empty id).
     */
    private static Map<String, String> badIdentifiers()
    {
        Map<String, String> ids = new LinkedHashMap<>();
        ids.put("", null);
        ids.put(LONG_ID, LONG_ID);
        ids.put(".", ".");
        ids.put("..", "..");
        ids.put("a@b@c", "a@b@c");
        ids.put("a b", "a%20b");
        ids.put("a/b", "a%2Fb");
        ids.put("a:b", "a:b");
        ids.put("a+b", "a+b");
        ids.put("a*b", "a*b");
        ids.put("a%b", "a%25b");
        ids.put("a\tb", "a%09b");
        ids.put("a\\b", "a%5Cb");
        ids.put("a~b", "a~b");
        ids.put("a;b", "a%3Bb");
        ids.put("é", "%C3%A9");
        ids.put("\u0430cme", "%D0%B0cme");
        ids.put("a\u0000b", null);
        return ids;
    }

    private static String jsonString(String text)
    {
        StringBuilder json = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            if (c < 0x20 || c == '"' || c == '\\') {
                json.append(String.format("\\u%04x", (int) c));
            }
            else {
                json.append(c);
            }
        }
        return json.append('"').toString();
    }

    /**
     * {@code start}, then {@code x} up to {@code size - 2} bytes, then {@code "}}: a JSON object of exactly
     * {@code size} bytes.
     */
    private static byte[] padded(String start, int size)
    {
        StringBuilder json = new StringBuilder(start);
        json.append("x".repeat(size - start.length() - 2)).append("\"}");
        return json.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] concat(String before, byte[] middle, String after)
    {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        bytes.writeBytes(before.getBytes(StandardCharsets.UTF_8));
        bytes.writeBytes(middle);
        bytes.writeBytes(after.getBytes(StandardCharsets.UTF_8));
        return bytes.toByteArray();
    }

    /**
     * Every account (with its user count) and acme's users, as root sees them.
     */
    private String state()
    {
        return client.get(ACCOUNTS, ROOT_KEY).assertOk() + " " + client.get(USERS + "?limit=1000", ROOT_KEY).assertOk()
                + " " + client.get(BOB + "/keys", ROOT_KEY).assertOk() + " " + client.get(USERS + "/" + FULL + "/keys", ROOT_KEY).assertOk()
                + " " + client.get(USERS + "/" + SEEDED + "/keys", ROOT_KEY).assertOk();
    }
}

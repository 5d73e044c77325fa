package dev.latchkey.server;

import dev.latchkey.server.config.Settings;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.http.HttpRequest.BodyPublishers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import static dev.latchkey.server.TestingLatchkeyServer.ACCOUNTS;
import static dev.latchkey.server.TestingLatchkeyServer.ROOT_KEY;
import static dev.latchkey.server.TestingLatchkeyServer.accountPath;
import static dev.latchkey.server.TestingLatchkeyServer.userPath;
import static dev.latchkey.server.TestingLatchkeyServer.usersPath;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * No response and no log line ever holds a full key (except the one response that hands a new key out), a key's
 * secret, a stored secret hash, the root key or the pepper. The server runs with a pepper, so stored hashes are
 * HMACs; they are read from the store's files rather than recomputed. The generated root key is written to its file
 * with mode 0600 and never logged.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public class TestHttpSecrets
{
    private static final String PEPPER = "a-server-pepper-" + "P".repeat(16);
    private static final String VERIFY = "/api/v1/auth/verify";
    private static final String SEED = "a-seed-long-enough-for-keys";

    private TestingLogCapture logs;
    private TestingLatchkeyServer server;
    private TestingHttpClient client;

    @BeforeAll
    public void startServer(@TempDir Path directory)
    {
        logs = TestingLogCapture.start();
        server = TestingLatchkeyServer.start(directory, Map.of("LATCHKEY_KEY_PEPPER", PEPPER));
        client = server.client();
    }

    @AfterAll
    public void stopServer()
    {
        if (server != null) {
            server.close();
        }
        if (logs != null) {
            logs.close();
        }
    }

    @Test
    public void testNoResponseOrLogLineHoldsAKeyOrAHash()
            throws InterruptedException
    {
        List<String> keys = new ArrayList<>();
        String adminKey = server.createAccount("acme", "alice");
        keys.add(adminKey);
        keys.add(client.post(ACCOUNTS, ROOT_KEY, Map.of("account_id", "seeded", "admin_user_id", "sam", "seed", SEED)).assertOk().get("user_key").textValue());
        keys.add(server.registerUser("acme", "bob", "user"));
        keys.add(server.registerUser("acme", "carol", "admin"));
        String daveKey = client.post(usersPath("acme"), adminKey, Map.of("user_id", "dave", "seed", SEED)).assertOk().get("user_key").textValue();
        keys.add(daveKey);
        keys.add(server.registerUser("acme", "erin", "user"));
        keys.add(server.registerUser("acme", "frank", "user"));
        // hashes of keys that are about to be replaced or removed, while they are still stored
        Set<String> hashes = new LinkedHashSet<>(server.storedSecretHashes());

        keys.add(client.post(userPath("acme", "erin") + "/key", adminKey, null).assertOk().get("user_key").textValue());
        assertThat(client.post(userPath("acme", "dave") + "/key", ROOT_KEY, Map.of("seed", SEED)).assertOk().get("user_key").textValue()).isEqualTo(daveKey);
        client.delete(userPath("acme", "frank"), adminKey).assertOk();
        client.put(userPath("acme", "bob") + "/role", adminKey, Map.of("role", "admin")).assertOk();
        client.get(usersPath("acme") + "?limit=1000", adminKey).assertOk();
        client.get(ACCOUNTS, ROOT_KEY).assertOk();
        for (String key : keys) {
            client.get(VERIFY, key);
            client.send("GET", VERIFY, Map.of("Authorization", "Bearer " + key), BodyPublishers.noBody());
            // a key where a client should never put it: in the path (the access log keeps only its key id)
            client.get("/api/v1/" + key, null).assertError(404, "NOT_FOUND");
            client.get(usersPath("acme") + "/" + key, adminKey);
            // a key one character off: malformed, and never echoed
            client.get(VERIFY, key.substring(0, 57) + (key.endsWith("0") ? "1" : "0")).assertError(401, "UNAUTHENTICATED");
            // a key in fields where it does not belong
            client.put(userPath("acme", "bob") + "/role", adminKey, Map.of("role", key)).assertInvalidField("role");
            client.post(usersPath("acme"), adminKey, Map.of("user_id", "x", "seed", 5, "note", key)).assertInvalidField("seed");
        }
        client.send("GET", VERIFY, Map.of("X-API-Key", adminKey, "Authorization", "Bearer " + keys.get(2)), BodyPublishers.noBody())
                .assertError(400, "INVALID_ARGUMENT");
        client.post(usersPath("acme"), adminKey, Map.of("user_id", "bob")).assertError(409, "ALREADY_EXISTS");
        client.delete(accountPath("seeded"), adminKey).assertError(403, "PERMISSION_DENIED");
        client.get("/metrics", null);
        client.get("/ready", null).assertOk();
        hashes.addAll(server.storedSecretHashes());
        client.delete(accountPath("seeded"), ROOT_KEY).assertOk();
        // the access log is written after the response: wait for the line of the last request
        client.get("/last-request", null).assertError(404, "NOT_FOUND");
        logs.awaitLine(line -> line.contains("GET /last-request 404"), Duration.ofSeconds(10));
        assertThat(logs.lines()).as("verify answers, logged at DEBUG").anySatisfy(line -> assertThat(line).contains("GET " + VERIFY + " 200"));
        assertThat(logs.lines()).as("a key in a path is logged by its key id only")
                .anySatisfy(line -> assertThat(line).contains("GET /api/v1/lk_" + keys.get(0).substring(3, 20) + "[redacted] 404"));

        assertThat(hashes).as("hashes in the store").hasSize(8);
        assertThat(keys).doesNotHaveDuplicates().allSatisfy(key -> assertThat(TestingKeys.isWellFormed(key)).isTrue());
        Set<String> forbidden = new LinkedHashSet<>(List.of(ROOT_KEY, PEPPER));
        for (String hash : hashes) {
            forbidden.add(hash.toLowerCase(Locale.ROOT));
            forbidden.add(hash.toUpperCase(Locale.ROOT));
        }
        for (String key : keys) {
            forbidden.add(TestingKeys.secret(key));
            forbidden.add(TestingHttpClient.sha256Hex(TestingKeys.secret(key)));
        }

        List<TestingResponse> responses = client.responses();
        assertThat(responses).hasSizeGreaterThan(50);
        for (TestingResponse response : responses) {
            String text = response.headers().map() + "\n" + response.body();
            boolean json = response.header("Content-Type").orElse("").startsWith("application/json");
            String handedOut = json ? response.json().path("result").path("user_key").asText("") : "";
            for (String secret : forbidden) {
                if (!handedOut.isEmpty() && secret.equals(TestingKeys.secret(handedOut))) {
                    continue;
                }
                assertThat(text).as("%s", response).doesNotContain(secret);
            }
        }
        List<String> lines = logs.lines();
        assertThat(lines).anySatisfy(line -> assertThat(line).contains("POST " + usersPath("acme")));
        for (String line : lines) {
            for (String secret : forbidden) {
                assertThat(line).as("log line").doesNotContain(secret);
            }
        }
    }

    /**
     * With no {@code LATCHKEY_ROOT_KEY}, the first start writes one to {@code <dir>/root.key} (mode 0600, a new
     * directory 0700) and logs its path, never the key; the next start reads the same key. Start-up logs the store
     * and the address it listens on.
     */
    @Test
    public void testGeneratedRootKey(@TempDir Path parent)
            throws IOException, InterruptedException
    {
        Path directory = parent.resolve("store");
        Map<String, String> settings = Map.of("LATCHKEY_HTTP_PORT", "0", "LATCHKEY_FS_DIR", directory.toString());
        String rootKey;
        try (TestingLogCapture startLogs = TestingLogCapture.start(); LatchkeyServer first = LatchkeyServer.start(Settings.of(settings))) {
            Path file = directory.resolve("root.key");
            rootKey = Files.readString(file, StandardCharsets.UTF_8).trim();
            assertThat(rootKey).hasSizeGreaterThanOrEqualTo(32);
            if (Files.getFileStore(file).supportsFileAttributeView("posix")) {
                assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
                assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(directory))).isEqualTo("rwx------");
            }
            TestingHttpClient http = new TestingHttpClient(first.port(), List.of(rootKey));
            assertThat(http.get(VERIFY, rootKey).assertOk().get("role").textValue()).isEqualTo("root");
            http.get(VERIFY, ROOT_KEY).assertError(401, "UNAUTHENTICATED");

            startLogs.awaitLine(line -> line.contains("listening on 127.0.0.1:" + first.port()), Duration.ofSeconds(10));
            startLogs.awaitLine(line -> line.contains("store: filesystem at " + directory), Duration.ofSeconds(10));
            startLogs.awaitLine(line -> line.contains(file.toString()), Duration.ofSeconds(10));
            assertThat(startLogs.lines()).noneSatisfy(line -> assertThat(line).contains(rootKey));
        }
        try (LatchkeyServer second = LatchkeyServer.start(Settings.of(settings))) {
            TestingHttpClient http = new TestingHttpClient(second.port(), List.of(rootKey));
            assertThat(http.get(VERIFY, rootKey).assertOk().get("role").textValue()).isEqualTo("root");
        }
    }
}

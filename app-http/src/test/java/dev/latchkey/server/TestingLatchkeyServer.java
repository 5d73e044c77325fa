package dev.latchkey.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.latchkey.server.config.Settings;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static java.util.Objects.requireNonNull;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real server started in-process on a free port, over a filesystem store in a test directory, with a fixed
 * root key; plus the admin calls that tests use to set up their accounts (with the root key, asserting success).
 */
public final class TestingLatchkeyServer
        implements AutoCloseable
{
    public static final String ROOT_KEY = "test-root-key-" + "R".repeat(26);
    public static final String ACCOUNTS = "/api/v1/admin/accounts";

    private static final AtomicInteger NAMES = new AtomicInteger();

    private static final Pattern SECRET_HASH = Pattern.compile("\"secret_hash\"\\s*:\\s*\"([^\"]+)\"");

    private final LatchkeyServer server;
    private final Path directory;
    private final TestingHttpClient client;

    private TestingLatchkeyServer(LatchkeyServer server, Path directory, List<String> secrets)
    {
        this.server = requireNonNull(server, "server is null");
        this.directory = requireNonNull(directory, "directory is null");
        this.client = new TestingHttpClient(server.port(), secrets);
    }

    public static TestingLatchkeyServer start(Path directory)
    {
        return start(directory, Map.of());
    }

    /**
     * @param settings settings added to (or replacing) the port, directory and root key
     */
    public static TestingLatchkeyServer start(Path directory, Map<String, String> settings)
    {
        Map<String, String> values = settings(directory, settings);
        List<String> secrets = Stream.of("LATCHKEY_ROOT_KEY", "LATCHKEY_KEY_PEPPER")
                .map(values::get)
                .filter(value -> value != null && !value.isEmpty())
                .toList();
        return new TestingLatchkeyServer(LatchkeyServer.start(Settings.of(values)), directory, secrets);
    }

    public static Map<String, String> settings(Path directory, Map<String, String> settings)
    {
        Map<String, String> values = new HashMap<>();
        values.put("LATCHKEY_HTTP_PORT", "0");
        values.put("LATCHKEY_FS_DIR", directory.toString());
        values.put("LATCHKEY_ROOT_KEY", ROOT_KEY);
        values.putAll(settings);
        return values;
    }

    public int port()
    {
        return server.port();
    }

    /**
     * The verify port, when the server was started with {@code LATCHKEY_VERIFY_PORT}.
     */
    public int verifyPort()
    {
        return server.verifyPort().orElseThrow(() -> new IllegalStateException("started without LATCHKEY_VERIFY_PORT"));
    }

    public int selectorThreads()
    {
        return server.selectorThreads();
    }

    /**
     * Every route the server serves, as {@code METHOD /path/{param}}.
     */
    public List<String> routes()
    {
        return server.routes();
    }

    public TestingHttpClient client()
    {
        return client;
    }

    public Path directory()
    {
        return directory;
    }

    /**
     * Every secret hash the filesystem store holds now, as written in its key files.
     */
    public Set<String> storedSecretHashes()
    {
        Set<String> hashes = new HashSet<>();
        try (Stream<Path> files = Files.walk(directory)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                Matcher matcher = SECRET_HASH.matcher(Files.readString(file, StandardCharsets.UTF_8));
                while (matcher.find()) {
                    hashes.add(matcher.group(1));
                }
            }
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return hashes;
    }

    /**
     * A name used by no other test of this JVM.
     */
    public static String uniqueName(String prefix)
    {
        return prefix + "-" + NAMES.incrementAndGet();
    }

    public static String accountPath(String account)
    {
        return ACCOUNTS + "/" + account;
    }

    public static String usersPath(String account)
    {
        return accountPath(account) + "/users";
    }

    public static String userPath(String account, String user)
    {
        return usersPath(account) + "/" + user;
    }

    /**
     * Creates an account with its first admin; returns the admin's key.
     */
    public String createAccount(String account, String adminUser)
    {
        JsonNode result = client.post(ACCOUNTS, ROOT_KEY, Map.of("account_id", account, "admin_user_id", adminUser)).assertOk();
        return result.get("user_key").textValue();
    }

    /**
     * Registers a user with this role ({@code admin} or {@code user}); returns its key.
     */
    public String registerUser(String account, String user, String role)
    {
        JsonNode result = client.post(usersPath(account), ROOT_KEY, Map.of("user_id", user, "role", role)).assertOk();
        return result.get("user_key").textValue();
    }

    /**
     * The user ids of an account's first page (up to 1000), as root.
     */
    public List<String> userIds(String account)
    {
        JsonNode users = client.get(usersPath(account) + "?limit=1000", ROOT_KEY).assertOk();
        return users.findValuesAsText("user_id");
    }

    /**
     * The role the key resolves to through verify, or the HTTP status when it does not authenticate.
     */
    public String verifiedRole(String key)
    {
        TestingResponse response = client.get("/api/v1/auth/verify", key);
        if (response.status() != 200) {
            return String.valueOf(response.status());
        }
        return response.assertOk().get("role").textValue();
    }

    public void assertKeyWorks(String key)
    {
        assertThat(client.get("/api/v1/auth/verify", key).status()).as("verify with the key").isEqualTo(200);
    }

    public void assertKeyRejected(String key)
    {
        client.get("/api/v1/auth/verify", key).assertError(401, "UNAUTHENTICATED");
    }

    @Override
    public void close()
    {
        server.close();
    }
}

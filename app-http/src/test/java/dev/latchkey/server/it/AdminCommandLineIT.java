package dev.latchkey.server.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The admin command line ({@code java -jar latchkey.jar account|user|key ...}) as an operator runs it: each command
 * a process of its own against a running server process, its table and its {@code --json} output, the new key
 * printed once and working at once, and what it does when the key is wrong, missing or may not, when what it names
 * does not exist, and when the server is not there or does not answer (a clear message and the exit code of the
 * error's category, within the timeout, never a stack trace).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
public class AdminCommandLineIT
{
    private static final String ROOT_KEY = "admin-command-line-it-root-key-0123456789abcdef";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    /** How long one command may take: a JVM start and one or a few calls. */
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(60);
    private static final ObjectMapper MAPPER = JsonMapper.builder().build();

    private Path directory;
    private ServerProcess server;
    private final LatchkeyClient client = new LatchkeyClient(ROOT_KEY);
    private String aliceKey;
    private String bobKey;
    private String ciKeyId;
    private String ciKey;

    /**
     * What a command printed and how it exited.
     */
    record Run(int exitCode, String out, String err)
    {
        JsonNode json()
        {
            try {
                return MAPPER.readTree(out);
            }
            catch (IOException e) {
                throw new AssertionError("not JSON: " + out, e);
            }
        }

        /** The key printed by a command that issues one: the indented line. */
        String printedKey()
        {
            return out.lines().map(String::strip).filter(line -> line.startsWith("lk_")).findFirst()
                    .orElseThrow(() -> new AssertionError("no key printed: " + out));
        }
    }

    @BeforeAll
    void startServer()
            throws IOException
    {
        directory = Files.createTempDirectory("latchkey-cli-it");
        server = ServerProcess.launch("cli", directory.resolve("store"), ROOT_KEY, ServerProcess.jar().resolveSibling("it-logs").resolve(getClass().getSimpleName()))
                .awaitReady(START_TIMEOUT);
    }

    @AfterAll
    void stopServer()
    {
        if (server != null) {
            server.close();
        }
    }

    @Test
    @Order(1)
    void accountCreatePrintsTheAdminsKeyOnceAndItWorks()
    {
        Run created = asRoot("account", "create", "acme", "--admin", "alice");

        assertThat(created.exitCode()).as(created.err()).isZero();
        assertThat(created.out()).contains("Created account acme with admin alice.").contains("shown only now");
        aliceKey = created.printedKey();
        assertThat(created.out().split(aliceKey, -1)).as("the key printed once").hasSize(2);
        assertThat(client.verify(server, aliceKey).result().path("role").asText()).isEqualTo("admin");

        Run json = asRoot("account", "create", "beta", "--admin", "oscar", "--json");
        assertThat(json.exitCode()).as(json.err()).isZero();
        assertThat(json.json().path("account_id").asText()).isEqualTo("beta");
        assertThat(json.json().path("user_key").asText()).startsWith("lk_");
    }

    @Test
    @Order(2)
    void accountListPrintsATableOrJson()
    {
        Run table = asRoot("account", "list");
        assertThat(table.exitCode()).as(table.err()).isZero();
        List<String> lines = table.out().lines().toList();
        assertThat(lines.get(0)).startsWith("ACCOUNT").contains("USERS").contains("CREATED");
        assertThat(lines).anySatisfy(line -> assertThat(line).matches("acme +1 +20\\d\\d-.*Z"));

        Run json = asRoot("account", "list", "--json");
        assertThat(json.exitCode()).isZero();
        assertThat(json.json()).extracting(account -> account.path("account_id").asText()).contains("acme", "beta");
    }

    @Test
    @Order(3)
    void anAdminAddsListsAndPromotesUsersWithAKeyFile()
            throws IOException
    {
        Path aliceFile = keyFile("alice", aliceKey);
        Run added = run(Map.of(), "user", "add", "acme", "bob", "--key-file", aliceFile.toString(), "--url", url());
        assertThat(added.exitCode()).as(added.err()).isZero();
        assertThat(added.out()).contains("Added user bob to account acme as user.");
        bobKey = added.printedKey();
        assertThat(client.verify(server, bobKey).result().path("role").asText()).isEqualTo("user");

        Run listed = run(Map.of(), "user", "list", "acme", "--key-file", aliceFile.toString(), "--url", url());
        assertThat(listed.exitCode()).isZero();
        assertThat(listed.out().lines()).hasSize(3);
        assertThat(listed.out()).containsPattern("alice +admin +lk_\\w{16}").containsPattern("bob +user +lk_\\w{16}");

        Run promoted = run(Map.of(), "user", "set-role", "acme", "bob", "admin", "--key-file", aliceFile.toString(), "--url", url());
        assertThat(promoted.exitCode()).as(promoted.err()).isZero();
        assertThat(promoted.out()).contains("User bob of account acme is now admin.");
        Run admins = run(Map.of(), "user", "list", "acme", "--role", "admin", "--json", "--key-file", aliceFile.toString(), "--url", url());
        assertThat(admins.json()).extracting(user -> user.path("user_id").asText()).containsExactly("alice", "bob");
    }

    @Test
    @Order(4)
    void keysAreCreatedListedRotatedAndDeleted()
    {
        Run created = asAlice("key", "create", "acme", "bob", "--name", "ci", "--scope", "docs:read", "--scope", "docs:list", "--ttl", "3600", "--json");
        assertThat(created.exitCode()).as(created.err()).isZero();
        JsonNode key = created.json();
        assertThat(key.path("scopes")).extracting(JsonNode::asText).containsExactly("docs:read", "docs:list");
        assertThat(key.path("expires_at").isTextual()).isTrue();
        ciKeyId = key.path("key_id").asText();
        ciKey = key.path("user_key").asText();
        assertThat(client.verify(server, ciKey).result().path("scopes")).extracting(JsonNode::asText).containsExactly("docs:read", "docs:list");

        Run listed = asAlice("key", "list", "acme", "bob");
        assertThat(listed.exitCode()).isZero();
        assertThat(listed.out().lines().toList().get(0)).startsWith("KEY ID").contains("SCOPES").contains("EXPIRES").contains("LAST USED");
        assertThat(listed.out()).containsPattern(ciKeyId + " +ci +false +docs:read docs:list +\\S+ +20\\d\\d-")
                .containsPattern("\\w{16} +- +true +\\* +\\S+ +-");
        assertThat(listed.out()).doesNotContain(ciKey).doesNotContain(bobKey);

        Run rotated = asAlice("key", "rotate", "acme", "bob", "--grace-period", "600");
        assertThat(rotated.exitCode()).as(rotated.err()).isZero();
        assertThat(rotated.out()).contains("The old primary key keeps working until 20");
        String newKey = rotated.printedKey();
        assertThat(client.verify(server, newKey).status()).isEqualTo(200);
        assertThat(client.verify(server, bobKey).status()).as("the old key, through its grace period").isEqualTo(200);

        Run deleted = asAlice("key", "delete", "acme", "bob", ciKeyId);
        assertThat(deleted.exitCode()).as(deleted.err()).isZero();
        assertThat(client.verify(server, ciKey).status()).isEqualTo(401);
        Run again = asAlice("key", "delete", "acme", "bob", ciKeyId);
        assertThat(again.exitCode()).as("no such key any more").isEqualTo(5);
    }

    @Test
    @Order(5)
    void errorsAreTheServersMessageAndTheExitCodeOfTheirCategory()
    {
        Run wrongKey = run(Map.of("LATCHKEY_ADMIN_KEY", "lk_0000000000000000_00000000000000000000000000000000"), "account", "list", "--url", url());
        assertNoStackTrace(wrongKey);
        assertThat(wrongKey.exitCode()).isEqualTo(3);
        assertThat(wrongKey.err()).startsWith("latchkey: ").doesNotContain("lk_0000000000000000_");

        Run noKey = run(Map.of(), "account", "list", "--url", url());
        assertNoStackTrace(noKey);
        assertThat(noKey.exitCode()).isEqualTo(2);
        assertThat(noKey.err()).contains("LATCHKEY_ADMIN_KEY").contains("--key-file");

        Run notRoot = asAlice("account", "list");
        assertNoStackTrace(notRoot);
        assertThat(notRoot.exitCode()).isEqualTo(4);

        Run absent = asAlice("user", "remove", "acme", "nobody");
        assertNoStackTrace(absent);
        assertThat(absent.exitCode()).isEqualTo(5);
        assertThat(absent.err()).contains("nobody");

        Run exists = asRoot("account", "create", "acme", "--admin", "alice");
        assertNoStackTrace(exists);
        assertThat(exists.exitCode()).isEqualTo(6);

        Run badId = asAlice("user", "add", "acme", "no spaces allowed");
        assertNoStackTrace(badId);
        assertThat(badId.exitCode()).isEqualTo(2);

        Run badOption = asRoot("key", "create", "acme", "bob", "--ttl", "60", "--expires-at", "2030-01-01T00:00:00Z");
        assertThat(badOption.exitCode()).as("picocli refuses both").isEqualTo(2);
        assertThat(badOption.err()).contains("mutually exclusive");
    }

    @Test
    @Order(6)
    void aServerThatIsNotThereOrDoesNotAnswerIsReportedWithinTheTimeout()
            throws IOException
    {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        Run refused = run(Map.of("LATCHKEY_ADMIN_KEY", ROOT_KEY), "account", "list", "--url", "http://127.0.0.1:" + closedPort, "--timeout", "2");
        assertNoStackTrace(refused);
        assertThat(refused.exitCode()).isEqualTo(8);
        assertThat(refused.err()).contains("http://127.0.0.1:" + closedPort).contains("refused the connection");

        // accepts connections and never answers
        try (ServerSocket silent = new ServerSocket(0)) {
            List<Socket> accepted = new ArrayList<>();
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        accepted.add(silent.accept());
                    }
                }
                catch (IOException e) {
                    // closed
                }
            }, "silent-server");
            acceptor.setDaemon(true);
            acceptor.start();
            long start = System.nanoTime();
            Run silence = run(Map.of("LATCHKEY_ADMIN_KEY", ROOT_KEY), "account", "list", "--url", "http://127.0.0.1:" + silent.getLocalPort(), "--timeout", "2");
            long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertNoStackTrace(silence);
            assertThat(silence.exitCode()).isEqualTo(8);
            assertThat(silence.err()).contains("did not answer within 2 s");
            System.out.printf("CLI against a server that never answers, --timeout 2: exit %d after %d ms (JVM start included)%n", silence.exitCode(), tookMillis);
            for (Socket socket : accepted) {
                socket.close();
            }
        }
    }

    @Test
    @Order(7)
    void removingAndDeletingEndTheKeysAndACompletionScriptIsGenerated()
    {
        Run removed = asAlice("user", "remove", "acme", "bob");
        assertThat(removed.exitCode()).as(removed.err()).isZero();
        assertThat(client.verify(server, bobKey).status()).isEqualTo(401);

        Run deleted = asRoot("account", "delete", "acme");
        assertThat(deleted.exitCode()).as(deleted.err()).isZero();
        assertThat(client.verify(server, aliceKey).status()).isEqualTo(401);
        assertThat(asRoot("account", "list", "--json").json()).extracting(account -> account.path("account_id").asText()).doesNotContain("acme");

        Run completion = run(Map.of(), "generate-completion");
        assertThat(completion.exitCode()).isZero();
        assertThat(completion.out()).contains("complete").contains("account").contains("set-role").contains("rotate");
    }

    // --- running the command line

    private Run asRoot(String... args)
    {
        return run(Map.of("LATCHKEY_ADMIN_KEY", ROOT_KEY), withUrl(args));
    }

    private Run asAlice(String... args)
    {
        return run(Map.of("LATCHKEY_ADMIN_KEY", aliceKey), withUrl(args));
    }

    private String[] withUrl(String... args)
    {
        List<String> all = new ArrayList<>(List.of(args));
        all.add("--url");
        all.add(url());
        return all.toArray(String[]::new);
    }

    private String url()
    {
        return "http://127.0.0.1:" + server.port();
    }

    private Path keyFile(String name, String key)
            throws IOException
    {
        Path file = directory.resolve(name + ".key");
        Files.writeString(file, key + "\n", StandardCharsets.UTF_8);
        return file;
    }

    private static void assertNoStackTrace(Run run)
    {
        assertThat(run.err() + run.out()).doesNotContain("Exception").doesNotContain("\tat ");
    }

    private Run run(Map<String, String> environment, String... args)
    {
        JarCommand.Run run = JarCommand.run(directory, environment, COMMAND_TIMEOUT, args);
        return new Run(run.exitCode(), run.out(), run.err());
    }
}

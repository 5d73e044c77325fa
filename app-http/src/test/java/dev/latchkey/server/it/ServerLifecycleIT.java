package dev.latchkey.server.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A server process's life as an operator sees it: {@code LATCHKEY_LOG_FORMAT=json} writes only JSON lines, among
 * them the warning that names an unknown setting; a port in use gives one clear message and status 2;
 * {@code --version} prints the build's version. The graceful stop (SIGTERM drains, then lets requests in flight
 * finish) is a scenario of {@link AbstractMultiInstanceIT}, run on every store.
 */
public class ServerLifecycleIT
{
    private static final String ROOT_KEY = "server-lifecycle-it-root-key-0123456789abcdefghij";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration PATIENCE = Duration.ofSeconds(10);
    /** The JVM's exit status after SIGTERM, once its shutdown hooks have run. */
    private static final int SIGTERM_STATUS = 143;
    private static final ObjectMapper MAPPER = JsonMapper.builder().build();

    private final LatchkeyClient client = new LatchkeyClient(ROOT_KEY);

    @Test
    public void testJsonLogs(@TempDir Path directory)
            throws Exception
    {
        Map<String, String> settings = Map.of(
                "LATCHKEY_FS_DIR", directory.resolve("store").toString(),
                "LATCHKEY_LOG_FORMAT", "json",
                "LATCHKEY_POLL_INTERVALL", "1s");
        List<JsonNode> lines = new ArrayList<>();
        try (ServerProcess server = ServerProcess.launch("json-logs", settings, ROOT_KEY, directory.resolve("logs")).awaitReady(START_TIMEOUT)) {
            client.createAccount(server, "acme", "alice");
            server.terminate();
            assertThat(server.awaitExit(PATIENCE)).isEqualTo(SIGTERM_STATUS);
            for (String line : server.logText().split("\n")) {
                if (!line.isBlank()) {
                    JsonNode json = MAPPER.readTree(line);
                    assertThat(json.isObject()).as("a log line: %s", line).isTrue();
                    assertThat(json.has("level") && json.has("loggerName") && json.has("formattedMessage") && json.has("timestamp")).as("a log line: %s", line).isTrue();
                    lines.add(json);
                }
            }
        }
        assertThat(lines).anySatisfy(line -> {
            assertThat(line.get("level").textValue()).isEqualTo("WARN");
            assertThat(line.get("formattedMessage").textValue()).contains("unknown settings").endsWith(": LATCHKEY_POLL_INTERVALL");
        });
        assertThat(lines).anySatisfy(line -> assertThat(line.get("formattedMessage").textValue()).startsWith("listening on 127.0.0.1:"));
        assertThat(lines).anySatisfy(line -> {
            assertThat(line.get("loggerName").textValue()).isEqualTo("dev.latchkey.access");
            assertThat(line.get("formattedMessage").textValue()).startsWith("POST /api/v1/admin/accounts 200 ");
        });
    }

    @Test
    public void testPortInUseGivesOneMessageAndStatus2(@TempDir Path directory)
            throws Exception
    {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Map<String, String> settings = Map.of(
                    "LATCHKEY_FS_DIR", directory.resolve("store").toString(),
                    "LATCHKEY_HTTP_PORT", String.valueOf(taken.getLocalPort()));
            try (ServerProcess server = ServerProcess.launch("port-in-use", settings, ROOT_KEY, directory.resolve("logs"))) {
                assertThat(server.awaitExit(START_TIMEOUT)).isEqualTo(2);
                String log = server.logText();
                assertThat(log).contains("latchkey: cannot listen on 127.0.0.1:" + taken.getLocalPort() + " (LATCHKEY_HTTP_HOST, LATCHKEY_HTTP_PORT): ");
                assertThat(log).doesNotContain("Failed to start Javalin").doesNotContain("ERROR").doesNotContain("Exception").doesNotContain("\tat ");
            }
        }
    }

    @Test
    public void testVersionIsTheBuildsVersion()
            throws Exception
    {
        String version = System.getProperty("latchkey.version");
        assertThat(version).as("system property latchkey.version (set by the build)").isNotBlank();
        Process process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", ServerProcess.jar().toString(), "--version")
                .redirectErrorStream(true)
                .start();
        assertThat(process.waitFor(PATIENCE.toMillis(), TimeUnit.MILLISECONDS)).isTrue();

        assertThat(process.exitValue()).isZero();
        assertThat(new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip()).isEqualTo("Latchkey " + version);
    }
}

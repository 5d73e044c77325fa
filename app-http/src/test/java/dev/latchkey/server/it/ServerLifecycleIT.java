package dev.latchkey.server.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * A server process's life as an operator sees it: SIGTERM drains ({@code /ready} 503 while requests are still
 * served), then lets a request in flight (a write waiting for the store's lock) finish; {@code LATCHKEY_LOG_FORMAT=json} writes only JSON lines, among them
 * the warning that names an unknown setting; a port in use gives one clear message and status 2; {@code --version}
 * prints the build's version.
 */
public class ServerLifecycleIT
{
    private static final String ROOT_KEY = "server-lifecycle-it-root-key-0123456789abcdefghij";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration PATIENCE = Duration.ofSeconds(10);
    private static final Duration DRAIN = Duration.ofSeconds(2);
    /** The JVM's exit status after SIGTERM, once its shutdown hooks have run. */
    private static final int SIGTERM_STATUS = 143;
    private static final ObjectMapper MAPPER = JsonMapper.builder().build();

    private final LatchkeyClient client = new LatchkeyClient(ROOT_KEY);

    @Test
    public void testSigtermDrainsThenLetsRequestsInFlightFinish(@TempDir Path directory)
            throws Exception
    {
        Path store = directory.resolve("store");
        Map<String, String> settings = Map.of(
                "LATCHKEY_FS_DIR", store.toString(),
                "LATCHKEY_SHUTDOWN_DRAIN", DRAIN.toSeconds() + "s");
        try (ServerProcess server = ServerProcess.launch("drain", settings, ROOT_KEY, directory.resolve("logs")).awaitReady(START_TIMEOUT)) {
            String key = client.createAccount(server, "acme", "alice");
            assertThat(client.ready(server).status()).isEqualTo(200);
            String body = "{\"account_id\": \"late\", \"admin_user_id\": \"bob\"}";
            try (Socket inFlight = new Socket()) {
                inFlight.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port()), (int) PATIENCE.toMillis());
                inFlight.setSoTimeout((int) PATIENCE.toMillis());
                String answer;
                // the filesystem store's write lock, held here: the write below waits for it (up to 5 s), in flight
                try (FileChannel lockFile = FileChannel.open(store.resolve("store.lock"), StandardOpenOption.WRITE);
                        FileLock writeLock = lockFile.lock()) {
                    OutputStream out = inFlight.getOutputStream();
                    out.write(("POST /api/v1/admin/accounts HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + ROOT_KEY + "\r\n"
                            + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
                    out.flush();

                    long terminated = System.nanoTime();
                    server.terminate();
                    awaitTrue(() -> client.ready(server).status() == 503, "/ready to answer 503 after SIGTERM");
                    LatchkeyClient.Response ready = client.ready(server);
                    assertThat(ready.body().path("error").path("code").textValue()).isEqualTo("UNAVAILABLE");
                    assertThat(ready.body().path("error").path("message").textValue()).contains("shutting down");
                    // still serving while load balancers take it out of rotation
                    assertThat(client.verify(server, key).status()).isEqualTo(200);

                    // once the drain is over new connections are refused, and the write in flight is still answered
                    awaitTrue(() -> !accepts(server), "the server to stop accepting connections");
                    assertThat(Duration.ofNanos(System.nanoTime() - terminated)).as("time until connections were refused").isGreaterThanOrEqualTo(DRAIN);
                    assertThat(writeLock.isValid()).isTrue();
                }
                answer = readResponse(inFlight.getInputStream());
                assertThat(answer).startsWith("HTTP/1.1 200").contains("\"user_key\"");
            }
            assertThat(server.awaitExit(PATIENCE)).isEqualTo(SIGTERM_STATUS);
            assertThat(server.logText()).contains("draining for " + DRAIN.toMillis() + " ms").contains("stopped");
        }
    }

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

    private static boolean accepts(ServerProcess server)
    {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port()), 1000);
            return true;
        }
        catch (IOException e) {
            return false;
        }
    }

    /**
     * One HTTP/1.1 response with a {@code Content-Length}, head and body, as text.
     */
    private static String readResponse(InputStream in)
    {
        try {
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                int next = in.read();
                if (next < 0) {
                    return fail("the connection closed before a response: %s", head);
                }
                head.append((char) next);
            }
            int length = 0;
            for (String line : head.toString().split("\r\n")) {
                if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                    length = Integer.parseInt(line.substring(line.indexOf(':') + 1).strip());
                }
            }
            return head + new String(in.readNBytes(length), StandardCharsets.UTF_8);
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void awaitTrue(BooleanSupplier condition, String what)
    {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail("waited %s for %s", PATIENCE, what);
            }
            LockSupport.parkNanos(Duration.ofMillis(20).toNanos());
        }
    }
}

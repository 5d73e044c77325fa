package dev.latchkey.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.http.HttpRequest.BodyPublishers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.latchkey.server.TestingLatchkeyServer.ROOT_KEY;
import static dev.latchkey.server.TestingLatchkeyServer.uniqueName;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The verify port ({@code LATCHKEY_VERIFY_PORT}): the same answers as the HTTP port's verify, in order per
 * connection, and an error envelope for everything else.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public class TestVerifyPort
{
    private static final String VERIFY = "/api/v1/auth/verify";
    private static final ObjectMapper MAPPER = JsonMapper.builder().build();
    private static final List<String> HEADERS = List.of(
            "X-Latchkey-Role", "X-Latchkey-Account", "X-Latchkey-User", "X-Latchkey-Key-Id", "X-Latchkey-Scopes", "Content-Type", "Content-Length");

    private TestingLatchkeyServer server;
    private TestingHttpClient http;
    private TestingHttpClient verify;

    @BeforeAll
    public void startServer(@TempDir Path directory)
    {
        server = TestingLatchkeyServer.start(directory, Map.of("LATCHKEY_VERIFY_PORT", "0", "LATCHKEY_VERIFY_THREADS", "1"));
        http = server.client();
        verify = new TestingHttpClient(server.verifyPort(), List.of(ROOT_KEY));
    }

    @AfterAll
    public void stopServer()
    {
        if (server != null) {
            server.close();
        }
    }

    @Test
    public void testAnswersAsTheHttpPort()
            throws IOException
    {
        String account = uniqueName("vport");
        String adminKey = server.createAccount(account, "alice");
        String unknownKey = TestingKeys.wellFormed("NotInAnyCache002", "u".repeat(32));
        List<Map<String, String>> requests = List.of(
                TestingHttpClient.keyHeader(adminKey),
                Map.of("Authorization", "Bearer " + adminKey),
                TestingHttpClient.keyHeader(ROOT_KEY),
                TestingHttpClient.keyHeader(unknownKey),
                TestingHttpClient.keyHeader("not-a-key"),
                Map.of(),
                Map.of("X-API-Key", adminKey, "Authorization", "Bearer " + ROOT_KEY),
                Map.of("X-API-Key", adminKey, "X-Latchkey-Min-Position", "not-a-position"));
        for (String query : List.of("", "?scope=docs:read", "?scope=not%20a%20scope")) {
            for (Map<String, String> headers : requests) {
                TestingResponse expected = http.send("GET", VERIFY + query, headers, BodyPublishers.noBody());
                TestingResponse actual = verify.send("GET", VERIFY + query, headers, BodyPublishers.noBody());
                assertThat(actual.status()).as("status for %s%s", headers.keySet(), query).isEqualTo(expected.status());
                for (String header : HEADERS) {
                    assertThat(actual.header(header)).as("%s for %s%s", header, headers.keySet(), query).isEqualTo(expected.header(header));
                }
                assertThat(actual.header("X-Latchkey-Age")).isPresent();
                assertThat(actual.header("X-Request-Id")).isPresent();
                assertThat(actual.header("Date")).isPresent();
                assertThat(withoutTime(actual.json())).as("envelope for %s%s", headers.keySet(), query).isEqualTo(withoutTime(expected.json()));
                assertThat(actual.json().get("time").isNumber()).isTrue();
            }
        }
        // a query that is not percent-encoded correctly (no URI can hold it: sent raw)
        TestingResponse expected = http.sendRaw("GET", VERIFY + "?scope=%zz", TestingHttpClient.keyHeader(adminKey));
        String actual = exchange("GET " + VERIFY + "?scope=%zz HTTP/1.1\r\nHost: x\r\nX-API-Key: " + adminKey + "\r\nConnection: close\r\n\r\n");
        assertThat(actual).startsWith("HTTP/1.1 " + expected.status() + " ");
        assertThat(withoutTime(body(actual))).isEqualTo(withoutTime(expected.json()));

        // HEAD: the status and headers of GET, no body
        TestingResponse head = verify.send("HEAD", VERIFY, TestingHttpClient.keyHeader(adminKey), BodyPublishers.noBody());
        assertThat(head.status()).isEqualTo(200);
        assertThat(head.header("X-Latchkey-Account")).contains(account);
        assertThat(head.body()).isEmpty();
        assertThat(verify.send("HEAD", VERIFY, Map.of(), BodyPublishers.noBody()).status()).isEqualTo(401);
    }

    @Test
    public void testEchoesARequestId()
    {
        TestingResponse answer = verify.send("GET", VERIFY, Map.of("X-Request-Id", "trace-4711"), BodyPublishers.noBody());
        assertThat(answer.header("X-Request-Id")).contains("trace-4711");
    }

    @Test
    public void testServesVerifyOnly()
            throws IOException
    {
        assertError(exchange(request("GET", "/api/v1/admin/accounts", ROOT_KEY)), 404, "NOT_FOUND");
        assertError(exchange(request("GET", VERIFY + "/", null)), 404, "NOT_FOUND");
        assertError(exchange(request("GET", "/health", null)), 404, "NOT_FOUND");
        assertError(exchange(request("POST", VERIFY, ROOT_KEY)), 405, "METHOD_NOT_ALLOWED");
        // a key in a path is not echoed back
        String key = TestingKeys.wellFormed("KeyInThePath0001", "s".repeat(32));
        String notFound = exchange(request("GET", "/" + key, null));
        assertError(notFound, 404, "NOT_FOUND");
        assertThat(notFound).doesNotContain(key);
    }

    @Test
    public void testCountsAnswersInTheServersMetrics()
    {
        String metrics = http.get("/metrics", null).body();
        double before = verifyCount(metrics, "401");
        verify.send("GET", VERIFY, TestingHttpClient.keyHeader("not-a-key"), BodyPublishers.noBody()).assertError(401, "UNAUTHENTICATED");
        assertThat(verifyCount(http.get("/metrics", null).body(), "401")).isEqualTo(before + 1);
    }

    /**
     * Pipelined requests are answered in order, even when the first waits for a feed position that never comes (1 s,
     * then 503) and the second is answered from memory at once.
     */
    @Test
    public void testAnswersPipelinedRequestsInOrder()
            throws IOException
    {
        String adminKey = server.createAccount(uniqueName("pipe"), "alice");
        String requests = "GET " + VERIFY + " HTTP/1.1\r\nHost: x\r\nX-API-Key: " + adminKey + "\r\nX-Latchkey-Min-Position: 999999999\r\n\r\n"
                + "GET " + VERIFY + " HTTP/1.1\r\nHost: x\r\nX-API-Key: " + adminKey + "\r\nX-Request-Id: second\r\n\r\n"
                + "GET " + VERIFY + " HTTP/1.1\r\nHost: x\r\nX-API-Key: " + adminKey + "\r\nX-Request-Id: third\r\nConnection: close\r\n\r\n";
        String answers = exchange(requests);
        // each body ends without a line break: the next status line follows it directly
        List<String> statusLines = new ArrayList<>();
        Matcher status = Pattern.compile("HTTP/1\\.1 \\d{3}").matcher(answers);
        while (status.find()) {
            statusLines.add(status.group());
        }
        assertThat(statusLines).hasSize(3);
        assertThat(statusLines.get(0)).startsWith("HTTP/1.1 503");
        assertThat(statusLines.get(1)).startsWith("HTTP/1.1 200");
        assertThat(answers.indexOf("X-Request-Id: second")).isLessThan(answers.indexOf("X-Request-Id: third"));
        // the connection closed after the third answer, as it asked (exchange read to the end of the stream)
        assertThat(answers).contains("connection: close");
    }

    /**
     * An HTTP/1.0 client gets its connection closed after the answer unless it asked to keep it, and is told so.
     */
    @Test
    public void testKeepsAnHttp10ConnectionOnlyWhenAsked()
            throws IOException
    {
        String adminKey = server.createAccount(uniqueName("ten"), "alice");
        // exchange reads to the end of the stream: it returns only because the server closed the connection
        String closed = exchange("GET " + VERIFY + " HTTP/1.0\r\nX-API-Key: " + adminKey + "\r\n\r\n");
        assertThat(closed).startsWith("HTTP/1.1 200");
        assertThat(closed).contains("connection: close");

        String kept = exchange("GET " + VERIFY + " HTTP/1.0\r\nX-API-Key: " + adminKey + "\r\nConnection: keep-alive\r\nX-Request-Id: kept\r\n\r\n"
                + "GET " + VERIFY + " HTTP/1.0\r\nX-API-Key: " + adminKey + "\r\nX-Request-Id: last\r\n\r\n");
        int second = kept.indexOf("HTTP/1.1 200", 1);
        assertThat(kept).startsWith("HTTP/1.1 200");
        assertThat(second).isPositive();
        assertThat(kept.substring(0, second)).contains("connection: keep-alive").contains("X-Request-Id: kept");
        assertThat(kept.substring(second)).contains("connection: close").contains("X-Request-Id: last");
    }

    /**
     * Requests that nginx does not send but other clients may, answered as the HTTP port answers them: the status,
     * the error code, the envelope of a 200 or a 404, and whether the connection ends.
     */
    @Test
    public void testAnswersUnusualRequestsAsTheHttpPort()
            throws IOException
    {
        String adminKey = server.createAccount(uniqueName("edge"), "alice");
        String key = "X-API-Key: " + adminKey + "\r\n";
        Map<String, String> requests = new LinkedHashMap<>();
        requests.put("no Host over HTTP/1.1", "GET " + VERIFY + " HTTP/1.1\r\n" + key + "Connection: close\r\n\r\n");
        requests.put("two Host headers", "GET " + VERIFY + " HTTP/1.1\r\nHost: x\r\nHost: y\r\n" + key + "\r\n");
        requests.put("absolute form", "GET http://x" + VERIFY + " HTTP/1.1\r\nHost: x\r\n" + key + "Connection: close\r\n\r\n");
        requests.put("absolute form with a port and a scope", "GET http://x:80" + VERIFY + "?scope=docs:read HTTP/1.1\r\nHost: x\r\n" + key + "Connection: close\r\n\r\n");
        requests.put("absolute form, authority only", "GET http://x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        requests.put("Expect: 100-continue, body never sent", "GET " + VERIFY + " HTTP/1.1\r\nHost: x\r\n" + key + "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n");
        for (Map.Entry<String, String> request : requests.entrySet()) {
            // each exchange returns only once the server has closed the connection
            String expected = exchange(server.port(), request.getValue());
            String actual = exchange(server.verifyPort(), request.getValue());
            assertThat(statusCode(actual)).as(request.getKey()).isEqualTo(statusCode(expected));
            JsonNode expectedBody = body(expected);
            JsonNode actualBody = body(actual);
            if (expectedBody.get("status").asText().equals("error") && statusCode(expected) == 400) {
                // Jetty's own message for these: the code is what compares
                assertThat(actualBody.get("error").get("code")).as(request.getKey()).isEqualTo(expectedBody.get("error").get("code"));
            }
            else {
                assertThat(withoutTime(actualBody)).as(request.getKey()).isEqualTo(withoutTime(expectedBody));
            }
        }
    }

    private static int statusCode(String answer)
    {
        return Integer.parseInt(answer.substring("HTTP/1.1 ".length(), "HTTP/1.1 ".length() + 3));
    }

    /**
     * Requests pipelined behind one that asks to close are not answered: the connection ends with that answer.
     */
    @Test
    public void testAnswersNothingAfterConnectionClose()
            throws IOException
    {
        String adminKey = server.createAccount(uniqueName("close"), "alice");
        String answers = exchange("GET " + VERIFY + " HTTP/1.1\r\nHost: x\r\nX-API-Key: " + adminKey + "\r\nX-Request-Id: first\r\n\r\n"
                + "GET " + VERIFY + " HTTP/1.1\r\nHost: x\r\nX-API-Key: " + adminKey + "\r\nX-Request-Id: closing\r\nConnection: close\r\n\r\n"
                + "GET " + VERIFY + " HTTP/1.1\r\nHost: x\r\nX-API-Key: " + adminKey + "\r\nX-Request-Id: never\r\n\r\n");
        assertThat(answers.split("HTTP/1\\.1 200", -1)).hasSize(3);
        assertThat(answers).contains("X-Request-Id: first").contains("X-Request-Id: closing").doesNotContain("X-Request-Id: never");
    }

    /**
     * A HEAD to a path the verify port does not serve: the 404's headers, its length, and no body.
     */
    @Test
    public void testAnswersHeadToAnUnknownPathWithoutBody()
            throws IOException
    {
        String answer = exchange("HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 404 ");
        int length = Integer.parseInt(answer.replaceAll("(?s).*\r\ncontent-length: (\\d+)\r\n.*", "$1"));
        assertThat(length).isPositive();
        assertThat(answer).endsWith("\r\n\r\n");
    }

    /**
     * A request whose chunked body does not parse: its answer, then the connection closes (not after the idle
     * timeout, which would fail the exchange's 10 s read deadline).
     */
    @Test
    public void testClosesAfterABodyThatDoesNotParse()
            throws IOException
    {
        String adminKey = server.createAccount(uniqueName("chunk"), "alice");
        String answer = exchange("GET " + VERIFY + " HTTP/1.1\r\nHost: x\r\nX-API-Key: " + adminKey + "\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "zz-not-a-chunk-size\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 200");
    }

    @Test
    public void testRefusesAnOversizedRequestAndCloses()
            throws IOException
    {
        String answer = exchange("GET " + VERIFY + " HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(10_000) + "\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 431");
        assertThat(answer).contains("\"code\":\"INVALID_ARGUMENT\"");
        String garbage = exchange("NOT HTTP AT ALL\r\n\r\n");
        assertThat(garbage).startsWith("HTTP/1.1 400");
        assertThat(garbage).contains("\"status\":\"error\"");
    }

    /**
     * Sends raw bytes to the verify port and reads until the server closes the connection (within a deadline).
     */
    private String exchange(String requests)
            throws IOException
    {
        return exchange(server.verifyPort(), requests);
    }

    /**
     * Sends raw bytes to a port of the server and reads until the server closes the connection (within a deadline).
     */
    private static String exchange(int port, String requests)
            throws IOException
    {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout((int) Duration.ofSeconds(10).toMillis());
            OutputStream out = socket.getOutputStream();
            out.write(requests.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream read = new ByteArrayOutputStream();
            byte[] buffer = new byte[8192];
            for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                read.write(buffer, 0, n);
            }
            return read.toString(StandardCharsets.UTF_8);
        }
    }

    private static String request(String method, String path, String key)
    {
        return method + " " + path + " HTTP/1.1\r\nHost: x\r\n" + (key == null ? "" : "X-API-Key: " + key + "\r\n") + "Content-Length: 0\r\nConnection: close\r\n\r\n";
    }

    private static void assertError(String answer, int status, String code)
    {
        assertThat(answer).startsWith("HTTP/1.1 " + status + " ");
        assertThat(body(answer).get("status").asText()).isEqualTo("error");
        assertThat(body(answer).get("error").get("code").asText()).isEqualTo(code);
    }

    private static JsonNode body(String answer)
    {
        try {
            return MAPPER.readTree(answer.substring(answer.indexOf("\r\n\r\n") + 4));
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static JsonNode withoutTime(JsonNode envelope)
    {
        JsonNode copy = envelope.deepCopy();
        ((com.fasterxml.jackson.databind.node.ObjectNode) copy).remove("time");
        return copy;
    }

    private static double verifyCount(String metrics, String status)
    {
        double total = 0;
        for (String line : metrics.split("\n")) {
            if (line.startsWith("http_server_requests_seconds_count{") && line.contains("route=\"" + VERIFY + "\"") && line.contains("status=\"" + status + "\"")) {
                total += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return total;
    }

}

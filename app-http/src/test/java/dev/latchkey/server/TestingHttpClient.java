package dev.latchkey.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublisher;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A small HTTP/1.1 client for one in-process server. Every response it returns has been checked for leaks: no
 * stack trace or exception class name, never a configured secret (the root key, the pepper), never the SHA-256 of
 * a key secret, and never the secret of a key other than the one the response itself hands out in
 * {@code result.user_key}. Every response must also match docs/openapi.yaml (see {@link TestingOpenApi}): a status
 * documented for its request, and headers and body valid against that response. Every response is also kept, for
 * checks over all of them at the end of a test class.
 */
public final class TestingHttpClient
{
    public static final String API_KEY = "X-API-Key";
    public static final String AUTHORIZATION = "Authorization";
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final int SECRET_START = 20;
    private static final int SECRET_END = 52;

    private final ObjectMapper mapper = JsonMapper.builder().build();
    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final int port;
    private final String base;
    private final List<String> secrets;
    private final Set<String> issuedKeys = ConcurrentHashMap.newKeySet();
    private final List<TestingResponse> responses = new CopyOnWriteArrayList<>();

    /**
     * @param secrets configured secrets that no response may ever contain (the root key, the pepper)
     */
    public TestingHttpClient(int port, List<String> secrets)
    {
        this.port = port;
        this.base = "http://127.0.0.1:" + port;
        this.secrets = List.copyOf(secrets);
    }

    /**
     * @param key the key to send in {@code X-API-Key}, or null for none
     */
    public TestingResponse get(String path, String key)
    {
        return send("GET", path, keyHeader(key), BodyPublishers.noBody());
    }

    /**
     * @param body null for no body, a {@link String} sent as is, a {@code byte[]} sent as is, or anything else sent
     *         as its JSON
     */
    public TestingResponse post(String path, String key, Object body)
    {
        return send("POST", path, keyHeader(key), publisher(body));
    }

    public TestingResponse put(String path, String key, Object body)
    {
        return send("PUT", path, keyHeader(key), publisher(body));
    }

    public TestingResponse delete(String path, String key)
    {
        return send("DELETE", path, keyHeader(key), BodyPublishers.noBody());
    }

    /**
     * @param path the raw (already percent-encoded) path and query
     */
    public TestingResponse send(String method, String path, Map<String, String> headers, BodyPublisher body)
    {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(TIMEOUT)
                .method(method, body);
        headers.forEach(request::header);
        if (!headers.containsKey("Content-Type") && body.contentLength() != 0) {
            request.header("Content-Type", "application/json");
        }
        TestingResponse response;
        try {
            HttpResponse<String> answer = http.send(request.build(), BodyHandlers.ofString(StandardCharsets.UTF_8));
            response = new TestingResponse(method + " " + path, answer.statusCode(), answer.headers(), answer.body());
        }
        catch (IOException e) {
            throw new UncheckedIOException(method + " " + path + " failed", e);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
        return checked(response);
    }

    /**
     * Sends a request exactly as written, over a socket, for what {@link HttpClient} refuses to send (a target that is
     * not a valid URI, such as {@code /a%zz}). The connection is closed after the response.
     *
     * @param target the request target as it goes on the request line
     */
    public TestingResponse sendRaw(String method, String target, Map<String, String> headers)
    {
        StringBuilder head = new StringBuilder(method + " " + target + " HTTP/1.1\r\n")
                .append("Host: 127.0.0.1:").append(port).append("\r\n")
                .append("Connection: close\r\n");
        headers.forEach((name, value) -> head.append(name).append(": ").append(value).append("\r\n"));
        head.append("\r\n");
        byte[] answer;
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), (int) TIMEOUT.toMillis());
            socket.setSoTimeout((int) TIMEOUT.toMillis());
            OutputStream out = socket.getOutputStream();
            out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            answer = socket.getInputStream().readAllBytes();
        }
        catch (IOException e) {
            throw new UncheckedIOException(method + " " + target + " failed", e);
        }
        return checked(parseRaw(method + " " + target, answer));
    }

    public static Map<String, String> keyHeader(String key)
    {
        Map<String, String> headers = new LinkedHashMap<>();
        if (key != null) {
            headers.put(API_KEY, key);
        }
        return headers;
    }

    /**
     * Every response this client received, in order.
     */
    public List<TestingResponse> responses()
    {
        return List.copyOf(responses);
    }

    private TestingResponse checked(TestingResponse response)
    {
        assertNoLeak(response);
        TestingOpenApi.document().assertValid(response);
        responses.add(response);
        return response;
    }

    private BodyPublisher publisher(Object body)
    {
        if (body == null) {
            return BodyPublishers.noBody();
        }
        if (body instanceof String text) {
            return BodyPublishers.ofString(text, StandardCharsets.UTF_8);
        }
        if (body instanceof byte[] bytes) {
            return BodyPublishers.ofByteArray(bytes);
        }
        try {
            return BodyPublishers.ofByteArray(mapper.writeValueAsBytes(body));
        }
        catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not serializable as JSON: " + body, e);
        }
    }

    private void assertNoLeak(TestingResponse response)
    {
        String text = response.headers().map() + "\n" + response.body();
        assertThat(text).as("%s", response)
                .doesNotContain("Exception")
                .doesNotContain("at dev.")
                .doesNotContain("at java.")
                .doesNotContain("\tat ")
                .doesNotContain("<html");
        for (String secret : secrets) {
            assertThat(text).as("%s (a configured secret)", response).doesNotContain(secret);
        }
        String ownKey = ownKey(response);
        for (String key : issuedKeys) {
            String secret = TestingKeys.secret(key);
            assertThat(text.toLowerCase(Locale.ROOT)).as("%s (a key hash)", response).doesNotContain(sha256Hex(secret)).doesNotContain(sha256Hex(key));
            if (!key.equals(ownKey)) {
                assertThat(text).as("%s (the secret of another key)", response).doesNotContain(secret);
            }
        }
        if (ownKey != null) {
            assertThat(text.toLowerCase(Locale.ROOT)).as("%s (its key's hash)", response).doesNotContain(sha256Hex(TestingKeys.secret(ownKey)));
            issuedKeys.add(ownKey);
        }
    }

    private String ownKey(TestingResponse response)
    {
        if (!response.header("Content-Type").orElse("").startsWith("application/json")) {
            return null;
        }
        try {
            JsonNode key = mapper.readTree(response.body()).path("result").path("user_key");
            return key.isTextual() && key.textValue().length() >= SECRET_END ? key.textValue() : null;
        }
        catch (JsonProcessingException e) {
            return null;
        }
    }

    private static TestingResponse parseRaw(String request, byte[] answer)
    {
        String text = new String(answer, StandardCharsets.ISO_8859_1);
        int end = text.indexOf("\r\n\r\n");
        assertThat(end).as("%s: a complete response head in %s", request, text).isPositive();
        String[] lines = text.substring(0, end).split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        Map<String, List<String>> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            headers.computeIfAbsent(lines[i].substring(0, colon).trim(), name -> new ArrayList<>()).add(lines[i].substring(colon + 1).trim());
        }
        byte[] body = Arrays.copyOfRange(answer, end + 4, answer.length);
        if (headers.getOrDefault("Transfer-Encoding", List.of()).contains("chunked")) {
            body = dechunk(body);
        }
        return new TestingResponse(request, status, HttpHeaders.of(headers, (name, value) -> true), new String(body, StandardCharsets.UTF_8));
    }

    private static byte[] dechunk(byte[] chunked)
    {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        InputStream in = new ByteArrayInputStream(chunked);
        try {
            while (true) {
                StringBuilder size = new StringBuilder();
                for (int c = in.read(); c != '\n' && c != -1; c = in.read()) {
                    if (c != '\r') {
                        size.append((char) c);
                    }
                }
                int length = Integer.parseInt(size.toString().split(";")[0].trim(), 16);
                if (length == 0) {
                    return body.toByteArray();
                }
                body.write(in.readNBytes(length));
                in.skipNBytes(2);
            }
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String sha256Hex(String text)
    {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        }
        catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

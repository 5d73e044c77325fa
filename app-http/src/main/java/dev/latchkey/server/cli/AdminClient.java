package dev.latchkey.server.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.server.http.HttpErrors;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

import static java.util.Objects.requireNonNull;

/**
 * The admin API of a Latchkey server, over HTTP, for the command line: each call sends the admin key in
 * {@code X-API-Key}, waits at most the timeout (to connect, and for the answer), and returns the envelope's
 * {@code result}. An error answer becomes a {@link LatchkeyException} with the server's code and message; a server
 * that cannot be reached or does not answer in time, one with code UNAVAILABLE and a message that says so.
 */
final class AdminClient
{
    private static final ObjectMapper MAPPER = JsonMapper.builder().build();

    private final URI base;
    private final String key;
    private final Duration timeout;
    private final HttpClient http;

    AdminClient(URI base, String key, Duration timeout)
    {
        this.base = requireNonNull(base, "base is null");
        this.key = requireNonNull(key, "key is null");
        this.timeout = requireNonNull(timeout, "timeout is null");
        this.http = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NEVER).build();
    }

    JsonNode get(String path, Map<String, String> query)
    {
        return send("GET", path + queryString(query), null);
    }

    JsonNode post(String path, Map<String, ?> body)
    {
        return send("POST", path, body);
    }

    JsonNode put(String path, Map<String, ?> body)
    {
        return send("PUT", path, body);
    }

    JsonNode delete(String path)
    {
        return send("DELETE", path, null);
    }

    /**
     * One path segment, percent-encoded (an id may hold characters that mean something in a path).
     */
    static String segment(String value)
    {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static String queryString(Map<String, String> query)
    {
        if (query.isEmpty()) {
            return "";
        }
        return query.entrySet().stream()
                .map(entry -> segment(entry.getKey()) + "=" + segment(entry.getValue()))
                .collect(Collectors.joining("&", "?", ""));
    }

    private JsonNode send(String method, String pathAndQuery, Map<String, ?> body)
    {
        URI uri = resolve(base, pathAndQuery);
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(timeout).header("X-API-Key", key).header("Accept", "application/json");
        if (body == null) {
            request.method(method, HttpRequest.BodyPublishers.noBody());
        }
        else {
            request.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofByteArray(json(body)));
        }
        HttpResponse<byte[]> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
        }
        catch (HttpConnectTimeoutException e) {
            throw unreachable("did not accept a connection within " + seconds(timeout));
        }
        catch (HttpTimeoutException e) {
            throw unreachable("did not answer within " + seconds(timeout));
        }
        catch (ConnectException e) {
            throw unreachable("refused the connection (is the server running, and is --url right?)");
        }
        catch (IOException e) {
            throw unreachable("could not be reached: " + Optional.ofNullable(e.getMessage()).orElse(e.getClass().getSimpleName()));
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "interrupted while waiting for " + base);
        }
        return result(response);
    }

    /**
     * An API path (from the root, {@code /api/...}) under the base URL, which ends with a slash (its path may be a
     * prefix a proxy serves the server under).
     */
    static URI resolve(URI base, String pathAndQuery)
    {
        return base.resolve(pathAndQuery.substring(1));
    }

    private LatchkeyException unreachable(String what)
    {
        return new LatchkeyException(ErrorCode.UNAVAILABLE, "the server at " + base + " " + what);
    }

    private JsonNode result(HttpResponse<byte[]> response)
    {
        JsonNode envelope;
        try {
            envelope = MAPPER.readTree(response.body());
        }
        catch (IOException e) {
            envelope = null;
        }
        if (envelope == null || !envelope.isObject() || !envelope.has("status")) {
            throw new LatchkeyException(response.statusCode() >= 400 ? HttpErrors.code(response.statusCode()) : ErrorCode.INTERNAL,
                    "the server at " + base + " answered HTTP " + response.statusCode() + " without a Latchkey envelope (is --url a Latchkey server?)");
        }
        if ("ok".equals(envelope.path("status").asText()) && response.statusCode() < 400) {
            return envelope.path("result");
        }
        JsonNode error = envelope.path("error");
        ErrorCode code = Arrays.stream(ErrorCode.values())
                .filter(candidate -> candidate.name().equals(error.path("code").asText().toUpperCase(Locale.ROOT)))
                .findFirst()
                .orElseGet(() -> HttpErrors.code(response.statusCode()));
        String message = error.path("message").asText("");
        throw new LatchkeyException(code, message.isEmpty() ? "HTTP " + response.statusCode() : message);
    }

    private static byte[] json(Map<String, ?> body)
    {
        try {
            return MAPPER.writeValueAsBytes(body);
        }
        catch (JsonProcessingException e) {
            throw new IllegalArgumentException("a request body cannot be written as JSON", e);
        }
    }

    private static String seconds(Duration duration)
    {
        return duration.toMillis() % 1000 == 0 ? duration.toSeconds() + " s" : duration.toMillis() + " ms";
    }
}

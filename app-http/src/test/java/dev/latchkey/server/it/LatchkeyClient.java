package dev.latchkey.server.it;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

import static java.util.Objects.requireNonNull;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The parts of the HTTP API (http-api.md) that the multi-instance tests call, on any {@link ServerProcess}. Admin
 * calls are made with the root key. {@code try...} methods return the response whatever its status; the others
 * assert a 200 and return what the caller needs. A request that gets no response (the server died) throws
 * {@link UncheckedIOException}.
 */
final class LatchkeyClient
{
    private static final String ACCOUNTS = "/api/v1/admin/accounts";
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(15);

    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final ObjectMapper mapper = JsonMapper.builder().build();
    private final String rootKey;

    LatchkeyClient(String rootKey)
    {
        this.rootKey = requireNonNull(rootKey, "rootKey is null");
    }

    /**
     * A response: its status, its JSON envelope and its headers.
     */
    record Response(int status, JsonNode body, HttpHeaders headers)
    {
        Response(int status, JsonNode body)
        {
            this(status, body, HttpHeaders.of(Map.of(), (name, value) -> true));
        }

        Optional<String> header(String name)
        {
            return headers.firstValue(name);
        }

        JsonNode result()
        {
            return body.path("result");
        }

        String errorCode()
        {
            return body.path("error").path("code").asText();
        }

        @Override
        public String toString()
        {
            return status + " " + body;
        }
    }

    // --- admin (root key)

    Response tryCreateAccount(ServerProcess server, String accountId, String adminUserId)
    {
        return send(server, "POST", ACCOUNTS, rootKey, Map.of("account_id", accountId, "admin_user_id", adminUserId));
    }

    /**
     * @return the new admin's key
     */
    String createAccount(ServerProcess server, String accountId, String adminUserId)
    {
        return userKey(tryCreateAccount(server, accountId, adminUserId), "create account " + accountId + " on " + server.name());
    }

    Response tryDeleteAccount(ServerProcess server, String accountId)
    {
        return send(server, "DELETE", account(accountId), rootKey, null);
    }

    Response tryRegisterUser(ServerProcess server, String accountId, String userId, String role)
    {
        return send(server, "POST", account(accountId) + "/users", rootKey, Map.of("user_id", userId, "role", role));
    }

    /**
     * @return the new user's key
     */
    String registerUser(ServerProcess server, String accountId, String userId, String role)
    {
        return userKey(tryRegisterUser(server, accountId, userId, role), "register " + accountId + "/" + userId + " on " + server.name());
    }

    Response tryRemoveUser(ServerProcess server, String accountId, String userId)
    {
        return send(server, "DELETE", user(accountId, userId), rootKey, null);
    }

    Response trySetRole(ServerProcess server, String accountId, String userId, String role)
    {
        return send(server, "PUT", user(accountId, userId) + "/role", rootKey, Map.of("role", role));
    }

    Response tryRegenerateKey(ServerProcess server, String accountId, String userId)
    {
        return send(server, "POST", user(accountId, userId) + "/key", rootKey, null);
    }

    Response tryRegenerateKey(ServerProcess server, String accountId, String userId, Map<String, Object> body)
    {
        return send(server, "POST", user(accountId, userId) + "/key", rootKey, body);
    }

    Response tryCreateKey(ServerProcess server, String accountId, String userId, Map<String, Object> body)
    {
        return send(server, "POST", user(accountId, userId) + "/keys", rootKey, body);
    }

    Response listKeys(ServerProcess server, String accountId, String userId)
    {
        return send(server, "GET", user(accountId, userId) + "/keys", rootKey, null);
    }

    Response tryDeleteKey(ServerProcess server, String accountId, String userId, String keyId)
    {
        return send(server, "DELETE", user(accountId, userId) + "/keys/" + keyId, rootKey, null);
    }

    /**
     * Every user of an account, read page by page ({@code limit} and {@code cursor}), in the order served.
     */
    List<JsonNode> listUsers(ServerProcess server, String accountId, int pageSize)
    {
        List<JsonNode> users = new ArrayList<>();
        String cursor = "";
        while (true) {
            String query = "?limit=" + pageSize + (cursor.isEmpty() ? "" : "&cursor=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8));
            Response page = send(server, "GET", account(accountId) + "/users" + query, rootKey, null);
            assertThat(page.status()).as("list users of %s on %s: %s", accountId, server.name(), page).isEqualTo(200);
            page.result().forEach(users::add);
            if (page.result().size() < pageSize) {
                return users;
            }
            cursor = page.result().get(pageSize - 1).path("user_id").asText();
        }
    }

    /**
     * {@code GET /api/v1/admin/accounts}: each account's {@code user_count} by account id.
     */
    Map<String, Integer> userCounts(ServerProcess server)
    {
        Response accounts = send(server, "GET", ACCOUNTS, rootKey, null);
        assertThat(accounts.status()).as("list accounts on %s: %s", server.name(), accounts).isEqualTo(200);
        Map<String, Integer> counts = new TreeMap<>();
        accounts.result().forEach(account -> counts.put(account.path("account_id").asText(), account.path("user_count").asInt()));
        return counts;
    }

    // --- authentication, readiness and metrics

    Response verify(ServerProcess server, String key)
    {
        return send(server, "GET", "/api/v1/auth/verify", key, null);
    }

    /**
     * {@code GET /ready}: 200, or 503 UNAVAILABLE; the store kind and {@code feed_lag_seconds} are in the result, or in
     * {@code error.details} ({@link #feedLagSeconds}).
     */
    Response ready(ServerProcess server)
    {
        return send(server, "GET", "/ready", null, null);
    }

    /**
     * The feed lag that a {@link #ready} answer reports, whatever its status.
     */
    static double feedLagSeconds(Response ready)
    {
        JsonNode state = ready.status() == 200 ? ready.result() : ready.body().path("error").path("details");
        assertThat(state.has("feed_lag_seconds")).as("feed_lag_seconds in %s", ready).isTrue();
        return state.path("feed_lag_seconds").asDouble();
    }

    /**
     * {@code GET /api/v1/auth/verify}, sent without waiting: the status of the answer.
     */
    CompletableFuture<Integer> verifyAsync(ServerProcess server, String key)
    {
        return getAsync(server, "/api/v1/auth/verify", key);
    }

    /**
     * {@code GET /health}, sent without waiting: the status of the answer. Many at once leave as many open
     * connections in the client's pool, so that a later burst of requests reaches the server together.
     */
    CompletableFuture<Integer> healthAsync(ServerProcess server)
    {
        return getAsync(server, "/health", null);
    }

    /**
     * The values of several series, read from one {@code GET /metrics}, in the order given, each named as
     * Prometheus prints it, for example {@code latchkey_auth_total{outcome="malformed"}}.
     */
    Map<String, Double> metrics(ServerProcess server, String... series)
    {
        HttpResponse<String> metrics = exchange(request(server, "GET", "/metrics", null, null), HttpResponse.BodyHandlers.ofString());
        assertThat(metrics.statusCode()).as("GET /metrics on %s", server.name()).isEqualTo(200);
        Map<String, Double> values = new LinkedHashMap<>();
        for (String name : series) {
            double value = metrics.body().lines()
                    .filter(line -> line.startsWith(name + " "))
                    .mapToDouble(line -> Double.parseDouble(line.substring(name.length() + 1).trim()))
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no series " + name + " in the metrics of " + server.name() + ":\n" + metrics.body()));
            values.put(name, value);
        }
        return values;
    }

    // --- plumbing

    private CompletableFuture<Integer> getAsync(ServerProcess server, String path, String key)
    {
        return http.sendAsync(request(server, "GET", path, key, null), HttpResponse.BodyHandlers.discarding())
                .thenApply(HttpResponse::statusCode);
    }

    /**
     * A page of the audit trail as the key's caller sees it.
     *
     * @param query the query string, without {@code ?}
     */
    Response audit(ServerProcess server, String key, String query)
    {
        return send(server, "GET", "/api/v1/admin/audit?" + query, key, null);
    }

    Response send(ServerProcess server, String method, String path, String key, Object body)
    {
        return send(server, method, path, key, body, Map.of());
    }

    /**
     * As {@link #send(ServerProcess, String, String, String, Object)}, with more request headers.
     */
    Response send(ServerProcess server, String method, String path, String key, Object body, Map<String, String> headers)
    {
        HttpRequest request = request(server, method, path, key, body);
        if (!headers.isEmpty()) {
            HttpRequest.Builder copy = HttpRequest.newBuilder(request, (name, value) -> true);
            headers.forEach(copy::header);
            request = copy.build();
        }
        HttpResponse<byte[]> response = exchange(request, HttpResponse.BodyHandlers.ofByteArray());
        try {
            return new Response(response.statusCode(), mapper.readTree(response.body()), response.headers());
        }
        catch (IOException e) {
            throw new AssertionError(method + " " + path + " on " + server.name() + " answered " + response.statusCode() + " with a body that is not JSON", e);
        }
    }

    private HttpRequest request(ServerProcess server, String method, String path, String key, Object body)
    {
        HttpRequest.Builder builder = HttpRequest.newBuilder(server.uri(path)).timeout(REQUEST_TIMEOUT);
        if (key != null) {
            builder.header("X-API-Key", key);
        }
        if (body == null) {
            return builder.method(method, HttpRequest.BodyPublishers.noBody()).build();
        }
        try {
            return builder.header("Content-Type", "application/json")
                    .method(method, HttpRequest.BodyPublishers.ofByteArray(mapper.writeValueAsBytes(body)))
                    .build();
        }
        catch (JsonProcessingException e) {
            throw new IllegalArgumentException("body cannot be written as JSON", e);
        }
    }

    private <T> HttpResponse<T> exchange(HttpRequest request, HttpResponse.BodyHandler<T> handler)
    {
        try {
            return http.send(request, handler);
        }
        catch (IOException e) {
            throw new UncheckedIOException(request.method() + " " + request.uri() + " got no response", e);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted during " + request.method() + " " + request.uri(), e);
        }
    }

    private static String userKey(Response response, String what)
    {
        assertThat(response.status()).as("%s: %s", what, response).isEqualTo(200);
        return response.result().path("user_key").asText();
    }

    private static String account(String accountId)
    {
        return ACCOUNTS + "/" + accountId;
    }

    private static String user(String accountId, String userId)
    {
        return account(accountId) + "/users/" + userId;
    }
}

package dev.latchkey.server;

import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest.BodyPublishers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * docs/openapi.yaml describes exactly the server's API: every route it registers and no other, with statuses and
 * schemas strict enough that the checker {@link TestingHttpClient} runs on every answer of the HTTP tests can fail.
 */
public class TestOpenApiDocument
{
    private static final String USERS = "/api/v1/admin/accounts/acme/users";
    private static final String VERIFY = "/api/v1/auth/verify";
    private static final String KEY = "lk_0123456789ABCDEF_abcdefghijklmnopqrstuvwxyz01234517yAzm";

    private final TestingOpenApi openApi = TestingOpenApi.document();

    @Test
    public void testOperationsAreExactlyTheServerRoutes(@TempDir Path directory)
    {
        try (TestingLatchkeyServer server = TestingLatchkeyServer.start(directory)) {
            assertThat(server.routes()).as("routes of the server").isNotEmpty();
            assertThat(openApi.operations()).as("operations of %s", TestingOpenApi.DOCUMENT).containsExactlyElementsOf(server.routes());
        }
    }

    /**
     * The document is well-formed OpenAPI 3.1 for a second, independent reader (swagger-parser), with every
     * reference resolving.
     */
    @Test
    public void testDocumentIsValidOpenApi()
            throws IOException
    {
        ParseOptions options = new ParseOptions();
        options.setResolve(true);
        options.setValidateInternalRefs(true);
        SwaggerParseResult result = new OpenAPIV3Parser().readContents(Files.readString(TestingOpenApi.DOCUMENT, StandardCharsets.UTF_8), null, options);
        assertThat(result.getMessages()).as("swagger-parser's messages on %s", TestingOpenApi.DOCUMENT).isEmpty();
        assertThat(result.getOpenAPI().getOpenapi()).isEqualTo("3.1.0");
        assertThat(result.getOpenAPI().getPaths()).hasSize(16);
        assertThat(result.getOpenAPI().getComponents().getSecuritySchemes()).containsOnlyKeys("apiKey", "bearer");
    }

    /**
     * Requests no other HTTP test sends, answered by the real server: {@link TestingHttpClient} checks each answer
     * against the document (the operation's responses, or the unrouted ones), and the statuses are the ones
     * docs/http-api.md describes.
     */
    @Test
    public void testUnusualRequestsAreAnsweredAsDocumented(@TempDir Path directory)
    {
        try (TestingLatchkeyServer server = TestingLatchkeyServer.start(directory)) {
            TestingHttpClient client = server.client();
            Map<String, String> root = TestingHttpClient.keyHeader(TestingLatchkeyServer.ROOT_KEY);
            assertThat(client.send("HEAD", "/api/v1/admin/accounts/acme", root, BodyPublishers.noBody()).status()).as("HEAD where there is no GET").isEqualTo(405);
            assertThat(client.send("HEAD", "/nothing", root, BodyPublishers.noBody()).status()).isEqualTo(404);
            client.send("OPTIONS", "/health", Map.of(), BodyPublishers.noBody()).assertError(405, "METHOD_NOT_ALLOWED");
            client.send("TRACE", "/health", Map.of(), BodyPublishers.noBody()).assertError(405, "METHOD_NOT_ALLOWED");
            client.send("OPTIONS", "/nothing", Map.of(), BodyPublishers.noBody()).assertError(404, "NOT_FOUND");
            client.send("DELETE", "/api/v1/admin/accounts/", root, BodyPublishers.noBody()).assertError(405, "METHOD_NOT_ALLOWED");
            client.get("/ready/", null).assertOk();
            client.get("//health", null).assertError(404, "NOT_FOUND");
            client.get("/", null).assertError(404, "NOT_FOUND");
            client.get("/api/v1/admin/accounts/a%2Fb/users", TestingLatchkeyServer.ROOT_KEY).assertInvalidField("account_id");
            client.get("/api/v1/admin/accounts/default/users/", TestingLatchkeyServer.ROOT_KEY).assertOk();
            assertThat(client.responses()).hasSize(11);
        }
    }

    @Test
    public void testEveryGetHasItsHeadTwin()
    {
        JsonNode paths = openApi.tree().path("paths");
        int gets = 0;
        for (String path : paths.propertyNames()) {
            JsonNode item = paths.path(path);
            if (item.has("get")) {
                gets++;
                assertThat(item.has("head")).as("HEAD %s", path).isTrue();
                assertThat(item.path("head").path("responses").propertyNames()).as("statuses of HEAD %s", path)
                        .containsExactlyElementsOf(item.path("get").path("responses").propertyNames());
            }
            else {
                assertThat(item.has("head")).as("HEAD %s without GET", path).isFalse();
            }
        }
        assertThat(gets).isEqualTo(11);
    }

    /**
     * The checker is only as strict as the statuses each operation lists: no catch-all, no status range.
     */
    @Test
    public void testNoCatchAllResponses()
    {
        List<JsonNode> responseMaps = new ArrayList<>();
        JsonNode paths = openApi.tree().path("paths");
        for (String path : paths.propertyNames()) {
            for (String method : paths.path(path).propertyNames()) {
                responseMaps.add(paths.path(path).path(method).path("responses"));
            }
        }
        responseMaps.add(openApi.tree().path("x-latchkey-unrouted").path("unknown-path"));
        responseMaps.add(openApi.tree().path("x-latchkey-unrouted").path("wrong-method"));
        Set<String> statuses = new TreeSet<>();
        for (JsonNode responses : responseMaps) {
            assertThat(responses.isEmpty()).isFalse();
            statuses.addAll(responses.propertyNames());
        }
        assertThat(statuses).allMatch(status -> status.matches("[1-5][0-9][0-9]"), "an exact status");
        assertThat(openApi.tree().path("x-latchkey-unrouted").path("unknown-path").propertyNames()).contains("404").doesNotContain("200", "405");
        assertThat(openApi.tree().path("x-latchkey-unrouted").path("wrong-method").propertyNames()).contains("405").doesNotContain("200", "404");
    }

    @Test
    public void testCorrectAnswersPass()
    {
        assertThat(problems("GET", "/health", 200, json(), "{\"status\":\"ok\",\"result\":{\"status\":\"up\"},\"error\":null,\"time\":0.001}")).isEmpty();
        assertThat(problems("GET", VERIFY, 200, json("X-Latchkey-Role", "admin", "X-Latchkey-Account", "acme", "X-Latchkey-User", "alice",
                        "X-Latchkey-Key-Id", "0123456789ABCDEF", "X-Latchkey-Scopes", "docs:read docs:*"),
                "{\"status\":\"ok\",\"result\":{\"role\":\"admin\",\"account_id\":\"acme\",\"user_id\":\"alice\",\"key_id\":\"0123456789ABCDEF\","
                        + "\"scopes\":[\"docs:read\",\"docs:*\"],\"expires_at\":\"2027-01-01T00:00:00Z\"},\"error\":null,\"time\":0.0}")).isEmpty();
        assertThat(problems("GET", VERIFY + "/", 200, json("X-Latchkey-Role", "root", "X-Latchkey-Scopes", "*"),
                "{\"status\":\"ok\",\"result\":{\"role\":\"root\",\"account_id\":null,\"user_id\":null,\"key_id\":null,\"scopes\":[\"*\"],\"expires_at\":null},"
                        + "\"error\":null,\"time\":0.0}")).isEmpty();
        assertThat(problems("GET", VERIFY + "?scope=docs:write", 403, json(), error("PERMISSION_DENIED"))).isEmpty();
        assertThat(problems("GET", USERS + "?limit=0", 400, json(),
                "{\"status\":\"error\",\"result\":null,\"error\":{\"code\":\"INVALID_ARGUMENT\",\"message\":\"bad\",\"details\":{\"field\":\"limit\"}},\"time\":0.0}")).isEmpty();
        assertThat(problems("GET", "/api/v1/admin/migrate", 404, json(), error("NOT_FOUND"))).isEmpty();
        assertThat(problems("PATCH", USERS, 405, json(), error("METHOD_NOT_ALLOWED"))).isEmpty();
        assertThat(problems("HEAD", "/ready", 503, json(), "")).isEmpty();
        assertThat(problems("GET", "/ready", 503, json(), error("UNAVAILABLE"))).isEmpty();
        assertThat(problems("GET", "/ready/", 503, json(),
                "{\"status\":\"error\",\"result\":null,\"error\":{\"code\":\"UNAVAILABLE\",\"message\":\"no\",\"details\":{\"store\":\"s3\",\"feed_lag_seconds\":4.2}},\"time\":0.0}"))
                .isEmpty();
        assertThat(problems("GET", "/metrics", 200, headers("Content-Type", "text/plain; version=0.0.4; charset=utf-8"), "# HELP x\n")).isEmpty();
        assertThat(problems("POST", USERS + "/bob/key", 200, json(), "{\"status\":\"ok\",\"result\":{\"user_key\":\"" + KEY + "\"},\"error\":null,\"time\":0.01}"))
                .isEmpty();
    }

    @Test
    public void testWrongBodiesAreRejected()
    {
        // a wrong value, a field too many, a field missing, a result where the envelope wants null
        assertThat(problems("GET", "/health", 200, json(), "{\"status\":\"ok\",\"result\":{\"status\":\"down\"},\"error\":null,\"time\":0.001}")).isNotEmpty();
        assertThat(problems("GET", "/health", 200, json(), "{\"status\":\"ok\",\"result\":{\"status\":\"up\",\"extra\":1},\"error\":null,\"time\":0.001}")).isNotEmpty();
        assertThat(problems("GET", "/health", 200, json(), "{\"status\":\"ok\",\"result\":{\"status\":\"up\"},\"error\":null}")).isNotEmpty();
        assertThat(problems("GET", "/health", 200, json(), "{\"status\":\"ok\",\"result\":{\"status\":\"up\"},\"error\":null,\"time\":\"now\",\"x\":1}")).isNotEmpty();
        assertThat(problems("GET", "/health", 200, json(), "not json")).isNotEmpty();
        // an account key must come with its account, a root identity without
        assertThat(problems("GET", VERIFY, 200, json("X-Latchkey-Role", "admin"),
                "{\"status\":\"ok\",\"result\":{\"role\":\"admin\",\"account_id\":null,\"user_id\":\"alice\"},\"error\":null,\"time\":0.0}")).isNotEmpty();
        assertThat(problems("GET", VERIFY, 200, json("X-Latchkey-Role", "root"),
                "{\"status\":\"ok\",\"result\":{\"role\":\"root\",\"account_id\":\"acme\",\"user_id\":null},\"error\":null,\"time\":0.0}")).isNotEmpty();
        // a key in the wrong format, an OpenViking api_key field
        assertThat(problems("POST", USERS + "/bob/key", 200, json(), "{\"status\":\"ok\",\"result\":{\"user_key\":\"abc.def.ghi\"},\"error\":null,\"time\":0.01}"))
                .isNotEmpty();
        assertThat(problems("GET", USERS, 200, json(), "{\"status\":\"ok\",\"result\":[{\"user_id\":\"bob\",\"role\":\"user\",\"key_prefix\":\"lk_0123456789ABCDEF\","
                + "\"created_at\":\"2026-01-01T00:00:00Z\",\"api_key\":\"" + KEY + "\"}],\"error\":null,\"time\":0.01}")).isNotEmpty();
        // error envelopes: an unknown code, the code of another status, details where there are none, no message
        assertThat(problems("GET", "/api/v1/admin/migrate", 404, json(), error("GONE"))).isNotEmpty();
        assertThat(problems("GET", "/api/v1/admin/migrate", 404, json(), error("INVALID_ARGUMENT"))).isNotEmpty();
        assertThat(problems("GET", VERIFY, 401, json(),
                "{\"status\":\"error\",\"result\":null,\"error\":{\"code\":\"UNAUTHENTICATED\",\"message\":\"no\",\"details\":{\"field\":\"x\"}},\"time\":0.0}")).isNotEmpty();
        assertThat(problems("GET", VERIFY, 401, json(), "{\"status\":\"error\",\"result\":null,\"error\":{\"code\":\"UNAUTHENTICATED\"},\"time\":0.0}")).isNotEmpty();
        assertThat(problems("GET", "/ready", 503, json(),
                "{\"status\":\"error\",\"result\":null,\"error\":{\"code\":\"UNAVAILABLE\",\"message\":\"no\",\"details\":{\"store\":\"tape\",\"feed_lag_seconds\":1.0}},\"time\":0.0}"))
                .as("503 from /ready with a state that is not one").isNotEmpty();
        // a missing verify header, a header value that is not a role, a body on HEAD, a JSON answer where text is documented
        assertThat(problems("GET", VERIFY, 200, json(),
                "{\"status\":\"ok\",\"result\":{\"role\":\"root\",\"account_id\":null,\"user_id\":null},\"error\":null,\"time\":0.0}")).isNotEmpty();
        assertThat(problems("GET", VERIFY, 200, json("X-Latchkey-Role", "owner"),
                "{\"status\":\"ok\",\"result\":{\"role\":\"root\",\"account_id\":null,\"user_id\":null},\"error\":null,\"time\":0.0}")).isNotEmpty();
        assertThat(problems("HEAD", "/health", 200, json(), "{\"status\":\"ok\",\"result\":{\"status\":\"up\"},\"error\":null,\"time\":0.001}")).isNotEmpty();
        assertThat(problems("GET", "/metrics", 200, json(), "{}")).isNotEmpty();
    }

    @Test
    public void testUndocumentedStatusesAreRejected()
    {
        assertThat(problems("GET", "/health", 403, json(), error("PERMISSION_DENIED"))).isNotEmpty();
        // OpenViking answers remove user with 202
        assertThat(problems("DELETE", USERS + "/bob", 202, json(), "{\"status\":\"ok\",\"result\":{\"deleted\":true},\"error\":null,\"time\":0.0}")).isNotEmpty();
        assertThat(problems("GET", VERIFY, 409, json(), error("ALREADY_EXISTS"))).isNotEmpty();
        assertThat(problems("GET", "/api/v1/admin/migrate", 200, json(), "{\"status\":\"ok\",\"result\":null,\"error\":null,\"time\":0.0}")).isNotEmpty();
        assertThat(problems("GET", "/api/v1/admin/migrate", 405, json(), error("METHOD_NOT_ALLOWED"))).isNotEmpty();
        assertThat(problems("PATCH", USERS, 404, json(), error("NOT_FOUND"))).isNotEmpty();
        assertThat(problems("GET", USERS, 500, json(), "{}")).isNotEmpty();
    }

    /**
     * The operator's reference stands alone: its links stay inside the repository.
     */
    @Test
    public void testReferenceLinksStayInTheRepository()
            throws IOException
    {
        String reference = Files.readString(TestingOpenApi.DOCUMENT.resolveSibling("http-api.md"), StandardCharsets.UTF_8);
        Matcher links = Pattern.compile("\\]\\(([^)]*)\\)").matcher(reference);
        List<String> targets = new ArrayList<>();
        while (links.find()) {
            targets.add(links.group(1));
        }
        assertThat(targets).isNotEmpty()
                .contains("openapi.yaml", "operations.md")
                .allSatisfy(target -> assertThat(target).doesNotContain("://").doesNotStartWith("..").doesNotStartWith("/"));
        assertThat(reference).doesNotContain("shared/");
    }

    private List<String> problems(String method, String target, int status, HttpHeaders headers, String body)
    {
        return openApi.problems(method, target, status, headers, body);
    }

    private static String error(String code)
    {
        return "{\"status\":\"error\",\"result\":null,\"error\":{\"code\":\"" + code + "\",\"message\":\"a message\"},\"time\":0.0}";
    }

    /**
     * JSON content, with these further headers (name, value, name, value...).
     */
    private static HttpHeaders json(String... namesAndValues)
    {
        String[] all = new String[namesAndValues.length + 2];
        all[0] = "Content-Type";
        all[1] = "application/json";
        System.arraycopy(namesAndValues, 0, all, 2, namesAndValues.length);
        return headers(all);
    }

    private static HttpHeaders headers(String... namesAndValues)
    {
        Map<String, List<String>> map = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        for (int i = 0; i < namesAndValues.length; i += 2) {
            map.put(namesAndValues[i], List.of(namesAndValues[i + 1]));
        }
        return HttpHeaders.of(map, (name, value) -> true);
    }
}

package dev.latchkey.server.it;

import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.Base62;
import dev.latchkey.server.it.TestingUpstream.ReceivedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The nginx configuration of docs/integrations.md, run as it is written there by a real nginx ({@code
 * /usr/sbin/nginx}) in front of a real Latchkey ({@code java -jar latchkey.jar}) and an application that records
 * what reaches it ({@link TestingUpstream}). The test reads the doc's {@code nginx} block and replaces only its three
 * addresses. A second nginx runs the same block without its {@code error_page} line, to show what nginx does on its
 * own, and a third runs it against Latchkey's verify port ({@code LATCHKEY_VERIFY_PORT}). Every answer observed is printed ({@code target/failsafe-reports/*-output.txt}).
 *
 * <p>The last two tests take Latchkey's store away and then Latchkey itself.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NginxAuthRequestIT
{
    private static final String DOCS_PROPERTY = "latchkey.docs";
    private static final String ROOT_KEY = "nginx-auth-request-it-root-key-0123456789abcdef";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final String ERROR_PAGE_LINE = "error_page 500 = @latchkey_error;";
    private static final String ROLE = "X-Latchkey-Role";
    private static final String ACCOUNT = "X-Latchkey-Account";
    private static final String USER = "X-Latchkey-User";
    private static final String KEY_ID = "X-Latchkey-Key-Id";
    private static final String SCOPES = "X-Latchkey-Scopes";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final LatchkeyClient latchkeyClient = new LatchkeyClient(ROOT_KEY);
    private Path storeDirectory;
    private TestingUpstream application;
    private ServerProcess latchkey;
    private NginxProcess nginx;
    private NginxProcess nginxWithoutErrorPage;
    private NginxProcess nginxOnVerifyPort;
    private int nginxPort;
    private int nginxWithoutErrorPagePort;
    private int nginxOnVerifyPortPort;
    private String aliceKey;
    private String bobKey;

    @BeforeAll
    void startLatchkeyAndNginx(@TempDir(cleanup = CleanupMode.ON_SUCCESS) Path temporaryDirectory)
    {
        assumeTrue(NginxProcess.installed(), NginxProcess.EXECUTABLE + " is absent: install nginx (.ci/run installs it when it is missing)");
        String documented = documentedNginxConfiguration();

        application = TestingUpstream.start();
        storeDirectory = temporaryDirectory.resolve("store");
        Path logDirectory = ServerProcess.jar().resolveSibling("it-logs").resolve(getClass().getSimpleName());
        // with a verify port too, for the configuration as docs/integrations.md suggests it for the most verifications per core
        int verifyPort = NginxProcess.freePort();
        latchkey = ServerProcess.launch("latchkey", Map.of("LATCHKEY_FS_DIR", storeDirectory.toString(), "LATCHKEY_VERIFY_PORT", String.valueOf(verifyPort)),
                ROOT_KEY, logDirectory).awaitReady(START_TIMEOUT);
        aliceKey = latchkeyClient.createAccount(latchkey, "acme", "alice");
        bobKey = latchkeyClient.registerUser(latchkey, "acme", "bob", "user");

        String latchkeyAddress = latchkey.uri("/").getAuthority();
        nginxPort = NginxProcess.freePort();
        nginx = NginxProcess.start("nginx", temporaryDirectory.resolve("nginx"),
                withAddresses(documented, nginxPort, latchkeyAddress), nginxPort, START_TIMEOUT);
        nginxWithoutErrorPagePort = NginxProcess.freePort();
        nginxWithoutErrorPage = NginxProcess.start("nginx-without-error-page", temporaryDirectory.resolve("nginx-without-error-page"),
                withoutErrorPages(withAddresses(documented, nginxWithoutErrorPagePort, latchkeyAddress)), nginxWithoutErrorPagePort, START_TIMEOUT);
        nginxOnVerifyPortPort = NginxProcess.freePort();
        nginxOnVerifyPort = NginxProcess.start("nginx-on-verify-port", temporaryDirectory.resolve("nginx-on-verify-port"),
                withAddresses(documented, nginxOnVerifyPortPort, "127.0.0.1:" + verifyPort), nginxOnVerifyPortPort, START_TIMEOUT);
        System.out.printf("started %s, %s on port %d, %s on port %d and %s on port %d (to Latchkey's verify port %d) in front of the application on %s%n",
                latchkey, nginx, nginxPort, nginxWithoutErrorPage, nginxWithoutErrorPagePort, nginxOnVerifyPort, nginxOnVerifyPortPort, verifyPort,
                application.address());
    }

    @AfterAll
    void stopEverything()
    {
        for (AutoCloseable process : new AutoCloseable[] {nginx, nginxWithoutErrorPage, nginxOnVerifyPort, latchkey, application}) {
            if (process != null) {
                try {
                    process.close();
                }
                catch (Exception e) {
                    System.out.printf("stopping %s failed: %s%n", process, e);
                }
            }
        }
    }

    @Test
    @Order(1)
    void aValidKeyReachesTheApplicationWithItsIdentity()
    {
        HttpResponse<String> user = send(nginxPort, "GET", "/valid/user", null, Map.of("X-API-Key", bobKey));
        HttpResponse<String> admin = send(nginxPort, "GET", "/valid/admin", null, Map.of("Authorization", "Bearer " + aliceKey));
        System.out.printf("valid keys through nginx: user (X-API-Key) -> %d %s; admin (Authorization: Bearer) -> %d %s%n",
                user.statusCode(), user.body(), admin.statusCode(), admin.body());

        assertThat(user.statusCode()).isEqualTo(200);
        assertThat(user.body()).isEqualTo("upstream");
        assertThat(identity(onlyRequest("/valid/user", "GET"))).isEqualTo("user acme bob");
        assertThat(admin.statusCode()).isEqualTo(200);
        assertThat(identity(onlyRequest("/valid/admin", "GET"))).isEqualTo("admin acme alice");
    }

    @Test
    @Order(2)
    void identityHeadersSentByTheClientAreReplaced()
    {
        Map<String, String> spoofed = Map.of(ROLE, "root", ACCOUNT, "other", USER, "mallory", KEY_ID, "spoofedKeyId0000", SCOPES, "latchkey:admin billing:*");
        HttpResponse<String> user = send(nginxPort, "GET", "/spoofed/user", null, with(spoofed, "X-API-Key", bobKey));
        HttpResponse<String> root = send(nginxPort, "GET", "/spoofed/root", null, with(spoofed, "X-API-Key", ROOT_KEY));

        assertThat(user.statusCode()).isEqualTo(200);
        ReceivedRequest asUser = onlyRequest("/spoofed/user", "GET");
        assertThat(identity(asUser)).as("the user's identity, not the client's headers").isEqualTo("user acme bob");
        assertThat(asUser.header(KEY_ID)).as("the key's id").contains(bobKey.substring("lk_".length(), "lk_".length() + KeyId.LENGTH));
        assertThat(asUser.header(SCOPES)).as("the key's scopes").contains("*");
        assertThat(root.statusCode()).isEqualTo(200);
        ReceivedRequest asRoot = onlyRequest("/spoofed/root", "GET");
        assertThat(identity(asRoot)).as("the root key: no account and no user, whatever the client sent").isEqualTo("root - -");
        assertThat(asRoot.header(KEY_ID)).as("the root key has no key id, whatever the client sent").isEmpty();
        assertThat(asRoot.header(SCOPES)).contains("*");
    }

    @Test
    @Order(3)
    void aLocationThatAsksForAScopeLetsInOnlyTheKeysHoldingIt()
    {
        String docsReader = createKey("bob", List.of("docs:read"));
        String docsAnything = createKey("bob", List.of("docs:*"));
        String billing = createKey("bob", List.of("billing:read"));

        Map<String, Integer> answers = new LinkedHashMap<>();
        answers.put("docs-read", send(nginxPort, "GET", "/docs/read", null, Map.of("X-API-Key", docsReader)).statusCode());
        answers.put("docs-star", send(nginxPort, "GET", "/docs/star", null, Map.of("X-API-Key", docsAnything)).statusCode());
        answers.put("primary", send(nginxPort, "GET", "/docs/primary", null, Map.of("X-API-Key", bobKey)).statusCode());
        answers.put("billing", send(nginxPort, "GET", "/docs/billing", null, Map.of("X-API-Key", billing)).statusCode());
        answers.put("unknown", send(nginxPort, "GET", "/docs/unknown", null, Map.of("X-API-Key", wellFormedUnknownKey())).statusCode());
        answers.put("billing-elsewhere", send(nginxPort, "GET", "/valid/billing", null, Map.of("X-API-Key", billing)).statusCode());
        System.out.printf("a location asking for scope docs:read, through nginx: %s%n", answers);

        assertThat(answers).containsExactly(Map.entry("docs-read", 200), Map.entry("docs-star", 200), Map.entry("primary", 200),
                Map.entry("billing", 403), Map.entry("unknown", 401), Map.entry("billing-elsewhere", 200));
        assertThat(identity(onlyRequest("/docs/read", "GET"))).isEqualTo("user acme bob");
        assertThat(application.received("/docs/billing")).as("requests of a key without the scope that reached the application").isEmpty();
        assertThat(application.received("/docs/unknown")).isEmpty();
    }

    private String createKey(String userId, List<String> scopes)
    {
        LatchkeyClient.Response created = latchkeyClient.tryCreateKey(latchkey, "acme", userId, Map.of("scopes", scopes));
        assertThat(created.status()).as("create a key with scopes %s: %s", scopes, created).isEqualTo(200);
        return created.result().path("user_key").asText();
    }

    @Test
    @Order(4)
    void refusedKeysNeverReachTheApplication()
    {
        String carolKey = latchkeyClient.registerUser(latchkey, "acme", "carol", "user");
        assertThat(latchkeyClient.tryRegenerateKey(latchkey, "acme", "carol").status()).isEqualTo(200);
        Map<String, Map<String, String>> cases = new LinkedHashMap<>();
        cases.put("no-key", Map.of());
        cases.put("malformed", Map.of("X-API-Key", "not-a-key"));
        cases.put("bad-checksum", Map.of("X-API-Key", withBadChecksum(bobKey)));
        cases.put("unknown", Map.of("X-API-Key", wellFormedUnknownKey()));
        cases.put("unknown-bearer", Map.of("Authorization", "Bearer " + wellFormedUnknownKey()));
        cases.put("revoked", Map.of("X-API-Key", carolKey));
        cases.put("head-without-key", Map.of());

        Map<String, Integer> answers = new LinkedHashMap<>();
        cases.forEach((name, headers) -> answers.put(name, send(nginxPort, name.startsWith("head") ? "HEAD" : "GET", "/refused/" + name, null, headers).statusCode()));
        System.out.printf("refused keys through nginx: %s%n", answers);

        assertThat(answers).allSatisfy((name, status) -> assertThat(status).as(name).isEqualTo(401));
        assertThat(cases.keySet()).allSatisfy(name -> assertThat(application.received("/refused/" + name)).as("requests of %s that reached the application", name).isEmpty());
    }

    @Test
    @Order(5)
    void postAndHeadAreCheckedAndReachTheApplicationUnchanged()
    {
        HttpResponse<String> post = send(nginxPort, "POST", "/methods/post", "{\"hello\": \"world\"}", Map.of("X-API-Key", bobKey, "Content-Type", "application/json"));
        HttpResponse<String> head = send(nginxPort, "HEAD", "/methods/head", null, Map.of("X-API-Key", bobKey));
        System.out.printf("through nginx with a valid key: POST -> %d, HEAD -> %d%n", post.statusCode(), head.statusCode());

        assertThat(post.statusCode()).isEqualTo(200);
        ReceivedRequest received = onlyRequest("/methods/post", "POST");
        assertThat(received.body()).as("the body, which the verify subrequest did not take").isEqualTo("{\"hello\": \"world\"}");
        assertThat(identity(received)).isEqualTo("user acme bob");
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(identity(onlyRequest("/methods/head", "HEAD"))).isEqualTo("user acme bob");
    }

    @Test
    @Order(6)
    void theApplicationsOwnErrorsPassUnchanged()
    {
        HttpResponse<String> failing = send(nginxPort, "GET", TestingUpstream.FAILING_PATH, null, Map.of("X-API-Key", bobKey));

        assertThat(failing.statusCode()).as("the application's 500, not turned into a 503 by error_page").isEqualTo(500);
        assertThat(failing.body()).isEqualTo("upstream failed");
    }

    @Test
    @Order(7)
    void theVerifyLocationIsInternal()
    {
        assertThat(send(nginxPort, "GET", "/_latchkey/verify", null, Map.of("X-API-Key", bobKey)).statusCode()).isEqualTo(404);
    }

    @Test
    @Order(8)
    void conflictingKeyHeadersAreAClientError()
    {
        Map<String, String> conflicting = Map.of("X-API-Key", bobKey, "Authorization", "Bearer " + aliceKey);
        int mapped = send(nginxPort, "GET", "/conflicting/mapped", null, conflicting).statusCode();
        int unmapped = send(nginxWithoutErrorPagePort, "GET", "/conflicting/unmapped", null, conflicting).statusCode();
        System.out.printf("conflicting key headers (Latchkey answers 400): nginx -> %d, nginx without error_page -> %d%n", mapped, unmapped);

        assertThat(mapped).isEqualTo(400);
        assertThat(unmapped).isEqualTo(500);
        assertThat(application.received("/conflicting/mapped")).isEmpty();
        assertThat(application.received("/conflicting/unmapped")).isEmpty();
        assertThat(nginxWithoutErrorPage.errorLog()).contains("auth request unexpected status: 400");
    }

    /**
     * Not nginx's concern (its subrequests are always GET), but other proxies forward the client's method.
     */
    @Test
    @Order(9)
    void verifyAnswersHeadLikeGet()
    {
        HttpResponse<String> withoutKey = send(latchkey.uri("/api/v1/auth/verify"), "HEAD", null, Map.of());
        HttpResponse<String> withKey = send(latchkey.uri("/api/v1/auth/verify"), "HEAD", null, Map.of("X-API-Key", bobKey));

        assertThat(withoutKey.statusCode()).isEqualTo(401);
        assertThat(withKey.statusCode()).isEqualTo(200);
        assertThat(withKey.headers().firstValue(ROLE)).contains("user");
        assertThat(withKey.headers().firstValue(ACCOUNT)).contains("acme");
        assertThat(withKey.headers().firstValue(USER)).contains("bob");
    }

    /**
     * The same configuration with {@code upstream latchkey} on the verify port: the same decisions, the same identity.
     */
    @Test
    @Order(10)
    void theVerifyPortServesTheSameConfiguration()
    {
        String docsReader = createKey("bob", List.of("docs:read"));
        String billing = createKey("bob", List.of("billing:read"));
        Map<String, Integer> answers = new LinkedHashMap<>();
        answers.put("valid", send(nginxOnVerifyPortPort, "GET", "/verify-port/valid", null, Map.of("X-API-Key", bobKey)).statusCode());
        answers.put("bearer", send(nginxOnVerifyPortPort, "GET", "/verify-port/bearer", null, Map.of("Authorization", "Bearer " + aliceKey)).statusCode());
        answers.put("root", send(nginxOnVerifyPortPort, "GET", "/verify-port/root", null, Map.of("X-API-Key", ROOT_KEY, ACCOUNT, "spoofed")).statusCode());
        answers.put("docs-read", send(nginxOnVerifyPortPort, "GET", "/docs/verify-port-read", null, Map.of("X-API-Key", docsReader)).statusCode());
        answers.put("docs-primary", send(nginxOnVerifyPortPort, "GET", "/docs/verify-port-primary", null, Map.of("X-API-Key", bobKey)).statusCode());
        answers.put("docs-billing", send(nginxOnVerifyPortPort, "GET", "/docs/verify-port-billing", null, Map.of("X-API-Key", billing)).statusCode());
        answers.put("docs-elsewhere", send(nginxOnVerifyPortPort, "GET", "/verify-port/docs-elsewhere", null, Map.of("X-API-Key", docsReader)).statusCode());
        answers.put("docs-scope-only", send(nginxOnVerifyPortPort, "GET", "/docs/verify-port-unknown", null, Map.of("X-API-Key", wellFormedUnknownKey())).statusCode());
        answers.put("unknown", send(nginxOnVerifyPortPort, "GET", "/verify-port/unknown", null, Map.of("X-API-Key", wellFormedUnknownKey())).statusCode());
        answers.put("malformed", send(nginxOnVerifyPortPort, "GET", "/verify-port/malformed", null, Map.of("X-API-Key", "not-a-key")).statusCode());
        answers.put("no-key", send(nginxOnVerifyPortPort, "GET", "/verify-port/no-key", null, Map.of()).statusCode());
        answers.put("conflicting", send(nginxOnVerifyPortPort, "GET", "/verify-port/conflicting", null,
                Map.of("X-API-Key", bobKey, "Authorization", "Bearer " + aliceKey)).statusCode());
        System.out.printf("through nginx to Latchkey's verify port: %s%n", answers);

        assertThat(answers).containsExactly(Map.entry("valid", 200), Map.entry("bearer", 200), Map.entry("root", 200), Map.entry("docs-read", 200),
                Map.entry("docs-primary", 200), Map.entry("docs-billing", 403), Map.entry("docs-elsewhere", 200), Map.entry("docs-scope-only", 401), Map.entry("unknown", 401),
                Map.entry("malformed", 401), Map.entry("no-key", 401), Map.entry("conflicting", 400));
        assertThat(identity(onlyRequest("/verify-port/valid", "GET"))).isEqualTo("user acme bob");
        assertThat(identity(onlyRequest("/verify-port/bearer", "GET"))).isEqualTo("admin acme alice");
        assertThat(identity(onlyRequest("/verify-port/root", "GET"))).isEqualTo("root - -");
        assertThat(identity(onlyRequest("/docs/verify-port-read", "GET"))).isEqualTo("user acme bob");
        for (String refused : List.of("/docs/verify-port-billing", "/docs/verify-port-unknown", "/verify-port/unknown", "/verify-port/malformed", "/verify-port/no-key", "/verify-port/conflicting")) {
            assertThat(application.received(refused)).as("requests to %s that reached the application", refused).isEmpty();
        }
    }

    /**
     * Latchkey answers 503 for a key it does not know while its store is unreachable, here because the store's
     * {@code keys} directory (docs/storage-filesystem.md) has been replaced by a file; a key it has cached still
     * passes.
     */
    @Test
    @Order(98)
    void latchkeyAnswering503()
            throws IOException
    {
        Path keys = storeDirectory.resolve("keys");
        Path away = storeDirectory.resolve("keys.away");
        Files.move(keys, away);
        Files.createFile(keys);
        try {
            String unknown = wellFormedUnknownKey();
            LatchkeyClient.Response direct = latchkeyClient.verify(latchkey, unknown);
            HttpResponse<String> mapped = send(nginxPort, "GET", "/store-unreachable/mapped", null, Map.of("X-API-Key", wellFormedUnknownKey()));
            int unmapped = send(nginxWithoutErrorPagePort, "GET", "/store-unreachable/unmapped", null, Map.of("X-API-Key", wellFormedUnknownKey())).statusCode();
            int cached = send(nginxPort, "GET", "/store-unreachable/cached", null, Map.of("X-API-Key", bobKey)).statusCode();
            System.out.printf("store unreachable, unknown key: Latchkey -> %s; nginx -> %d (Retry-After %s); nginx without error_page -> %d; cached key through nginx -> %d%n",
                    direct, mapped.statusCode(), mapped.headers().firstValue("Retry-After").orElse("absent"), unmapped, cached);

            assertThat(direct.status()).as("Latchkey itself, the premise: %s", direct).isEqualTo(503);
            assertThat(mapped.statusCode()).isEqualTo(503);
            assertThat(mapped.headers().firstValue("Retry-After")).contains("1");
            assertThat(unmapped).as("nginx's own answer to a 503 from the auth request").isEqualTo(500);
            assertThat(nginxWithoutErrorPage.errorLog()).contains("auth request unexpected status: 503");
            assertThat(application.received("/store-unreachable/mapped")).isEmpty();
            assertThat(application.received("/store-unreachable/unmapped")).isEmpty();
            assertThat(cached).as("a key Latchkey has cached, during the outage").isEqualTo(200);
            assertThat(identity(onlyRequest("/store-unreachable/cached", "GET"))).isEqualTo("user acme bob");
        }
        finally {
            Files.delete(keys);
            Files.move(away, keys);
        }
    }

    @Test
    @Order(99)
    void latchkeyUnreachable()
    {
        latchkey.close();
        HttpResponse<String> mapped = send(nginxPort, "GET", "/latchkey-stopped/mapped", null, Map.of("X-API-Key", bobKey));
        int unmapped = send(nginxWithoutErrorPagePort, "GET", "/latchkey-stopped/unmapped", null, Map.of("X-API-Key", bobKey)).statusCode();
        System.out.printf("Latchkey stopped, valid key: nginx -> %d (Retry-After %s); nginx without error_page -> %d%n",
                mapped.statusCode(), mapped.headers().firstValue("Retry-After").orElse("absent"), unmapped);

        assertThat(mapped.statusCode()).isEqualTo(503);
        assertThat(mapped.headers().firstValue("Retry-After")).contains("1");
        assertThat(unmapped).as("nginx's own answer when the auth request cannot connect").isEqualTo(500);
        assertThat(nginxWithoutErrorPage.errorLog()).contains("auth request unexpected status: 502");
        assertThat(application.received("/latchkey-stopped/mapped")).isEmpty();
        assertThat(application.received("/latchkey-stopped/unmapped")).isEmpty();
    }

    // --- the documented configuration

    /**
     * The one {@code nginx} block of docs/integrations.md, as written there.
     */
    private static String documentedNginxConfiguration()
    {
        String docs = System.getProperty(DOCS_PROPERTY);
        assertThat(docs).as("system property %s (run through failsafe: ./mvnw verify)", DOCS_PROPERTY).isNotBlank();
        Path file = Path.of(docs, "integrations.md");
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String fence = "```nginx\n";
        int start = text.indexOf(fence);
        assertThat(start).as("an nginx block in %s", file).isNotNegative();
        assertThat(text.indexOf(fence, start + 1)).as("a second nginx block in %s (this test runs only one)", file).isNegative();
        int end = text.indexOf("\n```", start + fence.length());
        assertThat(end).as("the end of the nginx block in %s", file).isPositive();
        return text.substring(start + fence.length(), end + 1);
    }

    /**
     * The documented configuration with this test's addresses in place of the doc's.
     */
    private String withAddresses(String documented, int listenPort, String latchkeyAddress)
    {
        String config = replaceOnce(documented, "listen 80;", "listen 127.0.0.1:" + listenPort + ";");
        config = replaceOnce(config, "server 127.0.0.1:1933;", "server " + latchkeyAddress + ";");
        return replaceOnce(config, "server 127.0.0.1:8080;", "server " + application.address() + ";");
    }

    /**
     * The configuration without its {@code error_page} lines (one per protected location).
     */
    private static String withoutErrorPages(String config)
    {
        assertThat(config).as("the documented configuration").contains(ERROR_PAGE_LINE);
        return config.replace(ERROR_PAGE_LINE, "");
    }

    private static String replaceOnce(String text, String target, String replacement)
    {
        int at = text.indexOf(target);
        assertThat(at).as("'%s' in the documented configuration", target).isNotNegative();
        assertThat(text.indexOf(target, at + 1)).as("a second '%s' in the documented configuration", target).isNegative();
        return text.substring(0, at) + replacement + text.substring(at + target.length());
    }

    // --- requests and what reached the application

    private HttpResponse<String> send(int port, String method, String path, String body, Map<String, String> headers)
    {
        return send(URI.create("http://127.0.0.1:" + port + path), method, body, headers);
    }

    private HttpResponse<String> send(URI uri, String method, String body, Map<String, String> headers)
    {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri)
                .timeout(Duration.ofSeconds(15))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        headers.forEach(request::header);
        try {
            return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        }
        catch (IOException e) {
            throw new UncheckedIOException(method + " " + uri + " got no response", e);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted during " + method + " " + uri, e);
        }
    }

    private ReceivedRequest onlyRequest(String path, String method)
    {
        List<ReceivedRequest> received = application.received(path);
        assertThat(received).as("requests for %s that reached the application", path).hasSize(1);
        assertThat(received.get(0).method()).isEqualTo(method);
        return received.get(0);
    }

    /**
     * The identity headers a request reached the application with: {@code role account user}, {@code -} for an
     * absent header.
     */
    private static String identity(ReceivedRequest request)
    {
        return String.join(" ", request.header(ROLE).orElse("-"), request.header(ACCOUNT).orElse("-"), request.header(USER).orElse("-"));
    }

    private static Map<String, String> with(Map<String, String> headers, String name, String value)
    {
        Map<String, String> all = new LinkedHashMap<>(headers);
        all.put(name, value);
        return all;
    }

    // --- keys

    /**
     * A key of the right shape and checksum whose key id is in no store.
     */
    private static String wellFormedUnknownKey()
    {
        return ApiKey.of(KeyId.of(randomBase62(KeyId.LENGTH)), randomBase62(32)).value();
    }

    /**
     * The key with its last check character changed, so that its checksum fails.
     */
    private static String withBadChecksum(String key)
    {
        char last = key.charAt(key.length() - 1);
        char other = Base62.ALPHABET.charAt((Base62.ALPHABET.indexOf(last) + 1) % Base62.ALPHABET.length());
        return key.substring(0, key.length() - 1) + other;
    }

    private static String randomBase62(int length)
    {
        StringBuilder text = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            text.append(Base62.ALPHABET.charAt(RANDOM.nextInt(Base62.ALPHABET.length())));
        }
        return text.toString();
    }
}

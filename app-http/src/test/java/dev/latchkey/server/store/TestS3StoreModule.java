package dev.latchkey.server.store;

import dev.latchkey.adapters.s3.S3StoreConfig;
import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.server.LatchkeyServer;
import dev.latchkey.server.config.ConfigException;
import dev.latchkey.server.config.Settings;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * LATCHKEY_STORE=s3: its settings, and a server on a real S3-compatible server (S3Mock).
 */
class TestS3StoreModule
{
    private static final String ROOT_KEY = "root-key-for-the-s3-store-module-test-0123456789";
    private static final String BUCKET = "LATCHKEY_S3_BUCKET";
    private static final String PREFIX = "LATCHKEY_S3_PREFIX";
    private static final String ENDPOINT = "LATCHKEY_S3_ENDPOINT";
    private static final String REGION = "LATCHKEY_S3_REGION";
    private static final String PATH_STYLE = "LATCHKEY_S3_PATH_STYLE";
    private static final String WRITE_TIMEOUT = "LATCHKEY_S3_WRITE_TIMEOUT";

    @Test
    void theBucketIsRequired()
    {
        assertThatThrownBy(() -> StoreModules.select("s3", Settings.of(Map.of())))
                .isInstanceOf(ConfigException.class)
                .hasMessage("LATCHKEY_S3_BUCKET is required with LATCHKEY_STORE=s3");
        assertThatThrownBy(() -> StoreModules.select("s3", Settings.of(Map.of(BUCKET, ""))))
                .isInstanceOf(ConfigException.class)
                .hasMessage("LATCHKEY_S3_BUCKET is required with LATCHKEY_STORE=s3");
        for (String bucket : List.of("ab", "a b", "bucket/latchkey", "-bucket", "bucket.", "s3://bucket", "b".repeat(256), "bücket")) {
            assertThatThrownBy(() -> select(Map.of(BUCKET, bucket)))
                    .as(bucket)
                    .isInstanceOf(ConfigException.class)
                    .hasMessageContaining(BUCKET)
                    .hasMessageContaining("'" + bucket + "'");
        }
        for (String bucket : List.of("abc", "latchkey-prod", "my.bucket.example", "Legacy_Bucket", "b".repeat(255))) {
            assertThat(select(Map.of(BUCKET, bucket)).config().bucket()).isEqualTo(bucket);
        }
    }

    @Test
    void theDefaults()
    {
        S3StoreModule store = select(Map.of(BUCKET, "latchkey-prod"));

        assertThat(store.kind()).isEqualTo("s3");
        assertThat(store.config()).isEqualTo(S3StoreConfig.of("latchkey-prod"));
        assertThat(store.config().prefix()).isEqualTo("latchkey/");
        assertThat(store.config().endpoint()).isEmpty();
        assertThat(store.config().region()).isEqualTo("us-east-1");
        assertThat(store.config().pathStyle()).isFalse();
        assertThat(store.config().writeTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(store.credentialsFromSettings()).isFalse();
        assertThat(store.location()).isEqualTo("s3://latchkey-prod/latchkey/ (region us-east-1)");
        assertThat(store.generatedRootKey()).isEmpty();
    }

    @Test
    void everySettingIsRead()
    {
        S3StoreModule store = select(Map.of(
                BUCKET, "latchkey-test",
                PREFIX, "tenants/eu/",
                ENDPOINT, "http://127.0.0.1:9000",
                REGION, "eu-west-3",
                PATH_STYLE, "true",
                WRITE_TIMEOUT, "2500ms"));

        assertThat(store.config()).isEqualTo(S3StoreConfig.of("latchkey-test")
                .withPrefix("tenants/eu/")
                .withEndpoint(URI.create("http://127.0.0.1:9000"))
                .withRegion("eu-west-3")
                .withPathStyle(true)
                .withWriteTimeout(Duration.ofMillis(2500)));
        assertThat(store.location()).isEqualTo("s3://latchkey-test/tenants/eu/ via http://127.0.0.1:9000 (region eu-west-3, path-style)");

        assertThat(select(Map.of(BUCKET, "b-1", PATH_STYLE, "false")).config().pathStyle()).isFalse();
        assertThat(select(Map.of(BUCKET, "b-1", ENDPOINT, "https://s3.example.com/")).config().endpoint()).contains(URI.create("https://s3.example.com/"));
        assertThat(select(Map.of(BUCKET, "b-1", ENDPOINT, "")).config().endpoint()).isEmpty();
        assertThat(select(Map.of(BUCKET, "b-1", WRITE_TIMEOUT, "500ms")).config().writeTimeout()).as("the least accepted").isEqualTo(Duration.ofMillis(500));
    }

    /**
     * A prefix must end with {@code /}: it is refused rather than completed, so that what the bucket holds is where the
     * setting says. Empty is the whole bucket.
     */
    @Test
    void aPrefixEndsWithASlash()
    {
        assertThat(select(Map.of(BUCKET, "b-1", PREFIX, "")).config().prefix()).isEmpty();
        assertThat(select(Map.of(BUCKET, "b-1", PREFIX, "latchkey/")).config().prefix()).isEqualTo("latchkey/");
        assertThat(select(Map.of(BUCKET, "b-1", PREFIX, "a/b/c/")).config().prefix()).isEqualTo("a/b/c/");
        assertThat(select(Map.of(BUCKET, "b-1", PREFIX, "a/b/c/")).location()).isEqualTo("s3://b-1/a/b/c/ (region us-east-1)");
        for (String prefix : List.of("latchkey", "/latchkey/", "/", "a/b")) {
            assertThatThrownBy(() -> select(Map.of(BUCKET, "b-1", PREFIX, prefix)))
                    .as(prefix)
                    .isInstanceOf(ConfigException.class)
                    .hasMessageContaining(PREFIX)
                    .hasMessageContaining("ending with '/'")
                    .hasMessageContaining("'" + prefix + "'");
        }
    }

    @Test
    void anEndpointIsTheAddressOfAnHttpServer()
    {
        Map<String, String> refusals = Map.of(
                "not a uri", "not a valid URI",
                "localhost:9000", "http:// or https://",
                "ftp://files.example", "http:// or https://",
                "http://", "not a valid URI",
                "http:///bucket", "must name a host",
                "http://127.0.0.1:9000/bucket", "no path, query or fragment",
                "http://127.0.0.1:9000?x=1", "no path, query or fragment",
                "http://127.0.0.1:9000#top", "no path, query or fragment");
        refusals.forEach((endpoint, reason) -> assertThatThrownBy(() -> select(Map.of(BUCKET, "b-1", ENDPOINT, endpoint)))
                .as(endpoint)
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(ENDPOINT)
                .hasMessageContaining(reason));
        for (String endpoint : List.of("http://admin:s3cr3t@127.0.0.1:9000", "http://admin:s3 cr3t@127.0.0.1:9000", "ftp://admin:s3cr3t@127.0.0.1")) {
            assertThatThrownBy(() -> select(Map.of(BUCKET, "b-1", ENDPOINT, endpoint)))
                    .as(endpoint)
                    .isInstanceOf(ConfigException.class)
                    .hasMessageContaining(ENDPOINT)
                    .message().doesNotContain("s3cr3t");
        }
    }

    @Test
    void theRegionAndPathStyleAreChecked()
    {
        for (String region : List.of("", "us east 1", "us-east-1/", "-us-east-1")) {
            assertThatThrownBy(() -> select(Map.of(BUCKET, "b-1", REGION, region)))
                    .as(region)
                    .isInstanceOf(ConfigException.class)
                    .hasMessageContaining(REGION)
                    .hasMessageContaining("'" + region + "'");
        }
        assertThat(select(Map.of(BUCKET, "b-1", REGION, "auto")).config().region()).isEqualTo("auto");
        for (String pathStyle : List.of("", "yes", "1", "TRUE", "False", "on")) {
            assertThatThrownBy(() -> select(Map.of(BUCKET, "b-1", PATH_STYLE, pathStyle)))
                    .as(pathStyle)
                    .isInstanceOf(ConfigException.class)
                    .hasMessage("LATCHKEY_S3_PATH_STYLE must be true or false, not '" + pathStyle + "'");
        }
    }

    @Test
    void credentialsComeInPairsAndAreNeverEchoed()
    {
        String secret = "wJalrXUtnFEMI-secret";
        assertThat(select(Map.of(BUCKET, "b-1", "AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY", secret)).credentialsFromSettings()).isTrue();
        assertThat(select(Map.of(BUCKET, "b-1", "AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY", secret, "AWS_SESSION_TOKEN", "token"))
                .credentialsFromSettings()).isTrue();
        assertThat(select(Map.of(BUCKET, "b-1", "AWS_ACCESS_KEY_ID", "", "AWS_SECRET_ACCESS_KEY", "")).credentialsFromSettings()).isFalse();

        assertThatThrownBy(() -> select(Map.of(BUCKET, "b-1", "AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")))
                .isInstanceOf(ConfigException.class)
                .hasMessage("AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY");
        assertThatThrownBy(() -> select(Map.of(BUCKET, "b-1", "AWS_SECRET_ACCESS_KEY", secret)))
                .isInstanceOf(ConfigException.class)
                .hasMessage("AWS_SECRET_ACCESS_KEY is set without AWS_ACCESS_KEY_ID");
        assertThatThrownBy(() -> select(Map.of(BUCKET, "b-1", "AWS_SESSION_TOKEN", secret)))
                .isInstanceOf(ConfigException.class)
                .hasMessage("AWS_SESSION_TOKEN is set without AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    }

    @Test
    void startUpFailsWithoutARootKey()
    {
        assertThatThrownBy(() -> LatchkeyServer.start(Settings.of(Map.of(
                "LATCHKEY_STORE", "s3",
                BUCKET, "latchkey-test",
                ENDPOINT, "http://127.0.0.1:9",
                PATH_STYLE, "true",
                "LATCHKEY_HTTP_PORT", "0"))))
                .isInstanceOf(ConfigException.class)
                .hasMessage("LATCHKEY_ROOT_KEY is required with the s3 store");
    }

    /**
     * A server on S3Mock, with the credentials in its settings (as from a config file): ready, takes writes, serves
     * the keys it wrote, and keeps its objects under its prefix.
     */
    @Test
    void aServerOnS3IsReadyAndWrites()
            throws Exception
    {
        TestingS3 s3 = TestingS3.shared();
        String prefix = TestingS3.uniquePrefix("server");
        Map<String, String> settings = new HashMap<>();
        settings.put("LATCHKEY_STORE", "s3");
        settings.put(BUCKET, s3.bucket());
        settings.put(PREFIX, prefix);
        settings.put(ENDPOINT, s3.endpoint().toString());
        settings.put(PATH_STYLE, "true");
        settings.put("AWS_ACCESS_KEY_ID", TestingS3.ACCESS_KEY);
        settings.put("AWS_SECRET_ACCESS_KEY", TestingS3.SECRET_KEY);
        settings.put("LATCHKEY_ROOT_KEY", ROOT_KEY);
        settings.put("LATCHKEY_HTTP_PORT", "0");
        try (LatchkeyServer server = LatchkeyServer.start(Settings.of(settings))) {
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            String base = "http://127.0.0.1:" + server.port();

            HttpResponse<String> ready = http.send(HttpRequest.newBuilder(URI.create(base + "/ready")).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(ready.statusCode()).as("/ready: %s", ready.body()).isEqualTo(200);
            assertThat(ready.body()).contains("\"store\":\"s3\"");

            HttpResponse<String> created = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/admin/accounts"))
                            .header("X-API-Key", ROOT_KEY)
                            .header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString("{\"account_id\":\"acme\",\"admin_user_id\":\"alice\"}"))
                            .timeout(Duration.ofSeconds(10))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(created.statusCode()).as("create account: %s", created.body()).isEqualTo(200);
            String key = created.body().replaceAll(".*\"user_key\":\"([^\"]+)\".*", "$1");

            HttpResponse<String> verified = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/auth/verify"))
                            .header("X-API-Key", key)
                            .timeout(Duration.ofSeconds(10))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(verified.statusCode()).as("verify: %s", verified.body()).isEqualTo(200);
            assertThat(verified.headers().firstValue("X-Latchkey-Account")).contains("acme");
        }
        try (S3Client client = s3.newClient()) {
            List<String> objects = client.listObjectsV2(request -> request.bucket(s3.bucket()).prefix(prefix)).contents().stream()
                    .map(S3Object::key)
                    .toList();
            assertThat(objects).as("objects under %s", prefix)
                    .contains(prefix + "head.json")
                    .anySatisfy(object -> assertThat(object).startsWith(prefix + "accounts/acme/"))
                    .anySatisfy(object -> assertThat(object).startsWith(prefix + "keys/"));
        }
    }

    private static S3StoreModule select(Map<String, String> values)
    {
        return (S3StoreModule) StoreModules.select("s3", Settings.of(values));
    }
}

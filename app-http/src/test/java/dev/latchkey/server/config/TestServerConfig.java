package dev.latchkey.server.config;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.resolver.ResolverConfig;
import dev.latchkey.server.LatchkeyServer;
import dev.latchkey.server.TestingLogCapture;
import dev.latchkey.server.store.StoreModule;
import dev.latchkey.server.store.StoreModules;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

import static dev.latchkey.server.config.ServerConfig.CACHE_MAX_KEYS;
import static dev.latchkey.server.config.ServerConfig.CACHE_TTL;
import static dev.latchkey.server.config.ServerConfig.DEFAULT_ACCOUNT;
import static dev.latchkey.server.config.ServerConfig.HTTP_HOST;
import static dev.latchkey.server.config.ServerConfig.HTTP_PORT;
import static dev.latchkey.server.config.ServerConfig.KEY_PEPPER;
import static dev.latchkey.server.config.ServerConfig.MAX_STALE;
import static dev.latchkey.server.config.ServerConfig.NEGATIVE_TTL;
import static dev.latchkey.server.config.ServerConfig.POLL_INTERVAL;
import static dev.latchkey.server.config.ServerConfig.READY_MAX_LAG;
import static dev.latchkey.server.config.ServerConfig.ROOT_KEY;
import static dev.latchkey.server.config.ServerConfig.SHUTDOWN_DRAIN;
import static dev.latchkey.server.config.ServerConfig.STORE;
import static dev.latchkey.server.store.S3StoreModule.BUCKET;
import static dev.latchkey.server.store.S3StoreModule.ENDPOINT;
import static dev.latchkey.server.store.S3StoreModule.PATH_STYLE;
import static dev.latchkey.server.store.S3StoreModule.PREFIX;
import static dev.latchkey.server.store.S3StoreModule.REGION;
import static dev.latchkey.server.store.S3StoreModule.WRITE_TIMEOUT;
import static dev.latchkey.server.store.StoreModules.FS_DIR;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * The settings of running.md: every variable read with its default or its value, durations in their syntax, and
 * every bad value refused with a {@link ConfigException} whose message names the variable (and never echoes a
 * secret), first at the level of {@link Settings} and {@link ServerConfig}, then through a real start-up.
 */
public class TestServerConfig
{
    private static final String A_ROOT_KEY = "configured-root-key-" + "K".repeat(20);
    private static final List<String> DURATIONS = List.of(POLL_INTERVAL, NEGATIVE_TTL, CACHE_TTL, MAX_STALE, READY_MAX_LAG, SHUTDOWN_DRAIN,
            ServerConfig.AUDIT_RETENTION, ServerConfig.USAGE_FLUSH, ServerConfig.HEARTBEAT, ServerConfig.WAIT_TIMEOUT);
    private static final Set<String> ZERO_ALLOWED = Set.of(MAX_STALE, SHUTDOWN_DRAIN);

    @Test
    public void testDefaults()
    {
        ServerConfig config = ServerConfig.from(Settings.of(Map.of()));

        assertThat(config.host()).isEqualTo("127.0.0.1");
        assertThat(config.port()).isEqualTo(1933);
        assertThat(config.rootKey()).isEmpty();
        assertThat(config.storeKind()).isEqualTo("filesystem");
        assertThat(config.resolver().pollInterval()).isEqualTo(Duration.ofMillis(250));
        assertThat(config.resolver().negativeTtl()).isEqualTo(Duration.ofSeconds(2));
        assertThat(config.resolver().cacheTtl()).isEqualTo(Duration.ofMinutes(10));
        assertThat(config.resolver().maxStale()).isEqualTo(Duration.ofMinutes(5));
        assertThat(config.resolver().maxKeys()).isEqualTo(1_000_000);
        assertThat(config.readyMaxLag()).isEqualTo(Duration.ofSeconds(3));
        assertThat(config.pepper()).isEmpty();
        assertThat(config.defaultAccount()).contains(AccountId.of("default"));
        assertThat(config.shutdownDrain()).isZero();
        assertThat(config.logFormat()).isEqualTo(LogFormat.TEXT);
        assertThat(config.instanceId()).endsWith(":1933").matches("[A-Za-z0-9._-]+:1933");
        assertThat(config.auditRetention()).isEqualTo(Duration.ofDays(90));
        assertThat(config.usageFlush()).isEqualTo(Duration.ofSeconds(60));
        assertThat(config.heartbeat()).isEqualTo(Duration.ofSeconds(10));
        assertThat(config.waitTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(config.resolver().maxStaleAdmin()).isEqualTo(config.resolver().maxStale());
        assertThat(config.advertisedUrl()).isEmpty();
        StoreModule store = StoreModules.select(config.storeKind(), Settings.of(Map.of()));
        assertThat(store.kind()).isEqualTo("filesystem");
        assertThat(Path.of(store.location())).isEqualTo(Path.of("data").toAbsolutePath());
    }

    @Test
    public void testEveryVariableIsRead(@TempDir Path directory)
    {
        Map<String, String> values = new HashMap<>();
        values.put(HTTP_HOST, "0.0.0.0");
        values.put(HTTP_PORT, "8080");
        values.put(ROOT_KEY, A_ROOT_KEY);
        values.put(STORE, "filesystem");
        values.put(FS_DIR, directory.resolve("store").toString());
        values.put(POLL_INTERVAL, "100ms");
        values.put(NEGATIVE_TTL, "5s");
        values.put(CACHE_TTL, "1h");
        values.put(MAX_STALE, "0");
        values.put(CACHE_MAX_KEYS, "5000");
        values.put(READY_MAX_LAG, "10s");
        values.put(KEY_PEPPER, "a-pepper");
        values.put(DEFAULT_ACCOUNT, "tenants");
        values.put(SHUTDOWN_DRAIN, "15s");
        values.put(LogFormat.SETTING, "json");
        values.put(ServerConfig.INSTANCE_ID, "web-3.example:8080");
        values.put(ServerConfig.AUDIT_RETENTION, "30d");
        values.put(ServerConfig.USAGE_FLUSH, "15s");
        values.put(ServerConfig.HEARTBEAT, "30s");
        values.put(ServerConfig.WAIT_TIMEOUT, "2s");
        values.put(ServerConfig.MAX_STALE_ADMIN, "0");
        values.put(ServerConfig.ADVERTISED_URL, "https://web-3.example:8443/");
        Settings settings = Settings.of(values);

        ServerConfig config = ServerConfig.from(settings);

        assertThat(config.host()).isEqualTo("0.0.0.0");
        assertThat(config.port()).isEqualTo(8080);
        assertThat(config.rootKey()).contains(A_ROOT_KEY);
        assertThat(config.storeKind()).isEqualTo("filesystem");
        assertThat(config.resolver()).isEqualTo(ResolverConfig.defaults()
                .withPollInterval(Duration.ofMillis(100))
                .withNegativeTtl(Duration.ofSeconds(5))
                .withCacheTtl(Duration.ofHours(1))
                .withMaxStale(Duration.ZERO)
                .withMaxKeys(5000)
                .withMaxStaleAdmin(Duration.ZERO));
        assertThat(config.readyMaxLag()).isEqualTo(Duration.ofSeconds(10));
        assertThat(config.pepper()).contains("a-pepper");
        assertThat(config.defaultAccount()).contains(AccountId.of("tenants"));
        assertThat(config.shutdownDrain()).isEqualTo(Duration.ofSeconds(15));
        assertThat(config.logFormat()).isEqualTo(LogFormat.JSON);
        assertThat(config.instanceId()).isEqualTo("web-3.example:8080");
        assertThat(config.auditRetention()).isEqualTo(Duration.ofDays(30));
        assertThat(config.usageFlush()).isEqualTo(Duration.ofSeconds(15));
        assertThat(config.heartbeat()).isEqualTo(Duration.ofSeconds(30));
        assertThat(config.waitTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(config.advertisedUrl()).contains("https://web-3.example:8443");
        assertThat(StoreModules.select(config.storeKind(), settings).location()).isEqualTo(directory.resolve("store").toString());
    }

    @Test
    public void testTheAdminStalenessBoundFollowsMaxStaleUnlessSetAndNeverExceedsIt()
    {
        assertThat(ServerConfig.from(Settings.of(Map.of(MAX_STALE, "30s"))).resolver().maxStaleAdmin()).isEqualTo(Duration.ofSeconds(30));
        assertThat(ServerConfig.from(Settings.of(Map.of(MAX_STALE, "30s", ServerConfig.MAX_STALE_ADMIN, "10s"))).resolver().maxStaleAdmin())
                .isEqualTo(Duration.ofSeconds(10));
        assertThat(ServerConfig.from(Settings.of(Map.of(MAX_STALE, "30s", ServerConfig.MAX_STALE_ADMIN, "30s"))).resolver().maxStaleAdmin())
                .isEqualTo(Duration.ofSeconds(30));
        assertThatThrownBy(() -> ServerConfig.from(Settings.of(Map.of(MAX_STALE, "30s", ServerConfig.MAX_STALE_ADMIN, "31s"))))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(ServerConfig.MAX_STALE_ADMIN)
                .hasMessageContaining(MAX_STALE);
    }

    @Test
    public void testVerifyPort()
    {
        ServerConfig defaults = ServerConfig.from(Settings.of(Map.of()));
        assertThat(defaults.verifyPort()).as("no verify port unless asked for").isEmpty();
        assertThat(defaults.verifyThreads()).isEqualTo(ServerConfig.defaultVerifyThreads(Runtime.getRuntime().availableProcessors()));
        assertThat(ServerConfig.defaultVerifyThreads(1)).isEqualTo(1);
        assertThat(ServerConfig.defaultVerifyThreads(2)).isEqualTo(1);
        assertThat(ServerConfig.defaultVerifyThreads(8)).isEqualTo(4);

        ServerConfig set = ServerConfig.from(Settings.of(Map.of(ServerConfig.VERIFY_PORT, "1934", ServerConfig.VERIFY_THREADS, "3")));
        assertThat(set.verifyPort()).hasValue(1934);
        assertThat(set.verifyThreads()).isEqualTo(3);
        assertThat(ServerConfig.from(Settings.of(Map.of(ServerConfig.VERIFY_PORT, "0", HTTP_PORT, "0"))).verifyPort()).hasValue(0);

        assertThatThrownBy(() -> ServerConfig.from(Settings.of(Map.of(ServerConfig.VERIFY_PORT, "1933"))))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(ServerConfig.VERIFY_PORT)
                .hasMessageContaining(HTTP_PORT);
        assertThatThrownBy(() -> ServerConfig.from(Settings.of(Map.of(ServerConfig.VERIFY_PORT, "65536"))))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(ServerConfig.VERIFY_PORT);
        assertThatThrownBy(() -> ServerConfig.from(Settings.of(Map.of(ServerConfig.VERIFY_THREADS, "0"))))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(ServerConfig.VERIFY_THREADS);
    }

    @Test
    public void testBoundaryValues()
    {
        assertThat(ServerConfig.from(Settings.of(Map.of(HTTP_PORT, "0"))).port()).isZero();
        assertThat(ServerConfig.from(Settings.of(Map.of(HTTP_PORT, "65535"))).port()).isEqualTo(65535);
        assertThat(ServerConfig.from(Settings.of(Map.of(ROOT_KEY, "k".repeat(32)))).rootKey()).contains("k".repeat(32));
        assertThat(ServerConfig.from(Settings.of(Map.of(CACHE_MAX_KEYS, "1"))).resolver().maxKeys()).isEqualTo(1);
        assertThat(ServerConfig.from(Settings.of(Map.of(DEFAULT_ACCOUNT, ""))).defaultAccount()).isEmpty();
        assertThat(ServerConfig.from(Settings.of(Map.of(KEY_PEPPER, ""))).pepper()).isEmpty();
        assertThat(ServerConfig.from(Settings.of(Map.of(ROOT_KEY, ""))).rootKey()).isEmpty();
    }

    @ParameterizedTest
    @MethodSource("durations")
    public void testDurationSyntax(String text, Duration expected)
    {
        for (String variable : DURATIONS) {
            if (expected.isZero() && !ZERO_ALLOWED.contains(variable)) {
                continue;
            }
            assertThat(Settings.of(Map.of(variable, text)).duration(variable, Duration.ofDays(1))).as(variable).isEqualTo(expected);
            assertThat(duration(ServerConfig.from(Settings.of(Map.of(variable, text))), variable)).as(variable).isEqualTo(expected);
        }
    }

    private static Duration duration(ServerConfig config, String variable)
    {
        return switch (variable) {
            case POLL_INTERVAL -> config.resolver().pollInterval();
            case NEGATIVE_TTL -> config.resolver().negativeTtl();
            case CACHE_TTL -> config.resolver().cacheTtl();
            case MAX_STALE -> config.resolver().maxStale();
            case READY_MAX_LAG -> config.readyMaxLag();
            case SHUTDOWN_DRAIN -> config.shutdownDrain();
            case ServerConfig.AUDIT_RETENTION -> config.auditRetention();
            case ServerConfig.USAGE_FLUSH -> config.usageFlush();
            case ServerConfig.HEARTBEAT -> config.heartbeat();
            case ServerConfig.WAIT_TIMEOUT -> config.waitTimeout();
            default -> throw new IllegalArgumentException("not a duration: " + variable);
        };
    }

    public static Stream<Arguments> durations()
    {
        return Stream.of(
                arguments("250ms", Duration.ofMillis(250)),
                arguments("2s", Duration.ofSeconds(2)),
                arguments("10m", Duration.ofMinutes(10)),
                arguments("1h", Duration.ofHours(1)),
                arguments("90d", Duration.ofDays(90)),
                arguments("1ms", Duration.ofMillis(1)),
                arguments("007s", Duration.ofSeconds(7)),
                arguments("1500ms", Duration.ofMillis(1500)),
                arguments("720h", Duration.ofDays(30)),
                arguments("2562047h", Duration.ofHours(2562047)),
                arguments("0", Duration.ZERO));
    }

    @ParameterizedTest(name = "{0}={1}")
    @MethodSource("badValues")
    public void testBadValueIsRefusedNamingTheVariable(String variable, String value)
    {
        assertThatThrownBy(() -> parse(Map.of(variable, value)))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(variable)
                .message().doesNotContain("Exception");
    }

    public static Stream<Arguments> badValues()
    {
        Stream.Builder<Arguments> rows = Stream.builder();
        for (String port : List.of("abc", "-1", "65536", "1.5", "80 80", "0x50", "99999999999", "8080s")) {
            rows.add(arguments(HTTP_PORT, port));
        }
        for (String key : List.of("short", "k".repeat(31))) {
            rows.add(arguments(ROOT_KEY, key));
        }
        for (String kind : List.of("memory", "FILESYSTEM", "file", "s3 ", "postgres", "")) {
            rows.add(arguments(STORE, kind));
        }
        for (String variable : DURATIONS) {
            for (String duration : List.of("abc", "10", "1w", "1 s", "-1s", "1.5s", "1S", "s", "ms", "1h30m", "PT1S", "99999999999999999999s",
                    "9223372036854775807h", "9223372036854775807m", "3000000h")) {
                rows.add(arguments(variable, duration));
            }
            if (!ZERO_ALLOWED.contains(variable)) {
                rows.add(arguments(variable, "0"));
                rows.add(arguments(variable, "0ms"));
            }
        }
        for (String instanceId : List.of("has space", "x".repeat(129), "slash/in/it", "semi;colon")) {
            rows.add(arguments(ServerConfig.INSTANCE_ID, instanceId));
        }
        for (String keys : List.of("0", "-1", "abc", "1e6", "1.5", "99999999999999999999")) {
            rows.add(arguments(CACHE_MAX_KEYS, keys));
        }
        for (String account : List.of("_default", "a b", ".", "..", "a@b@c", "a".repeat(129), "é")) {
            rows.add(arguments(DEFAULT_ACCOUNT, account));
        }
        for (String format : List.of("JSON", "plain", "logfmt", "")) {
            rows.add(arguments(LogFormat.SETTING, format));
        }
        for (String url : List.of("web-3:8080", "ftp://web-3:21", "http://", "http://web-3:8080/path", "http://user@web-3:8080", "http://web-3:8080?x=1",
                "http://web 3:8080")) {
            rows.add(arguments(ServerConfig.ADVERTISED_URL, url));
        }
        for (String staleness : List.of("abc", "-1s", "6m", "1h")) {
            rows.add(arguments(ServerConfig.MAX_STALE_ADMIN, staleness));
        }
        rows.add(arguments(FS_DIR, "a\u0000b"));
        return rows.build();
    }

    @Test
    public void testRootKeyIsNeverEchoed()
    {
        String secret = "too-short-but-secret";
        assertThatThrownBy(() -> parse(Map.of(ROOT_KEY, secret)))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(ROOT_KEY)
                .hasMessageContaining("32")
                .message().doesNotContain(secret);
    }

    @ParameterizedTest
    @ValueSource(strings = {"memory", "S3", "Filesystem", "sqlite"})
    public void testUnknownStoreListsTheKnownKinds(String kind)
    {
        assertThatThrownBy(() -> parse(Map.of(STORE, kind)))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(STORE)
                .hasMessageContaining("filesystem, s3, jdbc")
                .hasMessageContaining("'" + kind + "'");
    }

    @Test
    public void testS3SettingsAreRead()
    {
        Map<String, String> values = new HashMap<>();
        values.put(STORE, "s3");
        values.put(BUCKET, "latchkey-prod");
        values.put(PREFIX, "tenants/");
        values.put(ENDPOINT, "https://s3.example.com:9000");
        values.put(REGION, "eu-west-3");
        values.put(PATH_STYLE, "true");

        StoreModule store = parse(values);

        assertThat(store.kind()).isEqualTo("s3");
        assertThat(store.location()).isEqualTo("s3://latchkey-prod/tenants/ via https://s3.example.com:9000 (region eu-west-3, path-style)");
        assertThat(store.generatedRootKey()).isEmpty();
        assertThat(parse(Map.of(STORE, "s3", BUCKET, "latchkey-prod")).location()).isEqualTo("s3://latchkey-prod/latchkey/ (region us-east-1)");
    }

    @ParameterizedTest(name = "{0}={1}")
    @MethodSource("badS3Values")
    public void testBadS3ValueIsRefusedNamingTheVariable(String variable, String value)
    {
        Map<String, String> values = new HashMap<>();
        values.put(STORE, "s3");
        values.put(BUCKET, "latchkey-prod");
        values.put(variable, value);

        assertThatThrownBy(() -> parse(values))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(variable)
                .message().doesNotContain("Exception");
    }

    public static Stream<Arguments> badS3Values()
    {
        return Stream.of(
                arguments(BUCKET, ""),
                arguments(BUCKET, "a"),
                arguments(BUCKET, "my bucket"),
                arguments(BUCKET, "bucket/prefix"),
                arguments(PREFIX, "latchkey"),
                arguments(PREFIX, "/latchkey/"),
                arguments(ENDPOINT, "127.0.0.1:9000"),
                arguments(ENDPOINT, "http://"),
                arguments(ENDPOINT, "http://host/bucket"),
                arguments(ENDPOINT, "s3://bucket"),
                arguments(REGION, ""),
                arguments(REGION, "us east 1"),
                arguments(PATH_STYLE, "yes"),
                arguments(PATH_STYLE, "TRUE"),
                arguments(PATH_STYLE, ""),
                arguments(WRITE_TIMEOUT, "5"),
                arguments(WRITE_TIMEOUT, "0"),
                arguments(WRITE_TIMEOUT, "499ms"),
                arguments(WRITE_TIMEOUT, "-5s"));
    }

    /**
     * The AWS credentials are settings like the others: read from the config file, overridden by the environment,
     * and never echoed.
     */
    @Test
    public void testAwsCredentialsFromTheConfigFileAreUsed(@TempDir Path directory)
            throws IOException
    {
        String secret = "secret-access-key-from-the-file";
        Path file = directory.resolve("latchkey.properties");
        Files.writeString(file, String.join("\n",
                STORE + "=s3",
                BUCKET + "=latchkey-prod",
                "AWS_ACCESS_KEY_ID=AKIDFROMTHEFILE",
                "AWS_SECRET_ACCESS_KEY=" + secret), StandardCharsets.UTF_8);

        Settings settings = Settings.load(Optional.of(file), Map.of("AWS_ACCESS_KEY_ID", "AKIDFROMTHEENVIRONMENT", "PATH", "/usr/bin"));

        assertThat(settings.optional("AWS_ACCESS_KEY_ID")).contains("AKIDFROMTHEENVIRONMENT");
        assertThat(settings.optional("AWS_SECRET_ACCESS_KEY")).contains(secret);
        assertThat(parse(settings).kind()).isEqualTo("s3");
        assertThatThrownBy(() -> parse(Settings.load(Optional.of(file), Map.of("AWS_ACCESS_KEY_ID", " "))))
                .isInstanceOf(ConfigException.class)
                .hasMessage("AWS_SECRET_ACCESS_KEY is set without AWS_ACCESS_KEY_ID")
                .message().doesNotContain(secret);
    }

    @Test
    public void testConfigFileIsOverriddenByTheEnvironment(@TempDir Path directory)
            throws IOException
    {
        Path file = directory.resolve("latchkey.properties");
        Files.writeString(file, String.join("\n",
                "# a comment",
                HTTP_PORT + " = 1234",
                POLL_INTERVAL + "=  1s  ",
                KEY_PEPPER + "=from-the-file",
                DEFAULT_ACCOUNT + "=",
                "UNRELATED=ignored"), StandardCharsets.UTF_8);
        Map<String, String> environment = Map.of(
                KEY_PEPPER, " from-the-environment ",
                CACHE_TTL, "2m",
                "PATH", "/usr/bin",
                "HOME", "/root");

        Settings settings = Settings.load(Optional.of(file), environment);
        ServerConfig config = ServerConfig.from(settings);

        assertThat(config.port()).isEqualTo(1234);
        assertThat(config.resolver().pollInterval()).isEqualTo(Duration.ofSeconds(1));
        assertThat(config.resolver().cacheTtl()).isEqualTo(Duration.ofMinutes(2));
        assertThat(config.pepper()).contains("from-the-environment");
        assertThat(config.defaultAccount()).isEmpty();
        assertThat(settings.optional("PATH")).isEmpty();
        assertThat(settings.optional("HOME")).isEmpty();
        assertThat(ServerConfig.from(Settings.load(Optional.empty(), Map.of(HTTP_PORT, "  "))).port()).isEqualTo(1933);
    }

    @Test
    public void testBadValueInTheConfigFileIsRefusedNamingTheVariable(@TempDir Path directory)
            throws IOException
    {
        Path file = directory.resolve("latchkey.properties");
        Files.writeString(file, NEGATIVE_TTL + "=2 seconds\n", StandardCharsets.UTF_8);
        assertThatThrownBy(() -> ServerConfig.from(Settings.load(Optional.of(file), Map.of())))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(NEGATIVE_TTL)
                .hasMessageContaining("2 seconds");
        // the environment's good value wins over the file's bad one
        assertThat(ServerConfig.from(Settings.load(Optional.of(file), Map.of(NEGATIVE_TTL, "3s"))).resolver().negativeTtl()).isEqualTo(Duration.ofSeconds(3));
    }

    @Test
    public void testMissingConfigFileIsRefused(@TempDir Path directory)
    {
        Path missing = directory.resolve("absent.properties");
        assertThatThrownBy(() -> Settings.load(Optional.of(missing), Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(missing.toString());
    }

    /**
     * The same refusals through a real start-up, including what only a start-up finds out (a directory that is a
     * file, an address that cannot be bound).
     */
    @ParameterizedTest(name = "{0}={1}")
    @MethodSource("badStartUps")
    public void testStartUpFailsNamingTheVariable(String variable, String value, @TempDir Path directory)
            throws IOException
    {
        Path file = Files.writeString(directory.resolve("a-file"), "not a directory");
        Map<String, String> values = new HashMap<>();
        values.put(HTTP_PORT, "0");
        values.put(FS_DIR, directory.resolve("store").toString());
        values.put(ROOT_KEY, A_ROOT_KEY);
        values.put(variable, value.replace("<file>", file.toString()));

        assertThatThrownBy(() -> LatchkeyServer.start(Settings.of(values)).close())
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(variable)
                .message().doesNotContain(A_ROOT_KEY);
    }

    public static Stream<Arguments> badStartUps()
    {
        return Stream.of(
                arguments(HTTP_PORT, "http"),
                arguments(ROOT_KEY, "short"),
                arguments(STORE, "s3"),
                arguments(STORE, "jdbc"),
                arguments(STORE, "memory"),
                arguments(POLL_INTERVAL, "0"),
                arguments(POLL_INTERVAL, "3000000h"),
                arguments(MAX_STALE, "9223372036854775807h"),
                arguments(CACHE_MAX_KEYS, "none"),
                arguments(DEFAULT_ACCOUNT, "_default"),
                arguments(FS_DIR, "<file>"),
                arguments(HTTP_HOST, "no-such-host.invalid"),
                arguments(HTTP_HOST, "192.0.2.1"));
    }

    @Test
    public void testUnknownSettingsAreLoggedOnceByName(@TempDir Path directory)
            throws IOException
    {
        Path file = directory.resolve("latchkey.properties");
        Files.writeString(file, "LATCHKEY_POLL_INTERVALL=1s\nLATCHKEY_HTTP_PORT=0\n", StandardCharsets.UTF_8);
        Map<String, String> environment = Map.of(
                FS_DIR, directory.resolve("store").toString(),
                ROOT_KEY, A_ROOT_KEY,
                "LATCHKEY_ROOTKEY", "a-secret-that-must-not-be-logged",
                "AWS_PROFILE", "the SDK's own, not checked",
                "HOME", "/not/a/setting");
        try (TestingLogCapture log = TestingLogCapture.start();
                LatchkeyServer server = LatchkeyServer.start(Settings.load(Optional.of(file), environment))) {
            assertThat(server.port()).isPositive();
            List<String> warnings = log.lines().stream().filter(line -> line.contains("unknown settings")).toList();
            assertThat(warnings).hasSize(1);
            assertThat(warnings.get(0))
                    .startsWith("WARN ")
                    .endsWith(": LATCHKEY_POLL_INTERVALL, LATCHKEY_ROOTKEY")
                    .doesNotContain("a-secret-that-must-not-be-logged")
                    .doesNotContain("AWS_PROFILE");
        }
    }

    @Test
    public void testKnownSettingsAreNotReportedUnknown()
    {
        Map<String, String> values = new HashMap<>();
        LatchkeyServer.settingNames().forEach(name -> values.put(name, "x"));
        values.put("LATCHKEY_STOER", "s3");

        assertThat(Settings.of(values).unknown(LatchkeyServer.settingNames())).containsExactly("LATCHKEY_STOER");
    }

    @Test
    public void testPortInUseFailsStartUpNamingTheVariables(@TempDir Path directory)
    {
        Map<String, String> values = new HashMap<>();
        values.put(HTTP_PORT, "0");
        values.put(FS_DIR, directory.resolve("first").toString());
        values.put(ROOT_KEY, A_ROOT_KEY);
        try (LatchkeyServer first = LatchkeyServer.start(Settings.of(values))) {
            values.put(HTTP_PORT, String.valueOf(first.port()));
            values.put(FS_DIR, directory.resolve("second").toString());
            assertThatThrownBy(() -> LatchkeyServer.start(Settings.of(values)).close())
                    .isInstanceOf(ConfigException.class)
                    .hasMessageContaining(HTTP_HOST)
                    .hasMessageContaining(HTTP_PORT)
                    .hasMessageContaining("127.0.0.1:" + first.port());
        }
    }

    private static StoreModule parse(Map<String, String> values)
    {
        return parse(Settings.of(values));
    }

    private static StoreModule parse(Settings settings)
    {
        ServerConfig config = ServerConfig.from(settings);
        return StoreModules.select(config.storeKind(), settings);
    }
}

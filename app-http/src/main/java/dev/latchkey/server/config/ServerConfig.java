package dev.latchkey.server.config;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.resolver.ResolverConfig;
import dev.latchkey.core.resolver.RootKey;
import dev.latchkey.core.store.Origin;

import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.ThreadLocalRandom;

import static java.util.Objects.requireNonNull;

/**
 * The settings of the server itself (everything but the store's), with the defaults of running.md.
 */
public record ServerConfig(
        String host,
        int port,
        Optional<String> rootKey,
        String storeKind,
        ResolverConfig resolver,
        Duration readyMaxLag,
        Optional<String> pepper,
        Optional<AccountId> defaultAccount,
        Duration shutdownDrain,
        LogFormat logFormat,
        String instanceId,
        Duration auditRetention,
        Duration usageFlush,
        Duration heartbeat,
        Duration waitTimeout,
        Optional<String> advertisedUrl,
        OptionalInt verifyPort,
        int verifyThreads)
{
    public static final String HTTP_HOST = "LATCHKEY_HTTP_HOST";
    public static final String HTTP_PORT = "LATCHKEY_HTTP_PORT";
    public static final String ROOT_KEY = "LATCHKEY_ROOT_KEY";
    public static final String STORE = "LATCHKEY_STORE";
    public static final String POLL_INTERVAL = "LATCHKEY_POLL_INTERVAL";
    public static final String NEGATIVE_TTL = "LATCHKEY_NEGATIVE_TTL";
    public static final String CACHE_TTL = "LATCHKEY_CACHE_TTL";
    public static final String MAX_STALE = "LATCHKEY_MAX_STALE";
    public static final String CACHE_MAX_KEYS = "LATCHKEY_CACHE_MAX_KEYS";
    public static final String READY_MAX_LAG = "LATCHKEY_READY_MAX_LAG";
    public static final String KEY_PEPPER = "LATCHKEY_KEY_PEPPER";
    public static final String DEFAULT_ACCOUNT = "LATCHKEY_DEFAULT_ACCOUNT";
    public static final String SHUTDOWN_DRAIN = "LATCHKEY_SHUTDOWN_DRAIN";
    public static final String INSTANCE_ID = "LATCHKEY_INSTANCE_ID";
    public static final String AUDIT_RETENTION = "LATCHKEY_AUDIT_RETENTION";
    public static final String USAGE_FLUSH = "LATCHKEY_USAGE_FLUSH";
    public static final String HEARTBEAT = "LATCHKEY_HEARTBEAT";
    public static final String WAIT_TIMEOUT = "LATCHKEY_WAIT_TIMEOUT";
    public static final String MAX_STALE_ADMIN = "LATCHKEY_MAX_STALE_ADMIN";
    public static final String ADVERTISED_URL = "LATCHKEY_ADVERTISED_URL";
    public static final String VERIFY_PORT = "LATCHKEY_VERIFY_PORT";
    public static final String VERIFY_THREADS = "LATCHKEY_VERIFY_THREADS";

    /**
     * Every setting of the server itself; the stores' are listed by {@link dev.latchkey.server.store.StoreModules}.
     */
    public static final List<String> SETTINGS = List.of(HTTP_HOST, HTTP_PORT, ROOT_KEY, STORE, POLL_INTERVAL, NEGATIVE_TTL, CACHE_TTL,
            MAX_STALE, CACHE_MAX_KEYS, READY_MAX_LAG, KEY_PEPPER, DEFAULT_ACCOUNT, SHUTDOWN_DRAIN, LogFormat.SETTING, INSTANCE_ID, AUDIT_RETENTION,
            USAGE_FLUSH, HEARTBEAT, WAIT_TIMEOUT, MAX_STALE_ADMIN, ADVERTISED_URL, VERIFY_PORT, VERIFY_THREADS);

    public ServerConfig
    {
        requireNonNull(host, "host is null");
        requireNonNull(rootKey, "rootKey is null");
        requireNonNull(storeKind, "storeKind is null");
        requireNonNull(resolver, "resolver is null");
        requireNonNull(readyMaxLag, "readyMaxLag is null");
        requireNonNull(pepper, "pepper is null");
        requireNonNull(defaultAccount, "defaultAccount is null");
        requireNonNull(shutdownDrain, "shutdownDrain is null");
        requireNonNull(logFormat, "logFormat is null");
        requireNonNull(instanceId, "instanceId is null");
        requireNonNull(auditRetention, "auditRetention is null");
        requireNonNull(usageFlush, "usageFlush is null");
        requireNonNull(heartbeat, "heartbeat is null");
        requireNonNull(waitTimeout, "waitTimeout is null");
        requireNonNull(advertisedUrl, "advertisedUrl is null");
        requireNonNull(verifyPort, "verifyPort is null");
        if (verifyThreads < 1) {
            throw new IllegalArgumentException("verifyThreads must be at least 1");
        }
    }

    public static ServerConfig from(Settings settings)
    {
        ResolverConfig defaults = ResolverConfig.defaults();
        ResolverConfig resolver;
        try {
            resolver = defaults
                    .withPollInterval(positive(settings, POLL_INTERVAL, defaults.pollInterval()))
                    .withNegativeTtl(positive(settings, NEGATIVE_TTL, defaults.negativeTtl()))
                    .withCacheTtl(positive(settings, CACHE_TTL, defaults.cacheTtl()))
                    .withMaxStale(settings.duration(MAX_STALE, defaults.maxStale()))
                    .withMaxKeys(settings.positiveLong(CACHE_MAX_KEYS, defaults.maxKeys()));
        }
        catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
        Duration maxStaleAdmin = settings.duration(MAX_STALE_ADMIN, resolver.maxStale());
        if (maxStaleAdmin.compareTo(resolver.maxStale()) > 0) {
            throw new ConfigException(MAX_STALE_ADMIN + " must not be longer than " + MAX_STALE + " (" + resolver.maxStale().toSeconds() + " s)");
        }
        resolver = resolver.withMaxStaleAdmin(maxStaleAdmin);
        Optional<String> rootKey = settings.optional(ROOT_KEY);
        rootKey.ifPresent(key -> {
            if (key.length() < RootKey.MIN_LENGTH) {
                throw new ConfigException(ROOT_KEY + " must be at least " + RootKey.MIN_LENGTH + " characters");
            }
        });
        Optional<AccountId> defaultAccount;
        try {
            defaultAccount = Optional.of(settings.string(DEFAULT_ACCOUNT, "default")).filter(value -> !value.isEmpty()).map(AccountId::of);
        }
        catch (LatchkeyException e) {
            throw new ConfigException(DEFAULT_ACCOUNT + " is not a valid account id: " + e.getMessage());
        }
        int port = settings.integer(HTTP_PORT, 1933, 0, 65535);
        OptionalInt verifyPort = settings.optional(VERIFY_PORT).isPresent() ? OptionalInt.of(settings.integer(VERIFY_PORT, 0, 0, 65535)) : OptionalInt.empty();
        if (verifyPort.isPresent() && verifyPort.getAsInt() != 0 && verifyPort.getAsInt() == port) {
            throw new ConfigException(VERIFY_PORT + " must differ from " + HTTP_PORT + " (" + port + ")");
        }
        // half the cores by default: verify answered from memory never blocks, and the rest is left to admin calls
        int verifyThreads = settings.integer(VERIFY_THREADS, defaultVerifyThreads(Runtime.getRuntime().availableProcessors()), 1, 256);
        String instanceId = settings.optional(INSTANCE_ID).orElseGet(() -> defaultInstanceId(port));
        if (!Origin.isValidInstanceId(instanceId)) {
            throw new ConfigException(INSTANCE_ID + " must be 1 to 128 letters, digits, '.', '_', ':' or '-'");
        }
        return new ServerConfig(
                settings.string(HTTP_HOST, "127.0.0.1"),
                port,
                rootKey,
                settings.string(STORE, "filesystem"),
                resolver,
                positive(settings, READY_MAX_LAG, Duration.ofSeconds(3)),
                settings.optional(KEY_PEPPER),
                defaultAccount,
                settings.duration(SHUTDOWN_DRAIN, Duration.ZERO),
                LogFormat.from(settings),
                instanceId,
                positive(settings, AUDIT_RETENTION, Duration.ofDays(90)),
                positive(settings, USAGE_FLUSH, Duration.ofSeconds(60)),
                positive(settings, HEARTBEAT, Duration.ofSeconds(10)),
                positive(settings, WAIT_TIMEOUT, Duration.ofSeconds(5)),
                settings.optional(ADVERTISED_URL).map(ServerConfig::advertisedUrl),
                verifyPort,
                verifyThreads);
    }

    /**
     * The verify port's network threads on a host with {@code cores} cores: one per two cores, at least one.
     */
    static int defaultVerifyThreads(int cores)
    {
        return Math.max(1, cores / 2);
    }

    /**
     * An advertised URL: {@code http://} or {@code https://}, a host, a port if not the scheme's, and no path,
     * query or user name (a trailing slash is dropped).
     */
    private static String advertisedUrl(String value)
    {
        String url = value.endsWith("/") ? value.substring(0, value.length() - 1) : value;
        URI uri;
        try {
            uri = new URI(url);
        }
        catch (URISyntaxException e) {
            throw new ConfigException(ADVERTISED_URL + " is not a URL: " + e.getReason());
        }
        boolean web = "http".equalsIgnoreCase(uri.getScheme()) || "https".equalsIgnoreCase(uri.getScheme());
        if (!web || uri.getHost() == null || uri.getUserInfo() != null || !uri.getRawPath().isEmpty() || uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw new ConfigException(ADVERTISED_URL + " must be http://host:port or https://host:port, with no path (how the other instances reach this one)");
        }
        return url;
    }

    /**
     * The host name and the port ({@code host:1933}), with any character an instance id may not hold replaced by
     * {@code -}; with port 0 (a port chosen at start) a random suffix instead of the port.
     */
    static String defaultInstanceId(int port)
    {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        }
        catch (UnknownHostException e) {
            host = "localhost";
        }
        String suffix = port == 0 ? Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16) : Integer.toString(port);
        String cleaned = host.replaceAll("[^A-Za-z0-9._-]", "-");
        if (cleaned.isEmpty()) {
            cleaned = "localhost";
        }
        return cleaned.substring(0, Math.min(cleaned.length(), 100)) + ":" + suffix;
    }

    private static Duration positive(Settings settings, String name, Duration defaultValue)
    {
        Duration value = settings.duration(name, defaultValue);
        if (value.isZero()) {
            throw new ConfigException(name + " must be greater than 0");
        }
        return value;
    }
}

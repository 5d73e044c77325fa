package dev.latchkey.server.config;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.resolver.ResolverConfig;
import dev.latchkey.core.resolver.RootKey;
import dev.latchkey.core.store.Origin;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
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
        Duration usageFlush)
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

    /**
     * Every setting of the server itself; the stores' are listed by {@link dev.latchkey.server.store.StoreModules}.
     */
    public static final List<String> SETTINGS = List.of(HTTP_HOST, HTTP_PORT, ROOT_KEY, STORE, POLL_INTERVAL, NEGATIVE_TTL, CACHE_TTL,
            MAX_STALE, CACHE_MAX_KEYS, READY_MAX_LAG, KEY_PEPPER, DEFAULT_ACCOUNT, SHUTDOWN_DRAIN, LogFormat.SETTING, INSTANCE_ID, AUDIT_RETENTION,
            USAGE_FLUSH);

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
                positive(settings, USAGE_FLUSH, Duration.ofSeconds(60)));
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

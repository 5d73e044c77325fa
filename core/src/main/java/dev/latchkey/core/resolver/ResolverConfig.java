package dev.latchkey.core.resolver;

import java.time.Duration;

import static java.util.Objects.requireNonNull;

/**
 * The bounds of the resolver's cache (defaults as in running.md).
 *
 * @param pollInterval how often the change feed is read
 * @param negativeTtl how long a key id found absent is remembered as absent
 * @param cacheTtl the safety TTL: after it a cached key is refreshed in the background (in case a change were ever
 *         missed) while the old entry keeps serving
 * @param maxStale how long cached keys keep working while the change feed cannot be read; zero fails closed at
 *         the first failed read
 * @param maxStaleAdmin as {@code maxStale}, for the keys of ADMIN users: at most {@code maxStale}
 * @param maxKeys bound on cached keys
 * @param maxNegativeKeys bound on key ids remembered as absent
 * @param lookupTimeout how long a request waits for a point lookup of the store
 * @param feedBatchSize how many changes one feed read asks for
 */
public record ResolverConfig(
        Duration pollInterval,
        Duration negativeTtl,
        Duration cacheTtl,
        Duration maxStale,
        Duration maxStaleAdmin,
        long maxKeys,
        long maxNegativeKeys,
        Duration lookupTimeout,
        int feedBatchSize)
{
    public ResolverConfig
    {
        requirePositive(pollInterval, "pollInterval");
        requirePositive(negativeTtl, "negativeTtl");
        requirePositive(cacheTtl, "cacheTtl");
        requireNonNull(maxStale, "maxStale is null");
        if (maxStale.isNegative()) {
            throw new IllegalArgumentException("maxStale is negative");
        }
        requireNonNull(maxStaleAdmin, "maxStaleAdmin is null");
        if (maxStaleAdmin.isNegative() || maxStaleAdmin.compareTo(maxStale) > 0) {
            throw new IllegalArgumentException("maxStaleAdmin must be between zero and maxStale");
        }
        requirePositive(lookupTimeout, "lookupTimeout");
        if (maxKeys < 1 || maxNegativeKeys < 1 || feedBatchSize < 1) {
            throw new IllegalArgumentException("maxKeys, maxNegativeKeys and feedBatchSize must be positive");
        }
    }

    public static ResolverConfig defaults()
    {
        return new ResolverConfig(Duration.ofMillis(250), Duration.ofSeconds(2), Duration.ofMinutes(10), Duration.ofMinutes(5), Duration.ofMinutes(5),
                1_000_000, 100_000, Duration.ofSeconds(2), 1000);
    }

    public ResolverConfig withPollInterval(Duration value)
    {
        return new ResolverConfig(value, negativeTtl, cacheTtl, maxStale, maxStaleAdmin, maxKeys, maxNegativeKeys, lookupTimeout, feedBatchSize);
    }

    public ResolverConfig withNegativeTtl(Duration value)
    {
        return new ResolverConfig(pollInterval, value, cacheTtl, maxStale, maxStaleAdmin, maxKeys, maxNegativeKeys, lookupTimeout, feedBatchSize);
    }

    public ResolverConfig withCacheTtl(Duration value)
    {
        return new ResolverConfig(pollInterval, negativeTtl, value, maxStale, maxStaleAdmin, maxKeys, maxNegativeKeys, lookupTimeout, feedBatchSize);
    }

    public ResolverConfig withMaxStale(Duration value)
    {
        // the admin bound follows while it is the same, and never exceeds the new one
        Duration admin = maxStaleAdmin.equals(maxStale) || maxStaleAdmin.compareTo(value) > 0 ? value : maxStaleAdmin;
        return new ResolverConfig(pollInterval, negativeTtl, cacheTtl, value, admin, maxKeys, maxNegativeKeys, lookupTimeout, feedBatchSize);
    }

    /**
     * The staleness bound of ADMIN users' keys; {@link #withMaxStale} moves it along while it equals {@code maxStale}.
     */
    public ResolverConfig withMaxStaleAdmin(Duration value)
    {
        return new ResolverConfig(pollInterval, negativeTtl, cacheTtl, maxStale, value, maxKeys, maxNegativeKeys, lookupTimeout, feedBatchSize);
    }

    public ResolverConfig withMaxKeys(long value)
    {
        return new ResolverConfig(pollInterval, negativeTtl, cacheTtl, maxStale, maxStaleAdmin, value, maxNegativeKeys, lookupTimeout, feedBatchSize);
    }

    public ResolverConfig withLookupTimeout(Duration value)
    {
        return new ResolverConfig(pollInterval, negativeTtl, cacheTtl, maxStale, maxStaleAdmin, maxKeys, maxNegativeKeys, value, feedBatchSize);
    }

    public ResolverConfig withFeedBatchSize(int value)
    {
        return new ResolverConfig(pollInterval, negativeTtl, cacheTtl, maxStale, maxStaleAdmin, maxKeys, maxNegativeKeys, lookupTimeout, value);
    }

    private static void requirePositive(Duration duration, String name)
    {
        requireNonNull(duration, name + " is null");
        if (duration.isNegative() || duration.isZero()) {
            throw new IllegalArgumentException(name + " must be positive");
        }
    }
}

package dev.latchkey.adapters.filesystem;

import java.time.Duration;

import static java.util.Objects.requireNonNull;

/**
 * Tuning of the filesystem store.
 *
 * @param lockTimeout how long a write waits for the store's write lock before failing with UNAVAILABLE
 * @param feedRetention how many of the newest change-feed entries are kept; older ones are compacted away (a reader
 *         that falls further behind than this drops its cache and starts over), their audit records archived first
 *         (the audit trail is kept by time, until {@link FileSystemIdentityStore#purgeAudit})
 */
public record FileSystemStoreOptions(Duration lockTimeout, int feedRetention)
{
    public static final Duration DEFAULT_LOCK_TIMEOUT = Duration.ofSeconds(5);
    public static final int DEFAULT_FEED_RETENTION = 10_000;

    public FileSystemStoreOptions
    {
        requireNonNull(lockTimeout, "lockTimeout is null");
        if (lockTimeout.isNegative() || lockTimeout.isZero()) {
            throw new IllegalArgumentException("lockTimeout must be positive");
        }
        if (feedRetention < 1) {
            throw new IllegalArgumentException("feedRetention must be positive");
        }
    }

    public static FileSystemStoreOptions defaults()
    {
        return new FileSystemStoreOptions(DEFAULT_LOCK_TIMEOUT, DEFAULT_FEED_RETENTION);
    }

    /**
     * Compaction runs after every this many appends.
     */
    int compactionInterval()
    {
        return Math.max(1, feedRetention / 10);
    }
}

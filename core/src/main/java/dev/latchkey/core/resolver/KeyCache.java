package dev.latchkey.core.resolver;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.CacheLoader;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.LoadingCache;
import com.github.benmanes.caffeine.cache.RemovalCause;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.resolver.CachedKey.CachedAccount;
import dev.latchkey.core.store.ChangeType;
import org.jspecify.annotations.Nullable;

import java.lang.System.Logger.Level;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import static java.util.Objects.requireNonNull;

/**
 * What the resolver remembers of the store: the keys found (the positive cache), the key ids found absent (the
 * negative cache), and the change stamps that keep an answer read before a change from being remembered after it.
 *
 * <h2>Two maps for the keys found</h2>
 * Caffeine decides which keys stay cached (size bound, frequency-based admission) and when they are refreshed.
 * Hits read a plain map of the same entry objects: a hit among a million keys is bound by memory latency, and a
 * Caffeine read follows one more pointer than a plain map's (its node) and records the read in its policy, whose
 * upkeep (frequency sketch, access order) costs several more random memory reads: one of a million entries read
 * at random costs 1.3 to 2.4 us through Caffeine against 0.28 us in a plain map on the machine of
 * docs/performance.md. So Caffeine is shown one hit in {@value #POLICY_SAMPLE} at random and every hit on an entry
 * due for refresh: its policy still favours the keys used most, with hits weighing less against insertions than if
 * it saw them all.
 * <p>
 * <b>The rule this class exists to keep: the hit map never holds an entry that Caffeine does not</b> (such an
 * entry would escape the size bound and the refresh). Entries are added to the hit map inside Caffeine's atomic
 * compute of the entry, after the stamp check ({@link #install}); size evictions are removed by Caffeine's
 * eviction listener inside its atomic removal; every other removal removes from Caffeine first and from the hit
 * map second, by identity ({@link #removeExactly}); clearing both excludes installs ({@link #clear()}). The other
 * way round, an install landing between the two steps of a removal can leave an entry in Caffeine only, which
 * costs one store read at its next use.
 *
 * <h2>The change stamps</h2>
 * Before a change is applied, the stamp of every key it names moves ({@link #evict}); before an account deletion or
 * a clear, the stamp of every key moves. An answer read from the store is remembered only if its key's stamp has
 * not moved since before the read ({@link #install}, {@link #recordAbsent}); the reader repeats a read that saw it
 * move. Keys share {@value #STRIPES} counters by the hash of their id, so a change to one key disturbs a read of
 * another only when they share one: a burst of changes applied from the feed does not make every lookup running
 * meanwhile read the store again (or give up).
 * <p>
 * Thread safe.
 */
final class KeyCache
{
    private static final System.Logger LOG = System.getLogger(KeyCache.class.getName());
    /** One cache hit in this many, at random, is shown to Caffeine's eviction policy. */
    static final int POLICY_SAMPLE = 32;
    /** How many counters the keys' change stamps share (a power of two). */
    static final int STRIPES = 4096;

    private final Ticker ticker;
    private final Executor sweeper;
    private final long refreshNanos;
    /** Decides which keys stay cached (size bound, frequency) and when they are refreshed. */
    private final LoadingCache<CacheKey, CachedKey> positives;
    /** What hits read: the entries of {@link #positives}, the same objects; each entry is its own key. */
    private final ConcurrentMap<CacheKey, CachedKey> served = new ConcurrentHashMap<>();
    /**
     * Installs hold the read lock, clearing both maps the write lock: Caffeine's clear skips an entry whose first
     * compute is still running, which would otherwise outlive the clear.
     */
    private final ReadWriteLock installs = new ReentrantReadWriteLock();
    private final Cache<KeyId, Boolean> negatives;
    /** The shared account object of every account with cached keys (see {@link CachedKey}). */
    private final ConcurrentMap<AccountId, CachedAccount> accounts = new ConcurrentHashMap<>();
    /** Moved by a change to every key (an account deletion, a clear). */
    private final AtomicLong everyKey = new AtomicLong();
    /** Moved by a change naming a key of the stripe. */
    private final AtomicLongArray stripes = new AtomicLongArray(STRIPES);
    /** Keys served since usage was last taken whose entries have left {@link #served} (or never entered it). */
    private final Set<KeyId> usedElsewhere = ConcurrentHashMap.newKeySet();

    /**
     * @param refresher reloads an entry after the cache TTL; it runs on Caffeine's calling thread, so it should
     *         hand the store read to an executor of its own
     * @param sweeper removes a deleted account's entries off the request path
     */
    KeyCache(ResolverConfig config, Ticker ticker, CacheLoader<CacheKey, CachedKey> refresher, Executor sweeper)
    {
        requireNonNull(config, "config is null");
        requireNonNull(refresher, "refresher is null");
        this.ticker = requireNonNull(ticker, "ticker is null");
        this.sweeper = requireNonNull(sweeper, "sweeper is null");
        this.refreshNanos = config.cacheTtl().toNanos();
        this.positives = Caffeine.newBuilder()
                .maximumSize(config.maxKeys())
                .refreshAfterWrite(config.cacheTtl())
                .evictionListener((@Nullable CacheKey key, @Nullable CachedKey cached, RemovalCause cause) -> {
                    if (cached != null) {
                        removeExactly(served, cached);
                    }
                })
                // maintenance runs on the calling thread (amortized, no thread hand-off per few reads)
                .executor(Runnable::run)
                .ticker(ticker)
                .build(refresher);
        this.negatives = Caffeine.newBuilder()
                .maximumSize(config.maxNegativeKeys())
                .expireAfterWrite(config.negativeTtl())
                .executor(Runnable::run)
                .ticker(ticker)
                .build();
    }

    /**
     * The entry a cache hit may serve, or null when there is none. Shows the read to Caffeine for one hit in
     * {@value #POLICY_SAMPLE}, so that its eviction policy learns which keys are used, and for every hit on an
     * entry older than the cache TTL, so that Caffeine starts its background refresh. A disowned entry (its account
     * was deleted) is removed and never returned.
     */
    @Nullable CachedKey hit(CacheKey probe)
    {
        CachedKey cached = served.get(probe);
        if (cached == null) {
            return null;
        }
        if (cached.isDisowned()) {
            removeExactly(cached);
            return null;
        }
        if (cached.age(ticker.read()) >= refreshNanos || ThreadLocalRandom.current().nextInt(POLICY_SAMPLE) == 0) {
            // the read itself is the point: Caffeine records it, and starts the refresh of an entry due for one
            var unused = positives.getIfPresent(probe);
        }
        return cached;
    }

    /**
     * The entry a hit would serve, or null, without telling Caffeine of the read.
     */
    @Nullable CachedKey peek(KeyId keyId)
    {
        CachedKey cached = served.get(new CacheKey(keyId));
        return cached == null || cached.isDisowned() ? null : cached;
    }

    /**
     * Whether the key id was found absent within the negative TTL.
     */
    boolean isKnownAbsent(KeyId keyId)
    {
        return negatives.getIfPresent(keyId) != null;
    }

    /**
     * The key's change stamp, to take before reading the store, for {@link #install} and {@link #recordAbsent}.
     */
    long stamp(KeyId keyId)
    {
        // both counters only grow, so their sum is unchanged exactly when neither moved
        return everyKey.get() + stripes.get(stripe(keyId));
    }

    /**
     * Whether no change that may concern the key has been applied since {@code stamp} was taken.
     */
    boolean isCurrent(KeyId keyId, long stamp)
    {
        return stamp(keyId) == stamp;
    }

    private static int stripe(KeyId keyId)
    {
        int hash = keyId.hashCode();
        return (hash ^ (hash >>> 16)) & (STRIPES - 1);
    }

    /**
     * A cache entry for a record just read from the store, owned by the account's one shared object. Take it
     * before checking the stamp: a deletion of the account applied after the check marks that object.
     */
    CachedKey entry(KeyRecord record)
    {
        return new CachedKey(record, accounts.computeIfAbsent(record.accountId(), CachedAccount::new), ticker.read());
    }

    /**
     * Caches an entry read from the store when its key's stamp has not moved since {@code stamp}, in both maps at
     * once (under Caffeine's lock of the entry), so that a change applied later (stamp first, eviction second)
     * evicts it. Otherwise does nothing.
     */
    void install(CachedKey found, long stamp)
    {
        Lock lock = installs.readLock();
        lock.lock();
        try {
            positives.asMap().compute(found, (key, current) -> {
                if (!isCurrent(found.keyId(), stamp)) {
                    return current;
                }
                keepUsage(served.put(found, found));
                return found;
            });
        }
        finally {
            lock.unlock();
        }
    }

    /**
     * Remembers that the store has no such key id, unless a change that may concern it was applied since
     * {@code stamp}.
     */
    void recordAbsent(KeyId keyId, long stamp)
    {
        negatives.put(keyId, Boolean.TRUE);
        if (!isCurrent(keyId, stamp)) {
            negatives.invalidate(keyId);
        }
    }

    /**
     * Applies a change: moves the stamps of the keys it names (of every key for an account deletion), then forgets
     * every key it names, found or absent. An account deletion also disowns every cached key of the account at once
     * through their shared account object; their entries are then swept off the request path.
     */
    void evict(ChangeType type, AccountId accountId, List<KeyId> keyIds)
    {
        if (type == ChangeType.ACCOUNT_DELETED) {
            everyKey.incrementAndGet();
        }
        for (KeyId keyId : keyIds) {
            stripes.incrementAndGet(stripe(keyId));
        }
        List<CacheKey> cacheKeys = keyIds.stream().map(CacheKey::new).toList();
        positives.invalidateAll(cacheKeys);
        cacheKeys.forEach(cacheKey -> keepUsage(served.remove(cacheKey)));
        negatives.invalidateAll(keyIds);
        if (type == ChangeType.ACCOUNT_DELETED) {
            CachedAccount account = accounts.remove(accountId);
            if (account != null) {
                account.markDeleted();
                sweep(account);
            }
        }
    }

    /**
     * Forgets every key found; an install whose store read began before cannot land after.
     */
    void clear()
    {
        Lock lock = installs.writeLock();
        lock.lock();
        try {
            everyKey.incrementAndGet();
            positives.invalidateAll();
            served.values().forEach(this::keepUsage);
            served.clear();
        }
        finally {
            lock.unlock();
        }
    }

    /**
     * Forgets everything: the keys found and the key ids found absent.
     */
    void clearAll()
    {
        clear();
        negatives.invalidateAll();
    }

    /**
     * How many keys a hit can be served from (an estimate, for metrics).
     */
    long size()
    {
        return served.size();
    }

    /**
     * Removes this very entry from both maps; a newer entry for the same key id (equal, see {@link CacheKey})
     * stays.
     */
    void removeExactly(CachedKey cached)
    {
        removeExactly(positives.asMap(), cached);
        removeExactly(served, cached);
    }

    /**
     * Whether Caffeine holds this very entry (for tests of the two maps' rule).
     */
    @SuppressWarnings("ReferenceEquality") // this very entry: an equal one (same key id) may be newer
    boolean decidesOn(CachedKey cached)
    {
        return positives.asMap().get(cached) == cached;
    }

    /**
     * Whether a hit can read this very entry (the resolver asks after a lookup; tests of the two maps' rule).
     */
    @SuppressWarnings("ReferenceEquality") // this very entry: an equal one (same key id) may be newer
    boolean serves(CachedKey cached)
    {
        return served.get(cached) == cached;
    }

    @SuppressWarnings("ReferenceEquality") // this very entry: an equal one (same key id) may be newer
    private void removeExactly(ConcurrentMap<CacheKey, CachedKey> map, CachedKey cached)
    {
        map.computeIfPresent(cached, (key, current) -> {
            if (current != cached) {
                return current;
            }
            if (map == served) {
                keepUsage(cached);
            }
            return null;
        });
    }

    /**
     * Notes a use of a key that was not served from an entry of the cache (a lookup).
     */
    void used(KeyId keyId)
    {
        usedElsewhere.add(keyId);
    }

    /**
     * The keys served since the last call (from the cache or not), clearing what it returns. Walks the cache once.
     */
    Set<KeyId> takeUsed()
    {
        Set<KeyId> used = new HashSet<>();
        for (CachedKey cached : served.values()) {
            if (cached.takeUsed()) {
                used.add(cached.keyId());
            }
        }
        for (Iterator<KeyId> elsewhere = usedElsewhere.iterator(); elsewhere.hasNext(); ) {
            used.add(elsewhere.next());
            elsewhere.remove();
        }
        return used;
    }

    private void keepUsage(@Nullable CachedKey removed)
    {
        if (removed != null && removed.takeUsed()) {
            usedElsewhere.add(removed.keyId());
        }
    }

    private void sweep(CachedAccount deleted)
    {
        try {
            sweeper.execute(() -> {
                positives.asMap().values().stream().filter(cached -> cached.account() == deleted).toList().forEach(this::removeExactly);
                served.values().stream().filter(cached -> cached.account() == deleted).toList().forEach(this::removeExactly);
            });
        }
        catch (RejectedExecutionException e) {
            // disowned entries are never served; size eviction or their next use removes them
            LOG.log(Level.DEBUG, "sweeping a deleted account's keys was rejected: {0}", e.getMessage());
        }
    }
}

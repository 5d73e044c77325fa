package dev.latchkey.core.resolver;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.CacheLoader;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.LoadingCache;
import com.github.benmanes.caffeine.cache.RemovalCause;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.latchkey.core.admin.LocalWriteListener;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.resolver.CachedKey.CachedAccount;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;

import java.lang.System.Logger.Level;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import static java.util.Objects.requireNonNull;

/**
 * Answers "who is this key?" from memory, without ever lying for longer than the bounds of consistency.md.
 *
 * <h2>How a key is resolved</h2>
 * <ol>
 *   <li>The root key, if configured, is compared in constant time; it never touches the store.</li>
 *   <li>A key that is not of the key format, or fails its checksum, is {@link Outcome#MALFORMED}: no store access.</li>
 *   <li>A key id in the <b>negative cache</b> (found absent within the negative TTL) is {@link Outcome#INVALID}.</li>
 *   <li>A key id in the <b>positive cache</b> is verified by hashing the presented secret and comparing in constant
 *       time. Entries are compact ({@link CachedKey}: about 240 bytes per key in all, see docs/performance.md), and
 *       a hit reads them from a plain map kept equal to the Caffeine cache that decides what stays cached (see
 *       {@link #served}).</li>
 *   <li>Otherwise one point lookup of the store, shared by every concurrent request for that key id (single
 *       flight), bounded by the lookup timeout. Absent ids go to the negative cache.</li>
 * </ol>
 *
 * <h2>How the cache stays true</h2>
 * <ul>
 *   <li>{@link #pollFeed()} reads the store's change feed after the last position seen and evicts every key a change
 *       names from both caches. For a deleted account it marks the account's one shared cache object deleted,
 *       which disowns every cached key of the account at once (a disowned entry is never served; a background
 *       sweep removes them). A reset answer drops
 *       both caches. {@link #start} runs it every poll interval; {@link #wakeUp()} runs it at once.</li>
 *   <li>Writes made on this instance are applied before the admin call returns ({@link LocalWriteListener}).</li>
 *   <li>A lookup that overlaps the application of any change is repeated, so a lookup that read the store before a
 *       change can never put the old record back after the change evicted it.</li>
 *   <li><b>Refresh</b>: after the safety TTL a cached key is reloaded in the background on its next use while the
 *       old entry keeps serving. A refresh that finds the record changed (a change the feed never reported) drops
 *       the entry as a change would; the next request looks the key up. A failed refresh is counted
 *       ({@link ResolverStats#refreshFailed()}) and logged by Caffeine at WARNING, never thrown at a request; the
 *       old entry keeps serving until a change, size eviction, or the max-stale bound drops it.</li>
 *   <li><b>Outage</b>: while the feed cannot be read, cached keys keep working until max-stale has passed since the
 *       last successful read; then (at once when max-stale is zero) every resolution that needs the cache is
 *       {@link Outcome#UNAVAILABLE} and the positive cache is dropped. A lookup that fails is UNAVAILABLE, never
 *       INVALID. The next successful feed read catches up, with no restart.</li>
 * </ul>
 * Thread safe.
 */
public final class IdentityResolver
        implements LocalWriteListener, AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(IdentityResolver.class.getName());
    private static final int LOOKUP_ATTEMPTS = 3;
    /** One cache hit in this many, at random, is shown to the cache's eviction policy (see {@link #served}). */
    private static final int POLICY_SAMPLE = 32;

    private final IdentityStore store;
    private final SecretHasher hasher;
    private final Optional<RootKey> rootKey;
    private final ResolverConfig config;
    private final Ticker ticker;
    private final Clock clock;
    private final ResolverStats stats;
    private final Executor lookupExecutor;
    /** Decides which keys stay cached (size bound, frequency) and when they are refreshed; see {@link #served}. */
    private final LoadingCache<CacheKey, CachedKey> positives;
    /**
     * What cache hits read: the entries of {@link #positives}, the same objects. A hit among a million keys is bound
     * by memory latency, and a Caffeine read follows one more pointer than a plain map's (its node) and records the
     * read in its policy, whose upkeep (frequency sketch, access order) costs several more random memory reads: one
     * of a million entries read at random costs 1.3 to 2.4 us through Caffeine against 0.28 us in a plain map on
     * the machine of docs/performance.md. So hits read this map, and Caffeine is shown one hit in
     * {@value #POLICY_SAMPLE} at random and every hit on an entry due for refresh: its policy still favours the
     * keys used most, with hits weighing less against insertions than if it saw them all.
     * <p>
     * Never holds an entry that {@code positives} does not (it would escape the size bound and the refresh):
     * entries are added inside Caffeine's atomic compute of the entry, after the change-epoch check; size
     * evictions are removed by Caffeine's eviction listener inside its atomic removal; every other removal removes
     * from {@code positives} first and from here second, by identity; clearing both excludes installs
     * ({@link #installs}). The other way round, an install landing between the two steps of a removal can leave an
     * entry in {@code positives} only, which costs one store read at its next use.
     */
    private final ConcurrentMap<CacheKey, CachedKey> served = new ConcurrentHashMap<>();
    /**
     * Installs hold the read lock, clearing both caches the write lock: Caffeine's clear skips an entry whose first
     * compute is still running, which would otherwise outlive the clear.
     */
    private final ReadWriteLock installs = new ReentrantReadWriteLock();
    private final long refreshNanos;
    private final Cache<KeyId, Boolean> negatives;
    /** Point lookups in flight, one per key id (single flight); removed when done or when a change names the key. */
    private final ConcurrentMap<KeyId, CompletableFuture<CachedKey>> lookups = new ConcurrentHashMap<>();
    /** The shared account object of every account with cached keys (see {@link CachedKey}). */
    private final ConcurrentMap<AccountId, CachedAccount> accounts = new ConcurrentHashMap<>();

    /** Incremented before every application of a change; a lookup that sees it move is repeated. */
    private final AtomicLong changeEpoch = new AtomicLong();
    private final Object feedLock = new Object();
    private final AtomicBoolean wakeUpQueued = new AtomicBoolean();
    /** Null until the feed head has been read once; keys are not cached before, so no change can be missed. */
    private volatile FeedPosition position;
    private volatile long lastFeedReadNanos;
    private volatile boolean feedFailing;
    /** Whether a failed feed read was logged that no successful read has followed yet (guarded by feedLock). */
    private boolean feedFailureLogged;
    private volatile ScheduledExecutorService scheduler;
    private volatile ScheduledFuture<?> polling;

    /**
     * @param lookupExecutor runs point lookups and background refreshes off the request threads
     * @param ticker monotonic time for the cache and the feed lag; {@code clock} gives wall time for propagation delays
     */
    public IdentityResolver(
            IdentityStore store,
            SecretHasher hasher,
            Optional<RootKey> rootKey,
            ResolverConfig config,
            ResolverStats stats,
            Executor lookupExecutor,
            Ticker ticker,
            Clock clock)
    {
        this.store = requireNonNull(store, "store is null");
        this.hasher = requireNonNull(hasher, "hasher is null");
        this.rootKey = requireNonNull(rootKey, "rootKey is null");
        this.config = requireNonNull(config, "config is null");
        this.stats = requireNonNull(stats, "stats is null");
        this.lookupExecutor = requireNonNull(lookupExecutor, "lookupExecutor is null");
        this.ticker = requireNonNull(ticker, "ticker is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.refreshNanos = config.cacheTtl().toNanos();
        this.positives = Caffeine.newBuilder()
                .maximumSize(config.maxKeys())
                .refreshAfterWrite(config.cacheTtl())
                .evictionListener((CacheKey key, CachedKey cached, RemovalCause cause) -> removeExactly(served, cached))
                // cache maintenance runs on the calling thread (amortized, no thread hand-off per few reads);
                // store lookups and refreshes run on the lookup executor (see lookUpAsync and StoreLoader)
                .executor(Runnable::run)
                .ticker(ticker)
                .build(new StoreLoader());
        this.negatives = Caffeine.newBuilder()
                .maximumSize(config.maxNegativeKeys())
                .expireAfterWrite(config.negativeTtl())
                .executor(Runnable::run)
                .ticker(ticker)
                .build();
        this.lastFeedReadNanos = ticker.read();
        this.feedFailing = true;
        pollFeed();
    }

    /**
     * Judges a presented key. Never throws for anything the client sent. Waits at most the lookup timeout, and only
     * when the key needs a store lookup.
     */
    public Resolution resolve(String presented)
    {
        return resolveAsync(presented).join();
    }

    /**
     * Judges a presented key without blocking: the future is already complete unless the key needs a store lookup,
     * and then completes on the lookup executor within the lookup timeout. Never completes exceptionally.
     */
    public CompletableFuture<Resolution> resolveAsync(String presented)
    {
        Judgement judgement = judge(presented);
        if (judgement.resolution() != null) {
            stats.resolved(judgement.resolution().outcome());
            return CompletableFuture.completedFuture(judgement.resolution());
        }
        ApiKey key = judgement.key();
        return lookUpAsync(key.keyId()).handle((cached, failure) -> {
            Resolution resolution = failure != null ? Resolution.rejected(Outcome.UNAVAILABLE) : verified(key, cached);
            stats.resolved(resolution.outcome());
            return resolution;
        });
    }

    /**
     * A resolution decided from memory, or the parsed key when a store lookup must decide.
     */
    private record Judgement(Resolution resolution, ApiKey key) {}

    private Judgement judge(String presented)
    {
        if (presented == null) {
            return decided(Outcome.MALFORMED);
        }
        if (rootKey.isPresent() && rootKey.get().matches(presented)) {
            return new Judgement(Resolution.authenticated(Identity.root()), null);
        }
        Optional<ApiKey> parsed = ApiKey.parse(presented);
        if (parsed.isEmpty()) {
            return decided(Outcome.MALFORMED);
        }
        ApiKey key = parsed.get();
        KeyId keyId = key.keyId();
        if (negatives.getIfPresent(keyId) != null) {
            stats.negativeCacheHit();
            return decided(Outcome.INVALID);
        }
        if (isStale()) {
            return decided(Outcome.UNAVAILABLE);
        }
        CacheKey probe = new CacheKey(keyId);
        CachedKey cached = served.get(probe);
        if (cached != null && !cached.isDisowned()) {
            showToPolicy(probe, cached);
            stats.cacheHit();
            return new Judgement(verified(key, cached), null);
        }
        stats.cacheMiss();
        if (cached != null) {
            removeExactly(cached);
        }
        return new Judgement(null, key);
    }

    /**
     * Reads the entry through Caffeine for one hit in {@value #POLICY_SAMPLE}, so that its eviction policy learns
     * which keys are used, and for every hit on an entry older than the safety TTL, so that Caffeine starts its
     * background refresh (see {@link #served}).
     */
    private void showToPolicy(CacheKey probe, CachedKey cached)
    {
        if (cached.age(ticker.read()) >= refreshNanos || ThreadLocalRandom.current().nextInt(POLICY_SAMPLE) == 0) {
            positives.getIfPresent(probe);
        }
    }

    private static Judgement decided(Outcome outcome)
    {
        return new Judgement(Resolution.rejected(outcome), null);
    }

    private Resolution verified(ApiKey key, CachedKey cached)
    {
        if (cached == null || !cached.matches(hasher.hash(key))) {
            return Resolution.rejected(Outcome.INVALID);
        }
        return Resolution.authenticated(cached.identity());
    }

    /**
     * Reads the change feed once, applies what it says, and catches up fully (several reads when many changes are
     * waiting). Never throws: a failure is counted and leaves the instance in the outage state until a read
     * succeeds. The first failure of an outage is logged at WARNING, the rest at DEBUG, and the first success after
     * it at INFO.
     */
    public void pollFeed()
    {
        synchronized (feedLock) {
            wakeUpQueued.set(false);
            try {
                if (position == null) {
                    position = store.headPosition();
                }
                FeedBatch batch;
                do {
                    batch = store.changesAfter(position, config.feedBatchSize());
                    position = apply(batch);
                }
                while (batch instanceof FeedBatch.Changes changes && changes.changes().size() == config.feedBatchSize());
                lastFeedReadNanos = ticker.read();
                feedFailing = false;
                stats.feedPolled();
                if (feedFailureLogged) {
                    feedFailureLogged = false;
                    LOG.log(Level.INFO, "the change feed is read again");
                }
            }
            catch (LatchkeyException | IllegalStateException e) {
                feedFailing = true;
                stats.feedPollFailed();
                // once per outage: every later failure until a read succeeds is only counted (and logged at DEBUG)
                LOG.log(feedFailureLogged ? Level.DEBUG : Level.WARNING, "reading the change feed failed: {0}", e.getMessage());
                feedFailureLogged = true;
                if (isStale()) {
                    clearPositives();
                }
            }
        }
    }

    /**
     * Asks for a feed read as soon as possible (for adapters that are told of commits, such as PostgreSQL
     * LISTEN/NOTIFY). Coalesces: many wake-ups before the read cost one read. Does nothing before {@link #start}.
     */
    public void wakeUp()
    {
        ScheduledExecutorService current = scheduler;
        if (current != null && wakeUpQueued.compareAndSet(false, true)) {
            current.execute(this::pollFeed);
        }
    }

    /**
     * Reads the change feed every poll interval on the given scheduler until {@link #close()}.
     */
    public synchronized void start(ScheduledExecutorService scheduler)
    {
        if (this.scheduler != null) {
            throw new IllegalStateException("already started");
        }
        this.scheduler = requireNonNull(scheduler, "scheduler is null");
        long interval = config.pollInterval().toNanos();
        this.polling = scheduler.scheduleWithFixedDelay(this::pollFeed, interval, interval, TimeUnit.NANOSECONDS);
    }

    @Override
    public synchronized void close()
    {
        if (polling != null) {
            polling.cancel(false);
        }
    }

    @Override
    public void written(ChangeType type, AccountId accountId, List<KeyId> keyIds)
    {
        evict(type, accountId, keyIds);
    }

    /**
     * Time since the change feed was last read successfully.
     */
    public Duration feedLag()
    {
        return Duration.ofNanos(Math.max(0, ticker.read() - lastFeedReadNanos));
    }

    /**
     * How many keys are cached (an estimate, for metrics).
     */
    public long cachedKeys()
    {
        return served.size();
    }

    private boolean isStale()
    {
        return feedFailing && feedLag().compareTo(config.maxStale()) >= 0;
    }

    private FeedPosition apply(FeedBatch batch)
    {
        if (batch instanceof FeedBatch.Reset reset) {
            lookups.clear();
            clearPositives();
            negatives.invalidateAll();
            stats.feedReset();
            return reset.head();
        }
        FeedBatch.Changes changes = (FeedBatch.Changes) batch;
        if (!changes.changes().isEmpty()) {
            changeEpoch.incrementAndGet();
        }
        for (Change change : changes.changes()) {
            evictKeys(change.type(), change.accountId(), change.keyIds());
            stats.changeApplied(Duration.between(change.committedAt(), clock.instant()));
        }
        return changes.next();
    }

    private void evict(ChangeType type, AccountId accountId, List<KeyId> keyIds)
    {
        changeEpoch.incrementAndGet();
        evictKeys(type, accountId, keyIds);
    }

    /**
     * Evicts what a change names. Call only after incrementing the change epoch.
     */
    private void evictKeys(ChangeType type, AccountId accountId, List<KeyId> keyIds)
    {
        // a request arriving from now on must not join a lookup that may have read the store before the change
        lookups.keySet().removeAll(keyIds);
        List<CacheKey> cacheKeys = keyIds.stream().map(CacheKey::new).toList();
        positives.invalidateAll(cacheKeys);
        served.keySet().removeAll(cacheKeys);
        negatives.invalidateAll(keyIds);
        if (type == ChangeType.ACCOUNT_DELETED) {
            CachedAccount account = accounts.remove(accountId);
            if (account != null) {
                // every cached key of the account is disowned at once; their entries are swept off the request path
                account.markDeleted();
                sweep(account);
            }
        }
    }

    /**
     * Drops a cached key that the store no longer confirms, exactly as a change naming the key would.
     */
    private void forget(CachedKey stale)
    {
        evict(ChangeType.KEY_REPLACED, stale.account().id(), List.of(stale.keyId()));
    }

    /**
     * Drops every cached key; a lookup that read the store before cannot install its answer after.
     */
    private void clearPositives()
    {
        Lock lock = installs.writeLock();
        lock.lock();
        try {
            changeEpoch.incrementAndGet();
            positives.invalidateAll();
            served.clear();
        }
        finally {
            lock.unlock();
        }
    }

    /**
     * Removes this very entry from both caches; a newer entry for the same key id (equal, see {@link CacheKey})
     * stays.
     */
    private void removeExactly(CachedKey cached)
    {
        removeExactly(positives.asMap(), cached);
        removeExactly(served, cached);
    }

    private static void removeExactly(ConcurrentMap<CacheKey, CachedKey> map, CachedKey cached)
    {
        map.computeIfPresent(cached, (key, current) -> current == cached ? null : current);
    }

    private void sweep(CachedAccount deleted)
    {
        try {
            lookupExecutor.execute(() -> {
                positives.asMap().values().stream().filter(cached -> cached.account() == deleted).toList().forEach(this::removeExactly);
                served.values().stream().filter(cached -> cached.account() == deleted).toList().forEach(this::removeExactly);
            });
        }
        catch (RejectedExecutionException e) {
            // disowned entries are never served; size eviction or their next use removes them
            LOG.log(Level.DEBUG, "sweeping a deleted account's keys was rejected: {0}", e.getMessage());
        }
    }

    /**
     * The single-flight point lookup of a key id that missed the cache: every concurrent caller gets the same
     * future, completed on the lookup executor, with the cached key or null when the store has no such key.
     */
    private CompletableFuture<CachedKey> lookUpAsync(KeyId keyId)
    {
        CompletableFuture<CachedKey> running = lookups.get(keyId);
        if (running != null && !running.isDone()) {
            return running;
        }
        if (running != null) {
            // finished but not yet removed (its removal races with its callers): its answer may predate a change
            lookups.remove(keyId, running);
        }
        CompletableFuture<CachedKey> started = new CompletableFuture<>();
        running = lookups.putIfAbsent(keyId, started);
        if (running != null) {
            return running;
        }
        // on a timeout (or any completion) the lookup leaves the map; a normal completion leaves it first, below
        started.whenComplete((cached, failure) -> lookups.remove(keyId, started));
        started.orTimeout(config.lookupTimeout().toNanos(), TimeUnit.NANOSECONDS);
        try {
            lookupExecutor.execute(() -> {
                CachedKey found;
                try {
                    found = lookUpAndCache(keyId);
                }
                catch (RuntimeException e) {
                    lookups.remove(keyId, started);
                    started.completeExceptionally(e);
                    return;
                }
                // removed before completing: a request arriving after the answer never joins a finished lookup
                lookups.remove(keyId, started);
                started.complete(found);
            });
        }
        catch (RejectedExecutionException e) {
            lookups.remove(keyId, started);
            started.completeExceptionally(e);
        }
        return started;
    }

    private CachedKey lookUpAndCache(KeyId keyId)
    {
        CachedKey cached = served.get(new CacheKey(keyId));
        if (cached != null && !cached.isDisowned()) {
            // a lookup that finished after this one was started already cached the key
            return cached;
        }
        Lookup lookup = lookUp(keyId);
        if (lookup.found() != null) {
            // installed (in both maps, under Caffeine's lock of the entry) only if no change was applied since the
            // store was read, so a change applied later (epoch first, eviction second) evicts it; the entry is its
            // own key (see CacheKey)
            Lock lock = installs.readLock();
            lock.lock();
            try {
                positives.asMap().compute(lookup.found(), (id, current) -> {
                    if (changeEpoch.get() != lookup.epoch()) {
                        return current;
                    }
                    served.put(lookup.found(), lookup.found());
                    return lookup.found();
                });
            }
            finally {
                lock.unlock();
            }
        }
        return lookup.found();
    }

    /**
     * One point lookup, repeated when a change was applied while it ran (its answer may predate the change).
     */
    private Lookup lookUp(KeyId keyId)
    {
        if (position == null) {
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the change feed has not been read yet");
        }
        for (int attempt = 0; attempt < LOOKUP_ATTEMPTS; attempt++) {
            long epoch = changeEpoch.get();
            if (negatives.getIfPresent(keyId) != null) {
                // a lookup that finished after this request checked the negative cache already found it absent
                return new Lookup(null, epoch);
            }
            stats.storeKeyLookup();
            Optional<KeyRecord> record = store.findKey(keyId);
            // the account object is taken before the epoch is checked: a deletion applied after the check marks it
            CachedKey found = record.map(this::toCached).orElse(null);
            if (changeEpoch.get() != epoch) {
                continue;
            }
            if (found == null) {
                negatives.put(keyId, Boolean.TRUE);
                if (changeEpoch.get() != epoch) {
                    negatives.invalidate(keyId);
                }
            }
            return new Lookup(found, epoch);
        }
        throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the store kept changing under a key lookup");
    }

    private CachedKey toCached(KeyRecord record)
    {
        return new CachedKey(record, accounts.computeIfAbsent(record.accountId(), CachedAccount::new), ticker.read());
    }

    /**
     * @param found null when the store has no such key
     * @param epoch the change epoch the answer is current for
     */
    private record Lookup(CachedKey found, long epoch) {}

    /**
     * Background refresh after the safety TTL; misses go through {@link #lookUpAsync} instead. Caffeine discards a
     * refresh whose entry was evicted or replaced while it ran.
     */
    private final class StoreLoader
            implements CacheLoader<CacheKey, CachedKey>
    {
        @Override
        public CachedKey load(CacheKey key)
        {
            return lookUp(key.keyId()).found();
        }

        /**
         * Keeps the cached object when nothing changed (the usual answer), so the entry stays its own key. When the
         * store says otherwise (a change the feed never reported), drops the entry as a change would: the next
         * request looks the key up afresh.
         */
        @Override
        public CompletableFuture<CachedKey> asyncReload(CacheKey key, CachedKey oldValue, Executor executor)
        {
            return CompletableFuture.supplyAsync(() -> {
                        CachedKey reloaded = load(key);
                        if (reloaded != null && reloaded.sameAs(oldValue)) {
                            oldValue.confirmed(ticker.read());
                            return oldValue;
                        }
                        // before completing: Caffeine's own removal on null does not call the eviction listener
                        forget(oldValue);
                        return null;
                    }, lookupExecutor)
                    .orTimeout(config.lookupTimeout().toNanos(), TimeUnit.NANOSECONDS)
                    .whenComplete((cached, failure) -> {
                        if (failure != null) {
                            stats.refreshFailed();
                        }
                    });
        }
    }
}

package dev.latchkey.core.resolver;

import com.github.benmanes.caffeine.cache.CacheLoader;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.latchkey.core.admin.LocalWriteListener;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import org.jspecify.annotations.Nullable;

import java.lang.System.Logger.Level;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

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
 *       time. Entries are compact ({@link CachedKey}: about 240 bytes per key in all, see docs/performance.md);
 *       how a hit reads them is {@link KeyCache}'s business.</li>
 *   <li>Otherwise one point lookup of the store, shared by every concurrent request for that key id (single
 *       flight), bounded by the lookup timeout. Absent ids go to the negative cache.</li>
 * </ol>
 *
 * <h2>How the cache stays true</h2>
 * <ul>
 *   <li>{@link #pollFeed()} reads the store's change feed after the last position seen ({@link FeedFollower}) and
 *       evicts every key a change names from both caches. For a deleted account it marks the account's one shared
 *       cache object deleted, which disowns every cached key of the account at once (a disowned entry is never
 *       served; a background sweep removes them). A reset answer drops both caches. {@link #start} runs it every
 *       poll interval; {@link #wakeUp()} runs it at once.</li>
 *   <li>Writes made on this instance are applied before the admin call returns ({@link LocalWriteListener}).</li>
 *   <li>A lookup that overlaps the application of a change that may concern its key (one naming it, an account
 *       deletion, a reset) is repeated, so a lookup that read the store before a change can never put the old record
 *       back after the change evicted it. Changes to other keys leave it alone, however many the feed applies.</li>
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
    private static final Decided MALFORMED = new Decided(Resolution.rejected(Outcome.MALFORMED));
    private static final Decided INVALID = new Decided(Resolution.rejected(Outcome.INVALID));
    private static final Decided UNAVAILABLE = new Decided(Resolution.rejected(Outcome.UNAVAILABLE));

    private final IdentityStore store;
    private final SecretHasher hasher;
    private final Optional<RootKey> rootKey;
    private final ResolverStats stats;
    private final Executor lookupExecutor;
    private final Ticker ticker;
    private final Clock clock;
    private final long lookupTimeoutNanos;
    private final Duration maxStaleAdmin;
    private final KeyCache cache;
    private final FeedFollower feed;
    /** Point lookups in flight, one per key id (single flight); removed when done or when a change names the key. */
    private final ConcurrentMap<KeyId, CompletableFuture<KeyLookup>> lookups = new ConcurrentHashMap<>();
    /** Usage taken from the cache that the store has not recorded yet (guarded by this). */
    private final Map<KeyId, Instant> unflushedUsage = new HashMap<>();

    /**
     * Reads the feed's head before returning (or starts in the outage state if it cannot).
     *
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
        requireNonNull(config, "config is null");
        this.stats = requireNonNull(stats, "stats is null");
        this.lookupExecutor = requireNonNull(lookupExecutor, "lookupExecutor is null");
        this.ticker = requireNonNull(ticker, "ticker is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.lookupTimeoutNanos = config.lookupTimeout().toNanos();
        this.maxStaleAdmin = config.maxStaleAdmin();
        this.cache = new KeyCache(config, ticker, new Refresher(), lookupExecutor);
        this.feed = new FeedFollower(store, config, stats, ticker, clock, new FeedListener());
        feed.poll();
    }

    /**
     * Judges a presented key. Never throws for anything the client sent. Waits at most the lookup timeout, and only
     * when the key needs a store lookup.
     */
    public Resolution resolve(@Nullable String presented)
    {
        return resolveAsync(presented).join();
    }

    /**
     * Judges a presented key without blocking: the future is already complete unless the key needs a store lookup,
     * and then completes on the lookup executor within the lookup timeout. Never completes exceptionally.
     */
    public CompletableFuture<Resolution> resolveAsync(@Nullable String presented)
    {
        Judgement judgement = judge(presented);
        if (judgement instanceof Decided decided) {
            stats.resolved(decided.resolution().outcome());
            return CompletableFuture.completedFuture(decided.resolution());
        }
        ApiKey key = ((NeedsLookup) judgement).key();
        return lookUpAsync(key.keyId()).handle((lookup, failure) -> {
            Resolution resolution = failure != null ? UNAVAILABLE.resolution() : verified(key, lookup);
            stats.resolved(resolution.outcome());
            return resolution;
        });
    }

    /**
     * What memory alone says of a presented key.
     */
    private sealed interface Judgement {}

    /** Decided from memory. */
    private record Decided(Resolution resolution)
            implements Judgement {}

    /** Well formed and not known: a store lookup decides. */
    private record NeedsLookup(ApiKey key)
            implements Judgement {}

    private Judgement judge(@Nullable String presented)
    {
        if (presented == null) {
            return MALFORMED;
        }
        Optional<ApiKey> parsed = ApiKey.parse(presented);
        if (rootKey.isPresent() && rootKey.get().mayBe(parsed.isPresent()) && rootKey.get().matches(presented)) {
            return new Decided(Resolution.authenticated(Identity.root()));
        }
        if (parsed.isEmpty()) {
            return MALFORMED;
        }
        ApiKey key = parsed.get();
        KeyId keyId = key.keyId();
        if (cache.isKnownAbsent(keyId)) {
            stats.negativeCacheHit();
            return INVALID;
        }
        if (feed.isStale()) {
            return UNAVAILABLE;
        }
        CachedKey cached = cache.hit(new CacheKey(keyId));
        if (cached != null) {
            stats.cacheHit();
            if (cached.matches(hasher.hash(key)) && !cached.isExpiredAt(clock)) {
                Identity identity = cached.identity(keyId);
                if (identity.role() == Role.ADMIN && feed.isStale(maxStaleAdmin)) {
                    // an outage longer than ADMIN keys may be trusted for: USER keys keep working until max-stale
                    return UNAVAILABLE;
                }
                cached.markUsed();
                return new Decided(Resolution.authenticated(identity));
            }
            return INVALID;
        }
        stats.cacheMiss();
        return new NeedsLookup(key);
    }

    private Resolution verified(ApiKey key, KeyLookup lookup)
    {
        if (lookup instanceof KeyLookup.Found found && found.key().matches(hasher.hash(key)) && !found.key().isExpiredAt(clock)) {
            // the lookup cached the entry (unless a change since said not to): the mark lives there, costing nothing more
            found.key().markUsed();
            if (!cache.serves(found.key())) {
                cache.used(key.keyId());
            }
            return Resolution.authenticated(found.key().identity(key.keyId()));
        }
        return INVALID.resolution();
    }

    /**
     * Reads the change feed once, applies what it says, and catches up fully (several reads when many changes are
     * waiting). Never throws: a failure is counted and leaves the instance in the outage state until a read
     * succeeds. The first failure of an outage is logged at WARNING, the rest at DEBUG, and the first success after
     * it at INFO.
     */
    public void pollFeed()
    {
        feed.poll();
    }

    /**
     * Asks for a feed read as soon as possible (for adapters that are told of commits, such as PostgreSQL
     * LISTEN/NOTIFY). Coalesces: many wake-ups before the read cost one read. Does nothing before {@link #start}.
     */
    public void wakeUp()
    {
        feed.wakeUp();
    }

    /**
     * Reads the change feed every poll interval on the given scheduler until {@link #close()}.
     *
     * @throws IllegalStateException if already started
     */
    public void start(ScheduledExecutorService scheduler)
    {
        feed.start(scheduler);
    }

    /**
     * Stops the periodic feed reads. The executors belong to the caller.
     */
    @Override
    public void close()
    {
        feed.close();
    }

    @Override
    public void written(ChangeType type, AccountId accountId, List<KeyId> keyIds)
    {
        evict(type, accountId, keyIds);
    }

    /**
     * Writes to the store which keys this instance has served since the last flush, each as used now, in one
     * {@link IdentityStore#recordUsage} call; nothing when none was served. A failed write is kept and sent again
     * with the next flush. Never throws (a failure is logged at WARNING). Calls are serialized.
     *
     * @return how many keys this flush recorded (0 when it failed)
     */
    public synchronized int flushUsage(String instanceId)
    {
        requireNonNull(instanceId, "instanceId is null");
        Set<KeyId> used = cache.takeUsed();
        // read after the marks were taken: every use taken happened before it
        Instant now = clock.instant();
        for (KeyId keyId : used) {
            unflushedUsage.put(keyId, now);
        }
        if (unflushedUsage.isEmpty()) {
            return 0;
        }
        try {
            store.recordUsage(instanceId, unflushedUsage);
        }
        catch (RuntimeException e) {
            LOG.log(Level.WARNING, "recording key usage failed; the next flush retries: {0}", e.getMessage());
            return 0;
        }
        int recorded = unflushedUsage.size();
        unflushedUsage.clear();
        return recorded;
    }

    /**
     * Time since the change feed was last read successfully.
     */
    public Duration feedLag()
    {
        return feed.lag();
    }

    /**
     * {@link #feedLag()} in nanoseconds, without an allocation (for a header on every answer).
     */
    public long feedLagNanos()
    {
        return feed.lagNanos();
    }

    /**
     * The feed position this instance has applied through: every change at or before it is reflected in what it
     * answers. Empty until the feed's head has been read once.
     */
    public Optional<FeedPosition> appliedPosition()
    {
        return feed.appliedPosition();
    }

    /**
     * Completes with the applied position once this instance has applied {@code position} (at once if it has),
     * reading the feed now instead of at the next poll: many callers waiting at once share one read. The caller bounds
     * the wait ({@link CompletableFuture#orTimeout}); a future it completes or cancels is forgotten.
     */
    public CompletableFuture<FeedPosition> whenApplied(FeedPosition position)
    {
        return feed.whenApplied(requireNonNull(position, "position is null"));
    }

    /**
     * How many keys are cached (an estimate, for metrics).
     */
    public long cachedKeys()
    {
        return cache.size();
    }

    private void evict(ChangeType type, AccountId accountId, List<KeyId> keyIds)
    {
        // a request arriving from now on must not join a lookup that may have read the store before the change
        lookups.keySet().removeAll(keyIds);
        cache.evict(type, accountId, keyIds);
    }

    /**
     * What the feed says, applied to the cache.
     */
    private final class FeedListener
            implements FeedFollower.Listener
    {
        @Override
        public void changed(Change change)
        {
            evict(change.type(), change.accountId(), change.keyIds());
        }

        @Override
        public void reset()
        {
            lookups.clear();
            cache.clearAll();
        }

        @Override
        public void stale()
        {
            cache.clear();
        }
    }

    /**
     * What a point lookup found.
     */
    private sealed interface KeyLookup
    {
        /** The store has the key; {@code key} is its cache entry. */
        record Found(CachedKey key)
                implements KeyLookup {}

        /** The store has no such key id. */
        record Absent()
                implements KeyLookup {}

        KeyLookup ABSENT = new Absent();
    }

    /**
     * The single-flight point lookup of a key id that missed the cache: every concurrent caller gets the same
     * future, completed on the lookup executor.
     */
    @SuppressWarnings("FutureReturnValueIgnored") // whenComplete's own future: its callback, a map removal, cannot fail
    private CompletableFuture<KeyLookup> lookUpAsync(KeyId keyId)
    {
        CompletableFuture<KeyLookup> running = lookups.get(keyId);
        if (running != null && !running.isDone()) {
            return running;
        }
        if (running != null) {
            // finished but not yet removed (its removal races with its callers): its answer may predate a change
            lookups.remove(keyId, running);
        }
        CompletableFuture<KeyLookup> started = new CompletableFuture<>();
        running = lookups.putIfAbsent(keyId, started);
        if (running != null) {
            return running;
        }
        // on a timeout (or any completion) the lookup leaves the map; a normal completion leaves it first, below
        started.whenComplete((lookup, failure) -> lookups.remove(keyId, started));
        try {
            lookupExecutor.execute(() -> {
                KeyLookup found;
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
        // the same future, bounded: it times out unless the lookup completes first
        return started.orTimeout(lookupTimeoutNanos, TimeUnit.NANOSECONDS);
    }

    private KeyLookup lookUpAndCache(KeyId keyId)
    {
        CachedKey cached = cache.peek(keyId);
        if (cached != null) {
            // a lookup that finished after this one was started already cached the key
            return new KeyLookup.Found(cached);
        }
        return lookUp(keyId, true);
    }

    /**
     * One point lookup, repeated when a change to its key was applied while it ran (its answer may predate it). An
     * absent key id goes to the negative cache; a key found is cached when {@code install} (a refresh leaves that
     * to Caffeine).
     */
    private KeyLookup lookUp(KeyId keyId, boolean install)
    {
        if (!feed.isPositioned()) {
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the change feed has not been read yet");
        }
        for (int attempt = 0; attempt < LOOKUP_ATTEMPTS; attempt++) {
            long stamp = cache.stamp(keyId);
            if (cache.isKnownAbsent(keyId)) {
                // a lookup that finished after this request checked the negative cache already found it absent
                return KeyLookup.ABSENT;
            }
            stats.storeKeyLookup();
            Optional<KeyRecord> record = store.findKey(keyId);
            @Nullable CachedKey found = record.map(cache::entry).orElse(null);
            if (!cache.isCurrent(keyId, stamp)) {
                continue;
            }
            if (found == null) {
                cache.recordAbsent(keyId, stamp);
                return KeyLookup.ABSENT;
            }
            if (install) {
                cache.install(found, stamp);
            }
            return new KeyLookup.Found(found);
        }
        throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the store kept changing under a key lookup");
    }

    /**
     * Background refresh after the safety TTL; misses go through {@link #lookUpAsync} instead. Caffeine discards a
     * refresh whose entry was evicted or replaced while it ran.
     */
    private final class Refresher
            implements CacheLoader<CacheKey, CachedKey>
    {
        /**
         * Never called: the resolver never asks the cache to load (misses go through {@link #lookUpAsync}), and
         * refreshes go through {@link #asyncReload}.
         */
        @Override
        public CachedKey load(CacheKey key)
        {
            throw new UnsupportedOperationException("the resolver's cache does not load keys");
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
                        KeyLookup reloaded = lookUp(key.keyId(), false);
                        if (reloaded instanceof KeyLookup.Found found && found.key().sameAs(oldValue)) {
                            oldValue.confirmed(ticker.read());
                            return oldValue;
                        }
                        // before completing: Caffeine's own removal on null does not call the eviction listener
                        evict(ChangeType.KEY_REPLACED, oldValue.account().id(), List.of(oldValue.keyId()));
                        return null;
                    }, lookupExecutor)
                    .orTimeout(lookupTimeoutNanos, TimeUnit.NANOSECONDS)
                    .whenComplete((cached, failure) -> {
                        if (failure != null) {
                            stats.refreshFailed();
                        }
                    });
        }
    }
}

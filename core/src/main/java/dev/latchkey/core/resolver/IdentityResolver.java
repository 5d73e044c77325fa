package dev.latchkey.core.resolver;

import com.github.benmanes.caffeine.cache.AsyncCacheLoader;
import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
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
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

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
 *       time.</li>
 *   <li>Otherwise one point lookup of the store, shared by every concurrent request for that key id (single
 *       flight), bounded by the lookup timeout. Absent ids go to the negative cache.</li>
 * </ol>
 *
 * <h2>How the cache stays true</h2>
 * <ul>
 *   <li>{@link #pollFeed()} reads the store's change feed after the last position seen and evicts every key a change
 *       names (and, for a deleted account, every cached key of the account) from both caches. A reset answer drops
 *       both caches. {@link #start} runs it every poll interval; {@link #wakeUp()} runs it at once.</li>
 *   <li>Writes made on this instance are applied before the admin call returns ({@link LocalWriteListener}).</li>
 *   <li>A lookup that overlaps the application of any change is repeated, so a lookup that read the store before a
 *       change can never put the old record back after the change evicted it.</li>
 *   <li><b>Refresh</b>: after the safety TTL a cached key is reloaded in the background on its next use while the
 *       old entry keeps serving. A failed refresh is counted ({@link ResolverStats#refreshFailed()}) and logged by
 *       Caffeine at WARNING, never thrown at a request; the old entry keeps serving until a change, size eviction,
 *       or the max-stale bound drops it.</li>
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

    private final IdentityStore store;
    private final SecretHasher hasher;
    private final Optional<RootKey> rootKey;
    private final ResolverConfig config;
    private final Ticker ticker;
    private final Clock clock;
    private final ResolverStats stats;
    private final Executor lookupExecutor;
    private final AsyncLoadingCache<KeyId, KeyRecord> positives;
    private final Cache<KeyId, Boolean> negatives;

    /** Incremented before every application of a change; a lookup that sees it move is repeated. */
    private final AtomicLong changeEpoch = new AtomicLong();
    private final Object feedLock = new Object();
    private final AtomicBoolean wakeUpQueued = new AtomicBoolean();
    /** Null until the feed head has been read once; keys are not cached before, so no change can be missed. */
    private volatile FeedPosition position;
    private volatile long lastFeedReadNanos;
    private volatile boolean feedFailing;
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
        this.positives = Caffeine.newBuilder()
                .maximumSize(config.maxKeys())
                .refreshAfterWrite(config.cacheTtl())
                // cache maintenance runs on the calling thread (amortized, no thread hand-off per few reads);
                // store lookups and refreshes run on the lookup executor (see StoreLoader)
                .executor(Runnable::run)
                .ticker(ticker)
                .buildAsync(new StoreLoader());
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
     * Judges a presented key. Never throws for anything the client sent.
     */
    public Resolution resolve(String presented)
    {
        Resolution resolution = judge(presented);
        stats.resolved(resolution.outcome());
        return resolution;
    }

    private Resolution judge(String presented)
    {
        if (presented == null) {
            return Resolution.rejected(Outcome.MALFORMED);
        }
        if (rootKey.isPresent() && rootKey.get().matches(presented)) {
            return Resolution.authenticated(Identity.root());
        }
        Optional<ApiKey> parsed = ApiKey.parse(presented);
        if (parsed.isEmpty()) {
            return Resolution.rejected(Outcome.MALFORMED);
        }
        ApiKey key = parsed.get();
        if (negatives.getIfPresent(key.keyId()) != null) {
            stats.negativeCacheHit();
            return Resolution.rejected(Outcome.INVALID);
        }
        if (isStale()) {
            return Resolution.rejected(Outcome.UNAVAILABLE);
        }
        CompletableFuture<KeyRecord> lookup = positives.getIfPresent(key.keyId());
        if (lookup != null && lookup.isDone()) {
            stats.cacheHit();
        }
        else {
            stats.cacheMiss();
            lookup = lookup != null ? lookup : positives.get(key.keyId());
        }
        Optional<KeyRecord> record;
        try {
            record = Optional.ofNullable(lookup.get(config.lookupTimeout().toNanos(), TimeUnit.NANOSECONDS));
        }
        catch (ExecutionException | TimeoutException e) {
            return Resolution.rejected(Outcome.UNAVAILABLE);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Resolution.rejected(Outcome.UNAVAILABLE);
        }
        if (record.isEmpty() || !hasher.matches(key, record.get().secretHash())) {
            return Resolution.rejected(Outcome.INVALID);
        }
        return Resolution.authenticated(record.get().identity());
    }

    /**
     * Reads the change feed once, applies what it says, and catches up fully (several reads when many changes are
     * waiting). Never throws: a failure is counted and leaves the instance in the outage state until a read
     * succeeds.
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
            }
            catch (LatchkeyException | IllegalStateException e) {
                feedFailing = true;
                stats.feedPollFailed();
                LOG.log(Level.DEBUG, "reading the change feed failed: {0}", e.getMessage());
                if (isStale()) {
                    positives.synchronous().invalidateAll();
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
        return positives.synchronous().estimatedSize();
    }

    private boolean isStale()
    {
        return feedFailing && feedLag().compareTo(config.maxStale()) >= 0;
    }

    private FeedPosition apply(FeedBatch batch)
    {
        if (batch instanceof FeedBatch.Reset reset) {
            changeEpoch.incrementAndGet();
            positives.synchronous().invalidateAll();
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
        positives.synchronous().invalidateAll(keyIds);
        negatives.invalidateAll(keyIds);
        if (type == ChangeType.ACCOUNT_DELETED) {
            positives.synchronous().asMap().values().removeIf(record -> record.accountId().equals(accountId));
        }
    }

    /**
     * One point lookup, repeated when a change was applied while it ran (its answer may predate the change).
     */
    private KeyRecord lookUp(KeyId keyId)
    {
        if (position == null) {
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the change feed has not been read yet");
        }
        for (int attempt = 0; attempt < LOOKUP_ATTEMPTS; attempt++) {
            long epoch = changeEpoch.get();
            if (negatives.getIfPresent(keyId) != null) {
                // a lookup that finished after this request checked the negative cache already found it absent
                return null;
            }
            stats.storeKeyLookup();
            Optional<KeyRecord> record = store.findKey(keyId);
            if (changeEpoch.get() != epoch) {
                continue;
            }
            if (record.isEmpty()) {
                negatives.put(keyId, Boolean.TRUE);
                if (changeEpoch.get() != epoch) {
                    negatives.invalidate(keyId);
                }
            }
            return record.orElse(null);
        }
        throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the store kept changing under a key lookup");
    }

    private final class StoreLoader
            implements AsyncCacheLoader<KeyId, KeyRecord>
    {
        @Override
        public CompletableFuture<KeyRecord> asyncLoad(KeyId keyId, Executor executor)
        {
            return CompletableFuture.supplyAsync(() -> lookUp(keyId), lookupExecutor)
                    .orTimeout(config.lookupTimeout().toNanos(), TimeUnit.NANOSECONDS);
        }

        @Override
        public CompletableFuture<KeyRecord> asyncReload(KeyId keyId, KeyRecord oldValue, Executor executor)
        {
            return asyncLoad(keyId, executor).whenComplete((record, failure) -> {
                if (failure != null) {
                    stats.refreshFailed();
                }
            });
        }
    }
}

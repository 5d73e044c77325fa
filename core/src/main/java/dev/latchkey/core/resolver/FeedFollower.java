package dev.latchkey.core.resolver;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import org.jspecify.annotations.Nullable;

import java.lang.System.Logger.Level;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.util.Objects.requireNonNull;

/**
 * Follows the store's change feed: reads it after the last position seen, every poll interval once
 * {@linkplain #start started} and at once on a {@linkplain #wakeUp() wake-up}, and tells its {@link Listener} what it
 * read, in feed order. Keeps the outage state: since when the feed could not be read, and whether that is longer
 * than max-stale. Thread safe; reads never overlap.
 */
final class FeedFollower
        implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(FeedFollower.class.getName());

    /**
     * What the follower tells; called on the thread that reads the feed, one call at a time.
     */
    interface Listener
    {
        /** A change read from the feed, in feed order. */
        void changed(Change change);

        /** The position was compacted away: everything derived from the store must be dropped. */
        void reset();

        /** The feed has not been read for max-stale: cached answers may no longer be served. */
        void stale();
    }

    private final IdentityStore store;
    private final Listener listener;
    private final ResolverStats stats;
    private final Ticker ticker;
    private final Clock clock;
    private final int batchSize;
    private final Duration pollInterval;
    private final Duration maxStale;

    private final Object readLock = new Object();
    private final AtomicBoolean wakeUpQueued = new AtomicBoolean();
    /** Null until the feed head has been read once. */
    private volatile @Nullable FeedPosition position;
    private volatile long lastReadNanos;
    private volatile boolean failing;
    /** Whether a failed read was logged that no successful read has followed yet (guarded by readLock). */
    private boolean failureLogged;
    /** Callers waiting for a position to be applied ({@link #whenApplied}), released after each successful read. */
    private final ConcurrentLinkedQueue<Waiter> waiters = new ConcurrentLinkedQueue<>();
    private volatile @Nullable ScheduledExecutorService scheduler;
    private @Nullable ScheduledFuture<?> polling;

    /**
     * Starts in the outage state, as if the feed had last been read now: {@link #poll()} ends it.
     *
     * @param ticker monotonic time for the feed lag; {@code clock} gives wall time for propagation delays
     */
    FeedFollower(IdentityStore store, ResolverConfig config, ResolverStats stats, Ticker ticker, Clock clock, Listener listener)
    {
        this.store = requireNonNull(store, "store is null");
        this.stats = requireNonNull(stats, "stats is null");
        this.ticker = requireNonNull(ticker, "ticker is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.listener = requireNonNull(listener, "listener is null");
        this.batchSize = config.feedBatchSize();
        this.pollInterval = config.pollInterval();
        this.maxStale = config.maxStale();
        this.lastReadNanos = ticker.read();
        this.failing = true;
    }

    /**
     * Reads the feed once and catches up fully (several reads when many changes are waiting); the first read only
     * takes the head position. Never throws: a failure is counted and leaves the follower in the outage state until
     * a read succeeds, and tells the listener {@link Listener#stale()} once max-stale has passed (at every failed
     * read from then on). The first failure of an outage is logged at WARNING, the rest at DEBUG, and the first
     * success after it at INFO.
     */
    void poll()
    {
        synchronized (readLock) {
            wakeUpQueued.set(false);
            try {
                if (position == null) {
                    position = store.headPosition();
                }
                FeedBatch batch;
                do {
                    batch = store.changesAfter(position, batchSize);
                    position = apply(batch);
                }
                while (batch instanceof FeedBatch.Changes changes && changes.changes().size() == batchSize);
                lastReadNanos = ticker.read();
                failing = false;
                stats.feedPolled();
                if (failureLogged) {
                    failureLogged = false;
                    LOG.log(Level.INFO, "the change feed is read again");
                }
            }
            catch (LatchkeyException | IllegalStateException e) {
                failing = true;
                stats.feedPollFailed();
                // once per outage: every later failure until a read succeeds is only counted (and logged at DEBUG)
                LOG.log(failureLogged ? Level.DEBUG : Level.WARNING, "reading the change feed failed: {0}", e.getMessage());
                failureLogged = true;
                if (isStale()) {
                    listener.stale();
                }
            }
        }
        // outside the lock: what a waiter does next (judge a key, answer a request) must not hold up the next read
        releaseWaiters();
    }

    private FeedPosition apply(FeedBatch batch)
    {
        if (batch instanceof FeedBatch.Reset reset) {
            listener.reset();
            stats.feedReset();
            return reset.head();
        }
        FeedBatch.Changes changes = (FeedBatch.Changes) batch;
        for (Change change : changes.changes()) {
            listener.changed(change);
            stats.changeApplied(Duration.between(change.committedAt(), clock.instant()));
        }
        return changes.next();
    }

    private record Waiter(long position, CompletableFuture<FeedPosition> applied) {}

    /**
     * The position this follower has applied the feed through; empty before its first read.
     */
    Optional<FeedPosition> appliedPosition()
    {
        return Optional.ofNullable(position);
    }

    /**
     * Completes with the applied position once it is {@code target} or later: at once when it is, else after a read
     * asked for now ({@link #wakeUp}, coalesced with every other wake-up) or a later one. Never completes on its own
     * otherwise: the caller bounds the wait (and a caller that gives up, completing or cancelling the future, is
     * forgotten).
     */
    @SuppressWarnings("FutureReturnValueIgnored") // the cleanup's own future: nothing can fail in it
    CompletableFuture<FeedPosition> whenApplied(FeedPosition target)
    {
        FeedPosition current = position;
        if (current != null && current.value() >= target.value()) {
            return CompletableFuture.completedFuture(current);
        }
        Waiter waiter = new Waiter(target.value(), new CompletableFuture<>());
        waiters.add(waiter);
        waiter.applied().whenComplete((applied, failure) -> waiters.remove(waiter));
        // a read that finished while the waiter was being added released nobody: look again
        releaseWaiters();
        if (!waiter.applied().isDone()) {
            wakeUp();
        }
        return waiter.applied();
    }

    private void releaseWaiters()
    {
        FeedPosition current = position;
        if (current == null) {
            return;
        }
        for (Waiter waiter : waiters) {
            if (waiter.position() <= current.value()) {
                waiter.applied().complete(current);
            }
        }
    }

    /**
     * Asks for a read as soon as possible on the scheduler. Coalesces: many wake-ups before the read cost one read.
     * Does nothing before {@link #start}.
     */
    void wakeUp()
    {
        ScheduledExecutorService current = scheduler;
        if (current != null && wakeUpQueued.compareAndSet(false, true)) {
            current.execute(this::poll);
        }
    }

    /**
     * Reads the feed every poll interval on the given scheduler until {@link #close()}.
     *
     * @throws IllegalStateException if already started
     */
    synchronized void start(ScheduledExecutorService scheduler)
    {
        if (this.scheduler != null) {
            throw new IllegalStateException("already started");
        }
        this.scheduler = requireNonNull(scheduler, "scheduler is null");
        long interval = pollInterval.toNanos();
        this.polling = scheduler.scheduleWithFixedDelay(this::poll, interval, interval, TimeUnit.NANOSECONDS);
    }

    /**
     * Stops the periodic reads; a read in progress finishes. The scheduler belongs to the caller.
     */
    @Override
    public synchronized void close()
    {
        if (polling != null) {
            polling.cancel(false);
        }
    }

    /**
     * Whether the head position has been read, so that no change committed since can be missed.
     */
    boolean isPositioned()
    {
        return position != null;
    }

    /**
     * Time since the feed was last read successfully (or since construction, before the first success).
     */
    Duration lag()
    {
        return Duration.ofNanos(lagNanos());
    }

    /**
     * {@link #lag()} in nanoseconds, without a {@link Duration} (read on every verify answer).
     */
    long lagNanos()
    {
        return Math.max(0, ticker.read() - lastReadNanos);
    }

    /**
     * Whether the last read failed and the last success is max-stale ago or more.
     */
    boolean isStale()
    {
        return isStale(maxStale);
    }

    /**
     * Whether the last read failed and the last success is {@code bound} ago or more.
     */
    boolean isStale(Duration bound)
    {
        return failing && lag().compareTo(bound) >= 0;
    }
}

package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.LiveViews.AccountRead;
import dev.latchkey.adapters.s3.S3IdentityStore.CrashPoints;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.Origin;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static java.util.Objects.requireNonNull;

/**
 * Group commit: the writes of one store handle queue here, and one committer thread takes every queued write at
 * once, checks each in order against one view of the store and of the batch's earlier writes ({@link BatchChecks}),
 * and commits all of them with one conditional PUT of the feed head, at consecutive positions. Across handles and
 * instances the head's condition still decides: a batch that loses it folds in the entries that won
 * ({@link BatchReading}), checks its writes again against them and tries again at once, with the writes queued
 * meanwhile; after each commit the committer pauses a moment while writes are queued, so that the writer that lost
 * gets its turn.
 * <p>
 * Before the commit, each new key is staged ({@link Staging}), and the commit lists its entries in the head as
 * unapplied to their accounts (so readers fold them in from then on); after it, the writes' users and keys are written
 * on the applier threads, off the committer's path, each write answers once those of its account are, and the account
 * counts them as applied later, once for many writes ({@link #settleLater}), after which a later commit stops listing
 * them. An account deletion answers at its commit: its per-user cleanup runs after. A write that has not
 * gone out with a commit within the write timeout answers UNAVAILABLE "the store is busy", and never lands.
 */
final class Committer
        implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(Committer.class.getName());

    /** At most one head's worth of entries per commit. */
    static final int MAX_BATCH = ObjectLayout.PAGE_SIZE;
    private static final int APPLIER_THREADS = 4;
    private static final Duration FINISH_WAIT = Duration.ofSeconds(2);
    /**
     * About how long after its first uncounted entry applied here an account object is settled (from three quarters to
     * five quarters of it, at random): the writes to it from here meanwhile (and from other instances, once written)
     * are counted by the same PUT.
     */
    static final Duration SETTLE_DELAY = Duration.ofSeconds(4);
    /**
     * How many times a settle that another writer's entries hold up is taken again, {@link #SETTLE_DELAY} apart,
     * waiting for that writer to say they are written; the last time, this handle writes them (that writer stopped, or
     * is very slow).
     */
    private static final int SETTLE_RETRIES = 3;
    /** How many entries after its oldest uncounted entry an account object is settled, at the latest. */
    static final int SETTLE_LAG = 5 * ObjectLayout.PAGE_SIZE;

    private final Feed feed;
    private final Applier applier;
    private final ParallelReads parallel;
    private final BatchCommit batches;
    private final Duration writeTimeout;
    private final Duration answerWait;
    private final BlockingQueue<QueuedWrite<?>> queue = new LinkedBlockingQueue<>();
    private final Thread committer;
    private final ExecutorService appliers = Executors.newFixedThreadPool(APPLIER_THREADS, runnable -> {
        Thread thread = new Thread(runnable, "latchkey-s3-apply");
        thread.setDaemon(true);
        return thread;
    });
    /** The newest apply of each account started here: the next one of the same account runs after it. */
    private final Map<String, CompletableFuture<Void>> applying = new ConcurrentHashMap<>();
    /** Accounts whose entries applied here their objects do not count yet, and what settling each takes. */
    private final Map<AccountId, Unsettled> unsettled = new ConcurrentHashMap<>();
    /** Accounts with a settle due after {@link #SETTLE_DELAY}. */
    private final Set<AccountId> timed = ConcurrentHashMap.newKeySet();
    /** The settles under way. */
    private final Set<CompletableFuture<Void>> settlings = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    Committer(S3Objects objects, Feed feed, LiveViews views, Applier applier, ConditionalWriteProbe probe, Clock clock,
            Duration writeTimeout, Duration callTimeout, CrashPoints crashPoints)
    {
        this.feed = requireNonNull(feed, "feed is null");
        this.applier = requireNonNull(applier, "applier is null");
        // a batch's reads and stages each go out in one round, whatever its size: the head waits on them
        this.parallel = new ParallelReads(MAX_BATCH, "latchkey-s3-commit-io");
        this.writeTimeout = requireNonNull(writeTimeout, "writeTimeout is null");
        // the write timeout, then the commit in flight and the apply after it, each request bounded by the call timeout
        this.answerWait = writeTimeout.plus(requireNonNull(callTimeout, "callTimeout is null").multipliedBy(4));
        this.batches = new BatchCommit(objects, feed, views, applier, probe, parallel, clock, writeTimeout, crashPoints, queue, this::applyLater, this::finishLater);
        this.committer = new Thread(this::run, "latchkey-s3-commit");
        committer.setDaemon(true);
        committer.start();
    }

    /**
     * Queues a write to {@code accountId}, from {@code origin} (committed with its entry), and waits for its answer.
     */
    <T> T write(Origin origin, AccountId accountId, WritePlanner<T> planner)
    {
        QueuedWrite<T> write = new QueuedWrite<>(origin, accountId, planner, System.nanoTime() + writeTimeout.toNanos());
        if (closed) {
            throw closing();
        }
        queue.add(write);
        if (closed && queue.remove(write)) {
            throw closing();
        }
        try {
            return write.answer.get(answerWait.toMillis(), TimeUnit.MILLISECONDS);
        }
        catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new IllegalStateException(e.getCause());
        }
        catch (TimeoutException e) {
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 store did not answer the write within " + answerWait.toMillis() + " ms; "
                    + "it may or may not have been made");
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "interrupted while writing to the S3 store", e);
        }
    }

    /**
     * How many writes wait for their batch to start, for tests.
     */
    int queuedWrites()
    {
        return queue.size();
    }

    /**
     * Waits until every apply started here is finished (or has failed), for tests.
     */
    void awaitApplied(Duration wait)
            throws InterruptedException
    {
        try {
            CompletableFuture.allOf(applying.values().toArray(CompletableFuture[]::new)).get(wait.toMillis(), TimeUnit.MILLISECONDS);
            // and the settles not due yet, now
            settleAllNow(wait);
        }
        catch (ExecutionException e) {
            // a failed apply is finished too: the next write to its account does it again
        }
        catch (TimeoutException e) {
            throw new IllegalStateException("writes still being applied after " + wait, e);
        }
    }

    @Override
    public void close()
    {
        closed = true;
        committer.interrupt();
        try {
            committer.join(FINISH_WAIT.toMillis());
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (QueuedWrite<?> write = queue.poll(); write != null; write = queue.poll()) {
            write.fail(closing());
        }
        parallel.close();
        // an apply under way may take its last few requests; one not started is left to the next write to its account
        appliers.shutdown();
        try {
            if (!appliers.awaitTermination(FINISH_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                appliers.shutdownNow();
            }
        }
        catch (InterruptedException e) {
            appliers.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    private void run()
    {
        while (!closed) {
            List<QueuedWrite<?>> batch = new ArrayList<>();
            try {
                batch.add(queue.take());
            }
            catch (InterruptedException e) {
                return;
            }
            queue.drainTo(batch, MAX_BATCH - 1);
            try {
                batches.commit(batch);
                settleDue(feed.lastKnownHead().position());
                yieldToOtherWriters();
            }
            catch (RuntimeException e) {
                batch.forEach(write -> write.fail(e));
                if (e instanceof LatchkeyException failure && failure.code() == ErrorCode.UNAVAILABLE) {
                    // the writes queued meanwhile would meet the same outage, a call timeout per batch: they fail now
                    List<QueuedWrite<?>> queued = new ArrayList<>();
                    queue.drainTo(queued);
                    queued.forEach(write -> write.fail(failure));
                }
            }
        }
    }

    /**
     * Applies a committed batch's entries about one account on the applier threads, after the previous apply of the
     * same account from here, and answers that account's writes once their users and keys are written (the account
     * object is settled later, {@link #settleLater}). An account deletion answers at once: the
     * committed entry is the decision (every key of the account stopped with it), and its cleanup costs about four
     * requests per user. If this handle stops first, the head keeps listing the entries as unapplied (and unwritten),
     * and the next handle to settle the account applies them, after waiting a few turns for this one (as does a
     * commit that finds them listed for long).
     */
    private void applyLater(BatchCommit.Committed committed)
    {
        AccountId account = committed.account();
        Optional<AccountRead> read = committed.read();
        List<Entry> pending = committed.pending();
        Map<String, String> stagedKeys = committed.stagedKeys();
        List<QueuedWrite<?>> writes = committed.writes();
        List<QueuedWrite<?>> deletions = writes.stream().filter(write -> write.planned != null && write.planned.type() == ChangeType.ACCOUNT_DELETED).toList();
        List<QueuedWrite<?>> waiting = writes.stream().filter(write -> write.planned == null || write.planned.type() != ChangeType.ACCOUNT_DELETED).toList();
        try {
            afterApplies(account, () -> {
                try {
                    applier.apply(pending, committed.own(), stagedKeys, () -> waiting.forEach(QueuedWrite::answer));
                    settleLater(account, read, pending);
                }
                catch (RuntimeException e) {
                    if (waiting.isEmpty()) {
                        LOG.log(System.Logger.Level.WARNING, "finishing a deletion of an account failed; the next write to it finishes it: {0}", e.getMessage());
                    }
                    waiting.forEach(write -> write.fail(e));
                    throw e;
                }
            });
        }
        catch (RejectedExecutionException e) {
            // closing: committed, and left to the next write to the account
            waiting.forEach(QueuedWrite::answer);
        }
        // answered once their apply is registered, so that awaitApplied after the answer waits for it
        deletions.forEach(QueuedWrite::answer);
    }

    /**
     * Applies what is left unapplied to an account that another handle wrote to and stopped before applying, on the
     * applier threads, unless an apply of that account from here is under way (it applies those entries too).
     */
    private void finishLater(AccountId account)
    {
        if (applying.containsKey(account.value())) {
            return;
        }
        try {
            afterApplies(account, () -> {
                try {
                    applier.finish(account);
                }
                catch (RuntimeException e) {
                    // left to the next write to the account, or to the next commit that finds it unapplied
                    LOG.log(System.Logger.Level.DEBUG, "finishing account {0} failed: {1}", account, e.getMessage());
                }
            });
        }
        catch (RejectedExecutionException e) {
            // closing: left to another handle
        }
    }

    /**
     * Runs {@code task} on the applier threads after the applies of the account started here before it (failed or
     * not), as the account's newest apply until it is done.
     *
     * @throws RejectedExecutionException when closing
     */
    private void afterApplies(AccountId account, Runnable task)
    {
        CompletableFuture<Void> next = applying.compute(account.value(), (name, previous) ->
                (previous == null ? CompletableFuture.<Void>completedFuture(null) : previous.exceptionally(failure -> null)).thenRunAsync(task, appliers));
        next.whenComplete((done, failure) -> applying.remove(account.value(), next));
    }

    /**
     * What settling an account takes: the newest version of its object read by a batch, and the entries it did not
     * count, oldest first.
     */
    private record Unsettled(Optional<AccountRead> read, List<Entry> entries, int retries)
    {
        long oldest()
        {
            return entries.get(0).position();
        }

        /**
         * What settling the account takes now that {@code newer} is due too: every entry of both (a settle skips those
         * counted already), the newer read, and the turns already waited.
         */
        Unsettled with(Unsettled newer)
        {
            TreeMap<Long, Entry> both = new TreeMap<>();
            entries.forEach(entry -> both.put(entry.position(), entry));
            newer.entries().forEach(entry -> both.put(entry.position(), entry));
            return new Unsettled(newer.read().or(this::read), List.copyOf(both.values()), Math.max(retries, newer.retries()));
        }
    }

    /**
     * Counts a batch's entries as applied on their account later, with the entries applied here after them: at most
     * {@link #SETTLE_DELAY} after the account's first entry left uncounted here, or once the head is
     * {@link #SETTLE_LAG} entries past it ({@link #settleDue}), whichever comes first. Until then the head lists them
     * as unapplied, and every reader folds them in; the later an account is settled, the more writes (of any
     * instance) one PUT counts.
     */
    private void settleLater(AccountId account, Optional<AccountRead> read, List<Entry> entries)
    {
        if (entries.isEmpty()) {
            return;
        }
        waitToSettle(account, new Unsettled(read, entries, 0));
    }

    /**
     * Registers what settling the account takes, with what was registered already (keeping the turns it has waited
     * for another writer), and starts its timer unless one runs.
     */
    private void waitToSettle(AccountId account, Unsettled waiting)
    {
        unsettled.merge(account, waiting, Unsettled::with);
        if (timed.add(account)) {
            // from three quarters of the delay to five quarters: instances that wrote to an account at the same moment
            // take turns to settle it, and the later one finds it settled
            long delay = SETTLE_DELAY.toMillis() * 3 / 4 + ThreadLocalRandom.current().nextLong(SETTLE_DELAY.toMillis() / 2 + 1);
            CompletableFuture.runAsync(() -> {
                timed.remove(account);
                settleNow(account);
            }, CompletableFuture.delayedExecutor(delay, TimeUnit.MILLISECONDS));
        }
    }

    /**
     * Settles now, after a commit, the accounts whose oldest uncounted entry is {@link #SETTLE_LAG} entries behind
     * the head (but those waiting for another writer: they wait for their time).
     */
    private void settleDue(long headPosition)
    {
        unsettled.forEach((account, waiting) -> {
            if (waiting.retries() == 0 && headPosition - waiting.oldest() >= SETTLE_LAG) {
                settleNow(account);
            }
        });
    }

    /**
     * Settles every account waiting to be, now, and waits for those settles (and those under way) for at most
     * {@code wait}.
     */
    private void settleAllNow(Duration wait)
            throws InterruptedException, ExecutionException, TimeoutException
    {
        List.copyOf(unsettled.keySet()).forEach(this::settleNow);
        CompletableFuture.allOf(settlings.toArray(CompletableFuture[]::new)).get(wait.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Settles the account on the applier threads, beside its applies (it counts only entries whose objects are
     * written, so it waits for none of them).
     */
    private void settleNow(AccountId account)
    {
        Unsettled waiting = unsettled.remove(account);
        if (waiting == null) {
            return;
        }
        try {
            CompletableFuture<Void> settling = CompletableFuture.runAsync(() -> {
                // and what was registered since
                Unsettled newer = unsettled.remove(account);
                Unsettled taken = newer == null ? waiting : waiting.with(newer);
                Optional<AccountRead> known = applier.known().get(account).or(taken::read);
                try {
                    // held up that long by another writer's entries, this handle writes them itself
                    List<Entry> left = applier.settle(account, known, taken.entries(), taken.retries() >= SETTLE_RETRIES);
                    if (!left.isEmpty() && taken.retries() < SETTLE_RETRIES) {
                        // another writer's entry, not said to be written yet, comes first: try again later
                        waitToSettle(account, new Unsettled(applier.known().get(account), left, taken.retries() + 1));
                    }
                }
                catch (RuntimeException e) {
                    // the entries stay listed as unapplied, and read the same; the next write to the account settles them
                    LOG.log(System.Logger.Level.DEBUG, "settling account {0} failed: {1}", account, e.getMessage());
                }
            }, appliers);
            settlings.add(settling);
            settling.whenComplete((done, failure) -> settlings.remove(settling));
        }
        catch (RejectedExecutionException e) {
            // closing: left to the next write to the account
        }
    }

    /**
     * After a commit, while more writes are queued: waits a random time up to as long as that commit's attempt took.
     * A writer elsewhere that lost the head to this commit starts its next attempt at once; without the pause, this
     * committer's next batch, started at once on the fresh head, would win the race for it every time, and the other
     * writer would wait until this one's queue is empty. With it, the loser wins about half the races. Nothing here
     * can tell whether anyone is waiting (a writer that keeps losing leaves no trace), so the pause is taken always:
     * it costs a lone instance at most one attempt's time per batch, and its batches grow to match.
     */
    private void yieldToOtherWriters()
    {
        long lastAttemptNanos = batches.takeLastAttemptNanos();
        if (queue.isEmpty() || lastAttemptNanos <= 0) {
            return;
        }
        long pause = ThreadLocalRandom.current().nextLong(0, Math.min(lastAttemptNanos, TimeUnit.MILLISECONDS.toNanos(200)) + 1);
        try {
            TimeUnit.NANOSECONDS.sleep(pause);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static LatchkeyException closing()
    {
        return new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 store is closing");
    }
}

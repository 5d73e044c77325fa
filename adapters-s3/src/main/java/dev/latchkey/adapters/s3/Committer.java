package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.Feed.HeadRead;
import dev.latchkey.adapters.s3.LiveViews.AccountRead;
import dev.latchkey.adapters.s3.LiveViews.AccountView;
import dev.latchkey.adapters.s3.S3IdentityStore.CrashPoints;
import dev.latchkey.adapters.s3.S3IdentityStore.WriteStep;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.store.ChangeType;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
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
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

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
 * Before the commit, each account written is marked with the positions its writes take, and each new key is staged
 * ({@link Staging}); after it, the writes' users and keys are written on the applier threads, off the committer's
 * path, each write answers once those of its account are, and the account counts them as applied a moment later
 * ({@link Applier}). An account deletion answers at its commit: its per-user cleanup runs after. A write that has not
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
    /** About one attempt: time for the next batch to the account to fold a settled apply into its mark. */
    private static final Duration SETTLE_DELAY = Duration.ofMillis(250);

    private final S3Objects objects;
    private final Feed feed;
    private final LiveViews views;
    private final Applier applier;
    private final Staging staging;
    private final ConditionalWriteProbe probe;
    private final ParallelReads parallel;
    private final Clock clock;
    private final Duration writeTimeout;
    private final Duration answerWait;
    private final CrashPoints crashPoints;
    private final BlockingQueue<QueuedWrite<?>> queue = new LinkedBlockingQueue<>();
    private final Thread committer;
    private final ExecutorService appliers = Executors.newFixedThreadPool(APPLIER_THREADS, runnable -> {
        Thread thread = new Thread(runnable, "latchkey-s3-apply");
        thread.setDaemon(true);
        return thread;
    });
    /** The newest apply of each account started here: the next one of the same account runs after it. */
    private final Map<String, CompletableFuture<Void>> applying = new ConcurrentHashMap<>();
    /** Account objects waiting to count applied entries ({@link #settleLater}). */
    private final Set<CompletableFuture<Void>> settlings = ConcurrentHashMap.newKeySet();
    /** How many applies of each account were started here: an apply leaves the account object to a later one. */
    private final Map<String, AtomicLong> tickets = new ConcurrentHashMap<>();
    private volatile boolean closed;
    /** How long the latest committed attempt took, from its read of the head to its commit (committer thread only). */
    private long lastAttemptNanos;

    /** The reading of the latest attempt that lost the head, for the next one (committer thread only). */
    private BatchReading reading;
    /** Key ids that staging found in use, during the current batch (committer thread only). */
    private final Set<String> inUse = new java.util.HashSet<>();
    /** Key ids that this batch's writes staged, in earlier attempts of it (committer thread only). */
    private final Set<String> stagedHere = ConcurrentHashMap.newKeySet();

    private enum Outcome
    {
        /** Committed (or nothing to commit): every write of the batch is answered or being applied. */
        DONE,
        /** The head, an account or a key changed under the batch: plan it again after a back-off. */
        LOST,
        /** Some writes ran out of time and were answered busy: plan the rest again now. */
        REPLAN,
    }

    Committer(S3Objects objects, Feed feed, LiveViews views, Applier applier, ConditionalWriteProbe probe, Clock clock,
            Duration writeTimeout, Duration callTimeout, CrashPoints crashPoints)
    {
        this.objects = requireNonNull(objects, "objects is null");
        this.feed = requireNonNull(feed, "feed is null");
        this.views = requireNonNull(views, "views is null");
        this.applier = requireNonNull(applier, "applier is null");
        this.staging = new Staging(objects, views, applier);
        this.probe = requireNonNull(probe, "probe is null");
        // a batch's reads, marks and stages each go out in one round, whatever its size: the head waits on them
        this.parallel = new ParallelReads(MAX_BATCH, "latchkey-s3-commit-io");
        this.clock = requireNonNull(clock, "clock is null");
        this.writeTimeout = requireNonNull(writeTimeout, "writeTimeout is null");
        // the write timeout, then the commit in flight and the apply after it, each request bounded by the call timeout
        this.answerWait = writeTimeout.plus(requireNonNull(callTimeout, "callTimeout is null").multipliedBy(4));
        this.crashPoints = requireNonNull(crashPoints, "crashPoints is null");
        this.committer = new Thread(this::run, "latchkey-s3-commit");
        committer.setDaemon(true);
        committer.start();
    }

    /**
     * Queues a write to {@code accountId} and waits for its answer.
     */
    <T> T write(AccountId accountId, WritePlanner<T> planner)
    {
        QueuedWrite<T> write = new QueuedWrite<>(accountId, planner, System.nanoTime() + writeTimeout.toNanos());
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
     * Waits until every apply started here is finished (or has failed), for tests.
     */
    void awaitApplied(Duration wait)
            throws InterruptedException
    {
        try {
            CompletableFuture.allOf(applying.values().toArray(CompletableFuture[]::new)).get(wait.toMillis(), TimeUnit.MILLISECONDS);
            CompletableFuture.allOf(settlings.toArray(CompletableFuture[]::new)).get(wait.toMillis(), TimeUnit.MILLISECONDS);
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
                commit(batch);
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

    private void commit(List<QueuedWrite<?>> batch)
    {
        probe.requireHonoured();
        reading = null;
        inUse.clear();
        stagedHere.clear();
        Outcome outcome = Outcome.DONE;
        for (int attempt = 0; ; attempt++) {
            if (outcome == Outcome.LOST) {
                backOff(attempt);
                queue.drainTo(batch, MAX_BATCH - batch.size());
            }
            answerExpired(batch, false);
            if (batch.isEmpty()) {
                return;
            }
            outcome = attempt(batch);
            if (outcome == Outcome.DONE) {
                return;
            }
        }
    }

    private Outcome attempt(List<QueuedWrite<?>> batch)
    {
        long began = System.nanoTime();
        HeadRead head = feed.readHead();
        long position = head.head().position();
        // after a lost race for the head: what the last attempt read, with the entries committed since folded in
        BatchReading previous = reading == null ? null : reading.advancedTo(head);
        reading = null;
        Reads.Remembering reads = previous == null ? Reads.remembering(objects) : previous.reads();
        LiveViews attemptViews = views.asOf(head.head(), reads);
        Map<AccountId, AccountView> current = new HashMap<>(previous == null ? Map.of() : previous.base());
        Set<String> guarded = previous == null ? ConcurrentHashMap.newKeySet() : previous.guarded();

        // every account of the batch not read yet, as the head read leaves it
        List<AccountId> accounts = batch.stream().map(write -> write.accountId).distinct().filter(account -> !current.containsKey(account)).toList();
        List<Optional<AccountRead>> stored = parallel.map(accounts, views::readDocument);
        Map<AccountId, Optional<AccountRead>> documents = new HashMap<>();
        for (int i = 0; i < accounts.size(); i++) {
            if (stored.get(i).map(read -> read.account().applied() > position).orElse(false)) {
                // written after the head was read: the head is stale
                return Outcome.LOST;
            }
            documents.put(accounts.get(i), stored.get(i));
            current.put(accounts.get(i), attemptViews.fold(stored.get(i), accounts.get(i), head.head()));
        }

        // what the checks read, read side by side: each write's checks run once against its account as the head
        // leaves it, their answers and failures ignored, so that the checks in order below find the objects read
        Map<AccountId, AccountView> base = Map.copyOf(current);
        parallel.map(batch.size() == 1 ? List.of() : batch, write -> {
            try {
                write.planner.plan(base.get(write.accountId), new BatchChecks(attemptViews, reads, Map.of(), base, guarded, inUse, stagedHere));
            }
            catch (RuntimeException e) {
                // the check in order decides
            }
            return null;
        });

        // each write's checks, in order, against the view its batch's earlier writes leave
        List<Entry> entries = new ArrayList<>();
        Map<String, Entry> issuedKeys = new HashMap<>();
        List<Entry> toStage = new ArrayList<>();
        BatchChecks context = new BatchChecks(attemptViews, reads, issuedKeys, current, guarded, inUse, stagedHere);
        for (QueuedWrite<?> write : batch) {
            write.planned = null;
            write.failure = null;
            AccountView view = current.get(write.accountId);
            WritePlanner.Plan<?> plan;
            try {
                plan = write.planner.plan(view, context);
            }
            catch (RuntimeException e) {
                write.failure = e;
                continue;
            }
            write.result = plan.result();
            if (plan.entry() == null) {
                continue;
            }
            Entry entry = plan.entry().committed(position + entries.size() + 1, write.txn, clock.instant());
            if (entry.issuesKey() && issuedKeys.putIfAbsent(entry.keyId(), entry) == null) {
                toStage.add(entry);
            }
            entries.add(entry);
            write.planned = entry;
            current.put(write.accountId, view.with(entry));
        }
        if (entries.isEmpty()) {
            batch.forEach(QueuedWrite::answer);
            batch.clear();
            return Outcome.DONE;
        }

        reading = new BatchReading(head, reads, base, guarded);

        // mark every account written with its positions and stage every new key, side by side: none is the head
        Map<AccountId, List<Long>> positions = new LinkedHashMap<>();
        entries.forEach(entry -> positions.computeIfAbsent(AccountId.of(entry.accountId()), account -> new ArrayList<>()).add(entry.position()));
        List<AccountId> written = List.copyOf(positions.keySet());
        List<Supplier<Object>> steps = new ArrayList<>();
        // an account read by an earlier attempt has changed since (the entries that won the head marked it)
        written.forEach(account -> steps.add(() -> staging.mark(account, documents.containsKey(account) ? documents.get(account) : views.readDocument(account),
                positions.get(account), position, base.get(account).pending())));
        toStage.forEach(entry -> steps.add(() -> staging.stage(entry, reads, context)));
        List<Object> done = parallel.map(steps, Supplier::get);
        List<Optional<AccountRead>> marks = new ArrayList<>();
        for (int i = 0; i < written.size(); i++) {
            @SuppressWarnings("unchecked")
            Optional<AccountRead> mark = (Optional<AccountRead>) done.get(i);
            marks.add(mark);
        }
        List<Staging.Staged> staged = done.subList(written.size(), done.size()).stream().map(Staging.Staged.class::cast).toList();
        if (staged.stream().anyMatch(Staging.Staged.InUse.class::isInstance)) {
            // found in use by staging: the writes that issue them fail their checks in the batch planned again
            for (int i = 0; i < toStage.size(); i++) {
                if (staged.get(i) instanceof Staging.Staged.InUse) {
                    inUse.add(toStage.get(i).keyId());
                }
            }
            return Outcome.REPLAN;
        }
        if (staged.stream().anyMatch(Staging.Staged.Lost.class::isInstance)) {
            // a key object changed under the batch: its checks read again
            reading = null;
            return Outcome.LOST;
        }
        if (marks.stream().anyMatch(Optional::isEmpty)) {
            return Outcome.LOST;
        }
        Map<String, String> stagedKeys = new HashMap<>();
        for (int i = 0; i < toStage.size(); i++) {
            if (staged.get(i) instanceof Staging.Staged.Written stagedKey) {
                stagedKeys.put(toStage.get(i).txn(), stagedKey.etag());
                stagedHere.add(toStage.get(i).keyId());
            }
        }
        // the last moment to give up: a write answered as busy must never land later
        if (answerExpired(batch, true)) {
            return Outcome.REPLAN;
        }
        crashPoints.passing(WriteStep.STAGED);

        Optional<HeadRead> committed = feed.append(head, entries);
        if (committed.isEmpty() && !feed.holds(entries)) {
            return Outcome.LOST;
        }
        crashPoints.passing(WriteStep.COMMITTED);
        reading = null;
        lastAttemptNanos = System.nanoTime() - began;

        for (int i = 0; i < written.size(); i++) {
            AccountId account = written.get(i);
            AccountRead marked = marks.get(i).orElseThrow();
            List<QueuedWrite<?>> ofAccount = batch.stream().filter(write -> write.accountId.equals(account)).toList();
            applyLater(account, marked, current.get(account).pending(), stagedKeys, ofAccount);
        }
        batch.stream().filter(write -> write.planned == null).forEach(QueuedWrite::answer);
        batch.clear();
        try {
            feed.compactIfDue(committed.orElseGet(feed::readHead), applier::finish);
        }
        catch (LatchkeyException e) {
            // housekeeping: the writes are done, and a later commit compacts instead
        }
        return Outcome.DONE;
    }

    /**
     * Applies a committed batch's entries about one account on the applier threads, after the previous apply of the
     * same account from here, and answers that account's writes once done. An account deletion answers at once: the
     * committed entry is the decision (every key of the account stopped with it), and its cleanup costs about four
     * requests per user. If this handle stops first, the entries stay pending on the account and the next write to
     * it, from any instance, applies them.
     */
    private void applyLater(AccountId account, AccountRead marked, List<Entry> pending, Map<String, String> stagedKeys, List<QueuedWrite<?>> writes)
    {
        List<QueuedWrite<?>> deletions = writes.stream().filter(write -> write.planned != null && write.planned.type() == ChangeType.ACCOUNT_DELETED).toList();
        List<QueuedWrite<?>> waiting = writes.stream().filter(write -> write.planned == null || write.planned.type() != ChangeType.ACCOUNT_DELETED).toList();
        long ticket = tickets.computeIfAbsent(account.value(), name -> new AtomicLong()).incrementAndGet();
        try {
            CompletableFuture<Void> apply = applying.compute(account.value(), (name, previous) -> {
                CompletableFuture<Void> after = previous == null ? CompletableFuture.completedFuture(null) : previous.exceptionally(failure -> null);
                return after.thenRunAsync(() -> {
                    try {
                        applier.apply(account, marked, pending, stagedKeys, () -> waiting.forEach(QueuedWrite::answer));
                        settleLater(account, marked, pending, ticket);
                    }
                    catch (RuntimeException e) {
                        if (waiting.isEmpty()) {
                            LOG.log(System.Logger.Level.WARNING, "finishing a deletion of an account failed; the next write to it finishes it: {0}", e.getMessage());
                        }
                        waiting.forEach(write -> write.fail(e));
                        throw e;
                    }
                }, appliers);
            });
            apply.whenComplete((done, failure) -> applying.remove(account.value(), apply));
        }
        catch (RejectedExecutionException e) {
            // closing: committed, and left to the next write to the account
            waiting.forEach(QueuedWrite::answer);
        }
        // answered once their apply is registered, so that awaitApplied after the answer waits for it
        deletions.forEach(QueuedWrite::answer);
    }

    /**
     * Counts a batch's entries as applied on their account a moment after their objects are written, unless a later
     * batch of this handle writes to the account meanwhile: its mark folds them in, and its own settling counts them.
     */
    private void settleLater(AccountId account, AccountRead marked, List<Entry> entries, long ticket)
    {
        CompletableFuture<Void> settling = CompletableFuture.runAsync(() -> {
            if (tickets.get(account.value()).get() == ticket) {
                try {
                    applier.settle(account, marked, entries);
                }
                catch (RuntimeException e) {
                    // the entries stay pending on the account, which reads the same; the next write to it settles them
                    LOG.log(System.Logger.Level.DEBUG, "settling account {0} failed: {1}", account, e.getMessage());
                }
            }
        }, CompletableFuture.delayedExecutor(SETTLE_DELAY.toMillis(), TimeUnit.MILLISECONDS, appliers));
        settlings.add(settling);
        settling.whenComplete((done, failure) -> settlings.remove(settling));
    }

    /**
     * Answers busy, and takes out of the batch, every write whose time is over ({@code planned}: only among those
     * with an entry planned, which is what the batch must then be planned again without).
     *
     * @return whether any was
     */
    private boolean answerExpired(List<QueuedWrite<?>> batch, boolean planned)
    {
        long now = System.nanoTime();
        boolean any = false;
        for (Iterator<QueuedWrite<?>> writes = batch.iterator(); writes.hasNext(); ) {
            QueuedWrite<?> write = writes.next();
            if (now - write.deadline > 0 && (!planned || write.planned != null)) {
                write.answer.completeExceptionally(new LatchkeyException(ErrorCode.UNAVAILABLE,
                        "the store is busy: the write was not made within " + writeTimeout.toMillis() + " ms; try again"));
                writes.remove();
                any = true;
            }
        }
        return any;
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
        if (queue.isEmpty() || lastAttemptNanos <= 0) {
            return;
        }
        long pause = ThreadLocalRandom.current().nextLong(0, Math.min(lastAttemptNanos, TimeUnit.MILLISECONDS.toNanos(200)) + 1);
        lastAttemptNanos = 0;
        try {
            TimeUnit.NANOSECONDS.sleep(pause);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void backOff(int attempt)
    {
        // a batch holds the head for a few requests (tens of ms): wait about that long, doubling, with jitter
        long bound = Math.min(200, 10L << Math.min(attempt - 1, 4));
        try {
            Thread.sleep(ThreadLocalRandom.current().nextLong(1, bound + 1));
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw closing();
        }
    }

    private static LatchkeyException closing()
    {
        return new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 store is closing");
    }
}

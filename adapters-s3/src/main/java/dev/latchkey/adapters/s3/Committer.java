package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.Feed.HeadRead;
import dev.latchkey.adapters.s3.LiveViews.AccountRead;
import dev.latchkey.adapters.s3.LiveViews.AccountView;
import dev.latchkey.adapters.s3.LiveViews.LiveKey;
import dev.latchkey.adapters.s3.S3IdentityStore.CrashPoints;
import dev.latchkey.adapters.s3.S3IdentityStore.WriteStep;
import dev.latchkey.adapters.s3.S3Objects.Versioned;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.StoreErrors;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
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
 * once, checks each against one view of the store (and of the batch's earlier writes), and commits all of them with
 * one conditional PUT of the feed head, at consecutive positions. Across handles and instances the head's condition
 * still decides: a batch that loses it is planned again as a batch, after a jittered back-off, with the writes
 * queued meanwhile.
 * <p>
 * Before the commit, each account written is marked with the positions its writes take, and each new key is
 * staged; after it, the writes' users, keys and accounts are written on the applier threads, off the committer's
 * path, and each write answers once its account is (an account deletion answers at its commit: its per-user cleanup
 * runs after). A write that has not gone out with a commit within the write timeout answers UNAVAILABLE "the store
 * is busy", and never lands.
 */
final class Committer
        implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(Committer.class.getName());

    /** At most one head's worth of entries per commit. */
    static final int MAX_BATCH = ObjectLayout.PAGE_SIZE;
    private static final int APPLIER_THREADS = 4;
    private static final int MARK_ATTEMPTS = 5;
    private static final Duration FINISH_WAIT = Duration.ofSeconds(2);

    private final S3Objects objects;
    private final Feed feed;
    private final LiveViews views;
    private final Applier applier;
    private final ConditionalWriteProbe probe;
    private final ParallelReads parallel;
    private final Clock clock;
    private final Duration writeTimeout;
    private final Duration answerWait;
    private final CrashPoints crashPoints;
    private final BlockingQueue<Write<?>> queue = new LinkedBlockingQueue<>();
    private final Thread committer;
    private final ExecutorService appliers = Executors.newFixedThreadPool(APPLIER_THREADS, runnable -> {
        Thread thread = new Thread(runnable, "latchkey-s3-apply");
        thread.setDaemon(true);
        return thread;
    });
    /** The newest apply of each account started here: the next one of the same account runs after it. */
    private final Map<String, CompletableFuture<Void>> applying = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /**
     * What a write's checks may ask beyond its own account's view.
     */
    interface Checks
    {
        /**
         * Throws CONFLICT unless {@code keyId} is free for {@code owner} (the user the key is for, when it exists
         * already), taking the batch's earlier writes into account.
         */
        void requireKeyIdFree(KeyId keyId, Optional<User> owner);
    }

    /**
     * A write: its checks against the current view of its account and the entry it makes, or an exception when a
     * check fails. May read the store; must not write it.
     */
    interface Planner<T>
    {
        Plan<T> plan(AccountView current, Checks checks);
    }

    /**
     * What a write decided: the entry to commit (null when nothing changes) and its answer.
     */
    record Plan<T>(Entry entry, T result)
    {
        static <T> Plan<T> of(Entry entry, T result)
        {
            return new Plan<>(requireNonNull(entry, "entry is null"), result);
        }

        static <T> Plan<T> unchanged(T result)
        {
            return new Plan<>(null, result);
        }
    }

    /**
     * What staging a new key came to.
     */
    private sealed interface Staged
    {
        /** The staged key object, written by this write, with its entity tag. */
        record Written(String etag) implements Staged {}

        /** The id is the same user's current key (re-hashed): it stays as it is until the commit replaces it. */
        record AlreadyOwned() implements Staged {}

        /** Another write changed the key object meanwhile. */
        record Lost() implements Staged {}
    }

    private enum Outcome
    {
        /** Committed (or nothing to commit): every write of the batch is answered or being applied. */
        DONE,
        /** The head, an account or a key changed under the batch: plan it again after a back-off. */
        LOST,
        /** Some writes ran out of time and were answered busy: plan the rest again now. */
        REPLAN,
    }

    Committer(S3Objects objects, Feed feed, LiveViews views, Applier applier, ConditionalWriteProbe probe, ParallelReads parallel, Clock clock,
            Duration writeTimeout, Duration callTimeout, CrashPoints crashPoints)
    {
        this.objects = requireNonNull(objects, "objects is null");
        this.feed = requireNonNull(feed, "feed is null");
        this.views = requireNonNull(views, "views is null");
        this.applier = requireNonNull(applier, "applier is null");
        this.probe = requireNonNull(probe, "probe is null");
        this.parallel = requireNonNull(parallel, "parallel is null");
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
    <T> T write(AccountId accountId, Planner<T> planner)
    {
        Write<T> write = new Write<>(accountId, planner, System.nanoTime() + writeTimeout.toNanos());
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
        for (Write<?> write = queue.poll(); write != null; write = queue.poll()) {
            write.answer.completeExceptionally(closing());
        }
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
            List<Write<?>> batch = new ArrayList<>();
            try {
                batch.add(queue.take());
            }
            catch (InterruptedException e) {
                return;
            }
            queue.drainTo(batch, MAX_BATCH - 1);
            try {
                commit(batch);
            }
            catch (RuntimeException e) {
                batch.forEach(write -> write.answer.completeExceptionally(e));
                if (e instanceof LatchkeyException failure && failure.code() == ErrorCode.UNAVAILABLE) {
                    // the writes queued meanwhile would meet the same outage, a call timeout per batch: they fail now
                    List<Write<?>> queued = new ArrayList<>();
                    queue.drainTo(queued);
                    queued.forEach(write -> write.answer.completeExceptionally(failure));
                }
            }
        }
    }

    private void commit(List<Write<?>> batch)
    {
        probe.requireHonoured();
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

    private Outcome attempt(List<Write<?>> batch)
    {
        HeadRead head = feed.readHead();
        long position = head.head().position();

        // every account of the batch, as the head read leaves it
        List<AccountId> accounts = batch.stream().map(write -> write.accountId).distinct().toList();
        List<Optional<AccountRead>> stored = parallel.map(accounts, views::readDocument);
        Map<AccountId, Optional<AccountRead>> documents = new HashMap<>();
        Map<AccountId, AccountView> current = new HashMap<>();
        for (int i = 0; i < accounts.size(); i++) {
            if (stored.get(i).map(read -> read.account().applied() > position).orElse(false)) {
                // written after the head was read: the head is stale
                return Outcome.LOST;
            }
            documents.put(accounts.get(i), stored.get(i));
            current.put(accounts.get(i), views.fold(stored.get(i), accounts.get(i), head.head()));
        }

        // each write's checks, in order, against the view its batch's earlier writes leave
        List<Entry> entries = new ArrayList<>();
        Map<String, Entry> issuedKeys = new HashMap<>();
        List<Entry> toStage = new ArrayList<>();
        for (Write<?> write : batch) {
            write.planned = null;
            write.failure = null;
            AccountView view = current.get(write.accountId);
            Plan<?> plan;
            try {
                plan = write.planner.plan(view, (keyId, owner) -> requireKeyIdFree(keyId, owner, issuedKeys, current));
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
            batch.forEach(Write::answer);
            batch.clear();
            return Outcome.DONE;
        }

        // mark every account written with its positions, and stage every new key: in parallel, none on the head
        Map<AccountId, List<Long>> positions = new LinkedHashMap<>();
        entries.forEach(entry -> positions.computeIfAbsent(AccountId.of(entry.accountId()), account -> new ArrayList<>()).add(entry.position()));
        List<AccountId> written = List.copyOf(positions.keySet());
        List<Optional<AccountRead>> marks = parallel.map(written, account -> mark(account, documents.get(account), positions.get(account), position));
        if (marks.stream().anyMatch(Optional::isEmpty)) {
            return Outcome.LOST;
        }
        List<Staged> staged = parallel.map(toStage, this::stage);
        if (staged.stream().anyMatch(Staged.Lost.class::isInstance)) {
            return Outcome.LOST;
        }
        Map<String, String> stagedKeys = new HashMap<>();
        for (int i = 0; i < toStage.size(); i++) {
            if (staged.get(i) instanceof Staged.Written stagedKey) {
                stagedKeys.put(toStage.get(i).txn(), stagedKey.etag());
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

        for (int i = 0; i < written.size(); i++) {
            AccountId account = written.get(i);
            AccountRead marked = marks.get(i).orElseThrow();
            List<Write<?>> ofAccount = batch.stream().filter(write -> write.accountId.equals(account)).toList();
            applyLater(account, marked, current.get(account).pending(), stagedKeys, ofAccount);
        }
        batch.stream().filter(write -> write.planned == null).forEach(Write::answer);
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
    private void applyLater(AccountId account, AccountRead marked, List<Entry> pending, Map<String, String> stagedKeys, List<Write<?>> writes)
    {
        List<Write<?>> deletions = writes.stream().filter(write -> write.planned != null && write.planned.type() == ChangeType.ACCOUNT_DELETED).toList();
        List<Write<?>> waiting = writes.stream().filter(write -> write.planned == null || write.planned.type() != ChangeType.ACCOUNT_DELETED).toList();
        try {
            CompletableFuture<Void> apply = applying.compute(account.value(), (name, previous) -> {
                CompletableFuture<Void> after = previous == null ? CompletableFuture.completedFuture(null) : previous.exceptionally(failure -> null);
                return after.thenRunAsync(() -> {
                    try {
                        applier.apply(account, marked, pending, stagedKeys);
                    }
                    catch (RuntimeException e) {
                        if (waiting.isEmpty()) {
                            LOG.log(System.Logger.Level.WARNING, "finishing a deletion of an account failed; the next write to it finishes it: {0}", e.getMessage());
                        }
                        waiting.forEach(write -> write.answer.completeExceptionally(e));
                        throw e;
                    }
                    waiting.forEach(Write::answer);
                }, appliers);
            });
            apply.whenComplete((done, failure) -> applying.remove(account.value(), apply));
        }
        catch (RejectedExecutionException e) {
            // closing: committed, and left to the next write to the account
            waiting.forEach(Write::answer);
        }
        // answered once their apply is registered, so that awaitApplied after the answer waits for it
        deletions.forEach(Write::answer);
    }

    private void requireKeyIdFree(KeyId keyId, Optional<User> owner, Map<String, Entry> issuedKeys, Map<AccountId, AccountView> current)
    {
        Entry earlier = issuedKeys.get(keyId.value());
        if (earlier != null) {
            if (owner.map(user -> user.accountId().value().equals(earlier.accountId()) && earlier.names(user.id())).orElse(false)) {
                return;
            }
            throw StoreErrors.keyIdInUse();
        }
        Optional<LiveKey> live = views.key(keyId);
        if (live.isEmpty()) {
            return;
        }
        AccountView batchView = current.get(live.get().record().accountId());
        if (batchView != null && (!batchView.exists() || batchView.latestAbout(live.get().userId()).map(entry -> !keyId.value().equals(entry.keyId())).orElse(false))) {
            // a write earlier in this batch ended it
            return;
        }
        if (owner.map(user -> user.accountId().equals(live.get().record().accountId()) && user.id().equals(live.get().userId())).orElse(false)) {
            return;
        }
        throw StoreErrors.keyIdInUse();
    }

    /**
     * Records on the account that writes are about to take {@code positions}, keeping the positions other writers
     * marked. Re-reads and marks again when the object changed since it was read (an apply, or another writer's
     * mark), unless a write newer than the head read was applied to it.
     */
    private Optional<AccountRead> mark(AccountId accountId, Optional<AccountRead> read, List<Long> positions, long headPosition)
    {
        Optional<AccountRead> stored = read;
        for (int attempt = 0; attempt < MARK_ATTEMPTS; attempt++) {
            Documents.Account account = stored.map(AccountRead::account).orElseGet(() -> Documents.Account.absent(accountId));
            if (account.applied() > headPosition) {
                return Optional.empty();
            }
            Documents.Account marked = account.marking(positions);
            Optional<String> etag = objects.putIfUnchanged(ObjectLayout.account(accountId.value()), Documents.write(marked), stored.map(AccountRead::etag).orElse(null));
            if (etag.isPresent()) {
                return Optional.of(new AccountRead(marked, etag.get()));
            }
            stored = views.readDocument(accountId);
        }
        return Optional.empty();
    }

    /**
     * Writes the new key ahead of the commit, marked as staged by its write: it works only once the write's entry is
     * committed. Replaces a key object only if it holds no live key (the write's checks found the id free).
     */
    private Staged stage(Entry entry)
    {
        String objectKey = ObjectLayout.key(entry.keyId());
        Optional<Versioned> existing = objects.get(objectKey);
        if (existing.isPresent()) {
            Documents.Key current = Documents.read(existing.get().bytes(), Documents.Key.class);
            if (current.stagedBy() == null && !current.revoked() && current.ownedAsIn(entry)) {
                return new Staged.AlreadyOwned();
            }
        }
        return objects.putIfUnchanged(objectKey, Documents.write(Documents.Key.stagedBy(entry)), existing.map(Versioned::etag).orElse(null))
                .<Staged>map(Staged.Written::new)
                .orElseGet(Staged.Lost::new);
    }

    /**
     * Answers busy, and takes out of the batch, every write whose time is over ({@code planned}: only among those
     * with an entry planned, which is what the batch must then be planned again without).
     *
     * @return whether any was
     */
    private boolean answerExpired(List<Write<?>> batch, boolean planned)
    {
        long now = System.nanoTime();
        boolean any = false;
        for (Iterator<Write<?>> writes = batch.iterator(); writes.hasNext(); ) {
            Write<?> write = writes.next();
            if (now - write.deadline > 0 && (!planned || write.planned != null)) {
                write.answer.completeExceptionally(new LatchkeyException(ErrorCode.UNAVAILABLE,
                        "the store is busy: the write was not made within " + writeTimeout.toMillis() + " ms; try again"));
                writes.remove();
                any = true;
            }
        }
        return any;
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

    /**
     * A queued write, and what its latest planning came to.
     */
    private static final class Write<T>
    {
        final AccountId accountId;
        final Planner<T> planner;
        final long deadline;
        final String txn = UUID.randomUUID().toString();
        final CompletableFuture<T> answer = new CompletableFuture<>();
        Entry planned;
        Object result;
        RuntimeException failure;

        Write(AccountId accountId, Planner<T> planner, long deadline)
        {
            this.accountId = accountId;
            this.planner = planner;
            this.deadline = deadline;
        }

        @SuppressWarnings("unchecked")
        void answer()
        {
            if (failure != null) {
                answer.completeExceptionally(failure);
            }
            else {
                answer.complete((T) result);
            }
        }
    }
}

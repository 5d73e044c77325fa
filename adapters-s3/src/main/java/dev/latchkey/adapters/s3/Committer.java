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
import dev.latchkey.core.domain.UserId;
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
import java.util.Set;
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
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

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
    private static final int MARK_ATTEMPTS = 10;
    private static final Duration FINISH_WAIT = Duration.ofSeconds(2);
    /** About one attempt: time for the next batch to the account to fold a settled apply into its mark. */
    private static final Duration SETTLE_DELAY = Duration.ofMillis(250);

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
    /** Account objects waiting to count applied entries ({@link #settleLater}). */
    private final Set<CompletableFuture<Void>> settlings = ConcurrentHashMap.newKeySet();
    /** How many applies of each account were started here: an apply leaves the account object to a later one. */
    private final Map<String, AtomicLong> tickets = new ConcurrentHashMap<>();
    private volatile boolean closed;
    /** How long the latest committed attempt took, from its read of the head to its commit (committer thread only). */
    private long lastAttemptNanos;

    /**
     * What a write's checks read through: the batch's reads of this attempt (each object read once), and the batch's
     * earlier writes.
     */
    interface Context
    {
        Optional<User> user(AccountView view, UserId userId);

        Documents.CurrentKey currentKey(AccountView view, User user);

        /**
         * Throws CONFLICT unless {@code keyId} is free for {@code owner} (the user the key is for, when it exists
         * already), taking the batch's earlier writes into account.
         */
        void requireKeyIdFree(KeyId keyId, Optional<User> owner);
    }

    /**
     * A write: its checks against the current view of its account and the entry it makes, or an exception when a
     * check fails. Reads only through its context, and writes nothing: it may be run more than once.
     */
    interface Planner<T>
    {
        Plan<T> plan(AccountView current, Context context);
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

        /** The id is a live key of another user. */
        record InUse() implements Staged {}
    }

    /**
     * What an attempt planned against, kept when it loses the head: the next attempt folds in the entries committed
     * since (they are all in the new head, as a rule) instead of reading every account, user and key again, unless one
     * of them names a key (or the account of a key) that the checks looked up.
     *
     * @param base the accounts of the batch as the head leaves them, before the batch's own entries
     * @param guarded the keys ({@code key:}) and accounts ({@code account:}) whose change means reading again
     */
    private record Reading(HeadRead head, Reads.Remembering reads, Map<AccountId, AccountView> base, Set<String> guarded)
    {
        static String key(String keyId)
        {
            return "key:" + keyId;
        }

        static String account(String accountId)
        {
            return "account:" + accountId;
        }

        /**
         * This reading as of a newer head; null when the entries since are not all in it, or one is guarded.
         */
        Reading advancedTo(HeadRead newer)
        {
            long from = head.head().position();
            Documents.Head now = newer.head();
            if (now.position() < from || from < now.spilledThrough()) {
                return null;
            }
            Map<AccountId, AccountView> advanced = new HashMap<>(base);
            for (Entry entry : now.entries()) {
                if (entry.position() <= from) {
                    continue;
                }
                if (guarded.contains(account(entry.accountId())) || entry.toChange().keyIds().stream().anyMatch(keyId -> guarded.contains(key(keyId.value())))) {
                    return null;
                }
                advanced.computeIfPresent(AccountId.of(entry.accountId()), (account, view) -> view.with(entry));
            }
            return new Reading(newer, reads, Map.copyOf(advanced), guarded);
        }
    }

    /** The reading of the latest attempt that lost the head, for the next one (committer thread only). */
    private Reading reading;
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
        for (Write<?> write = queue.poll(); write != null; write = queue.poll()) {
            write.answer.completeExceptionally(closing());
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
                yieldToOtherWriters();
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

    private Outcome attempt(List<Write<?>> batch)
    {
        long began = System.nanoTime();
        HeadRead head = feed.readHead();
        long position = head.head().position();
        // after a lost race for the head: what the last attempt read, with the entries committed since folded in
        Reading previous = reading == null ? null : reading.advancedTo(head);
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
                write.planner.plan(base.get(write.accountId), new BatchContext(attemptViews, reads, Map.of(), base, guarded, inUse, stagedHere));
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
        BatchContext context = new BatchContext(attemptViews, reads, issuedKeys, current, guarded, inUse, stagedHere);
        for (Write<?> write : batch) {
            write.planned = null;
            write.failure = null;
            AccountView view = current.get(write.accountId);
            Plan<?> plan;
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
            batch.forEach(Write::answer);
            batch.clear();
            return Outcome.DONE;
        }

        reading = new Reading(head, reads, base, guarded);

        // mark every account written with its positions and stage every new key, side by side: none is the head
        Map<AccountId, List<Long>> positions = new LinkedHashMap<>();
        entries.forEach(entry -> positions.computeIfAbsent(AccountId.of(entry.accountId()), account -> new ArrayList<>()).add(entry.position()));
        List<AccountId> written = List.copyOf(positions.keySet());
        List<Supplier<Object>> steps = new ArrayList<>();
        // an account read by an earlier attempt has changed since (the entries that won the head marked it)
        written.forEach(account -> steps.add(() -> mark(account, documents.containsKey(account) ? documents.get(account) : views.readDocument(account),
                positions.get(account), position, base.get(account).pending())));
        toStage.forEach(entry -> steps.add(() -> stage(entry, reads, context)));
        List<Object> done = parallel.map(steps, Supplier::get);
        List<Optional<AccountRead>> marks = new ArrayList<>();
        for (int i = 0; i < written.size(); i++) {
            @SuppressWarnings("unchecked")
            Optional<AccountRead> mark = (Optional<AccountRead>) done.get(i);
            marks.add(mark);
        }
        List<Staged> staged = done.subList(written.size(), done.size()).stream().map(Staged.class::cast).toList();
        if (staged.stream().anyMatch(Staged.InUse.class::isInstance)) {
            // found in use by staging: the writes that issue them fail their checks in the batch planned again
            for (int i = 0; i < toStage.size(); i++) {
                if (staged.get(i) instanceof Staged.InUse) {
                    inUse.add(toStage.get(i).keyId());
                }
            }
            return Outcome.REPLAN;
        }
        if (staged.stream().anyMatch(Staged.Lost.class::isInstance)) {
            // a key object changed under the batch: its checks read again
            reading = null;
            return Outcome.LOST;
        }
        if (marks.stream().anyMatch(Optional::isEmpty)) {
            return Outcome.LOST;
        }
        Map<String, String> stagedKeys = new HashMap<>();
        for (int i = 0; i < toStage.size(); i++) {
            if (staged.get(i) instanceof Staged.Written stagedKey) {
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
        long ticket = tickets.computeIfAbsent(account.value(), name -> new AtomicLong()).incrementAndGet();
        try {
            CompletableFuture<Void> apply = applying.compute(account.value(), (name, previous) -> {
                CompletableFuture<Void> after = previous == null ? CompletableFuture.completedFuture(null) : previous.exceptionally(failure -> null);
                return after.thenRunAsync(() -> {
                    try {
                        applier.apply(account, marked, pending, stagedKeys, () -> waiting.forEach(Write::answer));
                        settleLater(account, marked, pending, ticket);
                    }
                    catch (RuntimeException e) {
                        if (waiting.isEmpty()) {
                            LOG.log(System.Logger.Level.WARNING, "finishing a deletion of an account failed; the next write to it finishes it: {0}", e.getMessage());
                        }
                        waiting.forEach(write -> write.answer.completeExceptionally(e));
                        throw e;
                    }
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
     * The context of the checks of one attempt of a batch: its reads, the keys its earlier writes issue, and the
     * views of its accounts as its earlier writes leave them.
     */
    private record BatchContext(LiveViews views, Reads.Remembering reads, Map<String, Entry> issuedKeys, Map<AccountId, AccountView> current, Set<String> guarded,
                                Set<String> inUse, Set<String> staged)
            implements Context
    {
        @Override
        public Optional<User> user(AccountView view, UserId userId)
        {
            return views.user(view, userId);
        }

        @Override
        public Documents.CurrentKey currentKey(AccountView view, User user)
        {
            guarded.add(Reading.key(user.keyId().value()));
            return views.currentKey(view, user);
        }

        /**
         * Checks what is known without a request: an id issued earlier in the batch, or found in use by staging.
         * An id whose object was not read yet is taken as free here, and checked when its key is staged: a new key's
         * id (random) has no object, and staging it with {@code If-None-Match: *} is the check.
         */
        @Override
        public void requireKeyIdFree(KeyId keyId, Optional<User> owner)
        {
            Entry earlier = issuedKeys.get(keyId.value());
            if (earlier != null) {
                if (owner.map(user -> user.accountId().value().equals(earlier.accountId()) && earlier.names(user.id())).orElse(false)) {
                    return;
                }
                throw StoreErrors.keyIdInUse();
            }
            if (inUse.contains(keyId.value())) {
                throw StoreErrors.keyIdInUse();
            }
            // what a later attempt must check again if an entry committed meanwhile names it
            guarded.add(Reading.key(keyId.value()));
            if (reads.knows(ObjectLayout.key(keyId.value())) && !staged.contains(keyId.value())) {
                verifyKeyIdFree(keyId, owner);
            }
        }

        /**
         * Throws CONFLICT if a live key of another user has this id (and no write earlier in the batch ended it).
         */
        void verifyKeyIdFree(KeyId keyId, Optional<User> owner)
        {
            Optional<LiveKey> live = views.key(keyId);
            if (live.isEmpty()) {
                return;
            }
            guarded.add(Reading.account(live.get().record().accountId().value()));
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
    }

    /**
     * Records on the account that writes are about to take {@code positions}, keeping the positions other writers
     * marked. Re-reads and marks again when the object changed since it was read (an apply, or another writer's
     * mark), unless a write newer than the head read was applied to it.
     */
    private Optional<AccountRead> mark(AccountId accountId, Optional<AccountRead> read, List<Long> positions, long headPosition, List<Entry> committed)
    {
        Optional<AccountRead> stored = read;
        for (int attempt = 0; attempt < MARK_ATTEMPTS; attempt++) {
            Documents.Account account = stored.map(AccountRead::account).orElseGet(() -> Documents.Account.absent(accountId));
            if (account.applied() > headPosition) {
                return Optional.empty();
            }
            // the committed entries still pending on it whose objects this handle wrote count as applied, oldest first
            for (Entry entry : committed) {
                if (entry.position() <= account.applied()) {
                    continue;
                }
                if (!applier.wrote(entry.position())) {
                    break;
                }
                account = account.after(entry);
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
    private Staged stage(Entry entry, Reads.Remembering reads, BatchContext context)
    {
        String objectKey = ObjectLayout.key(entry.keyId());
        byte[] bytes = Documents.write(Documents.Key.stagedBy(entry));
        if (!reads.knows(objectKey)) {
            // a new key's id has no object: creating it is the check that it is free
            Optional<String> created = objects.putIfAbsent(objectKey, bytes);
            if (created.isPresent()) {
                reads.remember(objectKey, new Versioned(bytes, created.get()));
                return new Staged.Written(created.get());
            }
        }
        Optional<Versioned> existing = reads.get(objectKey);
        if (existing.isPresent()) {
            Documents.Key current = Documents.read(existing.get().bytes(), Documents.Key.class);
            if (current.stagedBy() == null && !current.revoked() && current.ownedAsIn(entry)) {
                // the same user's current key, re-hashed: it stays live until the commit replaces it
                return new Staged.AlreadyOwned();
            }
            if (entry.txn().equals(current.stagedBy())) {
                // staged by an earlier attempt of this very write: the entry, once committed, makes it work
                return new Staged.Written(existing.get().etag());
            }
            try {
                Optional<User> owner = entry.type() == ChangeType.KEY_REPLACED ? entry.userAfter() : Optional.empty();
                context.verifyKeyIdFree(KeyId.of(entry.keyId()), owner);
            }
            catch (LatchkeyException e) {
                return new Staged.InUse();
            }
        }
        Optional<String> etag = objects.putIfUnchanged(objectKey, bytes, existing.map(Versioned::etag).orElse(null));
        if (etag.isEmpty()) {
            return new Staged.Lost();
        }
        reads.remember(objectKey, new Versioned(bytes, etag.get()));
        return new Staged.Written(etag.get());
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

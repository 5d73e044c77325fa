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

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;

import static java.util.Objects.requireNonNull;

/**
 * The attempts of one batch, on the committer thread: read the head and the batch's accounts, check each write in
 * order, stage the new keys, commit (the new head lists the entries as unapplied to their accounts, and stops listing
 * those it knows applied); after a lost race for the head, fold in the winners and go again, taking in the writes
 * queued meanwhile; give up, busy, the writes whose time is over before the commit goes out.
 */
final class BatchCommit
{
    /** At most this many accounts read per attempt to drop them from the head's list of unapplied entries. */
    static final int LINGERING_READS = 4;
    /** How many entries after its commit a position still listed as unapplied is taken as lingering. */
    static final int LINGERING_LAG = 16 * ObjectLayout.PAGE_SIZE;

    private final S3Objects objects;
    private final Feed feed;
    private final LiveViews views;
    private final Applier applier;
    private final Staging staging;
    private final ConditionalWriteProbe probe;
    private final ParallelReads parallel;
    private final Clock clock;
    private final Duration writeTimeout;
    private final CrashPoints crashPoints;
    private final BlockingQueue<QueuedWrite<?>> queue;
    private final Consumer<Committed> applyLater;
    private final Consumer<AccountId> finishLater;

    /**
     * A committed batch's entries about one account, and its writes, for the applier.
     *
     * @param read the account object as the batch read it (it may have changed since: settling it then reads it again)
     * @param pending every committed entry about the account not yet applied to it, the batch's included, oldest first
     * @param own the batch's entries about the account, oldest first
     * @param stagedKeys the entity tags of the keys the batch staged, by the id of the write that staged each
     */
    record Committed(AccountId account, Optional<AccountRead> read, List<Entry> pending, List<Entry> own, Map<String, String> stagedKeys, List<QueuedWrite<?>> writes) {}

    BatchCommit(S3Objects objects, Feed feed, LiveViews views, Applier applier, ConditionalWriteProbe probe, ParallelReads parallel, Clock clock,
            Duration writeTimeout, CrashPoints crashPoints, BlockingQueue<QueuedWrite<?>> queue, Consumer<Committed> applyLater, Consumer<AccountId> finishLater)
    {
        this.objects = requireNonNull(objects, "objects is null");
        this.feed = requireNonNull(feed, "feed is null");
        this.views = requireNonNull(views, "views is null");
        this.applier = requireNonNull(applier, "applier is null");
        this.staging = new Staging(objects);
        this.probe = requireNonNull(probe, "probe is null");
        this.parallel = requireNonNull(parallel, "parallel is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.writeTimeout = requireNonNull(writeTimeout, "writeTimeout is null");
        this.crashPoints = requireNonNull(crashPoints, "crashPoints is null");
        this.queue = requireNonNull(queue, "queue is null");
        this.applyLater = requireNonNull(applyLater, "applyLater is null");
        this.finishLater = requireNonNull(finishLater, "finishLater is null");
    }

    /** How long the latest committed attempt took, from its read of the head to its commit (committer thread only). */
    private long lastAttemptNanos;

    /** The reading of the latest attempt that lost the head, for the next one (committer thread only). */
    private BatchReading reading;
    /** Key ids that staging found in use, during the current batch (committer thread only). */
    private final Set<String> inUse = new HashSet<>();
    /** Key ids that this batch's writes staged, in earlier attempts of it (committer thread only). */
    private final Set<String> stagedHere = ConcurrentHashMap.newKeySet();
    /** The account objects this batch read, in any attempt of it (committer thread only). */
    private final Map<AccountId, Optional<AccountRead>> documents = new HashMap<>();

    private enum Outcome
    {
        /** Committed (or nothing to commit): every write of the batch is answered or being applied. */
        DONE,
        /** The head, an account or a key changed under the batch: plan it again after a back-off. */
        LOST,
        /** Some writes ran out of time and were answered busy: plan the rest again now. */
        REPLAN,
    }

    /**
     * Commits a batch (and the writes queued while it retries), answering every write of it or handing it to
     * {@code applyLater}.
     */
    void commit(List<QueuedWrite<?>> batch)
    {
        probe.requireHonoured();
        reading = null;
        inUse.clear();
        stagedHere.clear();
        documents.clear();
        Outcome outcome = Outcome.DONE;
        for (int attempt = 0; ; attempt++) {
            if (outcome == Outcome.LOST) {
                backOff(attempt);
                queue.drainTo(batch, Committer.MAX_BATCH - batch.size());
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

        // what the commit may stop listing as unapplied: what this handle settled, and what the account objects count
        Map<String, Long> settled = applier.settled();
        Map<String, Long> appliedThrough = new HashMap<>(settled);
        // every account of the batch not planned yet, as the head read leaves it: from the version of its object known
        // here brought up to date with the feed's entries since, else read after the head
        List<AccountId> batchAccounts = batch.stream().map(write -> write.accountId).distinct().toList();
        List<AccountId> accounts = new ArrayList<>();
        for (AccountId account : batchAccounts.stream().filter(account -> !current.containsKey(account)).toList()) {
            Optional<AccountRead> known = applier.known().get(account);
            Optional<AccountView> view = known.flatMap(read -> attemptViews.foldKnown(read, account, head.head()));
            if (view.isPresent()) {
                documents.put(account, known);
                current.put(account, view.get());
                appliedThrough.merge(account.value(), known.get().account().applied(), Math::max);
            }
            else {
                accounts.add(account);
            }
        }
        // and a few accounts the head has long listed as unapplied (their writer settled them since, or stopped first)
        List<AccountId> lingering = lingering(head.head(), batchAccounts);
        List<AccountId> toRead = new ArrayList<>(accounts);
        toRead.addAll(lingering);
        List<Optional<AccountRead>> stored = parallel.map(toRead, views::readDocument);
        for (int i = 0; i < toRead.size(); i++) {
            AccountId account = toRead.get(i);
            stored.get(i).ifPresent(read -> {
                appliedThrough.merge(account.value(), read.account().applied(), Math::max);
                applier.known().saw(account, read);
            });
            if (i >= accounts.size()) {
                long applied = appliedThrough.getOrDefault(account.value(), 0L);
                if (head.head().unappliedOf(account.value()).stream().anyMatch(unapplied -> unapplied > applied && unapplied <= lingeringThrough(head.head()))) {
                    // committed long ago and still not applied: its writer stopped first, so this handle finishes it
                    finishLater.accept(account);
                }
                continue;
            }
            if (stored.get(i).map(read -> read.account().applied() > position).orElse(false)) {
                // written after the head was read: the head is stale
                return Outcome.LOST;
            }
            documents.put(account, stored.get(i));
            current.put(account, attemptViews.fold(stored.get(i), account, head.head()));
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
            // the write's origin is part of its entry: its audit record commits, or not, with it
            Entry entry = plan.entry().committed(position + entries.size() + 1, write.txn, clock.instant(), write.origin);
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

        // stage every new key, side by side
        List<Staging.Staged> staged = parallel.map(toStage, entry -> staging.stage(entry, reads, context));
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

        Optional<HeadRead> committed = feed.append(head, entries, appliedThrough, applier::wrote);
        if (committed.isEmpty() && !feed.holds(entries)) {
            return Outcome.LOST;
        }
        crashPoints.passing(WriteStep.COMMITTED);
        applier.forgetSettled(settled);
        reading = null;
        lastAttemptNanos = System.nanoTime() - began;

        Set<AccountId> written = new LinkedHashSet<>();
        entries.forEach(entry -> written.add(AccountId.of(entry.accountId())));
        for (AccountId account : written) {
            List<QueuedWrite<?>> ofAccount = batch.stream().filter(write -> write.accountId.equals(account)).toList();
            Optional<AccountRead> read = documents.getOrDefault(account, Optional.empty());
            List<Entry> own = entries.stream().filter(entry -> entry.accountId().equals(account.value())).toList();
            applyLater.accept(new Committed(account, read, stillPending(current.get(account), head.head(), read), own, stagedKeys, ofAccount));
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
     * The entries of a view that are still to apply and count: those the head lists as unapplied to the account (one
     * no longer listed is counted on it: a view from an older version of its object folds it in all the same), those
     * an older version marked on the object, and the batch's own.
     */
    static List<Entry> stillPending(AccountView view, Documents.Head head, Optional<AccountRead> read)
    {
        List<Long> listed = head.unappliedOf(view.account().accountId());
        List<Long> marked = read.map(found -> found.account().pending()).orElse(List.of());
        return view.pending().stream()
                .filter(entry -> entry.position() > head.position() || listed.contains(entry.position()) || marked.contains(entry.position()))
                .toList();
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
     * The newest position that, listed as unapplied, has been for long: its writer settles its account well before
     * ({@link Committer#SETTLE_LAG} entries later at most, as a rule), unless it stopped first.
     */
    static long lingeringThrough(Documents.Head head)
    {
        return head.position() - LINGERING_LAG;
    }

    /**
     * Accounts, besides the batch's, that the head has listed as unapplied for long ({@link #lingeringThrough}; a few
     * at a time, picked at random): they are settled (and the listing is stale) or their writer stopped first.
     */
    static List<AccountId> lingering(Documents.Head head, List<AccountId> batchAccounts)
    {
        List<AccountId> listed = new ArrayList<>(head.unapplied().entrySet().stream()
                .filter(unapplied -> unapplied.getValue().get(0) <= lingeringThrough(head))
                .map(unapplied -> AccountId.of(unapplied.getKey()))
                .filter(account -> !batchAccounts.contains(account))
                .toList());
        // a random few: one that cannot be finished for now must not keep the others waiting
        Collections.shuffle(listed, ThreadLocalRandom.current());
        return List.copyOf(listed.subList(0, Math.min(LINGERING_READS, listed.size())));
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
            throw Committer.closing();
        }
    }

    /**
     * How long the latest committed attempt took, from its read of the head to its commit; 0 once taken.
     */
    long takeLastAttemptNanos()
    {
        long nanos = lastAttemptNanos;
        lastAttemptNanos = 0;
        return nanos;
    }
}

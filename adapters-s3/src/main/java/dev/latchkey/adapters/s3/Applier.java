package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.LiveViews.AccountRead;
import dev.latchkey.adapters.s3.S3IdentityStore.CrashPoints;
import dev.latchkey.adapters.s3.S3IdentityStore.WriteStep;
import dev.latchkey.adapters.s3.S3Objects.Versioned;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.store.ChangeType;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.function.ToLongFunction;
import java.util.function.UnaryOperator;

import static java.util.Objects.requireNonNull;

/**
 * Writes what committed entries imply: the users and keys first, in parallel across users, and the account object
 * last, which then counts them as applied. Every object write carries the position of its entry and never replaces
 * what a newer entry wrote, so applying is idempotent: whoever finds an entry unapplied (its writer, a later writer
 * to the account, compaction) may run it again.
 */
final class Applier
{
    /** How many positions this handle remembers having written the objects of. */
    private static final int REMEMBERED = 4096;

    private final S3Objects objects;
    private final Feed feed;
    private final LiveViews views;
    private final ParallelReads parallel;
    private final CrashPoints crashPoints;
    private final ConcurrentSkipListSet<Long> written = new ConcurrentSkipListSet<>();
    private final KnownAccounts knownAccounts = new KnownAccounts();
    /** What {@link #settled} answers. */
    private final ConcurrentMap<String, Long> settled = new ConcurrentHashMap<>();

    Applier(S3Objects objects, Feed feed, LiveViews views, ParallelReads parallel, CrashPoints crashPoints)
    {
        this.objects = requireNonNull(objects, "objects is null");
        this.feed = requireNonNull(feed, "feed is null");
        this.views = requireNonNull(views, "views is null");
        this.parallel = requireNonNull(parallel, "parallel is null");
        this.crashPoints = requireNonNull(crashPoints, "crashPoints is null");
    }

    /**
     * Writes the users and keys of a batch's committed entries about one account, as their writer, after those of any
     * earlier entry still unapplied that they build on: one about the same user (its keys change step by step), or
     * any, before an account deletion (which revokes the keys of every user it finds). Other writers' entries about
     * other users are left to them: they are writing them meanwhile.
     *
     * @param pending every committed entry about the account that its object did not count when the writer read it,
     *         the batch's own included, oldest first
     * @param own the batch's entries about the account, oldest first
     * @param stagedKeys the entity tags of the keys the writer staged, by the id of the write that staged each
     * @param objectsWritten called once the users and keys are written (readers see the entries either way: the
     *         head lists them as unapplied to the account); the account object is {@link #settle}d after
     */
    void apply(List<Entry> pending, List<Entry> own, Map<String, String> stagedKeys, Runnable objectsWritten)
    {
        writeObjects(withPrerequisites(pending, own), stagedKeys);
        crashPoints.passing(WriteStep.OBJECTS_WRITTEN);
        objectsWritten.run();
    }

    /**
     * The entries of {@code own}, each preceded by the earlier entries of {@code pending} that it builds on: those
     * about the same user of the same account incarnation, or every one, before an account deletion.
     */
    static List<Entry> withPrerequisites(List<Entry> pending, List<Entry> own)
    {
        Map<String, Long> lastOwnOfUser = new HashMap<>();
        long lastOwnDeletion = 0;
        for (Entry entry : own) {
            if (entry.type() == ChangeType.ACCOUNT_DELETED) {
                lastOwnDeletion = Math.max(lastOwnDeletion, entry.position());
            }
            else if (entry.userId() != null) {
                lastOwnOfUser.merge(userOf(entry), entry.position(), Math::max);
            }
        }
        TreeMap<Long, Entry> entries = new TreeMap<>();
        for (Entry entry : pending) {
            if (entry.position() < lastOwnDeletion || (entry.userId() != null && entry.position() < lastOwnOfUser.getOrDefault(userOf(entry), 0L))) {
                entries.put(entry.position(), entry);
            }
        }
        own.forEach(entry -> entries.put(entry.position(), entry));
        return List.copyOf(entries.values());
    }

    private static String userOf(Entry entry)
    {
        return entry.incarnation() + "/" + entry.userId();
    }

    /**
     * The account objects this handle last read or wrote.
     */
    KnownAccounts known()
    {
        return knownAccounts;
    }

    /**
     * Positions that account objects are known to count as applied, by account, from this handle's settling: what
     * its next commit may stop listing as unapplied.
     */
    Map<String, Long> settled()
    {
        return Map.copyOf(settled);
    }

    /**
     * Forgets what {@link #settled} answered, once a commit used it (unless an account was settled further since).
     */
    void forgetSettled(Map<String, Long> used)
    {
        used.forEach(settled::remove);
    }

    /**
     * Applies whatever committed entries are still unapplied to an account (nothing, usually: two reads).
     */
    void finish(AccountId accountId)
    {
        Documents.Head head = feed.readHead().head();
        Optional<AccountRead> stored = views.readDocument(accountId);
        List<Entry> entries = views.fold(stored, accountId, head).pending();
        if (entries.isEmpty()) {
            stored.ifPresent(read -> knownApplied(accountId, read.account().applied()));
            return;
        }
        writeObjects(entries, Map.of());
        crashPoints.passing(WriteStep.OBJECTS_WRITTEN);
        settle(accountId, stored, entries, true);
    }

    /**
     * The last step of {@link #apply}: the account object counting the entries as applied, replaced conditionally
     * (the first attempt on the object as the writer read it, {@code known}, so it needs no read unless it changed
     * since; then it is read again and the entries counted on that). Taken later than the rest, once for many
     * writes ({@link Committer}). It counts the entries in order, as far as their users and keys are written: by this
     * handle, or by another writer that said so in a commit since ({@link Documents.Head#knownWritten}). It stops
     * before another writer's entry not known written yet, unless {@code finishOthers} or that one has been listed
     * for long ({@link BatchCommit#lingeringThrough}): then its writer is taken as stopped, and this handle writes it
     * first, and counts it.
     *
     * @param entries every committed entry about the account that its object did not count when the writer read it,
     *         the writer's own included, oldest first
     * @param finishOthers whether to write the entries of other writers that are not known written, rather than stop
     * @return the entries left uncounted, oldest first: from another writer's entry not said to be written yet on; or,
     *         when another writer settled the account since {@code known}, those still listed as unapplied (that writer
     *         settles the rest too, as a rule)
     */
    List<Entry> settle(AccountId accountId, Optional<AccountRead> known, List<Entry> entries, boolean finishOthers)
    {
        Documents.Head latest = feed.lastKnownHead();
        List<Long> listed = latest.unappliedOf(accountId.value());
        if (latest.unwritten() != null && entries.stream().noneMatch(entry -> listed.contains(entry.position()))) {
            // the head lists an entry until an account object counts it: another writer settled all of them
            return List.of();
        }
        Optional<AccountRead> stored = known;
        boolean fresh = false;
        if (stored.isPresent() && countedSince(stored.get().account(), entries, listed)) {
            if (!finishOthers) {
                // another writer settled the account since that version, and settles it now and then: it counts the
                // rest too, once they are said to be written
                return entries.stream().filter(entry -> listed.contains(entry.position())).toList();
            }
            // a PUT on that version would be refused
            stored = read(accountId);
            fresh = true;
        }
        long lingering = BatchCommit.lingeringThrough(latest);
        while (true) {
            Documents.Account account = stored.map(AccountRead::account).orElseGet(() -> Documents.Account.absent(accountId));
            long applied = account.applied();
            List<Entry> uncounted = entries.stream().filter(entry -> entry.position() > applied).toList();
            List<Entry> countable = new ArrayList<>();
            List<Entry> others = new ArrayList<>();
            for (Entry entry : uncounted) {
                boolean writtenHere = written.contains(entry.position()) || latest.knownWritten(accountId.value(), entry.position());
                if (!writtenHere && entry.position() > lingering && !finishOthers) {
                    break;
                }
                countable.add(entry);
                if (!writtenHere) {
                    others.add(entry);
                }
            }
            if (countable.isEmpty()) {
                if (!uncounted.isEmpty()) {
                    return uncounted;
                }
                knownApplied(accountId, applied);
                return List.of();
            }
            if (!others.isEmpty()) {
                if (!fresh) {
                    // their writer may have settled them since the object was read
                    stored = read(accountId);
                    fresh = true;
                    continue;
                }
                writeObjects(others, Map.of());
            }
            Documents.Account settled = account.applying(countable, position -> true);
            Optional<String> etag = objects.putIfUnchanged(ObjectLayout.account(accountId.value()), Documents.write(settled), stored.map(AccountRead::etag).orElse(null));
            if (etag.isPresent()) {
                knownAccounts.saw(accountId, new AccountRead(settled, etag.get()));
                knownApplied(accountId, settled.applied());
                return uncounted.subList(countable.size(), uncounted.size());
            }
            stored = read(accountId);
            fresh = true;
        }
    }

    /**
     * Whether an account object newer than {@code account} counts some of the entries: one past what it counts that
     * the head no longer lists as unapplied (it stops listing an entry once an account object counts it).
     */
    private static boolean countedSince(Documents.Account account, List<Entry> entries, List<Long> listed)
    {
        // an older version's marks on the object were never listed in the head
        return entries.stream().anyMatch(entry -> entry.position() > account.applied() && !listed.contains(entry.position())
                && !account.pending().contains(entry.position()));
    }

    /**
     * Whether this handle wrote the users and keys of the entry at {@code position} (among the last few thousand it
     * wrote): what its next commit stops listing as unwritten.
     */
    boolean wrote(long position)
    {
        return written.contains(position);
    }

    private Optional<AccountRead> read(AccountId accountId)
    {
        Optional<AccountRead> read = views.readDocument(accountId);
        read.ifPresent(found -> knownAccounts.saw(accountId, found));
        return read;
    }

    private void knownApplied(AccountId accountId, long applied)
    {
        if (applied > 0) {
            settled.merge(accountId.value(), applied, Math::max);
        }
    }

    /**
     * The users and keys of the entries, in order within each user and in parallel across users; an account
     * deletion (which may be followed by a creation of the same name) waits for the entries before it.
     */
    private void writeObjects(List<Entry> entries, Map<String, String> stagedKeys)
    {
        Map<String, List<Entry>> byUser = new LinkedHashMap<>();
        for (Entry entry : entries) {
            if (written.contains(entry.position())) {
                continue;
            }
            if (entry.type() == ChangeType.ACCOUNT_DELETED) {
                writeUsers(byUser, stagedKeys);
                byUser.clear();
                revokeEveryKey(entry);
                remember(entry);
            }
            else if (entry.userId() != null) {
                byUser.computeIfAbsent(userOf(entry), user -> new ArrayList<>()).add(entry);
            }
        }
        writeUsers(byUser, stagedKeys);
    }

    private void writeUsers(Map<String, List<Entry>> byUser, Map<String, String> stagedKeys)
    {
        List<Runnable> writes = new ArrayList<>();
        for (List<Entry> userEntries : byUser.values()) {
            Entry first = userEntries.get(0);
            if (userEntries.size() == 1 && (first.type() == ChangeType.USER_ADDED || first.type() == ChangeType.ACCOUNT_CREATED)) {
                // a new user: its object and its key's do not depend on each other (the account counts neither before
                // both are written), so they are written side by side
                writes.add(() -> writeUserObject(first, stagedKeys));
                writes.add(() -> writeIssuedKey(first, stagedKeys));
            }
            else {
                writes.add(() -> userEntries.forEach(entry -> writeUser(entry, stagedKeys)));
            }
        }
        parallel.map(writes, write -> {
            write.run();
            return null;
        });
        byUser.values().forEach(userEntries -> userEntries.forEach(this::remember));
    }

    private void remember(Entry entry)
    {
        written.add(entry.position());
        while (written.size() > REMEMBERED) {
            written.pollFirst();
        }
    }

    private void writeUserObject(Entry entry, Map<String, String> stagedKeys)
    {
        String userKey = ObjectLayout.user(entry.accountId(), entry.incarnation(), entry.userId());
        byte[] user = Documents.write(Documents.User.writtenBy(entry));
        // a new user's object is new, but for a user added again after a removal (or an entry another writer made,
        // and may have applied already: read first, which costs less than a refused PUT)
        boolean created = stagedKeys.containsKey(entry.txn()) && (entry.type() == ChangeType.USER_ADDED || entry.type() == ChangeType.ACCOUNT_CREATED)
                && objects.putIfAbsent(userKey, user).isPresent();
        if (!created) {
            advance(userKey, user, entry.position(), bytes -> Documents.read(bytes, Documents.User.class).position());
        }
    }

    private void writeUser(Entry entry, Map<String, String> stagedKeys)
    {
        writeUserObject(entry, stagedKeys);
        switch (entry.type()) {
            case ACCOUNT_CREATED, USER_ADDED -> writeIssuedKey(entry, stagedKeys);
            case KEY_ADDED -> {
                writeIssuedKey(entry, stagedKeys);
                revokeEnded(entry);
            }
            case KEY_REPLACED -> {
                writeIssuedKey(entry, stagedKeys);
                revokeEnded(entry);
                if (entry.oldKeyId() != null && !entry.oldKeyId().equals(entry.keyId())) {
                    if (entry.previousKeyUntil() == null) {
                        revokeKey(entry.oldKeyId(), entry);
                    }
                    else {
                        rewriteKey(entry.oldKeyId(), entry, current -> current.retiredBy(entry, entry.previousKeyUntil()));
                    }
                }
            }
            case KEY_DELETED -> revokeKey(entry.keyId(), entry);
            case ROLE_CHANGED -> {
                if (entry.writtenWithOneKeyPerUser() && entry.keyId() != null && entry.secretHash() != null) {
                    // written before users held several keys: the entry carries the user's one key whole
                    advanceKey(ObjectLayout.key(entry.keyId()), Documents.write(Documents.Key.writtenBy(entry)), entry);
                }
                else {
                    for (String keyId : entry.userKeyIds()) {
                        rewriteKey(keyId, entry, current -> current.withRoleOf(entry));
                    }
                }
            }
            case USER_REMOVED -> entry.userKeyIds().forEach(keyId -> revokeKey(keyId, entry));
            case ACCOUNT_DELETED -> {}
        }
    }

    /**
     * Ends the expired keys the entry removes from its user; one whose id the entry issues anew was written over.
     */
    private void revokeEnded(Entry entry)
    {
        entry.endedKeys().stream()
                .filter(keyId -> !keyId.equals(entry.keyId()))
                .forEach(keyId -> revokeKey(keyId, entry));
    }

    private void writeIssuedKey(Entry entry, Map<String, String> stagedKeys)
    {
        if (!entry.issuesKey()) {
            return;
        }
        String objectKey = ObjectLayout.key(entry.keyId());
        byte[] key = Documents.write(Documents.Key.writtenBy(entry));
        String staged = entry.txn() == null ? null : stagedKeys.get(entry.txn());
        if (staged == null || objects.putIfMatch(objectKey, key, staged).isEmpty()) {
            advanceKey(objectKey, key, entry);
        }
    }

    /**
     * Rewrites a key of the entry's user as the entry leaves it ({@code change}), if it still belongs to the entry's
     * account incarnation and user, works, and no newer entry wrote it.
     */
    private void rewriteKey(String keyId, Entry entry, UnaryOperator<Documents.Key> change)
    {
        String objectKey = ObjectLayout.key(keyId);
        while (true) {
            Optional<Versioned> existing = objects.get(objectKey);
            if (existing.isEmpty()) {
                return;
            }
            Documents.Key current = Documents.read(existing.get().bytes(), Documents.Key.class);
            if (current.position() >= entry.position() || current.revoked() || !current.ownedAsIn(entry)) {
                return;
            }
            if (objects.putIfMatch(objectKey, Documents.write(change.apply(current)), existing.get().etag()).isPresent()) {
                return;
            }
        }
    }

    private void revokeEveryKey(Entry deletion)
    {
        String directory = ObjectLayout.users(deletion.accountId(), deletion.incarnation());
        List<String> users = objects.list(directory).stream()
                .filter(name -> ObjectLayout.userOfListedName(name).isPresent())
                .toList();
        parallel.map(users, name -> {
            Optional<Versioned> user = objects.get(directory + name);
            if (user.isPresent()) {
                Documents.User document = Documents.read(user.get().bytes(), Documents.User.class);
                if (!document.removed()) {
                    document.heldKeyIds().forEach(keyId -> revokeKey(keyId, deletion));
                }
                // users live under their account's incarnation: no later account of this name can own this object
                objects.delete(directory + name);
            }
            return null;
        });
    }

    /**
     * Marks a key revoked, if it still belongs to the entry's account incarnation (its id may have been issued again
     * since, to another account, by a seeded key).
     */
    private void revokeKey(String keyId, Entry entry)
    {
        String objectKey = ObjectLayout.key(keyId);
        while (true) {
            Optional<Versioned> existing = objects.get(objectKey);
            if (existing.isEmpty()) {
                return;
            }
            Documents.Key current = Documents.read(existing.get().bytes(), Documents.Key.class);
            if (current.position() >= entry.position() || current.revoked()
                    || !current.accountId().equals(entry.accountId()) || !current.incarnation().equals(entry.incarnation())) {
                return;
            }
            if (objects.putIfMatch(objectKey, Documents.write(current.revokedBy(entry)), existing.get().etag()).isPresent()) {
                return;
            }
        }
    }

    /**
     * Writes the key as a committed entry leaves it unless a newer committed entry wrote it already; a key staged by
     * a write (the entry's own, in an earlier attempt of it, or another write, which staged the id over the entry's
     * stage before the entry committed, and then cannot commit with it) is replaced whatever position it was staged
     * at.
     */
    private void advanceKey(String objectKey, byte[] bytes, Entry entry)
    {
        while (true) {
            Optional<Versioned> existing = objects.get(objectKey);
            if (existing.isPresent()) {
                Documents.Key current = Documents.read(existing.get().bytes(), Documents.Key.class);
                if (current.stagedBy() == null && current.position() >= entry.position()) {
                    return;
                }
            }
            if (objects.putIfUnchanged(objectKey, bytes, existing.map(Versioned::etag).orElse(null)).isPresent()) {
                return;
            }
        }
    }

    /**
     * Writes {@code bytes} at {@code objectKey} unless an entry newer than {@code position} wrote it already
     * (compare-and-set, so a late writer of an older entry can never overwrite a newer state).
     */
    private void advance(String objectKey, byte[] bytes, long position, ToLongFunction<byte[]> positionOf)
    {
        while (true) {
            Optional<Versioned> existing = objects.get(objectKey);
            if (existing.isPresent() && positionOf.applyAsLong(existing.get().bytes()) >= position) {
                return;
            }
            if (objects.putIfUnchanged(objectKey, bytes, existing.map(Versioned::etag).orElse(null)).isPresent()) {
                return;
            }
        }
    }
}

package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.LiveViews.AccountRead;
import dev.latchkey.adapters.s3.S3IdentityStore.CrashPoints;
import dev.latchkey.adapters.s3.S3IdentityStore.WriteStep;
import dev.latchkey.adapters.s3.S3Objects.Versioned;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.store.ChangeType;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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

    Applier(S3Objects objects, Feed feed, LiveViews views, ParallelReads parallel, CrashPoints crashPoints)
    {
        this.objects = requireNonNull(objects, "objects is null");
        this.feed = requireNonNull(feed, "feed is null");
        this.views = requireNonNull(views, "views is null");
        this.parallel = requireNonNull(parallel, "parallel is null");
        this.crashPoints = requireNonNull(crashPoints, "crashPoints is null");
    }

    /**
     * Writes the users and keys of committed entries about one account, as their writer: it knows every committed
     * entry still pending on the account up to its own.
     *
     * @param entries every committed entry about the account that the marked object does not count as applied,
     *         oldest first
     * @param stagedKeys the entity tags of the keys the writer staged, by the id of the write that staged each
     * @param objectsWritten called once the users and keys are written (readers see the entries either way: the
     *         account's pending positions lead them to the feed); the account object is {@link #settle}d after
     */
    void apply(List<Entry> entries, Map<String, String> stagedKeys, Runnable objectsWritten)
    {
        writeObjects(entries, stagedKeys);
        crashPoints.passing(WriteStep.OBJECTS_WRITTEN);
        objectsWritten.run();
    }

    /**
     * The last step of {@link #apply}: the account object counting the entries as applied (the first attempt on
     * the object as the writer {@code marked} it, so it needs no read). Taken a moment later
     * than the rest, and only if no later apply of the account is due (which counts these entries too), since a
     * writer that keeps writing to an account folds what it applied into its next mark instead.
     */
    void settle(AccountId accountId, AccountRead marked, List<Entry> entries)
    {
        markApplied(accountId, Optional.of(marked), entries);
    }

    /**
     * Whether this handle wrote the users and keys of the entry at {@code position}.
     */
    boolean wrote(long position)
    {
        return written.contains(position);
    }

    /**
     * Applies whatever committed entries are still pending on an account (nothing, usually: one read).
     */
    void finish(AccountId accountId)
    {
        Optional<AccountRead> stored = views.readDocument(accountId);
        if (stored.isEmpty() || !stored.get().account().hasPending()) {
            return;
        }
        List<Entry> entries = views.fold(stored, accountId, feed.readHead().head()).pending();
        if (entries.isEmpty()) {
            return;
        }
        writeObjects(entries, Map.of());
        crashPoints.passing(WriteStep.OBJECTS_WRITTEN);
        markApplied(accountId, stored, entries);
    }

    /**
     * The account object counting {@code entries} as applied: replaced conditionally, re-read and folded again when
     * it changed meanwhile (another writer marked it, or applied some of them).
     */
    private void markApplied(AccountId accountId, Optional<AccountRead> known, List<Entry> entries)
    {
        long last = entries.get(entries.size() - 1).position();
        Optional<AccountRead> stored = known;
        while (true) {
            Documents.Account account = stored.map(AccountRead::account).orElseGet(() -> Documents.Account.absent(accountId));
            if (account.applied() >= last) {
                return;
            }
            account = account.applying(entries, position -> true);
            if (objects.putIfUnchanged(ObjectLayout.account(accountId.value()), Documents.write(account), stored.map(AccountRead::etag).orElse(null)).isPresent()) {
                return;
            }
            stored = views.readDocument(accountId);
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
                byUser.computeIfAbsent(entry.incarnation() + "/" + entry.userId(), user -> new ArrayList<>()).add(entry);
            }
        }
        writeUsers(byUser, stagedKeys);
    }

    private void writeUsers(Map<String, List<Entry>> byUser, Map<String, String> stagedKeys)
    {
        parallel.map(List.copyOf(byUser.values()), userEntries -> {
            for (Entry entry : userEntries) {
                writeUser(entry, stagedKeys);
                remember(entry);
            }
            return null;
        });
    }

    private void remember(Entry entry)
    {
        written.add(entry.position());
        while (written.size() > REMEMBERED) {
            written.pollFirst();
        }
    }

    private void writeUser(Entry entry, Map<String, String> stagedKeys)
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
     * Writes the key as a committed entry leaves it unless a newer entry wrote it already; a key still staged by the
     * entry's own write is replaced whatever position it was staged at (an earlier attempt of the write staged it).
     */
    private void advanceKey(String objectKey, byte[] bytes, Entry entry)
    {
        while (true) {
            Optional<Versioned> existing = objects.get(objectKey);
            if (existing.isPresent()) {
                Documents.Key current = Documents.read(existing.get().bytes(), Documents.Key.class);
                boolean stagedByThisWrite = current.stagedBy() != null && current.stagedBy().equals(entry.txn());
                if (!stagedByThisWrite && (current.position() > entry.position() || (current.position() == entry.position() && current.stagedBy() == null))) {
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

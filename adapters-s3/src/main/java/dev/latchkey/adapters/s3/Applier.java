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
     * Applies committed entries about one account, as their writer: it knows every committed entry still pending on
     * the account up to its own, and the account as it marked it (so the first attempt needs no read).
     *
     * @param marked the account object as the writer marked it
     * @param entries every committed entry about the account that the marked object does not count as applied,
     *         oldest first
     * @param stagedKeys the entity tags of the keys the writer staged, by the id of the write that staged each
     */
    void apply(AccountId accountId, AccountRead marked, List<Entry> entries, Map<String, String> stagedKeys)
    {
        writeObjects(entries, stagedKeys);
        crashPoints.passing(WriteStep.OBJECTS_WRITTEN);
        markApplied(accountId, Optional.of(marked), entries);
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
            for (Entry entry : entries) {
                if (entry.position() > account.applied()) {
                    account = account.after(entry);
                }
            }
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
        advance(ObjectLayout.user(entry.accountId(), entry.incarnation(), entry.userId()), Documents.write(Documents.User.writtenBy(entry)), entry.position(),
                bytes -> Documents.read(bytes, Documents.User.class).position(), false);
        if (entry.keyId() != null) {
            String objectKey = ObjectLayout.key(entry.keyId());
            byte[] key = Documents.write(Documents.Key.writtenBy(entry));
            String staged = entry.txn() == null ? null : stagedKeys.get(entry.txn());
            if (staged == null || objects.putIfMatch(objectKey, key, staged).isEmpty()) {
                advance(objectKey, key, entry.position(), bytes -> Documents.read(bytes, Documents.Key.class).position(), true);
            }
        }
        if (entry.oldKeyId() != null && !entry.oldKeyId().equals(entry.keyId())) {
            revokeKey(entry.oldKeyId(), entry);
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
                    revokeKey(document.keyId(), deletion);
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
     * Writes {@code bytes} at {@code objectKey} unless an entry newer than {@code position} wrote it already
     * (compare-and-set, so a late writer of an older entry can never overwrite a newer state).
     *
     * @param staged for keys: an object of the same position still marked staged is replaced (the entry is committed)
     */
    private void advance(String objectKey, byte[] bytes, long position, ToLongFunction<byte[]> positionOf, boolean staged)
    {
        while (true) {
            Optional<Versioned> existing = objects.get(objectKey);
            if (existing.isPresent()) {
                long writtenAt = positionOf.applyAsLong(existing.get().bytes());
                boolean stillStaged = staged && Documents.read(existing.get().bytes(), Documents.Key.class).stagedBy() != null;
                if (writtenAt > position || (writtenAt == position && !stillStaged)) {
                    return;
                }
            }
            if (objects.putIfUnchanged(objectKey, bytes, existing.map(Versioned::etag).orElse(null)).isPresent()) {
                return;
            }
        }
    }
}

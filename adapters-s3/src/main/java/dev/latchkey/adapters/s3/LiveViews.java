package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.Documents.Head;
import dev.latchkey.adapters.s3.S3Objects.Versioned;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.SecretHash;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;

import static java.util.Objects.requireNonNull;

/**
 * Accounts, users and keys as the committed feed leaves them. An account's object may lag behind its committed
 * writes (their writer is finishing them, or was killed): the head lists those entries, which are read from the feed
 * and folded in, so every read sees each write from the moment it commits, whatever is left unwritten.
 */
final class LiveViews
{
    private static final int MAX_LOOKUP_ATTEMPTS = 5;
    /** How far behind the head a known account object may be for {@link #foldKnown}: 16 pages. */
    static final int KNOWN_LAG = 16 * ObjectLayout.PAGE_SIZE;
    /** How many of those pages {@link #foldKnown} reads, at most, when not kept in memory: more cost more than one read of the object. */
    private static final int KNOWN_PAGE_READS = 1;

    private final Reads objects;
    private final Feed feed;
    private final Optional<Head> head;
    private final ParallelReads parallel;
    private final KnownUsers knownUsers;

    /**
     * @param parallel where the keys of a user are read side by side (never from a task of that pool)
     * @param knownUsers the users of accounts that writes checked, for {@link #userExists}
     */
    LiveViews(Reads objects, Feed feed, ParallelReads parallel, KnownUsers knownUsers)
    {
        this(objects, feed, Optional.empty(), parallel, knownUsers);
    }

    private LiveViews(Reads objects, Feed feed, Optional<Head> head, ParallelReads parallel, KnownUsers knownUsers)
    {
        this.objects = requireNonNull(objects, "objects is null");
        this.feed = requireNonNull(feed, "feed is null");
        this.head = requireNonNull(head, "head is null");
        this.parallel = requireNonNull(parallel, "parallel is null");
        this.knownUsers = requireNonNull(knownUsers, "knownUsers is null");
    }

    /**
     * These views as of one head, reading through {@code reads}: for the checks of one attempt of a batch, which
     * its commit's condition on that head makes true or void.
     */
    LiveViews asOf(Head fixed, Reads reads)
    {
        return new LiveViews(reads, feed, Optional.of(fixed), parallel, knownUsers);
    }

    /**
     * Whether a committed entry among the head's newest that another write made issues this key id to another user
     * than {@code entry}'s (these views as of one head only; false otherwise). The key object does not tell, when a
     * concurrent write staged the id over the stage of that entry's write before that one committed.
     */
    boolean issuedToAnotherUser(Entry entry)
    {
        return head.map(fixed -> fixed.entries().stream().anyMatch(committed -> committed.issuesKey() && committed.keyId().equals(entry.keyId())
                && !committed.txn().equals(entry.txn()) && !(committed.accountId().equals(entry.accountId())
                        && committed.incarnation().equals(entry.incarnation()) && committed.userId().equals(entry.userId()))))
                .orElse(false);
    }

    /**
     * An account object and the entity tag it had.
     */
    record AccountRead(Documents.Account account, String etag) {}

    /**
     * An account as the newest committed writes leave it.
     *
     * @param account the account object with {@code pending} folded in
     * @param pending the committed entries about the account not yet applied to its objects, oldest first (and, in a
     *         batch being planned, the entries of the batch so far)
     */
    record AccountView(Documents.Account account, List<Entry> pending)
    {
        AccountView
        {
            requireNonNull(account, "account is null");
            pending = List.copyOf(pending);
        }

        boolean exists()
        {
            return account.exists();
        }

        String incarnation()
        {
            return account.incarnation();
        }

        AccountId accountId()
        {
            return AccountId.of(account.accountId());
        }

        /**
         * This view with one more entry about the account.
         */
        AccountView with(Entry entry)
        {
            List<Entry> entries = new ArrayList<>(pending);
            entries.add(entry);
            return new AccountView(account.after(entry), entries);
        }

        /**
         * The newest pending entry about a user of the account as it is now (entries of an earlier incarnation of
         * the account do not count).
         */
        Optional<Entry> latestAbout(UserId userId)
        {
            for (int i = pending.size() - 1; i >= 0; i--) {
                Entry entry = pending.get(i);
                if (entry.names(userId) && entry.incarnation().equals(account.incarnation())) {
                    return Optional.of(entry);
                }
            }
            return Optional.empty();
        }

        /**
         * Whether the pending write with this id is among the committed ones.
         */
        boolean holdsWrite(String txn)
        {
            return pending.stream().anyMatch(entry -> txn.equals(entry.txn()));
        }
    }

    /**
     * A key that works now, and the user it belongs to.
     */
    record LiveKey(KeyRecord record, UserId userId) {}

    Optional<AccountRead> readDocument(AccountId accountId)
    {
        return objects.get(ObjectLayout.account(accountId.value()))
                .map(found -> new AccountRead(Documents.read(found.bytes(), Documents.Account.class), found.etag()));
    }

    /**
     * The account as the committed feed leaves it; empty when the store has never held it. Reads the head (unless
     * these views are as of one), then the account object.
     */
    Optional<AccountView> account(AccountId accountId)
    {
        return account(accountId, head.orElseGet(() -> feed.readHead().head()));
    }

    /**
     * The account as the entries committed by {@code read} leave it, and any applied to its object since; a head read
     * before the account object, which is what makes every entry committed by then found (its head lists it, or the
     * object counts it).
     */
    Optional<AccountView> account(AccountId accountId, Head read)
    {
        Optional<AccountRead> stored = readDocument(accountId);
        if (stored.isEmpty() && read.unappliedOf(accountId.value()).isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(fold(stored, accountId, read));
    }

    /**
     * An account object read after {@code head}, with the entries about it committed by then and not applied to it
     * folded in: those the head lists as unapplied to it, and those an older version marked on the object.
     */
    AccountView fold(Optional<AccountRead> stored, AccountId accountId, Head head)
    {
        Documents.Account account = stored.map(AccountRead::account).orElseGet(() -> Documents.Account.absent(accountId));
        TreeSet<Long> positions = new TreeSet<>(account.pending());
        head.unappliedOf(accountId.value()).stream().filter(position -> position > account.applied()).forEach(positions::add);
        if (positions.isEmpty()) {
            return new AccountView(account, List.of());
        }
        List<Entry> committed = feed.committedAt(head, positions, objects).stream()
                .filter(entry -> entry.accountId().equals(accountId.value()))
                .toList();
        return new AccountView(account.applying(committed, position -> true), committed);
    }

    /**
     * An account object read or written earlier, brought up to {@code head} with every committed entry about the
     * account past what it counts, from the feed (its pages are kept in memory, as a rule): the view a read of the
     * object now would give. Empty when the object holds an older version's marks, is newer than the head, or counts
     * less than the last {@link #KNOWN_LAG} entries, or when a page it needs is gone or more than one of them is not
     * kept in memory.
     */
    Optional<AccountView> foldKnown(AccountRead known, AccountId accountId, Head head)
    {
        Documents.Account account = known.account();
        if (!account.pending().isEmpty() || account.applied() > head.position() || head.position() - account.applied() > KNOWN_LAG) {
            return Optional.empty();
        }
        return feed.entriesAfter(head, account.applied(), objects, KNOWN_PAGE_READS).map(entries -> {
            List<Entry> newer = entries.stream().filter(entry -> entry.accountId().equals(accountId.value())).toList();
            return new AccountView(account.applying(newer, position -> true), newer);
        });
    }

    /**
     * A user, and every key it holds (some may have expired).
     */
    record UserState(User user, List<KeyId> keyIds)
    {
        UserState
        {
            requireNonNull(user, "user is null");
            keyIds = List.copyOf(keyIds);
        }
    }

    Optional<User> user(AccountView view, UserId userId)
    {
        return userState(view, userId).map(UserState::user);
    }

    /**
     * Whether the account holds a user with this id, as the view leaves it. In views as of one head, an id the account
     * never held is known free without a read, as a rule ({@link KnownUsers}).
     */
    boolean userExists(AccountView view, UserId userId)
    {
        if (view.latestAbout(userId).isEmpty() && head.isPresent() && knownUsers.absent(view, userId, head.get())) {
            return false;
        }
        return userState(view, userId).isPresent();
    }

    /**
     * The user with this id and the keys it holds, as the view's pending entries leave them.
     */
    Optional<UserState> userState(AccountView view, UserId userId)
    {
        Optional<Entry> pending = view.latestAbout(userId);
        if (pending.isPresent()) {
            return pending.get().userAfter().map(user -> new UserState(user, keyIds(pending.get().userKeyIds())));
        }
        Documents.Account account = view.account();
        return objects.get(ObjectLayout.user(account.accountId(), account.incarnation(), userId.value()))
                .map(found -> Documents.read(found.bytes(), Documents.User.class))
                .filter(document -> !document.removed())
                .map(document -> new UserState(document.toUser(view.accountId()), keyIds(document.heldKeyIds())));
    }

    /**
     * A key of this user, as the view's pending entries leave it (expired or not): read from its object, which is
     * not trusted beyond what the view says.
     */
    Optional<KeyRecord> keyOf(AccountView view, UserId userId, KeyId keyId)
    {
        Optional<Documents.Key> stored = objects.get(ObjectLayout.key(keyId.value()))
                .map(found -> Documents.read(found.bytes(), Documents.Key.class));
        return fold(keyId, stored, view, userId);
    }

    /**
     * Keys of this user, read side by side, in the order given: {@link #keyOf} of each.
     */
    List<Optional<KeyRecord>> keysOf(AccountView view, UserId userId, List<KeyId> keyIds)
    {
        return parallel.map(keyIds, keyId -> keyOf(view, userId, keyId));
    }

    private static List<KeyId> keyIds(List<String> values)
    {
        return values.stream().map(KeyId::of).toList();
    }

    /**
     * The ids of the account's users (and of some it had: each is read to tell), in order.
     */
    TreeSet<UserId> userCandidates(AccountView view)
    {
        TreeSet<UserId> candidates = new TreeSet<>();
        for (String name : objects.list(ObjectLayout.users(view.account().accountId(), view.incarnation()))) {
            ObjectLayout.userOfListedName(name).ifPresent(user -> candidates.add(UserId.of(user)));
        }
        for (Entry entry : view.pending()) {
            if (entry.userId() != null && entry.incarnation().equals(view.incarnation())) {
                candidates.add(UserId.of(entry.userId()));
            }
        }
        return candidates;
    }

    /**
     * The key with this id if it works now: a live key object, of a live account in the same incarnation, not
     * staged by an uncommitted write, and not ended by a committed pending entry of its account.
     */
    Optional<LiveKey> key(KeyId keyId)
    {
        String objectKey = ObjectLayout.key(keyId.value());
        Documents.Key key;
        AccountView view;
        Optional<Versioned> read = objects.get(objectKey);
        for (int attempt = 1; ; attempt++) {
            Optional<Documents.Key> found = read.map(versioned -> Documents.read(versioned.bytes(), Documents.Key.class));
            if (found.isEmpty() || found.get().revoked()) {
                return Optional.empty();
            }
            key = found.get();
            String incarnation = key.incarnation();
            Optional<AccountView> account = account(AccountId.of(key.accountId()))
                    .filter(live -> live.exists() && live.incarnation().equals(incarnation));
            if (account.isEmpty()) {
                return Optional.empty();
            }
            view = account.get();
            if (view.account().applied() <= key.position()) {
                break;
            }
            // The key was read before its account: a write to the account applied in between may have changed the
            // key (revoked it, changed its role) after this read of it. Unless the key is unchanged now (a 304), the
            // two reads are not of one moment: take the key as it is now, and read its account again.
            Optional<Versioned> changed = objects.getIfChanged(objectKey, read.get().etag());
            if (changed.isEmpty()) {
                break;
            }
            read = changed.get().bytes() == null ? Optional.empty() : changed;
            if (attempt == MAX_LOOKUP_ATTEMPTS) {
                throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 store's key kept changing while it was read");
            }
        }
        if (key.stagedBy() != null && !view.holdsWrite(key.stagedBy())) {
            return Optional.empty();
        }
        UserId userId = UserId.of(key.userId());
        Optional<KeyRecord> record = fold(keyId, Optional.of(key), view, userId);
        if (record.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new LiveKey(record.get(), userId));
    }

    /**
     * A key of a user as the committed entries of its account still pending on it leave it, starting from its object
     * (when it belongs to that user in the account as it is now, and is not revoked or staged by a write not
     * committed): entries after the one that wrote the object (after none, for a staged object or none) are applied
     * in order. An entry that issues the key sets it from the entry; a replacement of it ends it or, with a grace
     * period, retires it; a deletion of it and a removal of its user end it; a role change gives it the new role.
     */
    static Optional<KeyRecord> fold(KeyId keyId, Optional<Documents.Key> stored, AccountView view, UserId userId)
    {
        Optional<KeyRecord> key = Optional.empty();
        long after = 0;
        if (stored.isPresent()) {
            Documents.Key object = stored.get();
            boolean counts = !object.revoked() && object.accountId().equals(view.account().accountId()) && object.incarnation().equals(view.incarnation())
                    && object.userId().equals(userId.value()) && (object.stagedBy() == null || view.holdsWrite(object.stagedBy()));
            if (counts) {
                key = Optional.of(object.toRecord());
                after = object.stagedBy() == null ? object.position() : 0;
            }
        }
        String id = keyId.value();
        for (Entry entry : view.pending()) {
            if (entry.position() <= after || !entry.names(userId) || !entry.incarnation().equals(view.incarnation())) {
                continue;
            }
            switch (entry.type()) {
                case ACCOUNT_CREATED, USER_ADDED, KEY_ADDED -> {
                    if (id.equals(entry.keyId()) && entry.issuesKey()) {
                        key = Optional.of(entry.issuedKey());
                    }
                }
                case KEY_REPLACED -> {
                    if (id.equals(entry.keyId())) {
                        key = Optional.of(entry.issuedKey());
                    }
                    else if (id.equals(entry.oldKeyId())) {
                        Instant until = entry.previousKeyUntil();
                        key = until == null ? Optional.empty() : key.map(record -> withAttributes(record, record.role(), record.attributes().retiredUntil(until)));
                    }
                }
                case KEY_DELETED -> {
                    if (id.equals(entry.keyId())) {
                        key = Optional.empty();
                    }
                }
                case ROLE_CHANGED -> {
                    if (entry.writtenWithOneKeyPerUser() && id.equals(entry.keyId()) && entry.secretHash() != null) {
                        key = Optional.of(new KeyRecord(keyId, SecretHash.ofHex(entry.secretHash()), AccountId.of(entry.accountId()), userId, entry.role(),
                                entry.keyCreatedAt()));
                    }
                    else {
                        key = key.map(record -> withAttributes(record, entry.role(), record.attributes()));
                    }
                }
                case USER_REMOVED, ACCOUNT_DELETED -> key = Optional.empty();
            }
        }
        return key;
    }

    private static KeyRecord withAttributes(KeyRecord key, dev.latchkey.core.domain.Role role, KeyAttributes attributes)
    {
        return new KeyRecord(key.keyId(), key.secretHash(), key.accountId(), key.userId(), role, key.createdAt(), attributes);
    }
}

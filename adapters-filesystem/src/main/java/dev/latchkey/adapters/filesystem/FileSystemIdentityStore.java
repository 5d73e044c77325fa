package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.SecretHash;
import dev.latchkey.core.store.AuditPage;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.InstanceRecord;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.Origin;
import dev.latchkey.core.store.StoreErrors;
import dev.latchkey.core.store.UserChange;
import dev.latchkey.core.store.UserPage;
import dev.latchkey.core.store.UserQuery;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * The identity store in a directory shared by many processes, on one host or over NFS: the embedded default.
 *
 * <h2>Layout</h2>
 * <pre>
 * store.lock                              the write lock (an OS file lock)
 * accounts/&lt;account&gt;/account.json         the account, its counts, and the write in progress on it
 * accounts/&lt;account&gt;/users/&lt;user&gt;.json    a user: role, primary key id, the ids of every key it holds
 * keys/&lt;xx&gt;/&lt;keyId&gt;.json                   a key: hash of its secret, account, user, role, name, scopes, expiry
 * feed/&lt;position&gt;.json, feed/head, feed/floor   the change feed (see {@link FileFeed}); each entry is also the
 *                                         audit record of its write: the change and its origin (actor, instance,
 *                                         request)
 * audit/&lt;first&gt;-&lt;last&gt;.jsonl, audit/horizon     the audit records of compacted feed entries, and the retention
 *                                         horizon (see {@link FileAuditTrail})
 * usage/&lt;instance&gt;.json, usage/&lt;instance&gt;.lock   when each key was last used, one file per instance
 *                                         (see {@link UsageFiles})
 * instances/&lt;instance&gt;.json                the instance registry, one record per instance
 *                                         (see {@link InstanceFiles})
 * tmp/                                    temporary files of atomic writes
 * </pre>
 * Names encode case-sensitive ids so that they stay distinct on case-folding filesystems ({@link FileNames}).
 *
 * <h2>Consistency</h2>
 * Writes are serialized by one lock across all processes, so every check-then-write is atomic. A write that touches
 * several files first records its decision in the account file ({@link AccountFile}), atomically; lookups honour
 * that record, and whoever next finds it unfinished rolls it forward. So a writer killed at any instant leaves no
 * torn file and no key that should not work. Reads take no lock: a key lookup reads the key file and its account
 * file, two small files whatever the size of the store; a listing of a user's keys reads its user file, which names
 * them ({@link UserFile}), and a lookup per key.
 *
 * <h2>Audit trail and last-used times</h2>
 * A write's audit record is its feed entry: the {@link PendingOperation} decided in the account file carries the
 * write's {@link Origin}, and the feed entry that finishing it appends (by its writer, or by whoever rolls it forward
 * after a crash) carries it on, so the record exists exactly when the change does and costs no extra file. A write
 * that fails or changes nothing decides nothing and appends nothing. Entries written before the store recorded
 * audits have no origin: they are read as changes and never listed. Usage reports go to one file per instance
 * under its own lock, never through the store lock, the feed or the audit trail; so do instance records, one file
 * per instance with no lock at all, as only the instance writes its own.
 */
public final class FileSystemIdentityStore
        implements IdentityStore
{
    private static final String JSON = ".json";
    private static final Duration STALE_TEMPORARY_FILE_AGE = Duration.ofHours(1);

    private final Path accountsDirectory;
    private final Path keysDirectory;
    private final StoreFiles files;
    private final FileFeed feed;
    private final FileAuditTrail audit;
    private final UsageFiles usage;
    private final InstanceFiles instances;
    private final StoreLock lock;
    private final Clock clock;
    private final int feedRetention;
    private final int compactionInterval;

    private FileSystemIdentityStore(Path root, FileSystemStoreOptions options, Clock clock, StoreFiles.MutationHook beforeMutation)
            throws IOException
    {
        this.files = new StoreFiles(root, beforeMutation);
        this.accountsDirectory = root.resolve("accounts");
        this.keysDirectory = root.resolve("keys");
        files.createDirectories(accountsDirectory);
        files.createDirectories(keysDirectory);
        this.audit = new FileAuditTrail(root.resolve("audit"), files);
        this.feed = new FileFeed(root.resolve("feed"), files, audit);
        this.usage = new UsageFiles(root.resolve("usage"), files, options.lockTimeout());
        this.instances = new InstanceFiles(root.resolve("instances"), files);
        this.lock = new StoreLock(root.resolve("store.lock"), options.lockTimeout());
        this.clock = clock;
        this.feedRetention = options.feedRetention();
        this.compactionInterval = options.compactionInterval();
        files.removeStaleTemporaryFiles(clock.instant(), STALE_TEMPORARY_FILE_AGE);
    }

    /**
     * Opens the store in a directory, creating it (mode 0700) when absent.
     *
     * @throws LatchkeyException UNAVAILABLE when the directory cannot be created or read
     */
    public static FileSystemIdentityStore open(Path directory, FileSystemStoreOptions options, Clock clock)
    {
        return open(directory, options, clock, StoreFiles.MutationHook.NONE);
    }

    public static FileSystemIdentityStore open(Path directory, Clock clock)
    {
        return open(directory, FileSystemStoreOptions.defaults(), clock);
    }

    static FileSystemIdentityStore open(Path directory, FileSystemStoreOptions options, Clock clock, StoreFiles.MutationHook beforeMutation)
    {
        requireNonNull(directory, "directory is null");
        requireNonNull(options, "options is null");
        requireNonNull(clock, "clock is null");
        try {
            return new FileSystemIdentityStore(directory, options, clock, beforeMutation);
        }
        catch (IOException e) {
            throw unavailable(e);
        }
    }

    @Override
    public Optional<KeyRecord> findKey(KeyId keyId)
    {
        requireNonNull(keyId, "keyId is null");
        return read(() -> liveKey(keyId));
    }

    @Override
    public Optional<Account> findAccount(AccountId accountId)
    {
        requireNonNull(accountId, "accountId is null");
        return settledAccount(accountId).map(FileSystemIdentityStore::toAccount);
    }

    @Override
    public List<AccountSummary> listAccounts()
    {
        List<AccountSummary> accounts = new ArrayList<>();
        for (String name : read(() -> files.list(accountsDirectory))) {
            settledAccount(AccountId.of(FileNames.decode(name)))
                    .ifPresent(account -> accounts.add(new AccountSummary(AccountId.of(account.accountId()), account.createdAt(), account.userCount())));
        }
        accounts.sort(Comparator.comparing(AccountSummary::id));
        return accounts;
    }

    @Override
    public Optional<User> findUser(AccountId accountId, UserId userId)
    {
        requireNonNull(userId, "userId is null");
        if (settledAccount(accountId).isEmpty()) {
            return Optional.empty();
        }
        return read(() -> files.read(userFile(accountId, userId), UserFile.class)).map(UserFile::toUser);
    }

    @Override
    public List<KeySummary> listKeys(AccountId accountId, UserId userId, Instant now)
    {
        requireNonNull(userId, "userId is null");
        requireNonNull(now, "now is null");
        if (settledAccount(accountId).isEmpty()) {
            throw StoreErrors.accountNotFound(accountId);
        }
        UserFile user = read(() -> files.read(userFile(accountId, userId), UserFile.class)).orElseThrow(() -> StoreErrors.userNotFound(accountId, userId));
        List<KeySummary> keys = new ArrayList<>();
        for (KeyId keyId : user.heldKeyIds()) {
            // a key a concurrent write ended since the user file was read is left out, as after that write
            read(() -> liveKey(keyId))
                    .filter(key -> key.accountId().equals(accountId) && key.userId().equals(userId) && key.attributes().isLiveAt(now))
                    .ifPresent(key -> keys.add(key.summary()));
        }
        keys.sort(KeySummary.LISTING_ORDER);
        return keys;
    }

    @Override
    public UserPage listUsers(AccountId accountId, UserQuery query)
    {
        requireNonNull(query, "query is null");
        if (settledAccount(accountId).isEmpty()) {
            throw StoreErrors.accountNotFound(accountId);
        }
        List<UserId> candidates = new ArrayList<>();
        for (String name : read(() -> files.list(usersDirectory(accountId)))) {
            if (name.endsWith(JSON)) {
                UserId userId = UserId.of(FileNames.decode(name.substring(0, name.length() - JSON.length())));
                if (query.after().map(after -> userId.compareTo(after) > 0).orElse(true)) {
                    candidates.add(userId);
                }
            }
        }
        candidates.sort(Comparator.naturalOrder());
        List<User> page = new ArrayList<>();
        for (UserId userId : candidates) {
            Optional<UserFile> user = read(() -> files.read(userFile(accountId, userId), UserFile.class));
            if (user.isEmpty() || !query.matches(userId, user.get().role())) {
                continue;
            }
            if (page.size() == query.limit()) {
                return new UserPage(page, Optional.of(page.get(page.size() - 1).id()));
            }
            page.add(user.get().toUser());
        }
        return new UserPage(page, Optional.empty());
    }

    @Override
    public void createAccount(Origin origin, Account account, Optional<NewUser> firstAdmin)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(account, "account is null");
        requireNonNull(firstAdmin, "firstAdmin is null");
        NewUser.requireFirstAdmin(account.id(), firstAdmin);
        lock.call(() -> {
            recover(account.id());
            if (files.read(accountFile(account.id()), AccountFile.class).isPresent()) {
                throw StoreErrors.accountExists(account.id());
            }
            String incarnation = UUID.randomUUID().toString();
            if (firstAdmin.isPresent()) {
                requireKeyIdFree(firstAdmin.get().keyId());
            }
            PendingOperation operation = PendingOperation.accountCreated(origin, feed.head().value(), firstAdmin, incarnation);
            if (firstAdmin.isPresent()) {
                stage(operation);
            }
            int users = firstAdmin.isPresent() ? 1 : 0;
            AccountFile created = new AccountFile(account.id().value(), account.createdAt(), account.adminRequired(), incarnation, users, users, false, operation);
            decideAndFinish(created);
            return null;
        });
    }

    @Override
    public void addUser(Origin origin, NewUser newUser)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(newUser, "newUser is null");
        User user = newUser.user();
        lock.call(() -> {
            AccountFile account = lockedAccount(user.accountId());
            if (files.read(userFile(user.accountId(), user.id()), UserFile.class).isPresent()) {
                throw StoreErrors.userExists(user.accountId(), user.id());
            }
            requireKeyIdFree(newUser.keyId());
            PendingOperation operation = PendingOperation.userAdded(origin, feed.head().value(), newUser, account.incarnation());
            stage(operation);
            int admins = account.adminCount() + (user.role() == Role.ADMIN ? 1 : 0);
            decideAndFinish(account.withPending(account.userCount() + 1, admins, operation));
            return null;
        });
    }

    @Override
    public User replaceKey(Origin origin, AccountId accountId, UserId userId, KeyId newKeyId, SecretHash newSecretHash, Instant issuedAt,
            Optional<Instant> previousKeyUntil)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(newKeyId, "newKeyId is null");
        requireNonNull(newSecretHash, "newSecretHash is null");
        requireNonNull(issuedAt, "issuedAt is null");
        requireNonNull(previousKeyUntil, "previousKeyUntil is null");
        return lock.call(() -> {
            AccountFile account = lockedAccount(accountId);
            UserFile before = lockedUser(accountId, userId);
            Optional<KeyId> oldKeyId = before.primaryKeyId();
            boolean sameKey = oldKeyId.isPresent() && oldKeyId.get().equals(newKeyId);
            List<KeyFile> keys = lockedKeys(before);
            List<KeyId> ended = endedKeys(keys, issuedAt);
            if (!sameKey && !ended.contains(newKeyId)) {
                requireKeyIdFree(newKeyId);
            }
            boolean keepOldKey = oldKeyId.isPresent() && !sameKey && previousKeyUntil.isPresent();
            Optional<KeyFile> retiredKey = Optional.empty();
            if (keepOldKey || oldKeyId.isEmpty()) {
                // the new key comes beside the user's live keys rather than in place of one: counted under the lock
                StoreErrors.requireRoomForKeys(liveCount(keys, issuedAt), 1, accountId, userId);
                if (keepOldKey) {
                    KeyFile oldKey = keys.stream()
                            .filter(key -> key.keyId().equals(oldKeyId.get().value()))
                            .findFirst()
                            .orElseThrow(() -> new IOException("the primary key of a user is not among its keys"));
                    retiredKey = Optional.of(oldKey.withAttributes(oldKey.attributes().retiredUntil(previousKeyUntil.get())));
                }
            }
            KeyRecord newKey = new KeyRecord(newKeyId, newSecretHash, accountId, userId, before.role(), issuedAt);
            PendingOperation operation = PendingOperation.keyReplaced(origin, feed.head().value(), before, newKey, retiredKey, ended, account.incarnation());
            if (!sameKey) {
                stage(operation);
            }
            decideAndFinish(account.withPending(account.userCount(), account.adminCount(), operation));
            return before.toUser();
        });
    }

    @Override
    public void addKey(Origin origin, NewKey newKey)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(newKey, "newKey is null");
        lock.call(() -> {
            AccountFile account = lockedAccount(newKey.accountId());
            UserFile user = lockedUser(newKey.accountId(), newKey.userId());
            List<KeyFile> keys = lockedKeys(user);
            List<KeyId> ended = endedKeys(keys, newKey.createdAt());
            if (!ended.contains(newKey.keyId())) {
                requireKeyIdFree(newKey.keyId());
            }
            // counted under the write lock, after any unfinished write was rolled forward: concurrent adds cannot
            // both see room for one more key
            StoreErrors.requireRoomForKeys(liveCount(keys, newKey.createdAt()), 1, newKey.accountId(), newKey.userId());
            PendingOperation operation = PendingOperation.keyAdded(origin, feed.head().value(), user, newKey.keyRecord(user.role()), ended, account.incarnation());
            stage(operation);
            decideAndFinish(account.withPending(account.userCount(), account.adminCount(), operation));
            return null;
        });
    }

    @Override
    public KeySummary deleteKey(Origin origin, AccountId accountId, UserId userId, KeyId keyId, Instant now)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(keyId, "keyId is null");
        requireNonNull(now, "now is null");
        return lock.call(() -> {
            AccountFile account = lockedAccount(accountId);
            UserFile user = lockedUser(accountId, userId);
            if (!user.holds(keyId)) {
                throw StoreErrors.keyNotFound(accountId, userId);
            }
            KeyRecord key = lockedKey(keyId).toRecord();
            if (!key.attributes().isLiveAt(now)) {
                throw StoreErrors.keyNotFound(accountId, userId);
            }
            PendingOperation operation = PendingOperation.keyDeleted(origin, feed.head().value(), user, keyId);
            decideAndFinish(account.withPending(account.userCount(), account.adminCount(), operation));
            return key.summary();
        });
    }

    @Override
    public UserChange setRole(Origin origin, AccountId accountId, UserId userId, Role role)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(role, "role is null");
        if (role == Role.ROOT) {
            throw new IllegalArgumentException("an account user cannot have role ROOT");
        }
        return lock.call(() -> {
            AccountFile account = lockedAccount(accountId);
            UserFile before = lockedUser(accountId, userId);
            Role current = before.role();
            if (current == role) {
                return new UserChange(before.toUser(), List.of());
            }
            if (current == Role.ADMIN) {
                requireNotLastAdmin(account, userId, "demote");
            }
            PendingOperation operation = PendingOperation.roleChanged(origin, feed.head().value(), before, role, lockedKeys(before));
            int admins = account.adminCount() + (role == Role.ADMIN ? 1 : -1);
            decideAndFinish(account.withPending(account.userCount(), admins, operation));
            return new UserChange(before.toUser(), before.heldKeyIds());
        });
    }

    @Override
    public UserChange removeUser(Origin origin, AccountId accountId, UserId userId)
    {
        requireNonNull(origin, "origin is null");
        return lock.call(() -> {
            AccountFile account = lockedAccount(accountId);
            UserFile before = lockedUser(accountId, userId);
            boolean admin = before.role() == Role.ADMIN;
            if (admin) {
                requireNotLastAdmin(account, userId, "remove");
            }
            PendingOperation operation = PendingOperation.userRemoved(origin, feed.head().value(), before);
            decideAndFinish(account.withPending(account.userCount() - 1, account.adminCount() - (admin ? 1 : 0), operation));
            return new UserChange(before.toUser(), before.heldKeyIds());
        });
    }

    @Override
    public void deleteAccount(Origin origin, AccountId accountId)
    {
        requireNonNull(origin, "origin is null");
        lock.call(() -> {
            AccountFile account = lockedAccount(accountId);
            AccountFile deleting = account.deletingWith(PendingOperation.accountDeleted(origin, feed.head().value()));
            files.write(accountFile(accountId), deleting);
            finishDeletion(deleting, true);
            return null;
        });
    }

    @Override
    public FeedBatch changesAfter(FeedPosition position, int limit)
    {
        requireNonNull(position, "position is null");
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be positive");
        }
        return read(() -> feed.changesAfter(position, limit));
    }

    @Override
    public FeedPosition headPosition()
    {
        return read(feed::head);
    }

    @Override
    public AuditPage listAudit(AuditQuery query)
    {
        requireNonNull(query, "query is null");
        return read(() -> audit.list(query, feed));
    }

    @Override
    public void purgeAudit(Instant before)
    {
        requireNonNull(before, "before is null");
        lock.call(() -> {
            audit.purge(before);
            return null;
        });
    }

    @Override
    public void recordUsage(String instanceId, Map<KeyId, Instant> lastUsed)
    {
        Origin.requireValidInstanceId(requireNonNull(instanceId, "instanceId is null"));
        requireNonNull(lastUsed, "lastUsed is null");
        usage.record(instanceId, Map.copyOf(lastUsed));
    }

    @Override
    public Map<KeyId, Instant> lastUsed(Collection<KeyId> keyIds)
    {
        requireNonNull(keyIds, "keyIds is null");
        List<KeyId> asked = List.copyOf(keyIds);
        return read(() -> usage.lastUsed(asked));
    }

    /**
     * Writes {@code instances/<instance>.json} atomically, taking no lock: only the instance itself writes it.
     *
     * @throws LatchkeyException UNAVAILABLE when the file cannot be written
     */
    @Override
    public void publishInstance(InstanceRecord record)
    {
        requireNonNull(record, "record is null");
        read(() -> {
            instances.publish(record);
            return null;
        });
    }

    /**
     * Deletes {@code instances/<instance>.json}, if any.
     *
     * @throws LatchkeyException UNAVAILABLE when the file cannot be deleted
     */
    @Override
    public void removeInstance(String instanceId)
    {
        Origin.requireValidInstanceId(requireNonNull(instanceId, "instanceId is null"));
        read(() -> {
            instances.remove(instanceId);
            return null;
        });
    }

    /**
     * Reads every file in {@code instances/}, skipping one that vanished meanwhile or holds no valid record.
     *
     * @throws LatchkeyException UNAVAILABLE when the directory or a file cannot be read
     */
    @Override
    public List<InstanceRecord> listInstances()
    {
        return read(instances::list);
    }

    /**
     * Forgets the feed entries up to and including {@code position} now, instead of waiting for automatic
     * compaction (which keeps the newest {@link FileSystemStoreOptions#feedRetention()} entries). Their audit
     * records are archived first ({@link FileAuditTrail}).
     */
    public void compactThrough(FeedPosition position)
    {
        requireNonNull(position, "position is null");
        lock.call(() -> {
            feed.compactThrough(position.value());
            return null;
        });
    }

    // --- reads

    private Optional<KeyRecord> liveKey(KeyId keyId)
            throws IOException
    {
        Optional<KeyFile> found = files.read(keyFile(keyId), KeyFile.class);
        if (found.isEmpty()) {
            return Optional.empty();
        }
        KeyFile key = found.get();
        AccountId accountId = AccountId.of(key.accountId());
        Optional<AccountFile> account = files.read(accountFile(accountId), AccountFile.class);
        if (account.isEmpty() || account.get().deleting() || !account.get().incarnation().equals(key.accountIncarnation())) {
            return Optional.empty();
        }
        PendingOperation pending = account.get().pending();
        KeyFile effective = key;
        if (pending != null && key.userId().equals(pending.userId())) {
            // a decided write to this user is being finished: it, not the key file, says what holds
            if (pending.user() == null || !pending.user().holds(keyId)) {
                return Optional.empty();
            }
            effective = pending.writtenKey(key.keyId()).orElse(key.withRole(pending.user().role()));
        }
        else if (key.stagedBy() != null) {
            // written ahead of a write that was never decided
            return Optional.empty();
        }
        return Optional.of(effective.toRecord());
    }

    /**
     * The account's file once no write is unfinished on it; empty when it does not exist or is being deleted.
     */
    private Optional<AccountFile> settledAccount(AccountId accountId)
    {
        requireNonNull(accountId, "accountId is null");
        Optional<AccountFile> account = read(() -> files.read(accountFile(accountId), AccountFile.class));
        if (account.isEmpty() || account.get().hasNothingPending()) {
            return account;
        }
        return lock.call(() -> {
            recover(accountId);
            return files.read(accountFile(accountId), AccountFile.class);
        });
    }

    // --- writes (all under the lock)

    private AccountFile lockedAccount(AccountId accountId)
            throws IOException
    {
        recover(requireNonNull(accountId, "accountId is null"));
        return files.read(accountFile(accountId), AccountFile.class).orElseThrow(() -> StoreErrors.accountNotFound(accountId));
    }

    private UserFile lockedUser(AccountId accountId, UserId userId)
            throws IOException
    {
        requireNonNull(userId, "userId is null");
        return files.read(userFile(accountId, userId), UserFile.class)
                .orElseThrow(() -> StoreErrors.userNotFound(accountId, userId));
    }

    /**
     * The file of a key that a user holds (the account's unfinished write, if any, rolled forward).
     */
    private KeyFile lockedKey(KeyId keyId)
            throws IOException
    {
        return files.read(keyFile(keyId), KeyFile.class).orElseThrow(() -> new IOException("the key file of a user is missing"));
    }

    /**
     * The files of every key a user holds, expired or not: one read per key.
     */
    private List<KeyFile> lockedKeys(UserFile user)
            throws IOException
    {
        List<KeyFile> keys = new ArrayList<>();
        for (KeyId keyId : user.heldKeyIds()) {
            keys.add(lockedKey(keyId));
        }
        return keys;
    }

    private static long liveCount(List<KeyFile> keys, Instant at)
    {
        return keys.size() - endedKeys(keys, at).size();
    }

    /**
     * The keys a user still holds that have ended at {@code at}: expired ones, and (under the lock, once unfinished
     * writes are rolled forward) a key file left staged by a write that was never decided, which can only have
     * replaced an expired key of the same id. The next key write to the user removes them
     * ({@link dev.latchkey.core.store.ExpiredKeys}).
     */
    private static List<KeyId> endedKeys(List<KeyFile> keys, Instant at)
    {
        return keys.stream()
                .filter(key -> key.stagedBy() != null || !key.attributes().isLiveAt(at))
                .map(key -> KeyId.of(key.keyId()))
                .toList();
    }

    private void requireKeyIdFree(KeyId keyId)
            throws IOException
    {
        if (liveKey(keyId).isPresent()) {
            throw StoreErrors.keyIdInUse();
        }
    }

    private static void requireNotLastAdmin(AccountFile account, UserId userId, String action)
    {
        StoreErrors.requireAnotherAdmin(account.adminRequired(), account.adminCount() > 1, AccountId.of(account.accountId()), userId, action);
    }

    /**
     * Writes the key that a write is about to issue ahead of its decision, marked as staged by it, so that lookups
     * find the key the moment the decision is recorded, and never before.
     */
    private void stage(PendingOperation operation)
            throws IOException
    {
        files.write(keyFile(KeyId.of(operation.newKey().keyId())), operation.newKey().stagedBy(operation.operationId()));
    }

    /**
     * Records the decision (the account file with its pending write), then finishes it.
     */
    private void decideAndFinish(AccountFile decided)
            throws IOException
    {
        files.write(accountFile(AccountId.of(decided.accountId())), decided);
        finish(decided, true);
    }

    /**
     * Rolls forward whatever a previous writer decided on this account and did not finish.
     */
    private void recover(AccountId accountId)
            throws IOException
    {
        Optional<AccountFile> account = files.read(accountFile(accountId), AccountFile.class);
        if (account.isEmpty() || account.get().hasNothingPending()) {
            return;
        }
        if (account.get().deleting()) {
            finishDeletion(account.get(), false);
        }
        else {
            finish(account.get(), false);
        }
    }

    private void finish(AccountFile account, boolean fresh)
            throws IOException
    {
        PendingOperation operation = account.pending();
        AccountId accountId = AccountId.of(account.accountId());
        if (operation.newKey() != null) {
            files.write(keyFile(KeyId.of(operation.newKey().keyId())), operation.newKey());
        }
        for (KeyFile rewritten : operation.rewrittenKeys()) {
            files.write(keyFile(KeyId.of(rewritten.keyId())), rewritten);
        }
        for (String removed : operation.removedKeyIds()) {
            // a decision written before users held several keys names the replaced key removed even when the new key has its id
            if (operation.newKey() == null || !removed.equals(operation.newKey().keyId())) {
                files.delete(keyFile(KeyId.of(removed)));
            }
        }
        if (operation.userId() != null) {
            Path user = userFile(accountId, UserId.of(operation.userId()));
            if (operation.user() != null) {
                files.write(user, operation.user());
            }
            else {
                files.delete(user);
            }
        }
        appendChange(account.accountId(), operation, fresh);
        files.write(accountFile(accountId), account.settled());
    }

    private void finishDeletion(AccountFile account, boolean fresh)
            throws IOException
    {
        AccountId accountId = AccountId.of(account.accountId());
        Path users = usersDirectory(accountId);
        for (String name : files.list(users)) {
            Path user = users.resolve(name);
            Optional<UserFile> found = files.read(user, UserFile.class);
            if (found.isPresent()) {
                for (KeyId keyId : found.get().heldKeyIds()) {
                    files.delete(keyFile(keyId));
                }
            }
            files.delete(user);
        }
        files.deleteDirectory(users);
        appendChange(account.accountId(), account.pending(), fresh);
        files.delete(accountFile(accountId));
        files.deleteDirectory(accountDirectory(accountId));
    }

    private void appendChange(String accountId, PendingOperation operation, boolean fresh)
            throws IOException
    {
        if (!fresh && feed.contains(operation.operationId(), operation.feedFrom())) {
            return;
        }
        long position = feed.append(operation.operationId(), operation.changeType(), accountId, operation.userId(), operation.changeKeyIds(), clock.instant(),
                operation.origin());
        if (position % compactionInterval == 0 && position > feedRetention) {
            feed.compactThrough(position - feedRetention);
        }
    }

    // --- paths and conversions

    private Path accountDirectory(AccountId accountId)
    {
        return accountsDirectory.resolve(FileNames.encode(accountId.value()));
    }

    private Path accountFile(AccountId accountId)
    {
        return accountDirectory(accountId).resolve("account.json");
    }

    private Path usersDirectory(AccountId accountId)
    {
        return accountDirectory(accountId).resolve("users");
    }

    private Path userFile(AccountId accountId, UserId userId)
    {
        return usersDirectory(accountId).resolve(FileNames.encode(userId.value()) + JSON);
    }

    private Path keyFile(KeyId keyId)
    {
        String name = FileNames.encode(keyId.value());
        return keysDirectory.resolve(name.substring(0, 2)).resolve(name + JSON);
    }

    private static Account toAccount(AccountFile account)
    {
        return new Account(AccountId.of(account.accountId()), account.createdAt(), account.adminRequired());
    }

    private interface Read<T>
    {
        T run()
                throws IOException;
    }

    private static <T> T read(Read<T> read)
    {
        try {
            return read.run();
        }
        catch (IOException e) {
            throw unavailable(e);
        }
    }

    static LatchkeyException unavailable(IOException e)
    {
        return new LatchkeyException(ErrorCode.UNAVAILABLE, "filesystem store unavailable", e);
    }

    /**
     * Holds nothing open between calls (each write takes and releases the lock file).
     */
    @Override
    public void close() {}
}

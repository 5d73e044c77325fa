package dev.latchkey.core.store.memory;

import dev.latchkey.core.store.StoreErrors;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.SecretHash;
import dev.latchkey.core.store.AuditPage;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.ExpiredKeys;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.InstanceRecord;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.Origin;
import dev.latchkey.core.store.UserChange;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.UserPage;
import dev.latchkey.core.store.UserQuery;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

import static java.util.Objects.requireNonNull;

/**
 * The reference implementation of {@link IdentityStore}, held in one process's memory: for tests, and for Java
 * teams that embed core with a single instance. Every method is atomic under one lock.
 */
public final class InMemoryIdentityStore
        implements IdentityStore
{
    private final Clock clock;
    private final Map<AccountId, AccountState> accounts = new TreeMap<>();
    private final Map<KeyId, KeyRecord> keys = new HashMap<>();
    private final List<Change> feed = new ArrayList<>();
    /** Oldest first, like the feed, but purged by time only. */
    private final List<AuditRecord> audit = new ArrayList<>();
    private final Map<KeyId, Instant> lastUsed = new HashMap<>();
    private final Map<String, InstanceRecord> instances = new TreeMap<>();
    private long head;
    private long compactedThrough;

    public InMemoryIdentityStore(Clock clock)
    {
        this.clock = requireNonNull(clock, "clock is null");
    }

    @Override
    public synchronized Optional<KeyRecord> findKey(KeyId keyId)
    {
        return Optional.ofNullable(keys.get(requireNonNull(keyId, "keyId is null")));
    }

    @Override
    public synchronized Optional<Account> findAccount(AccountId accountId)
    {
        return Optional.ofNullable(accounts.get(requireNonNull(accountId, "accountId is null"))).map(AccountState::account);
    }

    @Override
    public synchronized List<AccountSummary> listAccounts()
    {
        return accounts.values().stream()
                .map(state -> new AccountSummary(state.account().id(), state.account().createdAt(), state.users().size()))
                .toList();
    }

    @Override
    public synchronized Optional<User> findUser(AccountId accountId, UserId userId)
    {
        requireNonNull(userId, "userId is null");
        return Optional.ofNullable(accounts.get(requireNonNull(accountId, "accountId is null")))
                .map(state -> state.users().get(userId));
    }

    @Override
    public synchronized UserPage listUsers(AccountId accountId, UserQuery query)
    {
        requireNonNull(query, "query is null");
        AccountState state = existing(accountId);
        List<User> page = new ArrayList<>();
        boolean more = false;
        for (User user : state.users().values()) {
            if (!query.matches(user.id(), user.role())) {
                continue;
            }
            if (page.size() == query.limit()) {
                more = true;
                break;
            }
            page.add(user);
        }
        return new UserPage(page, more ? Optional.of(page.get(page.size() - 1).id()) : Optional.empty());
    }

    @Override
    public synchronized List<KeySummary> listKeys(AccountId accountId, UserId userId, Instant now)
    {
        requireNonNull(now, "now is null");
        AccountState state = existing(accountId);
        existingUser(state, userId);
        return liveKeys(state, userId, now).stream()
                .map(KeyRecord::summary)
                .sorted(KeySummary.LISTING_ORDER)
                .toList();
    }

    @Override
    public synchronized void createAccount(Origin origin, Account account, Optional<NewUser> firstAdmin)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(account, "account is null");
        requireNonNull(firstAdmin, "firstAdmin is null");
        NewUser.requireFirstAdmin(account.id(), firstAdmin);
        if (accounts.containsKey(account.id())) {
            throw StoreErrors.accountExists(account.id());
        }
        firstAdmin.ifPresent(admin -> checkKeyIdFree(admin.keyId()));
        AccountState state = new AccountState(account, new TreeMap<>(), new HashMap<>());
        accounts.put(account.id(), state);
        firstAdmin.ifPresent(admin -> putUser(state, admin));
        append(origin, ChangeType.ACCOUNT_CREATED, account.id(),
                firstAdmin.map(admin -> admin.user().id()),
                firstAdmin.map(admin -> List.of(admin.keyId())).orElse(List.of()));
    }

    @Override
    public synchronized void addUser(Origin origin, NewUser newUser)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(newUser, "newUser is null");
        User user = newUser.user();
        AccountState state = existing(user.accountId());
        if (state.users().containsKey(user.id())) {
            throw StoreErrors.userExists(user.accountId(), user.id());
        }
        checkKeyIdFree(newUser.keyId());
        putUser(state, newUser);
        append(origin, ChangeType.USER_ADDED, user.accountId(), Optional.of(user.id()), List.of(newUser.keyId()));
    }

    @Override
    public synchronized User replaceKey(Origin origin, AccountId accountId, UserId userId, KeyId newKeyId, SecretHash newSecretHash, Instant issuedAt, Optional<Instant> previousKeyUntil)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(newKeyId, "newKeyId is null");
        requireNonNull(newSecretHash, "newSecretHash is null");
        requireNonNull(issuedAt, "issuedAt is null");
        requireNonNull(previousKeyUntil, "previousKeyUntil is null");
        AccountState state = existing(accountId);
        User before = existingUser(state, userId);
        Optional<KeyId> old = before.primaryKeyId();
        boolean sameKey = old.isPresent() && old.get().equals(newKeyId);
        List<KeyId> expired = expiredKeys(state, userId, issuedAt);
        if (!sameKey && !expired.contains(newKeyId)) {
            checkKeyIdFree(newKeyId);
        }
        boolean keepOld = old.isPresent() && !sameKey && previousKeyUntil.isPresent();
        if (keepOld || old.isEmpty()) {
            // the new key comes beside the user's live keys rather than in place of one
            StoreErrors.requireRoomForKeys(liveKeys(state, userId, issuedAt).size(), 1, accountId, userId);
        }
        purge(state, userId, expired);
        User after = before.withKey(newKeyId);
        state.users().put(userId, after);
        Set<KeyId> owned = state.keysOf(userId);
        old.ifPresent(oldKeyId -> {
            if (keepOld) {
                KeyRecord retired = requireNonNull(keys.get(oldKeyId), "a user's key is missing");
                keys.put(oldKeyId, withAttributes(retired, retired.attributes().retiredUntil(previousKeyUntil.get())));
            }
            else {
                keys.remove(oldKeyId);
                owned.remove(oldKeyId);
            }
        });
        keys.put(newKeyId, new KeyRecord(newKeyId, newSecretHash, accountId, userId, after.role(), issuedAt));
        owned.add(newKeyId);
        List<KeyId> affected = new ArrayList<>();
        old.ifPresent(affected::add);
        affected.add(newKeyId);
        append(origin, ChangeType.KEY_REPLACED, accountId, Optional.of(userId), ExpiredKeys.named(affected, expired));
        return before;
    }

    @Override
    public synchronized void addKey(Origin origin, NewKey newKey)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(newKey, "newKey is null");
        AccountState state = existing(newKey.accountId());
        User user = existingUser(state, newKey.userId());
        List<KeyId> expired = expiredKeys(state, user.id(), newKey.createdAt());
        if (!expired.contains(newKey.keyId())) {
            checkKeyIdFree(newKey.keyId());
        }
        StoreErrors.requireRoomForKeys(liveKeys(state, user.id(), newKey.createdAt()).size(), 1, user.accountId(), user.id());
        purge(state, user.id(), expired);
        keys.put(newKey.keyId(), newKey.keyRecord(user.role()));
        state.keysOf(user.id()).add(newKey.keyId());
        append(origin, ChangeType.KEY_ADDED, user.accountId(), Optional.of(user.id()), ExpiredKeys.named(List.of(newKey.keyId()), expired));
    }

    @Override
    public synchronized KeySummary deleteKey(Origin origin, AccountId accountId, UserId userId, KeyId keyId, Instant now)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(keyId, "keyId is null");
        requireNonNull(now, "now is null");
        AccountState state = existing(accountId);
        User user = existingUser(state, userId);
        KeyRecord key = liveKeys(state, userId, now).stream()
                .filter(record -> record.keyId().equals(keyId))
                .findFirst()
                .orElseThrow(() -> StoreErrors.keyNotFound(accountId, userId));
        keys.remove(keyId);
        state.keysOf(userId).remove(keyId);
        if (user.primaryKeyId().equals(Optional.of(keyId))) {
            state.users().put(userId, user.withoutPrimaryKey());
        }
        append(origin, ChangeType.KEY_DELETED, accountId, Optional.of(userId), List.of(keyId));
        return key.summary();
    }

    @Override
    public synchronized UserChange setRole(Origin origin, AccountId accountId, UserId userId, Role role)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(role, "role is null");
        if (role == Role.ROOT) {
            throw new IllegalArgumentException("an account user cannot have role ROOT");
        }
        AccountState state = existing(accountId);
        User before = existingUser(state, userId);
        if (before.role() == role) {
            return new UserChange(before, List.of());
        }
        if (before.role() == Role.ADMIN) {
            checkNotLastAdmin(state, before, "demote");
        }
        state.users().put(userId, before.withRole(role));
        List<KeyId> affected = List.copyOf(state.keysOf(userId));
        for (KeyId keyId : affected) {
            KeyRecord key = requireNonNull(keys.get(keyId), "a user's key is missing");
            keys.put(keyId, new KeyRecord(keyId, key.secretHash(), accountId, userId, role, key.createdAt(), key.attributes()));
        }
        append(origin, ChangeType.ROLE_CHANGED, accountId, Optional.of(userId), affected);
        return new UserChange(before, affected);
    }

    @Override
    public synchronized UserChange removeUser(Origin origin, AccountId accountId, UserId userId)
    {
        requireNonNull(origin, "origin is null");
        AccountState state = existing(accountId);
        User before = existingUser(state, userId);
        if (before.role() == Role.ADMIN) {
            checkNotLastAdmin(state, before, "remove");
        }
        state.users().remove(userId);
        List<KeyId> affected = List.copyOf(state.keysOf(userId));
        affected.forEach(keys::remove);
        state.userKeys().remove(userId);
        append(origin, ChangeType.USER_REMOVED, accountId, Optional.of(userId), affected);
        return new UserChange(before, affected);
    }

    @Override
    public synchronized void deleteAccount(Origin origin, AccountId accountId)
    {
        requireNonNull(origin, "origin is null");
        AccountState state = existing(accountId);
        state.userKeys().values().forEach(owned -> owned.forEach(keys::remove));
        accounts.remove(accountId);
        append(origin, ChangeType.ACCOUNT_DELETED, accountId, Optional.empty(), List.of());
    }

    @Override
    public synchronized FeedBatch changesAfter(FeedPosition position, int limit)
    {
        requireNonNull(position, "position is null");
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be positive");
        }
        if (position.value() < compactedThrough) {
            return new FeedBatch.Reset(FeedPosition.of(head));
        }
        int from = (int) Math.min(position.value() - compactedThrough, feed.size());
        int to = (int) Math.min((long) from + limit, feed.size());
        List<Change> changes = feed.subList(from, to);
        FeedPosition next = changes.isEmpty() ? position : changes.get(changes.size() - 1).position();
        return new FeedBatch.Changes(changes, next);
    }

    @Override
    public synchronized FeedPosition headPosition()
    {
        return FeedPosition.of(head);
    }

    @Override
    public synchronized AuditPage listAudit(AuditQuery query)
    {
        return AuditPage.of(requireNonNull(query, "query is null"), audit);
    }

    @Override
    public synchronized void purgeAudit(Instant before)
    {
        requireNonNull(before, "before is null");
        audit.removeIf(record -> record.change().committedAt().isBefore(before));
    }

    @Override
    public synchronized void recordUsage(String instanceId, Map<KeyId, Instant> used)
    {
        requireNonNull(instanceId, "instanceId is null");
        requireNonNull(used, "used is null");
        used.forEach((keyId, at) -> lastUsed.merge(keyId, at, (stored, given) -> given.isAfter(stored) ? given : stored));
    }

    @Override
    public synchronized Map<KeyId, Instant> lastUsed(Collection<KeyId> keyIds)
    {
        Map<KeyId, Instant> found = new HashMap<>();
        for (KeyId keyId : keyIds) {
            Instant at = lastUsed.get(keyId);
            if (at != null) {
                found.put(keyId, at);
            }
        }
        return found;
    }

    @Override
    public synchronized void publishInstance(InstanceRecord record)
    {
        instances.put(requireNonNull(record, "record is null").instanceId(), record);
    }

    @Override
    public synchronized void removeInstance(String instanceId)
    {
        instances.remove(Origin.requireValidInstanceId(requireNonNull(instanceId, "instanceId is null")));
    }

    @Override
    public synchronized List<InstanceRecord> listInstances()
    {
        return List.copyOf(instances.values());
    }

    /**
     * Forgets the changes up to and including {@code position}, as a store compacts its feed. A reader behind it
     * then gets {@link FeedBatch.Reset}.
     */
    public synchronized void compactThrough(FeedPosition position)
    {
        long through = Math.min(position.value(), head);
        while (compactedThrough < through) {
            feed.remove(0);
            compactedThrough++;
        }
    }

    private AccountState existing(AccountId accountId)
    {
        AccountState state = accounts.get(requireNonNull(accountId, "accountId is null"));
        if (state == null) {
            throw StoreErrors.accountNotFound(accountId);
        }
        return state;
    }

    private static User existingUser(AccountState state, UserId userId)
    {
        User user = state.users().get(requireNonNull(userId, "userId is null"));
        if (user == null) {
            throw StoreErrors.userNotFound(state.account().id(), userId);
        }
        return user;
    }

    private void checkKeyIdFree(KeyId keyId)
    {
        if (keys.containsKey(keyId)) {
            throw StoreErrors.keyIdInUse();
        }
    }

    private static void checkNotLastAdmin(AccountState state, User admin, String action)
    {
        boolean otherAdmin = state.users().values().stream()
                .anyMatch(user -> user.role() == Role.ADMIN && !user.id().equals(admin.id()));
        StoreErrors.requireAnotherAdmin(state.account().adminRequired(), otherAdmin, admin.accountId(), admin.id(), action);
    }

    private void putUser(AccountState state, NewUser newUser)
    {
        state.users().put(newUser.user().id(), newUser.user());
        keys.put(newUser.keyId(), newUser.keyRecord());
        state.keysOf(newUser.user().id()).add(newUser.keyId());
    }

    private List<KeyRecord> liveKeys(AccountState state, UserId userId, Instant now)
    {
        return state.keysOf(userId).stream()
                .map(keyId -> requireNonNull(keys.get(keyId), "a user's key is missing"))
                .filter(record -> record.attributes().isLiveAt(now))
                .toList();
    }

    private List<KeyId> expiredKeys(AccountState state, UserId userId, Instant now)
    {
        return state.keysOf(userId).stream()
                .filter(keyId -> !requireNonNull(keys.get(keyId), "a user's key is missing").attributes().isLiveAt(now))
                .toList();
    }

    private void purge(AccountState state, UserId userId, List<KeyId> expired)
    {
        expired.forEach(keys::remove);
        state.keysOf(userId).removeAll(expired);
    }

    private static KeyRecord withAttributes(KeyRecord key, KeyAttributes attributes)
    {
        return new KeyRecord(key.keyId(), key.secretHash(), key.accountId(), key.userId(), key.role(), key.createdAt(), attributes);
    }

    private void append(Origin origin, ChangeType type, AccountId accountId, Optional<UserId> userId, List<KeyId> keyIds)
    {
        requireNonNull(origin, "origin is null");
        head++;
        Change change = new Change(FeedPosition.of(head), type, accountId, userId, keyIds, clock.instant());
        feed.add(change);
        audit.add(new AuditRecord(change, origin));
    }

    private record AccountState(Account account, Map<UserId, User> users, Map<UserId, Set<KeyId>> userKeys)
    {
        Set<KeyId> keysOf(UserId userId)
        {
            return userKeys.computeIfAbsent(userId, user -> new LinkedHashSet<>());
        }
    }

    /**
     * Holds nothing to release.
     */
    @Override
    public void close() {}
}

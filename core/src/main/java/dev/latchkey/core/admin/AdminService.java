package dev.latchkey.core.admin;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.AuditPage;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.Origin;
import dev.latchkey.core.store.UserChange;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.UserPage;
import dev.latchkey.core.store.UserQuery;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The admin use cases of the HTTP contract, with every rule of its role table, over an {@link IdentityStore}.
 *
 * <p>Arguments arrive already parsed (typed ids), so malformed input was refused before this class. Each method
 * then checks, in this order, and the first failure answers: the request itself ({@code INVALID_ARGUMENT}, e.g. a
 * short seed), the caller's permission ({@code PERMISSION_DENIED}), existence ({@code NOT_FOUND}), conflicts
 * ({@code ALREADY_EXISTS}, {@code FAILED_PRECONDITION}). An admin naming another account is refused whether or
 * not that account exists. A new key's plaintext is returned only by the call that creates it.
 */
public final class AdminService
{
    private final IdentityStore store;
    private final ApiKeyGenerator keyGenerator;
    private final SecretHasher hasher;
    private final Clock clock;
    private final LocalWriteListener listener;
    private final String instanceId;
    private final Optional<String> requestId;

    /**
     * @param listener told of every acknowledged write before the call returns (the local cache)
     */
    public AdminService(IdentityStore store, ApiKeyGenerator keyGenerator, SecretHasher hasher, Clock clock, LocalWriteListener listener)
    {
        this(store, keyGenerator, hasher, clock, listener, Origin.UNKNOWN_INSTANCE, Optional.empty());
    }

    private AdminService(IdentityStore store, ApiKeyGenerator keyGenerator, SecretHasher hasher, Clock clock, LocalWriteListener listener, String instanceId, Optional<String> requestId)
    {
        this.store = requireNonNull(store, "store is null");
        this.keyGenerator = requireNonNull(keyGenerator, "keyGenerator is null");
        this.hasher = requireNonNull(hasher, "hasher is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.listener = requireNonNull(listener, "listener is null");
        this.instanceId = requireNonNull(instanceId, "instanceId is null");
        this.requestId = requireNonNull(requestId, "requestId is null");
        if (!Origin.isValidInstanceId(instanceId)) {
            throw new IllegalArgumentException("invalid instance id");
        }
        requestId.filter(id -> !Origin.isValidRequestId(id)).ifPresent(id -> {
            throw new IllegalArgumentException("invalid request id");
        });
    }

    /**
     * This service, recording its writes in the audit trail as made through the given instance.
     */
    public AdminService onInstance(String instance)
    {
        return new AdminService(store, keyGenerator, hasher, clock, listener, instance, requestId);
    }

    /**
     * This service, recording its writes in the audit trail as answers to the given request (without one, each
     * write gets a new request id).
     */
    public AdminService forRequest(String request)
    {
        return new AdminService(store, keyGenerator, hasher, clock, listener, instanceId, Optional.of(request));
    }

    /**
     * An admin service with no local cache to keep in step.
     */
    public AdminService(IdentityStore store, ApiKeyGenerator keyGenerator, SecretHasher hasher, Clock clock)
    {
        this(store, keyGenerator, hasher, clock, LocalWriteListener.NONE);
    }

    /**
     * Creates an account with its first admin. Root only.
     */
    public CreatedAccount createAccount(Identity caller, AccountId accountId, UserId adminUserId, Optional<String> seed)
    {
        seed.ifPresent(ApiKeyGenerator::checkSeed);
        requireRoot(caller);
        Instant now = clock.instant();
        ApiKey key = keyGenerator.randomOrSeeded(seed, accountId, adminUserId);
        NewUser admin = newUser(new User(accountId, adminUserId, Role.ADMIN, key.keyId(), now), key);
        store.createAccount(origin(caller), new Account(accountId, now, true), Optional.of(admin));
        listener.written(ChangeType.ACCOUNT_CREATED, accountId, List.of(key.keyId()));
        return new CreatedAccount(accountId, adminUserId, key);
    }

    /**
     * Creates the account that the server creates empty on first start (as OpenViking does). It needs no admin.
     * Safe to call from many instances at once: exactly one creates it.
     *
     * @return whether this call created it (false when it already existed)
     */
    public boolean createDefaultAccount(AccountId accountId)
    {
        if (store.findAccount(accountId).isPresent()) {
            return false;
        }
        try {
            store.createAccount(systemOrigin(), new Account(accountId, clock.instant(), false), Optional.empty());
            listener.written(ChangeType.ACCOUNT_CREATED, accountId, List.of());
            return true;
        }
        catch (LatchkeyException e) {
            if (e.code() == ErrorCode.ALREADY_EXISTS) {
                return false;
            }
            throw e;
        }
    }

    /**
     * Every account, sorted by id. Root only.
     */
    public List<AccountSummary> listAccounts(Identity caller)
    {
        requireRoot(caller);
        return store.listAccounts();
    }

    /**
     * Deletes an account with every user and key in it. Root only.
     */
    public void deleteAccount(Identity caller, AccountId accountId)
    {
        requireRoot(caller);
        store.deleteAccount(origin(caller), accountId);
        listener.written(ChangeType.ACCOUNT_DELETED, accountId, List.of());
    }

    /**
     * Adds a user to an account. Root, or an admin of that account; role {@code root} is never assignable.
     */
    public CreatedUser registerUser(Identity caller, AccountId accountId, UserId userId, Role role, Optional<String> seed)
    {
        requireNonNull(role, "role is null");
        seed.ifPresent(ApiKeyGenerator::checkSeed);
        requireAssignable(role);
        requireAdministers(caller, accountId);
        ApiKey key = keyGenerator.randomOrSeeded(seed, accountId, userId);
        store.addUser(origin(caller), newUser(new User(accountId, userId, role, key.keyId(), clock.instant()), key));
        listener.written(ChangeType.USER_ADDED, accountId, List.of(key.keyId()));
        return new CreatedUser(accountId, userId, key);
    }

    /**
     * A page of an account's users. Root, or an admin of that account.
     */
    public UserPage listUsers(Identity caller, AccountId accountId, UserQuery query)
    {
        requireAdministers(caller, accountId);
        return store.listUsers(accountId, query);
    }

    /**
     * A page of an account's users, with the last recorded use of each one's primary key. Root, or an admin of that
     * account.
     */
    public UserListing listUsersWithUsage(Identity caller, AccountId accountId, UserQuery query)
    {
        UserPage page = listUsers(caller, accountId, query);
        List<KeyId> primaryKeys = page.users().stream().flatMap(user -> user.primaryKeyId().stream()).toList();
        return new UserListing(page, primaryKeys.isEmpty() ? Map.of() : store.lastUsed(primaryKeys));
    }

    /**
     * Removes a user and its key. Root, or an admin of that account (an admin may remove itself, unless it is the
     * account's last admin).
     */
    public void removeUser(Identity caller, AccountId accountId, UserId userId)
    {
        requireAdministers(caller, accountId);
        UserChange removed = store.removeUser(origin(caller), accountId, userId);
        listener.written(ChangeType.USER_REMOVED, accountId, removed.keyIds());
    }

    /**
     * Sets a user's role. Root, or an admin of that account; role {@code root} is never assignable; the last admin
     * of an account cannot be demoted.
     *
     * @return the user with its new role
     */
    public User setRole(Identity caller, AccountId accountId, UserId userId, Role role)
    {
        requireNonNull(role, "role is null");
        requireAssignable(role);
        requireAdministers(caller, accountId);
        UserChange change = store.setRole(origin(caller), accountId, userId, role);
        if (change.before().role() != role) {
            listener.written(ChangeType.ROLE_CHANGED, accountId, change.keyIds());
        }
        return change.before().withRole(role);
    }

    /**
     * Gives a user a new primary key; the old one stops working at once. With the seed that produced the current
     * primary key, returns that same key and changes nothing. Root, or an admin of that account.
     */
    public ApiKey regenerateKey(Identity caller, AccountId accountId, UserId userId, Optional<String> seed)
    {
        return regenerateKey(caller, accountId, userId, seed, 0).userKey();
    }

    /**
     * Gives a user a new primary key. With a grace period the old primary key keeps working for that long, as a
     * key named {@code previous} (its scopes kept); without one it stops working at once. With the seed that
     * produced the current primary key, returns that same key and changes nothing. A user without a primary key
     * gets one. Root, or an admin of that account.
     *
     * @param gracePeriodSeconds 0 to {@value RegeneratedKey#MAX_GRACE_PERIOD_SECONDS}
     */
    public RegeneratedKey regenerateKey(Identity caller, AccountId accountId, UserId userId, Optional<String> seed, long gracePeriodSeconds)
    {
        seed.ifPresent(ApiKeyGenerator::checkSeed);
        if (gracePeriodSeconds < 0 || gracePeriodSeconds > RegeneratedKey.MAX_GRACE_PERIOD_SECONDS) {
            throw LatchkeyException.invalidField("grace_period", "grace_period must be an integer from 0 to " + RegeneratedKey.MAX_GRACE_PERIOD_SECONDS + " seconds");
        }
        requireAdministers(caller, accountId);
        User user = store.findUser(accountId, userId)
                .orElseThrow(() -> new LatchkeyException(ErrorCode.NOT_FOUND, "user " + userId + " not found in account " + accountId));
        ApiKey key = keyGenerator.randomOrSeeded(seed, accountId, userId);
        if (user.primaryKeyId().equals(Optional.of(key.keyId())) && isCurrent(key)) {
            return new RegeneratedKey(key, Optional.empty());
        }
        Instant now = clock.instant();
        // the store keeps the old primary key only if the user has one when it writes (and it is another key)
        Optional<Instant> previousUntil = gracePeriodSeconds > 0
                ? Optional.of(now.plusSeconds(gracePeriodSeconds).truncatedTo(ChronoUnit.MILLIS))
                : Optional.empty();
        User before = store.replaceKey(origin(caller), accountId, userId, key.keyId(), hasher.hash(key.secret()), now, previousUntil);
        Optional<KeyId> replaced = before.primaryKeyId().filter(old -> !old.equals(key.keyId()));
        List<KeyId> affected = new ArrayList<>();
        replaced.ifPresent(affected::add);
        affected.add(key.keyId());
        listener.written(ChangeType.KEY_REPLACED, accountId, affected);
        return new RegeneratedKey(key, replaced.isPresent() ? previousUntil : Optional.empty());
    }

    /**
     * Issues an extra key to a user, beside its other keys. Root, an admin of the account, or the user itself.
     *
     * @throws LatchkeyException FAILED_PRECONDITION when the user already holds {@link NewKey#MAX_LIVE_KEYS} live keys
     */
    public CreatedKey createKey(Identity caller, AccountId accountId, UserId userId, KeyRequest request)
    {
        requireNonNull(request, "request is null");
        Instant now = clock.instant();
        Optional<Instant> expiresAt = request.expiryFrom(now);
        requireManagesKeys(caller, accountId, userId);
        ApiKey key = keyGenerator.random();
        KeyAttributes attributes = KeyAttributes.extra(request.name(), request.scopes().orElse(Scopes.all()), expiresAt);
        NewKey newKey = new NewKey(accountId, userId, key.keyId(), hasher.hash(key.secret()), now, attributes);
        store.addKey(origin(caller), newKey);
        listener.written(ChangeType.KEY_ADDED, accountId, List.of(key.keyId()));
        return new CreatedKey(accountId, userId, key, new KeySummary(key.keyId(), now, attributes));
    }

    /**
     * A user's live keys, oldest first. Root, an admin of the account, or the user itself.
     */
    public List<KeySummary> listKeys(Identity caller, AccountId accountId, UserId userId)
    {
        requireManagesKeys(caller, accountId, userId);
        List<KeySummary> keys = store.listKeys(accountId, userId, clock.instant());
        if (keys.isEmpty()) {
            return keys;
        }
        Map<KeyId, Instant> used = store.lastUsed(keys.stream().map(KeySummary::keyId).toList());
        return keys.stream().map(key -> key.withLastUsedAt(Optional.ofNullable(used.get(key.keyId())))).toList();
    }

    /**
     * Deletes one of a user's keys; its other keys keep working. Root, an admin of the account, or the user itself.
     */
    public KeySummary deleteKey(Identity caller, AccountId accountId, UserId userId, KeyId keyId)
    {
        requireNonNull(keyId, "keyId is null");
        requireManagesKeys(caller, accountId, userId);
        KeySummary deleted = store.deleteKey(origin(caller), accountId, userId, keyId, clock.instant());
        listener.written(ChangeType.KEY_DELETED, accountId, List.of(keyId));
        return deleted;
    }

    /**
     * A page of the audit trail, newest first: root sees every account (or the one it filters on), an admin only its
     * own account, and only since that account was created (not the history of an earlier account of the same id).
     *
     * @param retention records older than this are not listed
     */
    public AuditPage listAudit(Identity caller, Optional<AccountId> accountId, Optional<FeedPosition> before, int limit, Duration retention)
    {
        requireNonNull(accountId, "accountId is null");
        if (limit < 1 || limit > AuditQuery.MAX_LIMIT) {
            throw LatchkeyException.invalidField("limit", "limit must be an integer from 1 to " + AuditQuery.MAX_LIMIT);
        }
        Instant horizon = clock.instant().minus(retention);
        if (caller.isRoot()) {
            return store.listAudit(new AuditQuery(accountId, before, horizon, limit));
        }
        AccountId own = caller.accountId().orElseThrow();
        if (accountId.isPresent() && !accountId.get().equals(own)) {
            requireAdministers(caller, accountId.get());
        }
        requireAdministers(caller, own);
        // an account id may have been used before, by an account since deleted: its history is not this admin's
        Instant created = store.findAccount(own)
                .orElseThrow(() -> new LatchkeyException(ErrorCode.NOT_FOUND, "account " + own + " not found"))
                .createdAt();
        return store.listAudit(new AuditQuery(Optional.of(own), before, created.isAfter(horizon) ? created : horizon, limit));
    }

    /**
     * The change at a feed position, for a caller asking which instances have applied it: root may ask of any
     * change; an admin only of a change to its own account, since that account was created (any other position is
     * not found to it, so that it learns nothing of other accounts); a user may not ask.
     *
     * @return empty for root when the position is committed but its change is no longer in the feed (compacted)
     * @throws LatchkeyException NOT_FOUND when no change has been committed at the position (or, for an admin, the
     *         change is not its account's); PERMISSION_DENIED for a user
     */
    public Optional<Change> findChange(Identity caller, FeedPosition position)
    {
        requireNonNull(position, "position is null");
        if (!caller.isRoot()) {
            AccountId own = caller.accountId().orElseThrow();
            requireAdministers(caller, own);
        }
        LatchkeyException notFound = new LatchkeyException(ErrorCode.NOT_FOUND, "no change at position " + position.value() + " that this key may see");
        if (position.value() < 1 || position.value() > store.headPosition().value()) {
            throw notFound;
        }
        FeedBatch batch = store.changesAfter(FeedPosition.of(position.value() - 1), 1);
        Optional<Change> change = batch instanceof FeedBatch.Changes changes
                ? changes.changes().stream().filter(found -> found.position().equals(position)).findFirst()
                : Optional.empty();
        if (caller.isRoot()) {
            return change;
        }
        AccountId own = caller.accountId().orElseThrow();
        Instant created = store.findAccount(own).map(Account::createdAt).orElse(Instant.MAX);
        if (change.isEmpty() || !change.get().accountId().equals(own) || change.get().committedAt().isBefore(created)) {
            throw notFound;
        }
        return change;
    }

    /**
     * Refuses anyone but root: for the views of every instance and every account (the instance registry).
     */
    public static void requireRootCaller(Identity caller)
    {
        if (!caller.isRoot()) {
            throw new LatchkeyException(ErrorCode.PERMISSION_DENIED, "only the root key may see the instances");
        }
    }

    private Origin origin(Identity caller)
    {
        return new Origin(Actor.of(caller), instanceId, requestId.orElseGet(Origin::newRequestId));
    }

    private Origin systemOrigin()
    {
        return new Origin(Actor.system(), instanceId, requestId.orElseGet(Origin::newRequestId));
    }

    private boolean isCurrent(ApiKey key)
    {
        Optional<KeyRecord> current = store.findKey(key.keyId());
        return current.isPresent() && hasher.matches(key, current.get().secretHash());
    }

    private NewUser newUser(User user, ApiKey key)
    {
        return new NewUser(user, hasher.hash(key.secret()));
    }

    private static void requireManagesKeys(Identity caller, AccountId accountId, UserId userId)
    {
        if (!caller.managesKeysOf(accountId, userId)) {
            throw new LatchkeyException(ErrorCode.PERMISSION_DENIED, caller.scopes().mayAdminister()
                    ? "only root, an admin of the account or the user itself may manage the user's keys"
                    : "this key's scopes do not allow administration");
        }
    }

    private static void requireRoot(Identity caller)
    {
        if (!caller.isRoot()) {
            throw new LatchkeyException(ErrorCode.PERMISSION_DENIED, "only the root key may manage accounts");
        }
    }

    private static void requireAdministers(Identity caller, AccountId accountId)
    {
        if (!caller.administers(accountId)) {
            throw new LatchkeyException(ErrorCode.PERMISSION_DENIED, caller.scopes().mayAdminister()
                    ? "only root or an admin of the account may manage its users"
                    : "this key's scopes do not allow administration");
        }
    }

    private static void requireAssignable(Role role)
    {
        if (role == Role.ROOT) {
            throw new LatchkeyException(ErrorCode.PERMISSION_DENIED, "role root cannot be given to an account user");
        }
    }
}

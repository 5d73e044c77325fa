package dev.latchkey.core.store;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.SecretHash;

import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The shared store of accounts, users and key hashes: the single source of truth for every Latchkey instance.
 *
 * <h2>Contract, for every implementation</h2>
 * <ul>
 *   <li><b>Failures are typed.</b> Every method throws only {@link dev.latchkey.core.error.LatchkeyException}
 *       (apart from {@code NullPointerException} and {@code IllegalArgumentException} for arguments that break a
 *       method's stated preconditions).
 *       {@code UNAVAILABLE} means the store could not be reached or did not answer within the adapter's timeout;
 *       for a mutation it means the outcome is unknown (the write may or may not have happened, never half). No
 *       adapter type (I/O, SQL or SDK exception) escapes.</li>
 *   <li><b>Mutations are atomic and conditional.</b> Each one either happens entirely, with exactly one change
 *       appended to the feed, or not at all. Concurrent conflicting mutations, from any number of threads or
 *       processes, resolve to exactly one winner; losers get {@code NOT_FOUND}, {@code ALREADY_EXISTS} or
 *       {@code FAILED_PRECONDITION}, never a silent overwrite.</li>
 *   <li><b>Read your writes.</b> Once a mutation returns, every read through any handle on the same store
 *       (any process) reflects it.</li>
 *   <li><b>No key outlives its account.</b> Once {@link #deleteAccount} returns (or once its decision is made,
 *       if the writer crashed half-way), {@link #findKey} is empty for every key of that account, including a
 *       user added concurrently with the deletion.</li>
 *   <li><b>Every committed write is audited.</b> Each mutation that appends a change records, atomically with it,
 *       an {@link AuditRecord} of that change and the {@link Origin} it was given: the record exists if and only
 *       if the change committed. A mutation that fails, or changes nothing, records nothing. Audit records are kept
 *       until {@link #purgeAudit} removes them, whatever the feed's compaction does.</li>
 *   <li><b>No hidden caching.</b> An adapter never caches store metadata (stats, listings) across calls.</li>
 * </ul>
 */
public interface IdentityStore
        extends AutoCloseable
{
    /**
     * The key with this id: a constant number of small reads, never proportional to the size of the store. A key
     * past its expiry may still be returned (until the store purges it): the caller checks
     * {@link dev.latchkey.core.domain.KeyAttributes#isLiveAt}.
     *
     * @return empty when no key has this id (never issued, replaced, deleted, its user removed, or its account
     *         deleted)
     */
    Optional<KeyRecord> findKey(KeyId keyId);

    /**
     * The account with this id.
     *
     * @return empty when the account does not exist (or is being deleted)
     */
    Optional<Account> findAccount(AccountId accountId);

    /**
     * Every account with its user count, sorted by account id.
     */
    List<AccountSummary> listAccounts();

    /**
     * The user with this id in this account.
     *
     * @return empty when the account or the user does not exist
     */
    Optional<User> findUser(AccountId accountId, UserId userId);

    /**
     * A page of the account's users, sorted by user id (ordinal string order).
     *
     * @throws dev.latchkey.core.error.LatchkeyException NOT_FOUND when the account does not exist
     */
    UserPage listUsers(AccountId accountId, UserQuery query);

    /**
     * The keys of a user that are live at {@code now} (expired ones left out), sorted by creation time, then key id.
     *
     * @throws dev.latchkey.core.error.LatchkeyException NOT_FOUND when the account or the user does not exist
     */
    List<KeySummary> listKeys(AccountId accountId, UserId userId, Instant now);

    /**
     * Creates an account, with its first admin when one is given (atomically: both or neither).
     *
     * @param firstAdmin the first user, whose role must be {@link Role#ADMIN}; empty for an account created empty
     *         (the {@code default} account)
     * @throws dev.latchkey.core.error.LatchkeyException ALREADY_EXISTS when the account exists, or the admin's key
     *         id is already in use
     */
    void createAccount(Origin origin, Account account, Optional<NewUser> firstAdmin);

    /**
     * {@link #createAccount} with an {@linkplain Origin#unattributed() unattributed} origin.
     */
    default void createAccount(Account account, Optional<NewUser> firstAdmin)
    {
        createAccount(Origin.unattributed(), account, firstAdmin);
    }

    /**
     * Adds a user, with its first key, to an existing account.
     *
     * @throws dev.latchkey.core.error.LatchkeyException NOT_FOUND when the account does not exist (including an
     *         account deleted concurrently: the user is then never visible); ALREADY_EXISTS when the user exists
     *         or the key id is already in use
     */
    void addUser(Origin origin, NewUser newUser);

    /**
     * {@link #addUser} with an {@linkplain Origin#unattributed() unattributed} origin.
     */
    default void addUser(NewUser newUser)
    {
        addUser(Origin.unattributed(), newUser);
    }

    /**
     * Replaces a user's primary key: the old primary key stops resolving and the new one resolves, at the same
     * instant; the user's other keys are untouched. A user without a primary key gets one. The new key id may equal
     * the current one (the same seeded key, re-hashed after a pepper change). The user's keys expired at
     * {@code issuedAt} are removed in the same write and named in its change ({@link ExpiredKeys}); the new key id
     * may be one of theirs.
     *
     * @param issuedAt when the new key was issued
     * @param previousKeyUntil when present, the old primary key is not ended but kept, with
     *         {@linkplain dev.latchkey.core.domain.KeyAttributes#retiredUntil its attributes retired} until this
     *         instant (a grace period); it then counts as one of the user's live keys
     * @return the user as it was before (with the old primary key id, if it had one)
     * @throws dev.latchkey.core.error.LatchkeyException NOT_FOUND when the account or user does not exist;
     *         ALREADY_EXISTS when the new key id is in use, other than by an expired key of this user;
     *         FAILED_PRECONDITION when keeping the old key,
     *         or giving a user without a primary key a new one, would give the user more than
     *         {@link NewKey#MAX_LIVE_KEYS} live keys at {@code issuedAt}
     */
    User replaceKey(Origin origin, AccountId accountId, UserId userId, KeyId newKeyId, SecretHash newSecretHash, Instant issuedAt, Optional<Instant> previousKeyUntil);

    /**
     * {@link #replaceKey} with an {@linkplain Origin#unattributed() unattributed} origin.
     */
    default User replaceKey(AccountId accountId, UserId userId, KeyId newKeyId, SecretHash newSecretHash, Instant issuedAt, Optional<Instant> previousKeyUntil)
    {
        return replaceKey(Origin.unattributed(), accountId, userId, newKeyId, newSecretHash, issuedAt, previousKeyUntil);
    }

    /**
     * Replaces a user's primary key with no grace period: {@link #replaceKey(AccountId, UserId, KeyId, SecretHash,
     * Instant, Optional)} with the old key ending at once.
     */
    default User replaceKey(AccountId accountId, UserId userId, KeyId newKeyId, SecretHash newSecretHash, Instant issuedAt)
    {
        return replaceKey(Origin.unattributed(), accountId, userId, newKeyId, newSecretHash, issuedAt, Optional.empty());
    }

    /**
     * Adds a key to an existing user, beside its other keys. The limit of {@link NewKey#MAX_LIVE_KEYS} live keys (at
     * the key's creation time) is decided atomically with the write: of concurrent adds past it, the ones over the
     * limit fail. The user's keys expired at the key's creation time are removed in the same write and named in its
     * change ({@link ExpiredKeys}); the new key id may be one of theirs.
     *
     * @throws dev.latchkey.core.error.LatchkeyException NOT_FOUND when the account or user does not exist;
     *         ALREADY_EXISTS when the key id is in use, other than by an expired key of this user;
     *         FAILED_PRECONDITION when the user already holds
     *         {@link NewKey#MAX_LIVE_KEYS} live keys
     */
    void addKey(Origin origin, NewKey newKey);

    /**
     * {@link #addKey} with an {@linkplain Origin#unattributed() unattributed} origin.
     */
    default void addKey(NewKey newKey)
    {
        addKey(Origin.unattributed(), newKey);
    }

    /**
     * Deletes one of a user's keys: it stops resolving, the user's other keys keep resolving. Deleting the primary
     * key leaves the user without one.
     *
     * @param now keys expired at this instant count as absent
     * @return the deleted key
     * @throws dev.latchkey.core.error.LatchkeyException NOT_FOUND when the account or user does not exist, or the user
     *         holds no key with this id live at {@code now}
     */
    KeySummary deleteKey(Origin origin, AccountId accountId, UserId userId, KeyId keyId, Instant now);

    /**
     * {@link #deleteKey} with an {@linkplain Origin#unattributed() unattributed} origin.
     */
    default KeySummary deleteKey(AccountId accountId, UserId userId, KeyId keyId, Instant now)
    {
        return deleteKey(Origin.unattributed(), accountId, userId, keyId, now);
    }

    /**
     * Sets a user's role; every key of the user resolves to the new role from then on. Setting the role it already
     * has changes nothing and appends no change.
     *
     * @param role {@link Role#ADMIN} or {@link Role#USER}
     * @return the user as it was before, and every key of the user (none when nothing changed)
     * @throws dev.latchkey.core.error.LatchkeyException NOT_FOUND when the account or user does not exist;
     *         FAILED_PRECONDITION when this would demote the last admin of an account that
     *         {@linkplain Account#adminRequired() requires one} (decided atomically with the write)
     */
    UserChange setRole(Origin origin, AccountId accountId, UserId userId, Role role);

    /**
     * {@link #setRole} with an {@linkplain Origin#unattributed() unattributed} origin.
     */
    default UserChange setRole(AccountId accountId, UserId userId, Role role)
    {
        return setRole(Origin.unattributed(), accountId, userId, role);
    }

    /**
     * Removes a user and every key it holds.
     *
     * @return the removed user, and every key it held
     * @throws dev.latchkey.core.error.LatchkeyException NOT_FOUND when the account or user does not exist;
     *         FAILED_PRECONDITION when this would remove the last admin of an account that
     *         {@linkplain Account#adminRequired() requires one} (decided atomically with the write)
     */
    UserChange removeUser(Origin origin, AccountId accountId, UserId userId);

    /**
     * {@link #removeUser} with an {@linkplain Origin#unattributed() unattributed} origin.
     */
    default UserChange removeUser(AccountId accountId, UserId userId)
    {
        return removeUser(Origin.unattributed(), accountId, userId);
    }

    /**
     * Deletes an account with all of its users and keys.
     *
     * @throws dev.latchkey.core.error.LatchkeyException NOT_FOUND when the account does not exist
     */
    void deleteAccount(Origin origin, AccountId accountId);

    /**
     * {@link #deleteAccount} with an {@linkplain Origin#unattributed() unattributed} origin.
     */
    default void deleteAccount(AccountId accountId)
    {
        deleteAccount(Origin.unattributed(), accountId);
    }

    /**
     * A page of the audit trail, newest first: the records the query matches, at most its limit, and a cursor when
     * more may follow (a page may hold fewer records than the limit, even none, and still have a cursor: see
     * {@link AuditPage}); a reader goes on until the cursor is empty. Records of writes committed before this store recorded audits (an older version) are not
     * listed.
     */
    AuditPage listAudit(AuditQuery query);

    /**
     * Deletes the audit records of writes committed before {@code before} (the retention), or at least stops
     * listing them: an adapter may delete in whole segments. Idempotent; never touches the feed.
     */
    void purgeAudit(Instant before);

    /**
     * Records when keys were last used, as one instance saw them: for each key, the stored instant becomes the later
     * of the stored one and the given one. One batched write of a constant number of requests (when no other handle
     * reports under the same instance id at the same moment; a lost condition costs a retry), never through the
     * change feed (it is not an admin change and caches ignore it). Ids of keys that no longer exist may be stored
     * but are never reported for another key.
     *
     * @param instanceId the instance reporting ({@link Origin#isValidInstanceId}); stores that keep usage per
     *         instance use it to name that instance's record
     */
    void recordUsage(String instanceId, Map<KeyId, Instant> lastUsed);

    /**
     * The latest recorded use of each of these keys, across every instance; keys never recorded are absent.
     */
    Map<KeyId, Instant> lastUsed(Collection<KeyId> keyIds);

    /**
     * Creates or replaces the record of {@link InstanceRecord#instanceId()} in the instance registry: one write of a
     * constant number of requests, never through the change feed. Only the instance itself writes its record.
     */
    void publishInstance(InstanceRecord record);

    /**
     * Removes an instance's record from the registry (at its clean stop); does nothing when it has none.
     */
    void removeInstance(String instanceId);

    /**
     * Every record of the instance registry, live or not ({@link InstanceRecord#isLiveAt}), in instance id order.
     */
    List<InstanceRecord> listInstances();

    /**
     * The changes committed after {@code position}, oldest first, at most {@code limit} of them. Never skips a
     * committed change: a change that commits after this call returned gets a position greater than
     * {@link FeedBatch.Changes#next()}, even when writers commit out of order. When nothing changed this costs the
     * store a constant amount of work, whatever the number of accounts, users and keys.
     *
     * @return {@link FeedBatch.Reset} when {@code position} was compacted away
     */
    FeedBatch changesAfter(FeedPosition position, int limit);

    /**
     * The position of the newest committed change ({@link FeedPosition#START} when there is none): where a new
     * reader that has just loaded nothing starts following the feed.
     */
    FeedPosition headPosition();

    /**
     * A position at or after the change of every write this handle has answered: what a write's answer reports as
     * its position, so that a reader that waits for it sees the write. It may be earlier than
     * {@link #headPosition()} (other handles' writes since are not counted), and may cost nothing: by default it is
     * the head.
     */
    default FeedPosition writtenPosition()
    {
        return headPosition();
    }

    /**
     * Releases what the store holds (connections, threads); a store without any does nothing. Idempotent. Calls
     * made after it fail with {@code UNAVAILABLE} or may not be answered at all; never throws.
     */
    @Override
    void close();
}

package dev.latchkey.adapters.filesystem;

import com.fasterxml.jackson.annotation.JsonAlias;
import com.fasterxml.jackson.annotation.JsonFormat;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.ExpiredKeys;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.Origin;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * A decided write to one account, recorded in its {@link AccountFile} until it is finished. Finishing it is
 * idempotent: write {@code newKey} if present and every one of {@code rewrittenKeys}, delete every one of
 * {@code removedKeyIds} (but the new key), write the user file {@code user} or delete it when {@code user} is null,
 * then append the change with {@code origin}, its audit record (unless the feed already has an entry with this
 * {@code operationId}). Whoever finishes the operation, its writer or a later one rolling it forward after a crash,
 * appends the origin recorded here with the decision, so the audit record names the write's own origin. Made by the
 * factory
 * of its change type, which take domain values and the user's file as the write read it, so that a new field of a
 * user changes those factories and no caller.
 *
 * @param feedFrom the feed head when the write was decided: the feed entry of this operation, if any, is after it
 * @param userId the user the operation is about; null for account deletion and for an account created empty
 * @param changeKeyIds the keys whose lookups the change affects, as its feed entry reports them
 * @param user the user as it is after the operation; null when it is removed
 * @param newKey the key the operation issues, staged ahead of the decision; null when it issues none (in a
 *         decision written before users held several keys, a role change carries the user's key here)
 * @param rewrittenKeys keys of the user the operation keeps but changes: every key with a new role, or a replaced
 *         primary key kept through its grace period
 * @param removedKeyIds the keys the operation ends; read from {@code removed_key_id} (a single id) in a decision
 *         written before users held several keys
 * @param origin where the write came from; null in a decision written before the store recorded audits (its
 *         change is then appended without an origin, and not listed in the audit trail)
 */
record PendingOperation(
        String operationId,
        long feedFrom,
        ChangeType changeType,
        String userId,
        List<String> changeKeyIds,
        UserFile user,
        KeyFile newKey,
        List<KeyFile> rewrittenKeys,
        @JsonAlias("removed_key_id") @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> removedKeyIds,
        OriginFile origin)
{
    PendingOperation
    {
        changeKeyIds = List.copyOf(changeKeyIds);
        rewrittenKeys = rewrittenKeys == null ? List.of() : List.copyOf(rewrittenKeys);
        removedKeyIds = removedKeyIds == null ? List.of() : List.copyOf(removedKeyIds);
    }

    static PendingOperation accountCreated(Origin origin, long feedFrom, Optional<NewUser> firstAdmin, String incarnation)
    {
        if (firstAdmin.isEmpty()) {
            return of(origin, feedFrom, ChangeType.ACCOUNT_CREATED, null, List.of(), null, null, List.of(), List.of());
        }
        NewUser admin = firstAdmin.get();
        return of(origin, feedFrom, ChangeType.ACCOUNT_CREATED, admin.user().id(), List.of(admin.keyId()), UserFile.of(admin), KeyFile.issued(admin.keyRecord(), incarnation),
                List.of(), List.of());
    }

    static PendingOperation userAdded(Origin origin, long feedFrom, NewUser newUser, String incarnation)
    {
        return of(origin, feedFrom, ChangeType.USER_ADDED, newUser.user().id(), List.of(newUser.keyId()), UserFile.of(newUser), KeyFile.issued(newUser.keyRecord(), incarnation),
                List.of(), List.of());
    }

    /**
     * @param newKey the key that becomes the user's primary key
     * @param retiredKey the old primary key as it is kept through its grace period; empty when it ends (or the
     *         user has none, or the new key has its id)
     * @param ended the user's keys that have ended (expired), removed by this write; the new key may have the id of one
     */
    static PendingOperation keyReplaced(Origin origin, long feedFrom, UserFile before, KeyRecord newKey, Optional<KeyFile> retiredKey, List<KeyId> ended, String incarnation)
    {
        Optional<KeyId> oldKeyId = before.primaryKeyId();
        List<KeyId> changed = new ArrayList<>();
        oldKeyId.ifPresent(changed::add);
        changed.add(newKey.keyId());
        List<KeyId> removed = new ArrayList<>(ended);
        oldKeyId.filter(old -> !old.equals(newKey.keyId()) && retiredKey.isEmpty()).ifPresent(removed::add);
        UserFile after = before.withoutKeys(ended).withPrimaryKey(newKey.keyId(), retiredKey.isPresent());
        return of(origin, feedFrom, ChangeType.KEY_REPLACED, UserId.of(before.userId()), ExpiredKeys.named(changed, ended), after,
                KeyFile.issued(newKey, incarnation), retiredKey.map(List::of).orElse(List.of()), removed);
    }

    /**
     * @param newKey the key added beside the user's others
     * @param ended the user's keys that have ended (expired), removed by this write; the new key may have the id of one
     */
    static PendingOperation keyAdded(Origin origin, long feedFrom, UserFile before, KeyRecord newKey, List<KeyId> ended, String incarnation)
    {
        return of(origin, feedFrom, ChangeType.KEY_ADDED, UserId.of(before.userId()), ExpiredKeys.named(List.of(newKey.keyId()), ended),
                before.withoutKeys(ended).withKey(newKey.keyId()), KeyFile.issued(newKey, incarnation), List.of(), ended);
    }

    static PendingOperation keyDeleted(Origin origin, long feedFrom, UserFile before, KeyId keyId)
    {
        return of(origin, feedFrom, ChangeType.KEY_DELETED, UserId.of(before.userId()), List.of(keyId), before.withoutKey(keyId), null, List.of(), List.of(keyId));
    }

    /**
     * @param keys every key file of the user, each of which keeps working with the new role
     */
    static PendingOperation roleChanged(Origin origin, long feedFrom, UserFile before, Role role, List<KeyFile> keys)
    {
        return of(origin, feedFrom, ChangeType.ROLE_CHANGED, UserId.of(before.userId()), before.heldKeyIds(), before.withRole(role), null,
                keys.stream().map(key -> key.withRole(role)).toList(), List.of());
    }

    static PendingOperation userRemoved(Origin origin, long feedFrom, UserFile before)
    {
        return of(origin, feedFrom, ChangeType.USER_REMOVED, UserId.of(before.userId()), before.heldKeyIds(), null, null, List.of(), before.heldKeyIds());
    }

    static PendingOperation accountDeleted(Origin origin, long feedFrom)
    {
        return of(origin, feedFrom, ChangeType.ACCOUNT_DELETED, null, List.of(), null, null, List.of(), List.of());
    }

    /**
     * The key file this operation writes with this id, if it writes one.
     */
    Optional<KeyFile> writtenKey(String keyId)
    {
        if (newKey != null && newKey.keyId().equals(keyId)) {
            return Optional.of(newKey);
        }
        return rewrittenKeys.stream().filter(key -> key.keyId().equals(keyId)).findFirst();
    }

    private static PendingOperation of(Origin origin, long feedFrom, ChangeType type, UserId userId, List<KeyId> changeKeyIds, UserFile user, KeyFile newKey, List<KeyFile> rewrittenKeys,
            List<KeyId> removedKeyIds)
    {
        return new PendingOperation(UUID.randomUUID().toString(), feedFrom, type, userId == null ? null : userId.value(), changeKeyIds.stream().map(KeyId::value).toList(),
                user, newKey, rewrittenKeys, removedKeyIds.stream().map(KeyId::value).toList(), OriginFile.of(origin));
    }
}

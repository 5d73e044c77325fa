package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.NewUser;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * A decided write to one account, recorded in its {@link AccountFile} until it is finished. Finishing it is
 * idempotent: write {@code newKey} if present, delete {@code removedKeyId} if present (and not the new key),
 * write the user file {@code user} or delete it when {@code user} is null, then append the change (unless the feed
 * already has an entry with this {@code operationId}). Made by the factory of its change type, which take domain
 * values, so that a new field of a user changes those factories and no caller.
 *
 * @param feedFrom the feed head when the write was decided: the feed entry of this operation, if any, is after it
 * @param userId the user the operation is about; null for account deletion and for an account created empty
 * @param changeKeyIds the keys whose lookups the change affects, as its feed entry reports them
 * @param user the user as it is after the operation; null when it is removed
 * @param newKey the key file the operation writes (a new key, or the user's key with a new role)
 */
record PendingOperation(
        String operationId,
        long feedFrom,
        ChangeType changeType,
        String userId,
        List<String> changeKeyIds,
        UserFile user,
        KeyFile newKey,
        String removedKeyId)
{
    PendingOperation
    {
        changeKeyIds = List.copyOf(changeKeyIds);
    }

    static PendingOperation accountCreated(long feedFrom, Optional<NewUser> firstAdmin, String incarnation)
    {
        if (firstAdmin.isEmpty()) {
            return of(feedFrom, ChangeType.ACCOUNT_CREATED, null, List.of(), null, null, null);
        }
        User admin = firstAdmin.get().user();
        return of(feedFrom, ChangeType.ACCOUNT_CREATED, admin.id(), List.of(admin.keyId()), UserFile.of(admin), KeyFile.issued(firstAdmin.get().keyRecord(), incarnation), null);
    }

    static PendingOperation userAdded(long feedFrom, NewUser newUser, String incarnation)
    {
        User user = newUser.user();
        return of(feedFrom, ChangeType.USER_ADDED, user.id(), List.of(user.keyId()), UserFile.of(user), KeyFile.issued(newUser.keyRecord(), incarnation), null);
    }

    /**
     * @param newKey the key that replaces the user's
     */
    static PendingOperation keyReplaced(long feedFrom, User before, KeyRecord newKey, String incarnation)
    {
        return of(feedFrom, ChangeType.KEY_REPLACED, before.id(), List.of(before.keyId(), newKey.keyId()), UserFile.of(before.withKey(newKey.keyId())),
                KeyFile.issued(newKey, incarnation), before.keyId());
    }

    /**
     * @param key the user's key file, which keeps working with the new role
     */
    static PendingOperation roleChanged(long feedFrom, User after, KeyFile key)
    {
        return of(feedFrom, ChangeType.ROLE_CHANGED, after.id(), List.of(after.keyId()), UserFile.of(after), key.withRole(after.role()), null);
    }

    static PendingOperation userRemoved(long feedFrom, User before)
    {
        return of(feedFrom, ChangeType.USER_REMOVED, before.id(), List.of(before.keyId()), null, null, before.keyId());
    }

    static PendingOperation accountDeleted(long feedFrom)
    {
        return of(feedFrom, ChangeType.ACCOUNT_DELETED, null, List.of(), null, null, null);
    }

    private static PendingOperation of(long feedFrom, ChangeType type, UserId userId, List<KeyId> changeKeyIds, UserFile user, KeyFile newKey, KeyId removedKeyId)
    {
        return new PendingOperation(UUID.randomUUID().toString(), feedFrom, type, userId == null ? null : userId.value(), changeKeyIds.stream().map(KeyId::value).toList(),
                user, newKey, removedKeyId == null ? null : removedKeyId.value());
    }
}

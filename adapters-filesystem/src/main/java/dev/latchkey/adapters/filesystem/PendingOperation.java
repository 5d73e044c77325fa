package dev.latchkey.adapters.filesystem;

import java.util.List;

/**
 * A decided write to one account, recorded in its {@link AccountFile} until it is finished. Finishing it is
 * idempotent: write {@code newKey} if present, delete {@code removedKeyId} if present (and not the new key),
 * write the user file {@code user} or delete it when {@code user} is null, then append the change (unless the feed
 * already has an entry with this {@code operationId}).
 *
 * @param feedFrom the feed head when the write was decided: the feed entry of this operation, if any, is after it
 * @param userId the user the operation is about; null for account deletion and for an account created empty
 * @param user the user as it is after the operation; null when it is removed
 */
record PendingOperation(
        String operationId,
        long feedFrom,
        String changeType,
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
}

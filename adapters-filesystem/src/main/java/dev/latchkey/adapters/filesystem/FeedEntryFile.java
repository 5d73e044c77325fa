package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedPosition;

import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * {@code feed/<position>.json}: one committed change, and its audit record. Entries are immutable once written.
 * The same JSON, on one line, is a line of an audit segment ({@link FileAuditTrail}).
 *
 * @param origin where the write came from: the entry is the write's audit record, committed in the same atomic
 *         rename as its change; null in an entry written before the store recorded audits (such an entry is read
 *         as a change but never listed as an audit record)
 */
record FeedEntryFile(long position, String operationId, ChangeType changeType, String accountId, String userId, List<String> keyIds, Instant committedAt, OriginFile origin)
{
    FeedEntryFile
    {
        keyIds = List.copyOf(keyIds);
    }

    boolean audited()
    {
        return origin != null;
    }

    Change toChange()
    {
        return new Change(
                FeedPosition.of(position),
                changeType,
                AccountId.of(accountId),
                Optional.ofNullable(userId).map(UserId::of),
                keyIds.stream().map(KeyId::of).toList(),
                committedAt);
    }

    /**
     * The audit record of an {@linkplain #audited() audited} entry.
     *
     * @throws IOException when the entry or its origin is corrupt
     */
    AuditRecord toAuditRecord()
            throws IOException
    {
        Change change;
        try {
            change = toChange();
        }
        catch (IllegalArgumentException | NullPointerException e) {
            throw new IOException("corrupt feed entry " + position, e);
        }
        return new AuditRecord(change, origin.toOrigin());
    }
}

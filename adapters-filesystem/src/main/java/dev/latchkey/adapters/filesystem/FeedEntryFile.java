package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.store.ChangeType;

import java.time.Instant;
import java.util.List;

/**
 * {@code feed/<position>.json}: one committed change. Entries are immutable once written.
 */
record FeedEntryFile(long position, String operationId, ChangeType changeType, String accountId, String userId, List<String> keyIds, Instant committedAt)
{
    FeedEntryFile
    {
        keyIds = List.copyOf(keyIds);
    }
}

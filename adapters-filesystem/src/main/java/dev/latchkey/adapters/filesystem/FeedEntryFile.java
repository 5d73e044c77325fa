package dev.latchkey.adapters.filesystem;

import java.util.List;

/**
 * {@code feed/<position>.json}: one committed change. Entries are immutable once written.
 */
record FeedEntryFile(long position, String operationId, String changeType, String accountId, String userId, List<String> keyIds, String committedAt)
{
    FeedEntryFile
    {
        keyIds = List.copyOf(keyIds);
    }
}

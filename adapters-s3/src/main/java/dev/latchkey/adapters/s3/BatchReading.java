package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.Feed.HeadRead;
import dev.latchkey.adapters.s3.LiveViews.AccountView;
import dev.latchkey.core.domain.AccountId;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What an attempt planned against, kept when it loses the head: the next attempt folds in the entries committed
 * since (they are all in the new head, as a rule) instead of reading every account, user and key again, unless one
 * of them names a key (or the account of a key) that the checks looked up, or the newer head stops listing an
 * unapplied entry of such an account (its object as read may not count it).
 *
 * @param base the accounts of the batch as the head leaves them, before the batch's own entries
 * @param guarded the keys ({@code key:}) and accounts ({@code account:}) whose change means reading again
 */
record BatchReading(HeadRead head, Reads.Remembering reads, Map<AccountId, AccountView> base, Set<String> guarded)
{
    static String key(String keyId)
    {
        return "key:" + keyId;
    }

    static String account(String accountId)
    {
        return "account:" + accountId;
    }

    /**
     * This reading as of a newer head; null when the entries since are not all in it, or one is guarded.
     */
    BatchReading advancedTo(HeadRead newer)
    {
        long from = head.head().position();
        Documents.Head now = newer.head();
        if (now.position() < from || from < now.spilledThrough()) {
            return null;
        }
        for (Map.Entry<String, List<Long>> listed : head.head().unapplied().entrySet()) {
            if (guarded.contains(account(listed.getKey())) && !now.unappliedOf(listed.getKey()).containsAll(listed.getValue())) {
                // its object, as read, may not count what the newer head no longer lists: read it again
                return null;
            }
        }
        Map<AccountId, AccountView> advanced = new HashMap<>(base);
        for (Entry entry : now.entries()) {
            if (entry.position() <= from) {
                continue;
            }
            if (guarded.contains(account(entry.accountId())) || entry.toChange().keyIds().stream().anyMatch(keyId -> guarded.contains(key(keyId.value())))) {
                return null;
            }
            advanced.computeIfPresent(AccountId.of(entry.accountId()), (account, view) -> view.with(entry));
        }
        return new BatchReading(newer, reads, Map.copyOf(advanced), guarded);
    }
}

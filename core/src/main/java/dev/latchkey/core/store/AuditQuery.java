package dev.latchkey.core.store;

import dev.latchkey.core.domain.AccountId;

import java.time.Instant;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Which audit records to list, newest first.
 *
 * @param accountId only the writes to this account; empty for every account
 * @param before only records older than this position (the cursor of the previous page); empty to start at the newest
 * @param notBefore only records committed at or after this instant (the retention's horizon)
 * @param limit at most this many records, 1 to {@value #MAX_LIMIT}
 */
public record AuditQuery(Optional<AccountId> accountId, Optional<FeedPosition> before, Instant notBefore, int limit)
{
    public static final int DEFAULT_LIMIT = 100;
    public static final int MAX_LIMIT = 1000;

    public AuditQuery
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(before, "before is null");
        requireNonNull(notBefore, "notBefore is null");
        if (limit < 1 || limit > MAX_LIMIT) {
            throw new IllegalArgumentException("limit must be from 1 to " + MAX_LIMIT);
        }
    }

    /**
     * Whether a record falls within this query's account filter, cursor and horizon (not its limit).
     */
    public boolean matches(AuditRecord record)
    {
        Change change = record.change();
        return accountId.map(change.accountId()::equals).orElse(true)
                && before.map(cursor -> change.position().value() < cursor.value()).orElse(true)
                && !change.committedAt().isBefore(notBefore);
    }
}

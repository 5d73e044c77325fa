package dev.latchkey.adapters.filesystem;

import java.time.Instant;

/**
 * {@code accounts/<account>/account.json}: the account, its counts, and the one operation in progress on it.
 *
 * <p>This file is the decision record of every write to the account: a write first replaces it with the new counts
 * and a {@link PendingOperation} (or with {@code deleting} set), then finishes the user and key files, appends to
 * the feed, and clears the pending operation. Lookups honour a pending operation; the next writer or reader that
 * finds one rolls it forward, so a crash half-way never leaves a decided write half done.
 *
 * @param incarnation a random id of this creation of the account; key files carry it, so a key of a deleted
 *         account can never resolve under a later account of the same name
 */
record AccountFile(
        String accountId,
        Instant createdAt,
        boolean adminRequired,
        String incarnation,
        int userCount,
        int adminCount,
        boolean deleting,
        PendingOperation pending)
{
    AccountFile withPending(int newUserCount, int newAdminCount, PendingOperation operation)
    {
        return new AccountFile(accountId, createdAt, adminRequired, incarnation, newUserCount, newAdminCount, deleting, operation);
    }

    AccountFile deletingWith(PendingOperation operation)
    {
        return new AccountFile(accountId, createdAt, adminRequired, incarnation, userCount, adminCount, true, operation);
    }

    AccountFile settled()
    {
        return new AccountFile(accountId, createdAt, adminRequired, incarnation, userCount, adminCount, deleting, null);
    }

    boolean hasNothingPending()
    {
        return pending == null && !deleting;
    }
}

package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.store.Origin;

import java.util.UUID;
import java.util.concurrent.CompletableFuture;

import static java.util.Objects.requireNonNull;

/**
 * A write waiting for its commit, and what the latest planning of its batch made of it (committer thread only, but
 * for {@link #answer}, which completes once).
 */
final class QueuedWrite<T>
{
    /** Where the write came from: committed in its entry, as its audit record. */
    final Origin origin;
    final AccountId accountId;
    final WritePlanner<T> planner;
    /** {@link System#nanoTime()} past which it is given up, unless its commit has gone out. */
    final long deadline;
    /** Its id in the feed, the same in every attempt. */
    final String txn = UUID.randomUUID().toString();
    final CompletableFuture<T> answer = new CompletableFuture<>();
    /** The entry the latest planning made, or null (no change, or a failed check). */
    Entry planned;
    Object result;
    RuntimeException failure;

    QueuedWrite(Origin origin, AccountId accountId, WritePlanner<T> planner, long deadline)
    {
        this.origin = requireNonNull(origin, "origin is null");
        this.accountId = requireNonNull(accountId, "accountId is null");
        this.planner = requireNonNull(planner, "planner is null");
        this.deadline = deadline;
    }

    /**
     * Answers the caller with what the latest planning decided: its result, or its failed check.
     */
    @SuppressWarnings("unchecked")
    void answer()
    {
        if (failure != null) {
            answer.completeExceptionally(failure);
        }
        else {
            answer.complete((T) result);
        }
    }

    void fail(RuntimeException e)
    {
        answer.completeExceptionally(e);
    }
}

package dev.latchkey.core.store;

import java.util.List;

import static java.util.Objects.requireNonNull;

/**
 * The answer to "changes after position P".
 */
public sealed interface FeedBatch
{
    /**
     * The changes after P, in feed order, and the position to ask from next time (the last change's position, or
     * P itself when there was none).
     */
    record Changes(List<Change> changes, FeedPosition next)
            implements FeedBatch
    {
        public Changes
        {
            changes = List.copyOf(requireNonNull(changes, "changes is null"));
            requireNonNull(next, "next is null");
        }
    }

    /**
     * P is older than the oldest change the store still keeps (the feed was compacted past it), so the changes
     * since P cannot be listed. The reader must drop everything it derived from the store and continue from
     * {@code head}, a position no older than every change committed before this answer.
     */
    record Reset(FeedPosition head)
            implements FeedBatch
    {
        public Reset
        {
            requireNonNull(head, "head is null");
        }
    }
}

package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.LiveViews.AccountView;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * A write, as the {@link Committer} runs it: its checks against the current view of its account and the entry it
 * makes, or an exception when a check fails. Reads only through its context, and writes nothing: it may be run more
 * than once (against each attempt of its batch).
 */
interface WritePlanner<T>
{
    Plan<T> plan(AccountView current, Context context);

    /**
     * What a write's checks read through: the batch's reads of this attempt (each object read once), and the batch's
     * earlier writes.
     */
    interface Context
    {
        /**
         * Whether the account holds a user with this id, as the batch's earlier writes leave it: known without a read
         * for an id it never held, as a rule.
         */
        boolean userExists(AccountView view, UserId userId);

        /**
         * The user and every key it holds, as the batch's earlier writes leave them.
         */
        Optional<LiveViews.UserState> userState(AccountView view, UserId userId);

        /**
         * A key the user holds, as the batch's earlier writes leave it (expired or not); empty when it holds none with
         * that id.
         */
        Optional<KeyRecord> key(AccountView view, UserId userId, KeyId keyId);

        /**
         * The keys the user holds that are not live at {@code at} (expired, or no longer found): the ones a write
         * adding or replacing one of its keys removes ({@link dev.latchkey.core.store.ExpiredKeys}). The rest are
         * its live keys.
         */
        List<KeyId> endedKeys(AccountView view, LiveViews.UserState user, Instant at);

        /**
         * Throws ALREADY_EXISTS unless no key has the id {@code keyId}, taking the batch's earlier writes into account;
         * or, with an {@code owner}, unless no key of another user has it (for a re-hash of the owner's primary key,
         * which keeps its id).
         */
        void requireKeyIdFree(KeyId keyId, Optional<User> owner);
    }

    /**
     * What a write decided: the entry to commit (null when nothing changes) and its answer.
     */
    record Plan<T>(Entry entry, T result)
    {
        static <T> Plan<T> of(Entry entry, T result)
        {
            return new Plan<>(requireNonNull(entry, "entry is null"), result);
        }

        static <T> Plan<T> unchanged(T result)
        {
            return new Plan<>(null, result);
        }
    }
}

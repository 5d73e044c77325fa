package dev.latchkey.core.store;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.UserId;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * One committed write, as the change feed reports it.
 *
 * @param position this change's place in the feed
 * @param userId the user it affected; empty for account-level changes
 * @param keyIds the keys it affected: the new key for a creation or an added key, every key of the user for a
 *         removal or a role change, old then new for a replacement, the deleted key for a deletion; empty for {@link ChangeType#ACCOUNT_DELETED} (which
 *         affects every key of the account) and for an account created empty
 * @param committedAt when the store committed it (by the writer's clock)
 */
public record Change(FeedPosition position, ChangeType type, AccountId accountId, Optional<UserId> userId, List<KeyId> keyIds, Instant committedAt)
{
    public Change
    {
        requireNonNull(position, "position is null");
        requireNonNull(type, "type is null");
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        keyIds = List.copyOf(requireNonNull(keyIds, "keyIds is null"));
        requireNonNull(committedAt, "committedAt is null");
    }
}

package dev.latchkey.core.admin;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;

import static java.util.Objects.requireNonNull;

/**
 * A new extra key: the only time it is ever returned.
 */
public record CreatedKey(AccountId accountId, UserId userId, ApiKey userKey, KeySummary summary)
{
    public CreatedKey
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(userKey, "userKey is null");
        requireNonNull(summary, "summary is null");
    }
}

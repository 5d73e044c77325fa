package dev.latchkey.core.admin;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;

import static java.util.Objects.requireNonNull;

/**
 * A new user and its key: the only time the key is ever returned.
 */
public record CreatedUser(AccountId accountId, UserId userId, ApiKey userKey)
{
    public CreatedUser
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(userKey, "userKey is null");
    }
}

package dev.latchkey.core.admin;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;

import static java.util.Objects.requireNonNull;

/**
 * A new account with its first admin, and that admin's key: the only time the key is ever returned.
 */
public record CreatedAccount(AccountId accountId, UserId adminUserId, ApiKey userKey)
{
    public CreatedAccount
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(adminUserId, "adminUserId is null");
        requireNonNull(userKey, "userKey is null");
    }
}

package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;

import java.time.Instant;

/**
 * {@code accounts/<account>/users/<user>.json}.
 */
record UserFile(String accountId, String userId, Role role, String keyId, Instant createdAt)
{
    static UserFile of(User user)
    {
        return new UserFile(user.accountId().value(), user.id().value(), user.role(), user.keyId().value(), user.createdAt());
    }

    User toUser()
    {
        return new User(AccountId.of(accountId), UserId.of(userId), role, KeyId.of(keyId), createdAt);
    }
}

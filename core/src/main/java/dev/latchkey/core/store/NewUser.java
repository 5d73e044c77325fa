package dev.latchkey.core.store;

import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.key.SecretHash;

import static java.util.Objects.requireNonNull;

/**
 * A user to add, with the hash of its first key.
 */
public record NewUser(User user, SecretHash secretHash)
{
    public NewUser
    {
        requireNonNull(user, "user is null");
        requireNonNull(secretHash, "secretHash is null");
    }

    /**
     * The key record the store holds for this user's key (issued when the user is created).
     */
    public KeyRecord keyRecord()
    {
        return new KeyRecord(user.keyId(), secretHash, user.accountId(), user.id(), user.role(), user.createdAt());
    }
}

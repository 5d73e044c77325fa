package dev.latchkey.core.store;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.key.SecretHash;

import java.util.Optional;

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
        if (user.primaryKeyId().isEmpty()) {
            throw new IllegalArgumentException("a new user comes with its primary key");
        }
    }

    /**
     * The id of the user's first key, its primary key.
     */
    public KeyId keyId()
    {
        return user.primaryKeyId().orElseThrow();
    }

    /**
     * The precondition of {@link IdentityStore#createAccount} on its first user: an admin of that very account.
     *
     * @throws IllegalArgumentException when the first user is not
     */
    public static void requireFirstAdmin(AccountId accountId, Optional<NewUser> firstAdmin)
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(firstAdmin, "firstAdmin is null");
        firstAdmin.ifPresent(admin -> {
            if (!admin.user().accountId().equals(accountId) || admin.user().role() != Role.ADMIN) {
                throw new IllegalArgumentException("the first user must be an admin of the new account");
            }
        });
    }

    /**
     * The key record the store holds for this user's primary key (issued when the user is created).
     */
    public KeyRecord keyRecord()
    {
        return new KeyRecord(keyId(), secretHash, user.accountId(), user.id(), user.role(), user.createdAt());
    }
}

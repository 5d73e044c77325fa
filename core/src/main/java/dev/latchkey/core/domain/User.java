package dev.latchkey.core.domain;

import java.time.Instant;

import static java.util.Objects.requireNonNull;

/**
 * A user of an account, with its role and the id of its one current key.
 */
public record User(AccountId accountId, UserId id, Role role, KeyId keyId, Instant createdAt)
{
    public User
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(id, "id is null");
        requireNonNull(role, "role is null");
        requireNonNull(keyId, "keyId is null");
        requireNonNull(createdAt, "createdAt is null");
        if (role == Role.ROOT) {
            throw new IllegalArgumentException("an account user cannot have role ROOT");
        }
    }

    public User withRole(Role newRole)
    {
        return new User(accountId, id, newRole, keyId, createdAt);
    }

    public User withKey(KeyId newKeyId)
    {
        return new User(accountId, id, role, newKeyId, createdAt);
    }
}

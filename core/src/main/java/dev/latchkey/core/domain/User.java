package dev.latchkey.core.domain;

import java.time.Instant;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * A user of an account, with its role and the id of its primary key: the key its creation issued and that
 * {@code .../key} replaces. A user may hold other keys besides; it has no primary key after that key was deleted,
 * until a new one is issued.
 */
public record User(AccountId accountId, UserId id, Role role, Optional<KeyId> primaryKeyId, Instant createdAt)
{
    public User
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(id, "id is null");
        requireNonNull(role, "role is null");
        requireNonNull(primaryKeyId, "primaryKeyId is null");
        requireNonNull(createdAt, "createdAt is null");
        if (role == Role.ROOT) {
            throw new IllegalArgumentException("an account user cannot have role ROOT");
        }
    }

    /**
     * A user with a primary key.
     */
    public User(AccountId accountId, UserId id, Role role, KeyId primaryKeyId, Instant createdAt)
    {
        this(accountId, id, role, Optional.of(primaryKeyId), createdAt);
    }

    public User withRole(Role newRole)
    {
        return new User(accountId, id, newRole, primaryKeyId, createdAt);
    }

    public User withKey(KeyId newPrimaryKeyId)
    {
        return new User(accountId, id, role, Optional.of(newPrimaryKeyId), createdAt);
    }

    public User withoutPrimaryKey()
    {
        return new User(accountId, id, role, Optional.empty(), createdAt);
    }
}

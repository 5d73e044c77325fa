package dev.latchkey.core.domain;

import dev.latchkey.core.key.SecretHash;

import java.time.Instant;

import static java.util.Objects.requireNonNull;

/**
 * What the store knows about one live key: everything needed to authenticate it, and nothing that would let
 * anyone reconstruct it (only the hash of its secret).
 *
 * @param createdAt when the key was issued (not when its user was created)
 */
public record KeyRecord(KeyId keyId, SecretHash secretHash, AccountId accountId, UserId userId, Role role, Instant createdAt)
{
    public KeyRecord
    {
        requireNonNull(keyId, "keyId is null");
        requireNonNull(secretHash, "secretHash is null");
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(role, "role is null");
        requireNonNull(createdAt, "createdAt is null");
        if (role == Role.ROOT) {
            throw new IllegalArgumentException("an account key cannot have role ROOT");
        }
    }

    public Identity identity()
    {
        return Identity.accountUser(accountId, userId, role);
    }
}

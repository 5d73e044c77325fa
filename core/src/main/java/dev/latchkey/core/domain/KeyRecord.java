package dev.latchkey.core.domain;

import dev.latchkey.core.key.SecretHash;

import java.time.Instant;

import static java.util.Objects.requireNonNull;

/**
 * What the store knows about one live key: everything needed to authenticate it, and nothing that would let
 * anyone reconstruct it (only the hash of its secret).
 *
 * @param createdAt when the key was issued (not when its user was created)
 * @param attributes its name, scopes and expiry, and whether it is its user's primary key; the store keeps a key
 *         after it expired (until it purges it), so whoever authenticates checks {@link KeyAttributes#isLiveAt}
 */
public record KeyRecord(KeyId keyId, SecretHash secretHash, AccountId accountId, UserId userId, Role role, Instant createdAt, KeyAttributes attributes)
{
    public KeyRecord
    {
        requireNonNull(keyId, "keyId is null");
        requireNonNull(secretHash, "secretHash is null");
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(role, "role is null");
        requireNonNull(createdAt, "createdAt is null");
        requireNonNull(attributes, "attributes is null");
        if (role == Role.ROOT) {
            throw new IllegalArgumentException("an account key cannot have role ROOT");
        }
    }

    /**
     * A primary key, with every scope and no expiry (every key of a store written before keys had attributes).
     */
    public KeyRecord(KeyId keyId, SecretHash secretHash, AccountId accountId, UserId userId, Role role, Instant createdAt)
    {
        this(keyId, secretHash, accountId, userId, role, createdAt, KeyAttributes.primaryKey());
    }

    public Identity identity()
    {
        return Identity.ofKey(keyId, accountId, userId, role, attributes.scopes(), attributes.expiresAt());
    }

    /**
     * This key as a listing shows it: without its hash.
     */
    public KeySummary summary()
    {
        return new KeySummary(keyId, createdAt, attributes);
    }
}

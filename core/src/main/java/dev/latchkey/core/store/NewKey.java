package dev.latchkey.core.store;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.SecretHash;

import java.time.Instant;

import static java.util.Objects.requireNonNull;

/**
 * An extra key to add to an existing user: never its primary key.
 *
 * @param createdAt when the key was issued; also the instant at which the store counts the user's live keys
 */
public record NewKey(AccountId accountId, UserId userId, KeyId keyId, SecretHash secretHash, Instant createdAt, KeyAttributes attributes)
{
    /** How many live keys (not expired) a user may hold. */
    public static final int MAX_LIVE_KEYS = 20;

    public NewKey
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(keyId, "keyId is null");
        requireNonNull(secretHash, "secretHash is null");
        requireNonNull(createdAt, "createdAt is null");
        requireNonNull(attributes, "attributes is null");
        if (attributes.primary()) {
            throw new IllegalArgumentException("an added key is never primary");
        }
        if (!attributes.isLiveAt(createdAt)) {
            throw new IllegalArgumentException("an added key must not be expired when it is created");
        }
    }

    /**
     * The record the store holds for this key, with the role its user has.
     */
    public KeyRecord keyRecord(Role role)
    {
        return new KeyRecord(keyId, secretHash, accountId, userId, role, createdAt, attributes);
    }
}

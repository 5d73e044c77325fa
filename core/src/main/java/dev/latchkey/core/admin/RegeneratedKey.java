package dev.latchkey.core.admin;

import dev.latchkey.core.key.ApiKey;

import java.time.Instant;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * A user's new primary key, and when the key it replaced stops working if it was given a grace period.
 */
public record RegeneratedKey(ApiKey userKey, Optional<Instant> previousKeyExpiresAt)
{
    /** The longest grace period a replaced primary key may get. */
    public static final long MAX_GRACE_PERIOD_SECONDS = 604_800;

    public RegeneratedKey
    {
        requireNonNull(userKey, "userKey is null");
        requireNonNull(previousKeyExpiresAt, "previousKeyExpiresAt is null");
    }
}

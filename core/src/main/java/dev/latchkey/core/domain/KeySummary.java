package dev.latchkey.core.domain;

import java.time.Instant;
import java.util.Comparator;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * A key as its owner and administrators see it: everything but its secret and the secret's hash.
 *
 * @param lastUsedAt when an instance last reported serving it (precise to the instances' usage flush interval);
 *         empty when it was never reported used, or the store was not asked
 */
public record KeySummary(KeyId keyId, Instant createdAt, KeyAttributes attributes, Optional<Instant> lastUsedAt)
{
    /** The order of a user's key listing: by creation time, then by key id (ordinal string order). */
    public static final Comparator<KeySummary> LISTING_ORDER = Comparator.comparing(KeySummary::createdAt)
            .thenComparing(summary -> summary.keyId().value());

    public KeySummary
    {
        requireNonNull(keyId, "keyId is null");
        requireNonNull(createdAt, "createdAt is null");
        requireNonNull(attributes, "attributes is null");
        requireNonNull(lastUsedAt, "lastUsedAt is null");
    }

    /**
     * A key with no usage known.
     */
    public KeySummary(KeyId keyId, Instant createdAt, KeyAttributes attributes)
    {
        this(keyId, createdAt, attributes, Optional.empty());
    }

    public KeySummary withLastUsedAt(Optional<Instant> at)
    {
        return new KeySummary(keyId, createdAt, attributes, at);
    }
}

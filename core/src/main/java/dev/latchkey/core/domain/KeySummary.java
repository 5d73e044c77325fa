package dev.latchkey.core.domain;

import java.time.Instant;
import java.util.Comparator;

import static java.util.Objects.requireNonNull;

/**
 * A key as its owner and administrators see it: everything but its secret and the secret's hash.
 */
public record KeySummary(KeyId keyId, Instant createdAt, KeyAttributes attributes)
{
    /** The order of a user's key listing: by creation time, then by key id (ordinal string order). */
    public static final Comparator<KeySummary> LISTING_ORDER = Comparator.comparing(KeySummary::createdAt)
            .thenComparing(summary -> summary.keyId().value());

    public KeySummary
    {
        requireNonNull(keyId, "keyId is null");
        requireNonNull(createdAt, "createdAt is null");
        requireNonNull(attributes, "attributes is null");
    }
}

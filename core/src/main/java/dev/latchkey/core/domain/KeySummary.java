package dev.latchkey.core.domain;

import java.time.Instant;

import static java.util.Objects.requireNonNull;

/**
 * A key as its owner and administrators see it: everything but its secret and the secret's hash.
 */
public record KeySummary(KeyId keyId, Instant createdAt, KeyAttributes attributes)
{
    public KeySummary
    {
        requireNonNull(keyId, "keyId is null");
        requireNonNull(createdAt, "createdAt is null");
        requireNonNull(attributes, "attributes is null");
    }
}

package dev.latchkey.core.domain;

import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * What a key is for, beyond whose it is: its name, whether it is its user's primary key, its scopes and when it
 * expires. A primary key, and every key of a store written before keys had attributes, is {@link #primaryKey()}.
 *
 * @param expiresAt from this instant on the key is refused everywhere; empty when it never expires. Kept to the
 *         millisecond (finer digits are dropped), as every store and cache can hold it
 */
public record KeyAttributes(Optional<KeyName> name, boolean primary, Scopes scopes, Optional<Instant> expiresAt)
{
    private static final KeyAttributes PRIMARY = new KeyAttributes(Optional.empty(), true, Scopes.all(), Optional.empty());

    public KeyAttributes
    {
        requireNonNull(name, "name is null");
        requireNonNull(scopes, "scopes is null");
        requireNonNull(expiresAt, "expiresAt is null");
        expiresAt = expiresAt.map(instant -> instant.truncatedTo(ChronoUnit.MILLIS));
    }

    /**
     * A primary key as a user's creation or {@code .../key} issues it: no name, every scope, no expiry.
     */
    public static KeyAttributes primaryKey()
    {
        return PRIMARY;
    }

    /**
     * An extra key, never primary.
     */
    public static KeyAttributes extra(Optional<KeyName> name, Scopes scopes, Optional<Instant> expiresAt)
    {
        return new KeyAttributes(name, false, scopes, expiresAt);
    }

    /**
     * Whether the key still works at {@code now}: it has no expiry, or {@code now} is before it.
     */
    public boolean isLiveAt(Instant now)
    {
        return expiresAt.isEmpty() || now.isBefore(expiresAt.get());
    }

    /**
     * These attributes as a replaced primary key keeps them through its grace period: not primary, named
     * {@code previous}, its scopes kept, expiring at {@code until}.
     */
    public KeyAttributes retiredUntil(Instant until)
    {
        return new KeyAttributes(Optional.of(KeyName.PREVIOUS), false, scopes, Optional.of(until));
    }
}

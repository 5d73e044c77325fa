package dev.latchkey.core.admin;

import dev.latchkey.core.domain.KeyName;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.error.LatchkeyException;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * What a caller asks of a new extra key, every part optional: a name, scopes (every scope when none are given), and
 * an expiry given either as an instant or as a time to live (never both).
 *
 * @param ttlSeconds seconds from the key's creation to its expiry
 */
public record KeyRequest(Optional<KeyName> name, Optional<Scopes> scopes, Optional<Instant> expiresAt, Optional<Long> ttlSeconds)
{
    /** The longest time to live, in seconds: 3,650 days. */
    public static final Duration MAX_LIFETIME = Duration.ofDays(3650);
    /** The furthest ahead an expiry instant may lie, in calendar years (UTC). */
    public static final int MAX_YEARS_AHEAD = 10;
    public static final String EXPIRES_AT = "expires_at";
    public static final String TTL = "ttl";

    public KeyRequest
    {
        requireNonNull(name, "name is null");
        requireNonNull(scopes, "scopes is null");
        requireNonNull(expiresAt, "expiresAt is null");
        requireNonNull(ttlSeconds, "ttlSeconds is null");
    }

    public static KeyRequest defaults()
    {
        return new KeyRequest(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
    }

    /**
     * When a key created at {@code now} with this request expires.
     *
     * @throws LatchkeyException INVALID_ARGUMENT when both forms are given, when the instant (to the millisecond) is
     *         not in the future or lies more than {@value #MAX_YEARS_AHEAD} years ahead, or when the time to live is
     *         not from 1 second to {@link #MAX_LIFETIME}
     */
    Optional<Instant> expiryFrom(Instant now)
    {
        if (expiresAt.isPresent() && ttlSeconds.isPresent()) {
            throw LatchkeyException.invalidField(EXPIRES_AT, "give expires_at or ttl, not both");
        }
        if (ttlSeconds.isPresent()) {
            long ttl = ttlSeconds.get();
            if (ttl < 1 || ttl > MAX_LIFETIME.toSeconds()) {
                throw LatchkeyException.invalidField(TTL, "ttl must be an integer from 1 to " + MAX_LIFETIME.toSeconds() + " seconds");
            }
            return Optional.of(now.plusSeconds(ttl));
        }
        if (expiresAt.isEmpty()) {
            return Optional.empty();
        }
        // kept to the millisecond (KeyAttributes): an instant less than a millisecond ahead is not in the future
        Instant at = expiresAt.get().truncatedTo(ChronoUnit.MILLIS);
        if (!at.isAfter(now)) {
            throw LatchkeyException.invalidField(EXPIRES_AT, "expires_at must be in the future");
        }
        if (at.isAfter(now.atOffset(ZoneOffset.UTC).plusYears(MAX_YEARS_AHEAD).toInstant())) {
            throw LatchkeyException.invalidField(EXPIRES_AT, "expires_at must be at most " + MAX_YEARS_AHEAD + " years ahead");
        }
        return Optional.of(at);
    }
}

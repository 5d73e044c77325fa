package dev.latchkey.core.domain;

import java.time.Instant;

import static java.util.Objects.requireNonNull;

/**
 * An account as listed: its id, when it was created, and how many users it has.
 */
public record AccountSummary(AccountId id, Instant createdAt, int userCount)
{
    public AccountSummary
    {
        requireNonNull(id, "id is null");
        requireNonNull(createdAt, "createdAt is null");
        if (userCount < 0) {
            throw new IllegalArgumentException("userCount is negative");
        }
    }
}

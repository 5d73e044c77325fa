package dev.latchkey.core.domain;

import java.time.Instant;

import static java.util.Objects.requireNonNull;

/**
 * An account (tenant).
 *
 * @param adminRequired whether the account must keep at least one admin. True for every account created through
 *         the admin API (it starts with its first admin); false only for the {@code default} account that the
 *         server creates empty on first start.
 */
public record Account(AccountId id, Instant createdAt, boolean adminRequired)
{
    public Account
    {
        requireNonNull(id, "id is null");
        requireNonNull(createdAt, "createdAt is null");
    }
}

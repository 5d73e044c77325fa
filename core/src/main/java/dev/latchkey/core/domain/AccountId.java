package dev.latchkey.core.domain;

import dev.latchkey.core.error.LatchkeyException;

/**
 * An account id: an identifier (see the HTTP contract) that must not start with {@code _}.
 */
public record AccountId(String value)
        implements Comparable<AccountId>
{
    public static final String FIELD = "account_id";

    public AccountId
    {
        Identifiers.check(value, FIELD);
        if (value.startsWith("_")) {
            throw LatchkeyException.invalidField(FIELD, FIELD + " must not start with _");
        }
    }

    public static AccountId of(String value)
    {
        return new AccountId(value);
    }

    @Override
    public int compareTo(AccountId other)
    {
        return value.compareTo(other.value);
    }

    @Override
    public String toString()
    {
        return value;
    }
}

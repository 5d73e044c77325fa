package dev.latchkey.core.domain;

/**
 * A user id, unique within its account. Case sensitive.
 */
public record UserId(String value)
        implements Comparable<UserId>
{
    public static final String FIELD = "user_id";

    public UserId
    {
        Identifiers.check(value, FIELD);
    }

    public static UserId of(String value)
    {
        return new UserId(value);
    }

    @Override
    public int compareTo(UserId other)
    {
        return value.compareTo(other.value);
    }

    @Override
    public String toString()
    {
        return value;
    }
}

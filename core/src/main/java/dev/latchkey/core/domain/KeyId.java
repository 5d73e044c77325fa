package dev.latchkey.core.domain;

import dev.latchkey.core.key.Base62;

import static java.util.Objects.requireNonNull;

/**
 * The public part of an API key: 16 base62 characters, unique across the store, used for one point lookup.
 */
public record KeyId(String value)
{
    public static final int LENGTH = 16;

    public KeyId
    {
        requireNonNull(value, "value is null");
        if (value.length() != LENGTH || !Base62.isBase62(value)) {
            throw new IllegalArgumentException("key id must be " + LENGTH + " base62 characters");
        }
    }

    public static KeyId of(String value)
    {
        return new KeyId(value);
    }

    /**
     * The public start of a key, {@code lk_<keyId>}, shown in user listings.
     */
    public String keyPrefix()
    {
        return "lk_" + value;
    }

    @Override
    public String toString()
    {
        return value;
    }
}

package dev.latchkey.core.domain;

import dev.latchkey.core.key.Base62;

import static java.util.Objects.requireNonNull;

/**
 * The public part of an API key: 16 base62 characters, unique across the store, used for one point lookup.
 * <p>
 * Held as two numbers (each half of the text in base62) rather than as a string: a cache of a million keys holds a
 * million key ids, and this form takes 32 bytes of heap and one memory access to compare, where a string takes
 * 72 bytes and three. {@link #value()} gives the text back.
 */
public final class KeyId
{
    public static final int LENGTH = 16;
    private static final int HALF = LENGTH / 2;

    private final long high;
    private final long low;

    private KeyId(long high, long low)
    {
        this.high = high;
        this.low = low;
    }

    /**
     * The key id written as 16 base62 characters.
     *
     * @throws IllegalArgumentException when the value is not 16 base62 characters
     */
    public static KeyId of(String value)
    {
        requireNonNull(value, "value is null");
        if (value.length() != LENGTH) {
            throw invalid();
        }
        return of(value, 0);
    }

    /**
     * The key id written at {@code offset} in {@code text} (16 base62 characters), without copying it out.
     *
     * @throws IllegalArgumentException when the text there is not 16 base62 characters
     */
    public static KeyId of(CharSequence text, int offset)
    {
        requireNonNull(text, "text is null");
        if (offset < 0 || offset + LENGTH > text.length()) {
            throw invalid();
        }
        long high = Base62.decode(text, offset, offset + HALF);
        long low = Base62.decode(text, offset + HALF, offset + LENGTH);
        if (high < 0 || low < 0) {
            throw invalid();
        }
        return new KeyId(high, low);
    }

    private static IllegalArgumentException invalid()
    {
        return new IllegalArgumentException("key id must be " + LENGTH + " base62 characters");
    }

    /**
     * The first eight characters as one base62 number (below 62^8): with {@link #low()}, a compact form of the key
     * id for caches that hold it inline.
     */
    public long high()
    {
        return high;
    }

    /**
     * The last eight characters as one base62 number (below 62^8).
     */
    public long low()
    {
        return low;
    }

    /**
     * The 16 characters of the key id.
     */
    public String value()
    {
        return Base62.encode(high, HALF) + Base62.encode(low, HALF);
    }

    /**
     * The public start of a key, {@code lk_<keyId>}, shown in user listings.
     */
    public String keyPrefix()
    {
        return "lk_" + value();
    }

    @Override
    public boolean equals(Object other)
    {
        return other instanceof KeyId that && high == that.high && low == that.low;
    }

    @Override
    public int hashCode()
    {
        return hashCode(high, low);
    }

    /**
     * The hash code of the key id with these two parts, for compact forms that must hash alike.
     */
    public static int hashCode(long high, long low)
    {
        return Long.hashCode(high * 0x9E3779B97F4A7C15L + low);
    }

    @Override
    public String toString()
    {
        return value();
    }
}

package dev.latchkey.core.key;

import java.util.Arrays;

/**
 * The base62 alphabet of API keys, {@code 0-9A-Za-z} in that order.
 */
public final class Base62
{
    public static final String ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    private Base62() {}

    /** Digit values of the ASCII characters; -1 for characters that are not base62 digits. */
    private static final byte[] DIGITS = new byte[128];

    static {
        Arrays.fill(DIGITS, (byte) -1);
        for (int i = 0; i < ALPHABET.length(); i++) {
            DIGITS[ALPHABET.charAt(i)] = (byte) i;
        }
    }

    /**
     * The largest number of digits {@link #decode} accepts: 62^10 still fits in a long.
     */
    public static final int MAX_DECODE_DIGITS = 10;

    public static boolean isBase62(CharSequence text)
    {
        return isBase62(text, 0, text.length());
    }

    /**
     * Whether the characters from {@code from} (inclusive) to {@code to} (exclusive) are all base62 digits.
     */
    public static boolean isBase62(CharSequence text, int from, int to)
    {
        for (int i = from; i < to; i++) {
            if (digit(text.charAt(i)) < 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * The value of one base62 digit, or -1 when the character is not one.
     */
    static int digit(char c)
    {
        return c < DIGITS.length ? DIGITS[c] : -1;
    }

    /**
     * The number written in base62 (most significant digit first) from {@code from} (inclusive) to {@code to}
     * (exclusive), or -1 when a character is not a base62 digit.
     *
     * @throws IllegalArgumentException when the range holds more than {@link #MAX_DECODE_DIGITS} digits
     */
    public static long decode(CharSequence text, int from, int to)
    {
        if (to - from > MAX_DECODE_DIGITS) {
            throw new IllegalArgumentException("at most " + MAX_DECODE_DIGITS + " base62 digits fit in a long");
        }
        long value = 0;
        for (int i = from; i < to; i++) {
            int digit = digit(text.charAt(i));
            if (digit < 0) {
                return -1;
            }
            value = value * 62 + digit;
        }
        return value;
    }

    /**
     * Writes a non-negative number in base62, most significant digit first, left-padded with {@code 0} to
     * {@code width} characters.
     *
     * @throws IllegalArgumentException when the number does not fit in {@code width} digits
     */
    public static String encode(long value, int width)
    {
        if (value < 0) {
            throw new IllegalArgumentException("value is negative");
        }
        char[] digits = new char[width];
        long rest = value;
        for (int i = width - 1; i >= 0; i--) {
            digits[i] = ALPHABET.charAt((int) (rest % 62));
            rest /= 62;
        }
        if (rest != 0) {
            throw new IllegalArgumentException("value does not fit in " + width + " base62 digits");
        }
        return new String(digits);
    }
}

package dev.latchkey.core.key;

/**
 * The base62 alphabet of API keys, {@code 0-9A-Za-z} in that order.
 */
public final class Base62
{
    public static final String ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    private Base62() {}

    public static boolean isBase62(CharSequence text)
    {
        for (int i = 0; i < text.length(); i++) {
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
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'A' && c <= 'Z') {
            return c - 'A' + 10;
        }
        if (c >= 'a' && c <= 'z') {
            return c - 'a' + 36;
        }
        return -1;
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

package dev.latchkey.server;

import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;
import java.util.zip.CRC32;

/**
 * API keys written independently of the server's code, straight from the format of http-api.md:
 * {@code lk_<keyId: 16 base62>_<secret: 32 base62><check: 6 base62>}, the check being the CRC32 of the 52
 * characters before it.
 */
public final class TestingKeys
{
    public static final String ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    public static final Pattern SHAPE = Pattern.compile("lk_[0-9A-Za-z]{16}_[0-9A-Za-z]{38}");

    private TestingKeys() {}

    /**
     * A key of the right shape with a correct check.
     */
    public static String wellFormed(String keyId, String secret)
    {
        if (keyId.length() != 16 || secret.length() != 32) {
            throw new IllegalArgumentException("a key id has 16 characters and a secret 32");
        }
        String checked = "lk_" + keyId + "_" + secret;
        return checked + check(checked);
    }

    /**
     * Whether the text has the key shape and a correct check.
     */
    public static boolean isWellFormed(String key)
    {
        return SHAPE.matcher(key).matches() && key.substring(52).equals(check(key.substring(0, 52)));
    }

    public static String keyId(String key)
    {
        return key.substring(3, 19);
    }

    public static String keyPrefix(String key)
    {
        return key.substring(0, 19);
    }

    public static String secret(String key)
    {
        return key.substring(20, 52);
    }

    static String check(String checked)
    {
        CRC32 crc = new CRC32();
        crc.update(checked.getBytes(StandardCharsets.US_ASCII));
        long value = crc.getValue();
        char[] digits = new char[6];
        for (int i = digits.length - 1; i >= 0; i--) {
            digits[i] = ALPHABET.charAt((int) (value % 62));
            value /= 62;
        }
        return new String(digits);
    }
}

package dev.latchkey.adapters.filesystem;

import java.math.BigInteger;
import java.util.Locale;

/**
 * File names for case-sensitive ids that stay distinct on filesystems that fold case (macOS, Windows, some NAS
 * shares). An id is written in lower case; when it has upper-case letters, {@code ~} and the hexadecimal bit mask of
 * their positions follow ({@code Acme} becomes {@code acme~1}, {@code acme} stays {@code acme}). {@code ~} is not an
 * id character, so the encoding is injective and readable. The longest name (128 characters, all upper case) is 161
 * characters, within every filesystem's limit of 255.
 */
final class FileNames
{
    private static final char MASK_SEPARATOR = '~';

    private FileNames() {}

    static String encode(String id)
    {
        BigInteger mask = BigInteger.ZERO;
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                mask = mask.setBit(i);
            }
        }
        String lower = id.toLowerCase(Locale.ROOT);
        return mask.signum() == 0 ? lower : lower + MASK_SEPARATOR + mask.toString(16);
    }

    static String decode(String name)
    {
        int separator = name.indexOf(MASK_SEPARATOR);
        if (separator < 0) {
            return name;
        }
        BigInteger mask = new BigInteger(name.substring(separator + 1), 16);
        char[] characters = name.substring(0, separator).toCharArray();
        for (int i = 0; i < characters.length; i++) {
            if (mask.testBit(i)) {
                characters[i] = Character.toUpperCase(characters[i]);
            }
        }
        return new String(characters);
    }
}

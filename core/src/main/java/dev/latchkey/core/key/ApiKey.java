package dev.latchkey.core.key;

import dev.latchkey.core.domain.KeyId;
import org.jspecify.annotations.Nullable;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Optional;
import java.util.zip.CRC32;

import static java.util.Objects.requireNonNull;

/**
 * An API key in Latchkey's fixed format, 58 characters:
 * <pre>lk_&lt;keyId: 16 base62&gt;_&lt;secret: 32 base62&gt;&lt;check: 6 base62&gt;</pre>
 * where {@code check} is the CRC32 of the 52 characters before it, in base62, most significant digit first.
 * {@link #parse} decides the shape and checksum with no I/O. {@link #toString()} never shows the secret;
 * {@link #value()} is the full key and must only ever be returned to the caller that created it.
 */
public final class ApiKey
{
    public static final int LENGTH = 58;
    public static final String PREFIX = "lk_";
    static final int SECRET_LENGTH = 32;
    static final int CHECK_LENGTH = 6;
    private static final int CHECKED_LENGTH = LENGTH - CHECK_LENGTH;
    private static final int KEY_ID_START = PREFIX.length();
    private static final int SEPARATOR = KEY_ID_START + KeyId.LENGTH;
    static final int SECRET_START = SEPARATOR + 1;

    private final KeyId keyId;
    private final String value;
    /** The key's characters as ASCII bytes; never exposed, only read by {@link SecretHasher}. */
    private final byte[] ascii;

    private ApiKey(KeyId keyId, String value, byte[] ascii)
    {
        this.keyId = keyId;
        this.value = value;
        this.ascii = ascii;
    }

    /**
     * Builds a key from its two random parts, computing the check characters.
     */
    public static ApiKey of(KeyId keyId, String secret)
    {
        requireNonNull(keyId, "keyId is null");
        requireNonNull(secret, "secret is null");
        if (secret.length() != SECRET_LENGTH || !Base62.isBase62(secret)) {
            throw new IllegalArgumentException("secret must be " + SECRET_LENGTH + " base62 characters");
        }
        String checked = PREFIX + keyId.value() + "_" + secret;
        byte[] checkedBytes = checked.getBytes(StandardCharsets.US_ASCII);
        String value = checked + Base62.encode(crc32(checkedBytes), CHECK_LENGTH);
        return new ApiKey(keyId, value, value.getBytes(StandardCharsets.US_ASCII));
    }

    /**
     * Parses a presented key. Empty when the text does not have the exact shape or its check characters do not
     * match; never touches anything but the text. One pass over the characters, one CRC32 over their bytes.
     */
    public static Optional<ApiKey> parse(@Nullable CharSequence presented)
    {
        if (presented == null || presented.length() != LENGTH) {
            return Optional.empty();
        }
        String text = presented.toString();
        if (!text.startsWith(PREFIX) || text.charAt(SEPARATOR) != '_'
                || !Base62.isBase62(text, KEY_ID_START, SEPARATOR) || !Base62.isBase62(text, SECRET_START, LENGTH)) {
            return Optional.empty();
        }
        // every character is ASCII now, so ISO-8859-1 is a plain copy
        byte[] ascii = text.getBytes(StandardCharsets.ISO_8859_1);
        // the check characters are public (derived from the text itself), so comparing them is not secret-dependent
        if (Base62.decode(text, CHECKED_LENGTH, LENGTH) != crc32(ascii)) {
            return Optional.empty();
        }
        return Optional.of(new ApiKey(KeyId.of(text, KEY_ID_START), text, ascii));
    }

    /**
     * The CRC32 (IEEE) of the first 52 bytes, unsigned.
     */
    private static long crc32(byte[] ascii)
    {
        CRC32 crc = new CRC32();
        crc.update(ascii, 0, CHECKED_LENGTH);
        return crc.getValue();
    }

    /**
     * The check characters of the 52 characters before them: CRC32 (IEEE) of their ASCII bytes, as 6 base62 digits.
     */
    static String checkOf(String checked)
    {
        return Base62.encode(crc32(checked.getBytes(StandardCharsets.US_ASCII)), CHECK_LENGTH);
    }

    public KeyId keyId()
    {
        return keyId;
    }

    /**
     * The secret part (32 characters). Only for hashing: never log or store it.
     */
    public String secret()
    {
        return value.substring(SECRET_START, CHECKED_LENGTH);
    }

    /**
     * The key's ASCII bytes, not copied: only for {@link SecretHasher} to hash the secret in place. Never modify.
     */
    byte[] ascii()
    {
        return ascii;
    }

    /**
     * The whole key, as handed to its owner.
     */
    public String value()
    {
        return value;
    }

    @Override
    public boolean equals(Object other)
    {
        return other instanceof ApiKey that && MessageDigest.isEqual(ascii, that.ascii);
    }

    @Override
    public int hashCode()
    {
        return keyId.hashCode();
    }

    @Override
    public String toString()
    {
        return keyId.keyPrefix() + "_[redacted]";
    }
}

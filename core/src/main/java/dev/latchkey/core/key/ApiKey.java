package dev.latchkey.core.key;

import dev.latchkey.core.domain.KeyId;

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
    private static final int SECRET_START = KEY_ID_START + KeyId.LENGTH + 1;

    private final KeyId keyId;
    private final String secret;
    private final String value;

    private ApiKey(KeyId keyId, String secret, String value)
    {
        this.keyId = keyId;
        this.secret = secret;
        this.value = value;
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
        return new ApiKey(keyId, secret, checked + checkOf(checked));
    }

    /**
     * Parses a presented key. Empty when the text does not have the exact shape or its check characters do not
     * match; never touches anything but the text.
     */
    public static Optional<ApiKey> parse(CharSequence presented)
    {
        if (presented == null || presented.length() != LENGTH) {
            return Optional.empty();
        }
        String text = presented.toString();
        if (!text.startsWith(PREFIX) || text.charAt(SECRET_START - 1) != '_'
                || !Base62.isBase62(text.substring(KEY_ID_START, SECRET_START - 1))
                || !Base62.isBase62(text.substring(SECRET_START))) {
            return Optional.empty();
        }
        String checked = text.substring(0, CHECKED_LENGTH);
        byte[] expected = checkOf(checked).getBytes(StandardCharsets.US_ASCII);
        byte[] actual = text.substring(CHECKED_LENGTH).getBytes(StandardCharsets.US_ASCII);
        if (!MessageDigest.isEqual(expected, actual)) {
            return Optional.empty();
        }
        KeyId keyId = KeyId.of(text.substring(KEY_ID_START, SECRET_START - 1));
        return Optional.of(new ApiKey(keyId, text.substring(SECRET_START, CHECKED_LENGTH), text));
    }

    /**
     * The CRC32 (IEEE) of the text's ASCII bytes, unsigned, as 6 base62 digits.
     */
    static String checkOf(String checked)
    {
        CRC32 crc = new CRC32();
        crc.update(checked.getBytes(StandardCharsets.US_ASCII));
        return Base62.encode(crc.getValue(), CHECK_LENGTH);
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
        return secret;
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
        return other instanceof ApiKey that
                && MessageDigest.isEqual(value.getBytes(StandardCharsets.US_ASCII), that.value.getBytes(StandardCharsets.US_ASCII));
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

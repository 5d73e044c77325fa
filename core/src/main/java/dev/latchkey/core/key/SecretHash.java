package dev.latchkey.core.key;

import java.security.MessageDigest;
import java.util.HexFormat;

import static java.util.Objects.requireNonNull;

/**
 * The stored form of a key's secret: a 32-byte SHA-256 or HMAC-SHA256 digest. Equality is constant time;
 * {@link #toString()} never shows the digest (hashes stay out of logs and responses).
 */
public final class SecretHash
{
    public static final int LENGTH = 32;
    private static final HexFormat HEX = HexFormat.of();

    private final byte[] digest;

    private SecretHash(byte[] digest)
    {
        requireNonNull(digest, "digest is null");
        if (digest.length != LENGTH) {
            throw new IllegalArgumentException("a secret hash has " + LENGTH + " bytes");
        }
        this.digest = digest.clone();
    }

    public static SecretHash ofBytes(byte[] digest)
    {
        return new SecretHash(digest);
    }

    /**
     * Parses the lower-case hex form written by {@link #toHex()}.
     *
     * @throws IllegalArgumentException when the text is not 64 hex characters
     */
    public static SecretHash ofHex(String hex)
    {
        requireNonNull(hex, "hex is null");
        if (hex.length() != LENGTH * 2) {
            throw new IllegalArgumentException("a secret hash has " + LENGTH * 2 + " hex characters");
        }
        return new SecretHash(HEX.parseHex(hex));
    }

    /**
     * The form stored by adapters: 64 lower-case hex characters.
     */
    public String toHex()
    {
        return HEX.formatHex(digest);
    }

    public byte[] bytes()
    {
        return digest.clone();
    }

    /**
     * Constant-time comparison.
     */
    public boolean matches(SecretHash other)
    {
        return MessageDigest.isEqual(digest, other.digest);
    }

    @Override
    public boolean equals(Object other)
    {
        return other instanceof SecretHash that && matches(that);
    }

    @Override
    public int hashCode()
    {
        // not secret-dependent beyond what equals needs; a constant keeps hash-based collections correct
        return 1;
    }

    @Override
    public String toString()
    {
        return "SecretHash[redacted]";
    }
}

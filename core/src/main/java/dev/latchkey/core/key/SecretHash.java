package dev.latchkey.core.key;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.HexFormat;

import static java.util.Objects.requireNonNull;

/**
 * The stored form of a key's secret: a 32-byte SHA-256 or HMAC-SHA256 digest, held as four 64-bit words (no array:
 * one object, 48 bytes of heap). Comparisons are constant time; {@link #toString()} never shows the digest
 * (hashes stay out of logs and responses).
 */
public final class SecretHash
{
    public static final int LENGTH = 32;
    public static final int WORDS = LENGTH / Long.BYTES;
    private static final HexFormat HEX = HexFormat.of();
    private static final VarHandle BIG_ENDIAN_LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    private final long word0;
    private final long word1;
    private final long word2;
    private final long word3;

    private SecretHash(long word0, long word1, long word2, long word3)
    {
        this.word0 = word0;
        this.word1 = word1;
        this.word2 = word2;
        this.word3 = word3;
    }

    public static SecretHash ofBytes(byte[] digest)
    {
        requireNonNull(digest, "digest is null");
        if (digest.length != LENGTH) {
            throw new IllegalArgumentException("a secret hash has " + LENGTH + " bytes");
        }
        return new SecretHash(word(digest, 0), word(digest, 1), word(digest, 2), word(digest, 3));
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
        return ofBytes(HEX.parseHex(hex));
    }

    private static long word(byte[] digest, int index)
    {
        return (long) BIG_ENDIAN_LONGS.get(digest, index * Long.BYTES);
    }

    /**
     * The form stored by adapters: 64 lower-case hex characters.
     */
    public String toHex()
    {
        return HEX.formatHex(bytes());
    }

    public byte[] bytes()
    {
        byte[] digest = new byte[LENGTH];
        BIG_ENDIAN_LONGS.set(digest, 0, word0);
        BIG_ENDIAN_LONGS.set(digest, Long.BYTES, word1);
        BIG_ENDIAN_LONGS.set(digest, 2 * Long.BYTES, word2);
        BIG_ENDIAN_LONGS.set(digest, 3 * Long.BYTES, word3);
        return digest;
    }

    /**
     * One of the four 64-bit words of the digest (big-endian), for holders that store it inline to save an object,
     * and compare with {@link #matches(long, long, long, long)}.
     */
    public long word(int index)
    {
        return switch (index) {
            case 0 -> word0;
            case 1 -> word1;
            case 2 -> word2;
            case 3 -> word3;
            default -> throw new IndexOutOfBoundsException(index);
        };
    }

    /**
     * Constant-time comparison.
     */
    public boolean matches(SecretHash other)
    {
        return matches(other.word0, other.word1, other.word2, other.word3);
    }

    /**
     * Constant-time comparison with a digest given as its four words (see {@link #word(int)}).
     */
    public boolean matches(long otherWord0, long otherWord1, long otherWord2, long otherWord3)
    {
        // no early exit: every word is compared whatever the others hold
        return ((word0 ^ otherWord0) | (word1 ^ otherWord1) | (word2 ^ otherWord2) | (word3 ^ otherWord3)) == 0;
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

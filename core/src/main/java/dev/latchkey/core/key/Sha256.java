package dev.latchkey.core.key;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * SHA-256 on the hot path: one {@link MessageDigest} per thread instead of a provider lookup per call.
 */
public final class Sha256
{
    private static final ThreadLocal<MessageDigest> DIGESTS = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        }
        catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java platform", e);
        }
    });

    private Sha256() {}

    public static byte[] digest(byte[] input)
    {
        return DIGESTS.get().digest(input);
    }

    /**
     * The digest of {@code length} bytes of {@code input} from {@code offset}.
     */
    public static byte[] digest(byte[] input, int offset, int length)
    {
        MessageDigest digest = DIGESTS.get();
        digest.update(input, offset, length);
        return digest.digest();
    }
}

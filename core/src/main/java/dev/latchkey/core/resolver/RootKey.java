package dev.latchkey.core.resolver;

import dev.latchkey.core.key.Sha256;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

import static java.util.Objects.requireNonNull;

/**
 * The configured root key. Only its SHA-256 is kept; a presented key is compared by hashing it and comparing the
 * digests in constant time, so neither the contents nor the length of the root key leak through timing.
 */
public final class RootKey
{
    public static final int MIN_LENGTH = 32;

    private final byte[] digest;

    public RootKey(String rootKey)
    {
        requireNonNull(rootKey, "rootKey is null");
        if (rootKey.length() < MIN_LENGTH) {
            throw new IllegalArgumentException("the root key must be at least " + MIN_LENGTH + " characters");
        }
        this.digest = sha256(rootKey);
    }

    public boolean matches(String presented)
    {
        return MessageDigest.isEqual(digest, sha256(presented));
    }

    private static byte[] sha256(String text)
    {
        return Sha256.digest(text.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String toString()
    {
        return "RootKey[redacted]";
    }
}

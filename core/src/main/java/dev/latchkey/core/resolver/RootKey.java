package dev.latchkey.core.resolver;

import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.Sha256;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

import static java.util.Objects.requireNonNull;

/**
 * The configured root key. Only its SHA-256 is kept; a presented key is compared by hashing it and comparing the
 * digests in constant time, so neither the contents nor the length of the root key leak through timing.
 * <p>
 * A root key is rarely shaped like an account's API key ({@code lk_...} with a valid checksum); when it is not, a
 * presented key of that shape cannot be it, and {@link #mayBe} says so without hashing it (which cost verify 5 % of
 * its CPU). Whether a presented string has that shape is no secret: it is checked by its own checksum.
 */
public final class RootKey
{
    public static final int MIN_LENGTH = 32;

    private final byte[] digest;
    private final boolean shapedLikeApiKey;

    public RootKey(String rootKey)
    {
        requireNonNull(rootKey, "rootKey is null");
        if (rootKey.length() < MIN_LENGTH) {
            throw new IllegalArgumentException("the root key must be at least " + MIN_LENGTH + " characters");
        }
        this.digest = sha256(rootKey);
        this.shapedLikeApiKey = ApiKey.parse(rootKey).isPresent();
    }

    /**
     * Whether a presented string may be the root key, given whether it parsed as an API key: {@code false} only when
     * it did and the root key does not (then {@link #matches} need not be asked).
     */
    public boolean mayBe(boolean presentedIsApiKey)
    {
        return !presentedIsApiKey || shapedLikeApiKey;
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

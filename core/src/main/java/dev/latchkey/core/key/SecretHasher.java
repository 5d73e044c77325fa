package dev.latchkey.core.key;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Hashes key secrets for storage and checks presented secrets against stored hashes in constant time.
 * Without a pepper the hash is SHA-256 of the secret's ASCII bytes; with a pepper (a server secret, kept out of
 * the store) it is HMAC-SHA256 keyed by the pepper, so a stolen store alone does not allow an offline check of
 * guessed secrets. Changing the pepper invalidates every key. Thread safe.
 */
public final class SecretHasher
{
    private static final String HMAC = "HmacSHA256";

    private final Optional<ThreadLocal<Mac>> macs;

    private SecretHasher(Optional<SecretKeySpec> pepper)
    {
        requireNonNull(pepper, "pepper is null");
        this.macs = pepper.map(key -> ThreadLocal.withInitial(() -> newMac(key)));
    }

    public static SecretHasher sha256()
    {
        return new SecretHasher(Optional.empty());
    }

    /**
     * HMAC-SHA-256 of the secret with a server secret (the pepper) as its key.
     *
     * @param pepper the server secret; must not be empty
     */
    public static SecretHasher hmacSha256(String pepper)
    {
        requireNonNull(pepper, "pepper is null");
        if (pepper.isEmpty()) {
            throw new IllegalArgumentException("pepper is empty");
        }
        return new SecretHasher(Optional.of(new SecretKeySpec(pepper.getBytes(StandardCharsets.UTF_8), HMAC)));
    }

    public SecretHash hash(String secret)
    {
        byte[] input = secret.getBytes(StandardCharsets.US_ASCII);
        return hash(input, 0, input.length);
    }

    /**
     * The hash of a key's secret, read in place from the key (no copy of the secret is made).
     */
    public SecretHash hash(ApiKey key)
    {
        return hash(key.ascii(), ApiKey.SECRET_START, ApiKey.SECRET_LENGTH);
    }

    private SecretHash hash(byte[] input, int offset, int length)
    {
        if (macs.isPresent()) {
            Mac mac = macs.get().get();
            mac.update(input, offset, length);
            return SecretHash.ofBytes(mac.doFinal());
        }
        return SecretHash.ofBytes(Sha256.digest(input, offset, length));
    }

    private static Mac newMac(SecretKeySpec key)
    {
        try {
            Mac mac = Mac.getInstance(HMAC);
            mac.init(key);
            return mac;
        }
        catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is required of every Java platform", e);
        }
    }

    /**
     * Whether the key's secret hashes to the stored hash. Constant time in the secret and the hash.
     */
    public boolean matches(ApiKey key, SecretHash stored)
    {
        return hash(key).matches(stored);
    }
}

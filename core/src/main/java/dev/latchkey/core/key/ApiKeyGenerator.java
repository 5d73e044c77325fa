package dev.latchkey.core.key;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.LatchkeyException;
import org.jspecify.annotations.Nullable;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Makes new API keys, at random or derived from a seed, exactly as the HTTP contract specifies.
 * Both read a stream of bytes: a byte {@code b < 248} yields {@code ALPHABET[b % 62]}, a byte {@code b >= 248} is
 * skipped (so there is no modulo bias); the first 16 characters are the key id, the next 32 the secret.
 * Thread safe.
 */
public final class ApiKeyGenerator
{
    public static final int MIN_SEED_LENGTH = 16;
    public static final String SEED_FIELD = "seed";
    private static final int CHARACTERS = KeyId.LENGTH + ApiKey.SECRET_LENGTH;
    private static final int UNBIASED_LIMIT = 248;
    private static final String HMAC = "HmacSHA256";

    private final SecureRandom random;

    public ApiKeyGenerator(SecureRandom random)
    {
        this.random = requireNonNull(random, "random is null");
    }

    /**
     * A new key from the CSPRNG.
     */
    public ApiKey random()
    {
        StringBuilder characters = new StringBuilder(CHARACTERS);
        byte[] bytes = new byte[CHARACTERS + 8];
        while (characters.length() < CHARACTERS) {
            random.nextBytes(bytes);
            append(characters, bytes);
        }
        return toKey(characters);
    }

    /**
     * A random key, or the key derived from the seed when one is given.
     */
    public ApiKey randomOrSeeded(Optional<String> seed, AccountId accountId, UserId userId)
    {
        requireNonNull(seed, "seed is null");
        return seed.isPresent() ? seeded(seed.get(), accountId, userId) : random();
    }

    /**
     * The key derived from a seed: {@code material = HMAC-SHA256(key = seed, message = account || 0x00 || user)},
     * then the byte stream {@code HMAC-SHA256(key = material, message = 4-byte big-endian i)} for i = 0, 1, ...
     *
     * @throws LatchkeyException INVALID_ARGUMENT (field {@code seed}) when the seed is shorter than 16 characters
     */
    public static ApiKey seeded(String seed, AccountId accountId, UserId userId)
    {
        checkSeed(seed);
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        ByteArrayOutputStream message = new ByteArrayOutputStream();
        message.writeBytes(accountId.value().getBytes(StandardCharsets.UTF_8));
        message.write(0);
        message.writeBytes(userId.value().getBytes(StandardCharsets.UTF_8));
        byte[] material = hmac(seed.getBytes(StandardCharsets.UTF_8), message.toByteArray());

        StringBuilder characters = new StringBuilder(CHARACTERS);
        for (int block = 0; characters.length() < CHARACTERS; block++) {
            append(characters, hmac(material, ByteBuffer.allocate(4).putInt(block).array()));
        }
        return toKey(characters);
    }

    /**
     * Checks a seed given for a deterministic key.
     *
     * @throws LatchkeyException INVALID_ARGUMENT (field {@code seed}) when the seed is shorter than 16 characters
     */
    public static void checkSeed(@Nullable String seed)
    {
        if (seed == null || seed.length() < MIN_SEED_LENGTH) {
            throw LatchkeyException.invalidField(SEED_FIELD, "seed must be at least " + MIN_SEED_LENGTH + " characters");
        }
    }

    private static void append(StringBuilder characters, byte[] bytes)
    {
        for (byte b : bytes) {
            int value = b & 0xFF;
            if (value < UNBIASED_LIMIT && characters.length() < CHARACTERS) {
                characters.append(Base62.ALPHABET.charAt(value % 62));
            }
        }
    }

    private static ApiKey toKey(CharSequence characters)
    {
        String text = characters.toString();
        return ApiKey.of(KeyId.of(text.substring(0, KeyId.LENGTH)), text.substring(KeyId.LENGTH));
    }

    private static byte[] hmac(byte[] key, byte[] message)
    {
        try {
            Mac mac = Mac.getInstance(HMAC);
            mac.init(new SecretKeySpec(key, HMAC));
            return mac.doFinal(message);
        }
        catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is required of every Java platform", e);
        }
    }
}

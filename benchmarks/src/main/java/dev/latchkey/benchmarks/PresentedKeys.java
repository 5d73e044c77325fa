package dev.latchkey.benchmarks;

import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.Base62;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import java.util.zip.CRC32;

/**
 * A million distinct keys in Latchkey's format, each computed from its index when it is presented: a request's key
 * is in the CPU's cache (it was just read off the network), whereas reading one of a million stored keys at random
 * costs the benchmark a memory miss (about 340 ns on the machine of docs/performance.md) that the resolver does not
 * have. Key ids are distinct and spread like random ones; secrets are random and repeat every
 * {@value #SECRETS} keys (hashing costs the same whatever the secret).
 */
final class PresentedKeys
{
    private static final int SECRETS = 1024;
    private static final int KEY_ID_START = ApiKey.PREFIX.length();
    private static final int HALF_KEY_ID = 8;
    private static final int SECRET_START = KEY_ID_START + 2 * HALF_KEY_ID + 1;
    private static final int SECRET_LENGTH = 32;
    private static final int CHECKED = SECRET_START + SECRET_LENGTH;
    /** 62^8: a key id half is 8 base62 digits. */
    private static final long HALF_KEY_ID_RANGE = 218_340_105_584_896L;
    private static final byte[] ALPHABET = Base62.ALPHABET.getBytes(StandardCharsets.US_ASCII);

    private final byte[][] secrets = new byte[SECRETS][SECRET_LENGTH];

    PresentedKeys(long seed)
    {
        SplittableRandom random = new SplittableRandom(seed);
        for (byte[] secret : secrets) {
            for (int i = 0; i < secret.length; i++) {
                secret[i] = ALPHABET[random.nextInt(ALPHABET.length)];
            }
        }
    }

    /**
     * The key of the given index, always the same text for the same index.
     */
    String presented(int index)
    {
        byte[] key = new byte[ApiKey.LENGTH];
        key[0] = 'l';
        key[1] = 'k';
        key[2] = '_';
        writeDigits(key, KEY_ID_START, HALF_KEY_ID, Long.remainderUnsigned(mix(index), HALF_KEY_ID_RANGE));
        writeDigits(key, KEY_ID_START + HALF_KEY_ID, HALF_KEY_ID, Long.remainderUnsigned(mix(~index), HALF_KEY_ID_RANGE));
        key[SECRET_START - 1] = '_';
        System.arraycopy(secrets[index & (SECRETS - 1)], 0, key, SECRET_START, SECRET_LENGTH);
        CRC32 crc = new CRC32();
        crc.update(key, 0, CHECKED);
        writeDigits(key, CHECKED, ApiKey.LENGTH - CHECKED, crc.getValue());
        return new String(key, StandardCharsets.ISO_8859_1);
    }

    private static void writeDigits(byte[] into, int offset, int width, long value)
    {
        long rest = value;
        for (int i = offset + width - 1; i >= offset; i--) {
            into[i] = ALPHABET[(int) (rest % 62)];
            rest /= 62;
        }
    }

    /**
     * SplitMix64's finalizer: distinct inputs give distinct, well-spread outputs.
     */
    static long mix(long value)
    {
        long z = value * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}

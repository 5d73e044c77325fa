package dev.latchkey.core.key;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.UserId;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.stream.IntStream;

import static dev.latchkey.core.testing.ErrorAssertions.assertInvalidField;
import static java.util.stream.Collectors.toSet;
import static org.assertj.core.api.Assertions.assertThat;

public class TestApiKeyGenerator
{
    // the seeded test vector of the HTTP contract
    private static final String SEED = "correct-horse-battery-staple";
    private static final AccountId ACME = AccountId.of("acme");
    private static final UserId ALICE = UserId.of("alice");
    private static final String SEEDED_KEY = "lk_MThk9gHgoLMhupCD_x11OoPcpmUHSmK2sh1mj0lNRYaJFlXPc331DOl";

    private static final int RANDOM_CHARACTERS = 48;

    private final ApiKeyGenerator generator = new ApiKeyGenerator(new SecureRandom());

    @Test
    public void testSeededSpecVector()
    {
        ApiKey key = ApiKeyGenerator.seeded(SEED, ACME, ALICE);
        assertThat(key.value()).isEqualTo(SEEDED_KEY);
        assertThat(ApiKey.parse(SEEDED_KEY)).contains(key);
    }

    @Test
    public void testRandomKeysHaveTheFormat()
    {
        for (int i = 0; i < 1000; i++) {
            ApiKey key = generator.random();
            assertThat(key.value()).hasSize(ApiKey.LENGTH).startsWith("lk_" + key.keyId().value() + "_" + key.secret());
            assertThat(key.secret()).hasSize(32);
            assertThat(randomCharacters(key)).hasSize(RANDOM_CHARACTERS).matches("[0-9A-Za-z]+");
            assertThat(ApiKey.parse(key.value())).hasValueSatisfying(parsed -> {
                assertThat(parsed).isEqualTo(key);
                assertThat(parsed.value()).isEqualTo(key.value());
                assertThat(parsed.keyId()).isEqualTo(key.keyId());
                assertThat(parsed.secret()).isEqualTo(key.secret());
            });
        }
    }

    @Test
    public void testRandomKeysAreDistinct()
    {
        int draws = 20_000;
        Set<String> keys = new HashSet<>();
        Set<String> keyIds = new HashSet<>();
        Set<String> secrets = new HashSet<>();
        for (int i = 0; i < draws; i++) {
            ApiKey key = generator.random();
            keys.add(key.value());
            keyIds.add(key.keyId().value());
            secrets.add(key.secret());
        }
        assertThat(keys).hasSize(draws);
        assertThat(keyIds).hasSize(draws);
        assertThat(secrets).hasSize(draws);
    }

    @Test
    public void testRandomCharactersSpreadOverTheWholeAlphabet()
    {
        int draws = 10_000;
        int[] counts = new int[62];
        int[] firstCharacters = new int[62];
        for (int i = 0; i < draws; i++) {
            ApiKey key = generator.random();
            for (char c : randomCharacters(key).toCharArray()) {
                counts[Base62.digit(c)]++;
            }
            firstCharacters[Base62.digit(key.keyId().value().charAt(0))]++;
        }
        // 480,000 characters: about 7,742 of each, with a standard deviation near 87 (1.1%). A bound of +-10%
        // is almost 9 standard deviations wide, so a correct generator never fails it; modulo bias (keeping bytes
        // 248 to 255 would give the first 8 characters 21% more) or a generator that skips part of the alphabet
        // falls outside it.
        double expected = (double) draws * RANDOM_CHARACTERS / 62;
        for (int digit = 0; digit < 62; digit++) {
            assertThat((double) counts[digit])
                    .as("occurrences of '%s'", Base62.ALPHABET.charAt(digit))
                    .isBetween(expected * 0.9, expected * 1.1);
        }
        // each position varies over the whole alphabet too: the first character takes every value (about 160 times)
        assertThat(firstCharacters).doesNotContain(0);
    }

    @Test
    public void testRandomReadsBytesAsTheContractSays()
    {
        // bytes 240..247 give the last 8 characters (b % 62 = 54..61), 248..255 are skipped, then 0..39
        ApiKey key = new ApiKeyGenerator(new CountingRandom(240)).random();
        assertThat(randomCharacters(key)).isEqualTo(Base62.ALPHABET.substring(54) + Base62.ALPHABET.substring(0, 40));
        // b % 62 wraps: bytes 100..147 give characters 38..61 then 0..23
        ApiKey wrapped = new ApiKeyGenerator(new CountingRandom(100)).random();
        assertThat(randomCharacters(wrapped)).isEqualTo(Base62.ALPHABET.substring(38) + Base62.ALPHABET.substring(0, 24));
    }

    @Test
    public void testRandomSkipsAsManyBytesAsNeeded()
    {
        // only every 32nd byte is usable: the generator must keep reading
        ApiKey key = new ApiKeyGenerator(new SkewedRandom()).random();
        assertThat(randomCharacters(key)).isEqualTo("0".repeat(RANDOM_CHARACTERS));
        assertThat(ApiKey.parse(key.value())).contains(key);
    }

    @Test
    public void testSeededIsDeterministic()
    {
        assertThat(ApiKeyGenerator.seeded(SEED, ACME, ALICE)).isEqualTo(ApiKeyGenerator.seeded(SEED, ACME, ALICE));
        assertThat(new ApiKeyGenerator(new SecureRandom()).randomOrSeeded(Optional.of(SEED), ACME, ALICE).value())
                .isEqualTo(SEEDED_KEY);
    }

    @Test
    public void testSeededDiffers()
    {
        Set<String> keys = Set.of(
                seeded(SEED, "acme", "alice"),
                seeded(SEED, "acme2", "alice"),
                seeded(SEED, "Acme", "alice"),
                seeded(SEED, "acme", "bob"),
                seeded(SEED, "acme", "Alice"),
                seeded(SEED + "!", "acme", "alice"),
                seeded("correct-horse-battery-stapler", "acme", "alice"),
                seeded("Correct-horse-battery-staple", "acme", "alice"));
        assertThat(keys).hasSize(8);
        assertThat(keys).allSatisfy(key -> assertThat(ApiKey.parse(key)).isPresent());
    }

    @Test
    public void testSeededSeparatesAccountFromUser()
    {
        assertThat(seeded(SEED, "ab", "c")).isNotEqualTo(seeded(SEED, "a", "bc"));
        assertThat(seeded(SEED, "a.b", "c")).isNotEqualTo(seeded(SEED, "a", "b.c"));
    }

    @Test
    public void testSeededKeyIdsDiffer()
    {
        // a seeded key id must not depend on the account alone: users of one account get distinct key ids
        Set<String> keyIds = IntStream.range(0, 1000)
                .mapToObj(i -> ApiKeyGenerator.seeded(SEED, ACME, UserId.of("user" + i)).keyId().value())
                .collect(toSet());
        assertThat(keyIds).hasSize(1000);
    }

    @Test
    public void testSeedLength()
    {
        String sixteen = "0123456789abcdef";
        assertThat(ApiKeyGenerator.seeded(sixteen, ACME, ALICE).value()).hasSize(ApiKey.LENGTH);
        assertShortSeed(sixteen.substring(1));
        assertShortSeed("");
        assertShortSeed("short");
        assertShortSeed(null);
        assertInvalidField(() -> generator.randomOrSeeded(Optional.of("fifteen-chars!!"), ACME, ALICE), ApiKeyGenerator.SEED_FIELD);
        ApiKeyGenerator.checkSeed(sixteen);
    }

    @Test
    public void testRandomOrSeededWithoutSeedIsRandom()
    {
        ApiKey first = generator.randomOrSeeded(Optional.empty(), ACME, ALICE);
        ApiKey second = generator.randomOrSeeded(Optional.empty(), ACME, ALICE);
        assertThat(first).isNotEqualTo(second);
        assertThat(first.value()).isNotEqualTo(SEEDED_KEY);
    }

    private static void assertShortSeed(String seed)
    {
        assertInvalidField(() -> ApiKeyGenerator.seeded(seed, ACME, ALICE), "seed");
        assertInvalidField(() -> ApiKeyGenerator.checkSeed(seed), "seed");
    }

    private static String seeded(String seed, String account, String user)
    {
        return ApiKeyGenerator.seeded(seed, AccountId.of(account), UserId.of(user)).value();
    }

    /**
     * The 48 characters that the generator drew: the key id then the secret.
     */
    private static String randomCharacters(ApiKey key)
    {
        return key.keyId().value() + key.secret();
    }

    /**
     * A byte stream counting up from a start value, modulo 256.
     */
    private static final class CountingRandom
            extends SecureRandom
    {
        private int next;

        CountingRandom(int start)
        {
            this.next = start;
        }

        @Override
        public synchronized void nextBytes(byte[] bytes)
        {
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = (byte) next;
                next = (next + 1) % 256;
            }
        }
    }

    /**
     * A byte stream of 31 unusable bytes (255) then one zero, repeated.
     */
    private static final class SkewedRandom
            extends SecureRandom
    {
        private long position;

        @Override
        public synchronized void nextBytes(byte[] bytes)
        {
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = (byte) (position++ % 32 == 31 ? 0 : 255);
            }
        }
    }
}

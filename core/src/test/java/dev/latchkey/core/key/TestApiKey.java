package dev.latchkey.core.key;

import dev.latchkey.core.domain.KeyId;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.zip.CRC32;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

public class TestApiKey
{
    // the test vector of the HTTP contract
    private static final String KEY_ID = "0123456789ABCDEF";
    private static final String SECRET = "abcdefghijklmnopqrstuvwxyz012345";
    private static final String CHECKED = "lk_" + KEY_ID + "_" + SECRET;
    private static final long CHECKED_CRC32 = 1033909134L;
    private static final String CHECK = "17yAzm";
    private static final String KEY = "lk_0123456789ABCDEF_abcdefghijklmnopqrstuvwxyz01234517yAzm";

    private static final int KEY_ID_START = 3;
    private static final int SEPARATOR = 19;
    private static final int SECRET_START = 20;
    private static final int CHECK_START = 52;

    @Test
    public void testSpecVectorChecksum()
    {
        CRC32 crc = new CRC32();
        crc.update(CHECKED.getBytes(StandardCharsets.US_ASCII));
        assertThat(crc.getValue()).isEqualTo(CHECKED_CRC32);
        assertThat(ApiKey.checkOf(CHECKED)).isEqualTo(CHECK);
        assertThat(CHECKED + CHECK).isEqualTo(KEY);
    }

    @Test
    public void testSpecVectorBuilds()
    {
        ApiKey key = ApiKey.of(KeyId.of(KEY_ID), SECRET);
        assertThat(key.value()).isEqualTo(KEY).hasSize(ApiKey.LENGTH);
        assertThat(key.keyId()).isEqualTo(KeyId.of(KEY_ID));
        assertThat(key.secret()).isEqualTo(SECRET);
    }

    @Test
    public void testSpecVectorParses()
    {
        assertThat(ApiKey.parse(KEY)).hasValueSatisfying(key -> {
            assertThat(key.value()).isEqualTo(KEY);
            assertThat(key.keyId()).isEqualTo(KeyId.of(KEY_ID));
            assertThat(key.secret()).isEqualTo(SECRET);
            assertThat(key).isEqualTo(ApiKey.of(KeyId.of(KEY_ID), SECRET));
        });
        assertThat(ApiKey.parse(new StringBuilder(KEY))).contains(ApiKey.of(KeyId.of(KEY_ID), SECRET));
    }

    @Test
    public void testRejectsNullAndWrongLength()
    {
        assertRejected(null);
        assertRejected("");
        assertRejected(KEY.substring(0, ApiKey.LENGTH - 1));
        assertRejected(KEY + "0");
        assertRejected(" " + KEY);
        assertRejected(KEY + "\n");
        assertRejected(KEY + KEY);
        // a shorter or longer shape with a valid check of its own
        assertRejected(withCheck("lk_" + KEY_ID + "_" + SECRET.substring(1)));
        assertRejected(withCheck("lk_" + KEY_ID + "_" + SECRET + "0"));
        assertRejected(withCheck("lk_" + KEY_ID + "0_" + SECRET.substring(1)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"LK_", "Lk_", "lK_", "lx_", "kl_", "lk-", "lk0", "ak_", "00_"})
    public void testRejectsWrongPrefix(String prefix)
    {
        assertRejected(withCheck(prefix + KEY_ID + "_" + SECRET));
    }

    @Test
    public void testRejectsMissingOrMisplacedSeparator()
    {
        // no separator: the 52 checked characters are then all base62
        assertRejected(withCheck("lk_" + KEY_ID + "0" + SECRET));
        // separator one place early (15-character key id, 33-character secret) or late (17 and 31)
        assertRejected(withCheck("lk_" + KEY_ID.substring(1) + "_0" + SECRET));
        assertRejected(withCheck("lk_" + KEY_ID + "0_" + SECRET.substring(1)));
        // separator doubled, or in the secret
        assertRejected(withCheck("lk_" + KEY_ID + "__" + SECRET.substring(1)));
        assertRejected(withCheck("lk_" + KEY_ID + "_" + SECRET.substring(0, 10) + "_" + SECRET.substring(11)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"-", "+", "/", "=", " ", ".", "@", "_", "é", "\0", "\u0661"})
    public void testRejectsNonBase62Characters(String character)
    {
        for (int position = KEY_ID_START; position < CHECK_START; position++) {
            if (position != SEPARATOR) {
                // a valid check for the changed text, so that only the alphabet rule can reject it
                assertRejected(withCheck(replace(CHECKED, position, character)));
            }
        }
        for (int position = CHECK_START; position < ApiKey.LENGTH; position++) {
            assertRejected(replace(KEY, position, character));
        }
    }

    @Test
    public void testRejectsWrongCheck()
    {
        assertRejected(CHECKED + "17yAzn");
        assertRejected(CHECKED + "000000");
        assertRejected(CHECKED + "zzzzzz");
        assertRejected(CHECKED + "17yazm");
        // the check of another key
        assertRejected(CHECKED + ApiKey.checkOf("lk_" + KEY_ID + "_" + SECRET.toUpperCase()));
    }

    @Test
    public void testCheckCatchesEverySingleCharacterChange()
    {
        String candidates = Base62.ALPHABET + "_";
        int changes = 0;
        for (int position = 0; position < ApiKey.LENGTH; position++) {
            for (char replacement : candidates.toCharArray()) {
                if (KEY.charAt(position) != replacement) {
                    assertRejected(replace(KEY, position, String.valueOf(replacement)));
                    changes++;
                }
            }
        }
        assertThat(changes).isEqualTo(ApiKey.LENGTH * 62);
    }

    @Test
    public void testCheckCatchesSingleCharacterChangesOfRandomKeys()
    {
        ApiKeyGenerator generator = new ApiKeyGenerator(new SecureRandom());
        for (int i = 0; i < 20; i++) {
            String key = generator.random().value();
            for (int position = KEY_ID_START; position < ApiKey.LENGTH; position++) {
                if (position != SEPARATOR) {
                    char original = key.charAt(position);
                    char replacement = Base62.ALPHABET.charAt((Base62.digit(original) + 1 + i) % 62);
                    assertRejected(replace(key, position, String.valueOf(replacement)));
                }
            }
        }
    }

    @Test
    public void testToStringHidesSecret()
    {
        ApiKey key = ApiKey.parse(KEY).orElseThrow();
        assertThat(key.toString())
                .startsWith("lk_" + KEY_ID)
                .doesNotContain(SECRET)
                .doesNotContain(SECRET.substring(0, 8))
                .doesNotContain(CHECK);
    }

    @Test
    public void testEquality()
    {
        ApiKey key = ApiKey.of(KeyId.of(KEY_ID), SECRET);
        ApiKey otherSecret = ApiKey.of(KeyId.of(KEY_ID), SECRET.toUpperCase());
        assertThat(key).isEqualTo(ApiKey.parse(KEY).orElseThrow());
        assertThat(key).hasSameHashCodeAs(ApiKey.parse(KEY).orElseThrow());
        assertThat(key).isNotEqualTo(otherSecret);
        assertThat(key).isNotEqualTo(ApiKey.of(KeyId.of("FEDCBA9876543210"), SECRET));
        assertThat(key).isNotEqualTo(KEY);
    }

    @Test
    public void testOfRejectsBadSecret()
    {
        KeyId keyId = KeyId.of(KEY_ID);
        assertThatThrownBy(() -> ApiKey.of(keyId, SECRET.substring(1))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ApiKey.of(keyId, SECRET + "0")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ApiKey.of(keyId, replace(SECRET, 5, "_"))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ApiKey.of(keyId, null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> ApiKey.of(null, SECRET)).isInstanceOf(NullPointerException.class);
    }

    private static void assertRejected(String presented)
    {
        assertThat(ApiKey.parse(presented)).as("parse(\"%s\")", presented).isEmpty();
    }

    /**
     * The text followed by its correct check characters, so that a test can break the shape alone.
     */
    private static String withCheck(String checked)
    {
        CRC32 crc = new CRC32();
        crc.update(checked.getBytes(StandardCharsets.UTF_8));
        return checked + Base62.encode(crc.getValue(), 6);
    }

    private static String replace(String text, int position, String replacement)
    {
        return text.substring(0, position) + replacement + text.substring(position + 1);
    }
}

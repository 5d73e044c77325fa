package dev.latchkey.core.key;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

public class TestBase62
{
    private static final long SIX_DIGITS = 62L * 62 * 62 * 62 * 62 * 62;

    @Test
    public void testAlphabet()
    {
        assertThat(Base62.ALPHABET).isEqualTo("0123456789" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "abcdefghijklmnopqrstuvwxyz");
        assertThat(Base62.ALPHABET.chars().distinct().count()).isEqualTo(62);
    }

    @Test
    public void testDigitIsPositionInAlphabet()
    {
        for (char c = 0; c < 0x250; c++) {
            assertThat(Base62.digit(c)).as("digit of U+%04X", (int) c).isEqualTo(Base62.ALPHABET.indexOf(c));
        }
    }

    @Test
    public void testIsBase62()
    {
        assertThat(Base62.isBase62(Base62.ALPHABET)).isTrue();
        assertThat(Base62.isBase62("0123456789ABCDEF")).isTrue();
        for (String text : new String[] {"_", "-", "+", "/", "=", " ", ".", "é", "\0", "abc_def", "abc def", "ＡＢＣ"}) {
            assertThat(Base62.isBase62(text)).as("isBase62(\"%s\")", text).isFalse();
        }
    }

    @Test
    public void testSpecCheckVector()
    {
        assertThat(Base62.encode(1033909134L, 6)).isEqualTo("17yAzm");
    }

    @Test
    public void testMostSignificantDigitFirst()
    {
        assertThat(Base62.encode(1, 2)).isEqualTo("01");
        assertThat(Base62.encode(61, 2)).isEqualTo("0z");
        assertThat(Base62.encode(62, 2)).isEqualTo("10");
        assertThat(Base62.encode(62 * 10 + 36, 2)).isEqualTo("Aa");
    }

    @Test
    public void testLeftPaddedWithZero()
    {
        assertThat(Base62.encode(0, 6)).isEqualTo("000000");
        assertThat(Base62.encode(1, 6)).isEqualTo("000001");
        assertThat(Base62.encode(61, 6)).isEqualTo("00000z");
        assertThat(Base62.encode(62, 6)).isEqualTo("000010");
        assertThat(Base62.encode(0, 1)).isEqualTo("0");
    }

    @Test
    public void testLargestValues()
    {
        assertThat(Base62.encode(SIX_DIGITS - 1, 6)).isEqualTo("zzzzzz");
        assertThat(Base62.encode(61, 1)).isEqualTo("z");
        // every unsigned CRC32 fits in the 6 check characters
        assertThat(decode(Base62.encode(0xFFFF_FFFFL, 6))).isEqualTo(0xFFFF_FFFFL);
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 1, 61, 62, 3843, 3844, 1033909134L, 0xFFFF_FFFFL, SIX_DIGITS - 1})
    public void testRoundTrip(long value)
    {
        assertThat(decode(Base62.encode(value, 6))).isEqualTo(value);
    }

    @Test
    public void testOverflow()
    {
        assertOverflow(62, 1);
        assertOverflow(62 * 62, 2);
        assertOverflow(SIX_DIGITS, 6);
        assertOverflow(Long.MAX_VALUE, 6);
        assertOverflow(1, 0);
    }

    @Test
    public void testNegative()
    {
        assertThatThrownBy(() -> Base62.encode(-1, 6))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("negative");
        assertThatThrownBy(() -> Base62.encode(Long.MIN_VALUE, 6))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 1, 61, 62, 3843, 3844, 1033909134L, 0xFFFF_FFFFL, SIX_DIGITS - 1})
    public void testDecodeAgreesWithTheReferenceDecoding(long value)
    {
        String digits = Base62.encode(value, 6);
        assertThat(Base62.decode(digits, 0, 6)).isEqualTo(decode(digits)).isEqualTo(value);
        assertThat(Base62.decode("lk_" + digits + "_", 3, 9)).isEqualTo(value);
    }

    @Test
    public void testDecodeLimits()
    {
        assertThat(Base62.decode("zzzzzzzzzz", 0, Base62.MAX_DECODE_DIGITS)).isEqualTo(decode("zzzzzzzzzz")).isPositive();
        assertThat(Base62.decode("", 0, 0)).isZero();
        assertThatThrownBy(() -> Base62.decode("zzzzzzzzzzz", 0, 11)).isInstanceOf(IllegalArgumentException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"00_0", "00-0", "00 0", "00é0", "00\u00ff0", "00\u01000"})
    public void testDecodeRejectsNonDigits(String text)
    {
        assertThat(Base62.decode(text, 0, text.length())).isEqualTo(-1);
        assertThat(Base62.isBase62(text, 0, text.length())).isFalse();
        assertThat(Base62.isBase62(text, 0, 2)).isTrue();
    }

    private static void assertOverflow(long value, int width)
    {
        assertThatThrownBy(() -> Base62.encode(value, width))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("does not fit");
    }

    private static long decode(String digits)
    {
        long value = 0;
        for (char c : digits.toCharArray()) {
            value = value * 62 + Base62.ALPHABET.indexOf(c);
        }
        return value;
    }
}

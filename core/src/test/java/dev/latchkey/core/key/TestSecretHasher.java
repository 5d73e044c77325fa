package dev.latchkey.core.key;

import dev.latchkey.core.domain.KeyId;
import org.junit.jupiter.api.Test;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

public class TestSecretHasher
{
    private static final String SECRET = "abcdefghijklmnopqrstuvwxyz012345";
    // SHA-256 of the 32 ASCII bytes of SECRET
    private static final String SECRET_SHA256 = "653bb1245e828fcda4fa53fcd5a3def5bd7654e651f54b4132b73d74e64435c4";
    private static final ApiKey KEY = ApiKey.of(KeyId.of("0123456789ABCDEF"), SECRET);
    private static final ApiKey OTHER_KEY = ApiKey.of(KeyId.of("0123456789ABCDEF"), SECRET.toUpperCase());
    private static final String PEPPER = "pepper-one";
    // HMAC-SHA256 of SECRET keyed by PEPPER (openssl dgst -sha256 -hmac pepper-one)
    private static final String SECRET_HMAC_SHA256 = "516f19da298a92b620363405211494bd28257b8a03bb0671f4d977da367b6ab9";

    @Test
    public void testSha256()
    {
        SecretHash hash = SecretHasher.sha256().hash(SECRET);
        assertThat(hash.toHex()).isEqualTo(SECRET_SHA256);
        assertThat(hash.bytes()).isEqualTo(sha256(SECRET));
    }

    @Test
    public void testHmacSha256WithPepper()
    {
        SecretHash hash = SecretHasher.hmacSha256(PEPPER).hash(SECRET);
        assertThat(hash.bytes()).isEqualTo(hmacSha256(PEPPER, SECRET));
        assertThat(hash.toHex()).isEqualTo(SECRET_HMAC_SHA256);
        assertThat(hash).isNotEqualTo(SecretHasher.sha256().hash(SECRET));
    }

    @Test
    public void testPepperIsUtf8()
    {
        String pepper = "poivre-épicé-🌶";
        assertThat(SecretHasher.hmacSha256(pepper).hash(SECRET).bytes()).isEqualTo(hmacSha256(pepper, SECRET));
    }

    @Test
    public void testMatches()
    {
        assertMatching(SecretHasher.sha256());
        assertMatching(SecretHasher.hmacSha256(PEPPER));
    }

    @Test
    public void testDifferentPepperDoesNotMatch()
    {
        SecretHash stored = SecretHasher.hmacSha256(PEPPER).hash(KEY.secret());
        assertThat(SecretHasher.hmacSha256(PEPPER).matches(KEY, stored)).isTrue();
        assertThat(SecretHasher.hmacSha256("pepper-two").matches(KEY, stored)).isFalse();
        assertThat(SecretHasher.hmacSha256(PEPPER + " ").matches(KEY, stored)).isFalse();
        assertThat(SecretHasher.sha256().matches(KEY, stored)).isFalse();
        assertThat(SecretHasher.hmacSha256(PEPPER).matches(KEY, SecretHasher.sha256().hash(KEY.secret()))).isFalse();
    }

    @Test
    public void testHashesOnlyTheSecret()
    {
        // the stored hash is of the secret: the same secret under another key id hashes the same
        ApiKey sameSecret = ApiKey.of(KeyId.of("FEDCBA9876543210"), SECRET);
        assertThat(SecretHasher.sha256().matches(sameSecret, SecretHasher.sha256().hash(SECRET))).isTrue();
    }

    @Test
    public void testHashOfKeyIsHashOfItsSecret()
    {
        assertThat(SecretHasher.sha256().hash(KEY)).isEqualTo(SecretHash.ofHex(SECRET_SHA256));
        assertThat(SecretHasher.hmacSha256(PEPPER).hash(KEY)).isEqualTo(SecretHash.ofHex(SECRET_HMAC_SHA256));
        ApiKey parsed = ApiKey.parse(KEY.value()).orElseThrow();
        assertThat(SecretHasher.sha256().hash(parsed)).isEqualTo(SecretHash.ofHex(SECRET_SHA256));
        assertThat(SecretHasher.sha256().hash(OTHER_KEY)).isNotEqualTo(SecretHash.ofHex(SECRET_SHA256));
    }

    @Test
    public void testSecretHashWords()
    {
        SecretHash hash = SecretHash.ofHex(SECRET_SHA256);
        assertThat(hash.word(0)).isEqualTo(Long.parseUnsignedLong(SECRET_SHA256.substring(0, 16), 16));
        assertThat(hash.word(3)).isEqualTo(Long.parseUnsignedLong(SECRET_SHA256.substring(48), 16));
        assertThat(hash.matches(hash.word(0), hash.word(1), hash.word(2), hash.word(3))).isTrue();
        // one bit off in any word is a mismatch
        for (int word = 0; word < SecretHash.WORDS; word++) {
            long[] words = {hash.word(0), hash.word(1), hash.word(2), hash.word(3)};
            words[word] ^= 1L << 63;
            assertThat(hash.matches(words[0], words[1], words[2], words[3])).as("word %d", word).isFalse();
        }
        assertThatThrownBy(() -> hash.word(4)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    public void testEmptyPepperRejected()
    {
        assertThatThrownBy(() -> SecretHasher.hmacSha256("")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SecretHasher.hmacSha256(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    public void testSecretHashHexRoundTrip()
    {
        SecretHash hash = SecretHasher.sha256().hash(SECRET);
        assertThat(hash.toHex()).hasSize(64).matches("[0-9a-f]+");
        SecretHash parsed = SecretHash.ofHex(hash.toHex());
        assertThat(parsed).isEqualTo(hash).hasSameHashCodeAs(hash);
        assertThat(parsed.matches(hash)).isTrue();
        assertThat(parsed.bytes()).isEqualTo(hash.bytes());
        assertThat(SecretHash.ofBytes(hash.bytes())).isEqualTo(hash);
        assertThat(parsed).isNotEqualTo(SecretHasher.sha256().hash(OTHER_KEY.secret()));
    }

    @Test
    public void testSecretHashRejectsMalformed()
    {
        assertThatThrownBy(() -> SecretHash.ofHex(SECRET_SHA256.substring(2))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SecretHash.ofHex(SECRET_SHA256 + "00")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SecretHash.ofHex("zz" + SECRET_SHA256.substring(2))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SecretHash.ofHex(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> SecretHash.ofBytes(new byte[31])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SecretHash.ofBytes(new byte[33])).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    public void testSecretHashIsImmutable()
    {
        byte[] digest = sha256(SECRET);
        SecretHash hash = SecretHash.ofBytes(digest);
        digest[0] ^= 1;
        hash.bytes()[1] ^= 1;
        assertThat(hash.toHex()).isEqualTo(SECRET_SHA256);
    }

    @Test
    public void testSecretHashToStringRedacted()
    {
        SecretHash hash = SecretHasher.sha256().hash(SECRET);
        assertThat(hash.toString())
                .doesNotContain(SECRET_SHA256)
                .doesNotContain(SECRET_SHA256.substring(0, 8))
                .doesNotContainIgnoringCase(SECRET_SHA256.substring(56))
                .contains("redacted");
    }

    private static void assertMatching(SecretHasher hasher)
    {
        SecretHash stored = hasher.hash(KEY.secret());
        assertThat(hasher.matches(KEY, stored)).isTrue();
        assertThat(hasher.matches(ApiKey.parse(KEY.value()).orElseThrow(), stored)).isTrue();
        assertThat(hasher.matches(OTHER_KEY, stored)).isFalse();
        assertThat(hasher.matches(KEY, hasher.hash(OTHER_KEY.secret()))).isFalse();
    }

    private static byte[] sha256(String text)
    {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.US_ASCII));
        }
        catch (GeneralSecurityException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] hmacSha256(String pepper, String text)
    {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(pepper.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return mac.doFinal(text.getBytes(StandardCharsets.US_ASCII));
        }
        catch (GeneralSecurityException e) {
            throw new AssertionError(e);
        }
    }
}

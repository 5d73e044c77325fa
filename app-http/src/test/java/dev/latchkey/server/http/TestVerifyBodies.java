package dev.latchkey.server.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The verify envelopes written from templates are byte for byte what Jackson writes for the same envelope.
 */
public class TestVerifyBodies
{
    private static final ObjectMapper MAPPER = JsonMapper.builder().build();

    @Test
    public void testOkAsJackson()
            throws Exception
    {
        Identity root = Identity.root();
        assertThat(text(VerifyBodies.ok(root, null, 123))).isEqualTo(jackson(ok(root, null), 123));
        assertThat(text(VerifyBodies.ok(root, "KeyId\"with\\quote", 0))).isEqualTo(jackson(ok(root, "KeyId\"with\\quote"), 0));
        Identity user = Identity.ofKey(KeyId.of("AbCdEfGh12345678"), AccountId.of("acme-2.eu"), UserId.of("alice_b"), Role.USER,
                Scopes.of("docs:read", "billing/*", "x.y-z"), Optional.of(Instant.parse("2027-01-02T03:04:05Z")));
        assertThat(text(VerifyBodies.ok(user, "AbCdEfGh12345678", 42))).isEqualTo(jackson(ok(user, "AbCdEfGh12345678"), 42));
    }

    @Test
    public void testErrorAsJackson()
            throws Exception
    {
        assertThat(text(VerifyBodies.error(ErrorCode.UNAUTHENTICATED, "the API key is not valid", Optional.empty(), 7)))
                .isEqualTo(jackson(error(ErrorCode.UNAUTHENTICATED, "the API key is not valid", null), 7));
        String message = "a \"quoted\", tabbed\t, non-ASCII é ✓ and \u0001 control message";
        assertThat(text(VerifyBodies.error(ErrorCode.INVALID_ARGUMENT, message, Optional.of("scope"), 1_234_567)))
                .isEqualTo(jackson(error(ErrorCode.INVALID_ARGUMENT, message, "scope"), 1_234_567));
    }

    /**
     * Each character that JSON must escape, alone in a value (so that each check of the copy-as-it-is path is tested
     * on its own), and characters it need not escape.
     */
    @Test
    public void testEachCharacterClassAsJackson()
            throws Exception
    {
        for (String message : new String[] {"tab\tonly", "new\nline", "\u0001", "\u001F", "\u007F", "\u0080", "é", "\u2028", "✓", "a\\b", "a\"b",
                "/~ !#$%&'()*+,-.:;<=>?@[]^_`{|}", "", "plain-ascii_1.2:3/4*"}) {
            assertThat(text(VerifyBodies.error(ErrorCode.INVALID_ARGUMENT, message, Optional.of(message), 1)))
                    .as("a value of %s", message.chars().mapToObj(c -> String.format("U+%04X", c)).toList())
                    .isEqualTo(jackson(error(ErrorCode.INVALID_ARGUMENT, message, message), 1));
        }
    }

    @Test
    public void testTimeInPlainDecimal()
    {
        for (long micros : new long[] {0, 1, 9, 10, 999_999, 1_000_000, 1_000_001, 86_400_000_000L}) {
            String body = text(VerifyBodies.error(ErrorCode.INTERNAL, "m", Optional.empty(), micros));
            assertThat(body).endsWith("\"time\":" + BigDecimal.valueOf(micros, 6).toPlainString() + "}");
        }
        assertThat(text(VerifyBodies.error(ErrorCode.INTERNAL, "m", Optional.empty(), -5))).endsWith("\"time\":0.000000}");
    }

    private static Map<String, Object> ok(Identity identity, String keyId)
    {
        Map<String, Object> result = VerifyHandler.result(identity);
        result.put("key_id", keyId);
        Map<String, Object> envelope = new LinkedHashMap<>();
        envelope.put("status", "ok");
        envelope.put("result", result);
        envelope.put("error", null);
        return envelope;
    }

    private static Map<String, Object> error(ErrorCode code, String message, String field)
    {
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("code", code.name());
        error.put("message", message);
        if (field != null) {
            error.put("details", Map.of("field", field));
        }
        Map<String, Object> envelope = new LinkedHashMap<>();
        envelope.put("status", "error");
        envelope.put("result", null);
        envelope.put("error", error);
        return envelope;
    }

    private static String jackson(Map<String, Object> envelope, long micros)
            throws Exception
    {
        envelope.put("time", BigDecimal.valueOf(micros, 6));
        return MAPPER.writeValueAsString(envelope);
    }

    private static String text(byte[] bytes)
    {
        return new String(bytes, StandardCharsets.UTF_8);
    }
}

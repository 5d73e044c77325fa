package dev.latchkey.server.http;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import org.jspecify.annotations.Nullable;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The envelopes of verify answers as UTF-8 bytes: the same JSON as {@link Envelope#ok} and {@link Envelope#errorBody}
 * write (the same fields, in the same order, compact), from fixed byte templates. Each value is copied as it is when
 * JSON takes it so (printable ASCII without quote or backslash: ids, roles, scopes, dates), else quoted by Jackson's
 * {@link JsonStringEncoder}. Verify writes one per request, and a JSON generator per answer cost a tenth of a verify
 * served from memory (its context objects, its buffers, and the copies out of them).
 */
final class VerifyBodies
{
    private static final JsonStringEncoder QUOTE = JsonStringEncoder.getInstance();
    private static final byte[] OK_ROLE = ascii("{\"status\":\"ok\",\"result\":{\"role\":");
    private static final byte[] ACCOUNT_ID = ascii(",\"account_id\":");
    private static final byte[] USER_ID = ascii(",\"user_id\":");
    private static final byte[] KEY_ID = ascii(",\"key_id\":");
    private static final byte[] SCOPES = ascii(",\"scopes\":[");
    private static final byte[] EXPIRES_AT = ascii("],\"expires_at\":");
    private static final byte[] OK_END = ascii("},\"error\":null,\"time\":");
    private static final byte[] ERROR_CODE = ascii("{\"status\":\"error\",\"result\":null,\"error\":{\"code\":");
    private static final byte[] MESSAGE = ascii(",\"message\":");
    private static final byte[] DETAILS_FIELD = ascii(",\"details\":{\"field\":");
    private static final byte[] ERROR_END = ascii("},\"time\":");
    private static final byte[] NULL = ascii("null");

    private VerifyBodies() {}

    static byte[] ok(Identity identity, @Nullable String keyId, long micros)
    {
        Bytes out = new Bytes(192);
        out.write(OK_ROLE).string(identity.role().wireName());
        out.write(ACCOUNT_ID).string(identity.accountId().map(AccountId::value).orElse(null));
        out.write(USER_ID).string(identity.userId().map(UserId::value).orElse(null));
        out.write(KEY_ID).string(keyId);
        out.write(SCOPES);
        List<String> scopes = identity.scopes().values();
        for (int i = 0; i < scopes.size(); i++) {
            if (i > 0) {
                out.write((byte) ',');
            }
            out.string(scopes.get(i));
        }
        out.write(EXPIRES_AT).string(identity.expiresAt().map(Instant::toString).orElse(null));
        out.write(OK_END).time(micros).write((byte) '}');
        return out.toByteArray();
    }

    static byte[] error(ErrorCode code, String message, Optional<String> field, long micros)
    {
        Bytes out = new Bytes(160);
        out.write(ERROR_CODE).string(code.name());
        out.write(MESSAGE).string(message);
        if (field.isPresent()) {
            out.write(DETAILS_FIELD).string(field.get()).write((byte) '}');
        }
        out.write(ERROR_END).time(micros).write((byte) '}');
        return out.toByteArray();
    }

    private static byte[] ascii(String text)
    {
        return text.getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * A growable byte array, unsynchronized (one per answer).
     */
    private static final class Bytes
    {
        private byte[] bytes;
        private int length;

        Bytes(int capacity)
        {
            bytes = new byte[capacity];
        }

        Bytes write(byte[] more)
        {
            ensure(more.length);
            System.arraycopy(more, 0, bytes, length, more.length);
            length += more.length;
            return this;
        }

        Bytes write(byte one)
        {
            ensure(1);
            bytes[length++] = one;
            return this;
        }

        /**
         * A JSON string, or {@code null}.
         */
        Bytes string(@Nullable String value)
        {
            if (value == null) {
                return write(NULL);
            }
            write((byte) '"');
            if (plain(value)) {
                // ids, roles, scopes, dates: printable ASCII that JSON takes as it is, one byte per character
                ensure(value.length());
                for (int i = 0; i < value.length(); i++) {
                    bytes[length++] = (byte) value.charAt(i);
                }
            }
            else {
                write(QUOTE.quoteAsUTF8(value));
            }
            return write((byte) '"');
        }

        /**
         * Whether JSON writes {@code value} as it is: printable ASCII, no quote, no backslash.
         */
        private static boolean plain(String value)
        {
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                if (c < 0x20 || c > 0x7E || c == '"' || c == '\\') {
                    return false;
                }
            }
            return true;
        }

        /**
         * Seconds to the microsecond, in plain decimal ({@code 0.000123}), as {@code BigDecimal.valueOf(micros, 6)}
         * prints it.
         */
        Bytes time(long micros)
        {
            long value = Math.max(0, micros);
            write(ascii(Long.toString(value / 1_000_000)));
            write((byte) '.');
            long fraction = value % 1_000_000;
            for (long unit = 100_000; unit > 0; unit /= 10) {
                write((byte) ('0' + (fraction / unit) % 10));
            }
            return this;
        }

        byte[] toByteArray()
        {
            return Arrays.copyOf(bytes, length);
        }

        private void ensure(int more)
        {
            if (length + more > bytes.length) {
                bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + more));
            }
        }
    }
}

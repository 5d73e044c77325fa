package dev.latchkey.server.http;

import dev.latchkey.core.store.Origin;
import org.jspecify.annotations.Nullable;

import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The id of each request: the client's {@code X-Request-Id} when it is a valid one (1 to 128 letters, digits,
 * {@code . _ : -}; what nginx's {@code $request_id} and most tracing systems send), else a new one (32 hex
 * digits). Every response echoes it; the audit trail records it with the write the request made; the access log
 * names it.
 */
final class RequestIds
{
    static final String HEADER = "X-Request-Id";
    /** The request attribute that holds the id for the rest of the request's handling. */
    static final String ATTRIBUTE = "latchkey.requestId";
    private static final char[] HEX = "0123456789abcdef".toCharArray();
    private static final char[] PREFIX = prefix();
    private static final AtomicLong COUNTER = new AtomicLong();

    private RequestIds() {}

    private static char[] prefix()
    {
        long random = new SecureRandom().nextLong();
        char[] id = new char[32];
        for (int i = 0; i < 16; i++) {
            id[i] = HEX[(int) (random >>> (60 - 4 * i)) & 0xF];
        }
        return id;
    }

    static String from(@Nullable String sent)
    {
        return sent != null && Origin.isValidRequestId(sent) ? sent : generate();
    }

    /**
     * A new id, cheap enough for the verify path: this process's random prefix (16 hex digits, drawn at start) and a
     * counter (16 hex digits). Unique across instances and restarts but for a one in 2^64 chance; not a secret (an id
     * names a request, it guards nothing).
     */
    static String generate()
    {
        long count = COUNTER.incrementAndGet();
        char[] id = PREFIX.clone();
        for (int i = 0; i < 16; i++) {
            id[16 + i] = HEX[(int) (count >>> (60 - 4 * i)) & 0xF];
        }
        return new String(id);
    }
}

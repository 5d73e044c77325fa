package dev.latchkey.server.http;

import dev.latchkey.core.store.Origin;
import org.eclipse.jetty.server.Request;
import org.jspecify.annotations.Nullable;

import java.util.concurrent.ThreadLocalRandom;

/**
 * The id of each request: the client's {@code X-Request-Id} when it is a valid one (1 to 128 letters, digits,
 * {@code . _ : -}; what nginx's {@code $request_id} and most tracing systems send), else a new random one (32 hex
 * digits). Every response echoes it; the audit trail records it with the write the request made; the access log
 * names it.
 */
final class RequestIds
{
    static final String HEADER = "X-Request-Id";
    /** The request attribute that holds the id for the rest of the request's handling. */
    static final String ATTRIBUTE = "latchkey.requestId";
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private RequestIds() {}

    /**
     * The request's id, taken or made once per request and kept as its attribute.
     */
    static String of(Request request)
    {
        if (request.getAttribute(ATTRIBUTE) instanceof String id) {
            return id;
        }
        String id = from(request.getHeaders().get(HEADER));
        request.setAttribute(ATTRIBUTE, id);
        return id;
    }

    static String from(@Nullable String sent)
    {
        return sent != null && Origin.isValidRequestId(sent) ? sent : generate();
    }

    /**
     * A new random id: cheap enough for the verify path (no secure random: an id names a request, it guards nothing).
     */
    static String generate()
    {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        char[] id = new char[32];
        long high = random.nextLong();
        long low = random.nextLong();
        for (int i = 0; i < 16; i++) {
            id[i] = HEX[(int) (high >>> (60 - 4 * i)) & 0xF];
            id[16 + i] = HEX[(int) (low >>> (60 - 4 * i)) & 0xF];
        }
        return new String(id);
    }
}

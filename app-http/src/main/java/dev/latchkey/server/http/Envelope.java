package dev.latchkey.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.latchkey.core.error.ErrorCode;
import io.javalin.http.Context;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Writes OpenViking's response envelope: {@code {"status", "result", "error", "time"}}.
 */
final class Envelope
{
    static final String START_NANOS = "latchkey.start";
    private static final String WRITTEN = "latchkey.written";

    private final ObjectMapper mapper;

    Envelope(ObjectMapper mapper)
    {
        this.mapper = requireNonNull(mapper, "mapper is null");
    }

    void ok(Context ctx, Object result)
    {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", "ok");
        body.put("result", result);
        body.put("error", null);
        write(ctx, 200, body);
    }

    void error(Context ctx, ErrorCode code, String message, Optional<Map<String, Object>> details)
    {
        write(ctx, HttpErrors.status(code), errorBody(code, message, details, 0));
    }

    /**
     * An error envelope, for writers that have no {@link Context} (Jetty's own error answers).
     */
    static Map<String, Object> errorBody(ErrorCode code, String message, Optional<Map<String, Object>> details, double seconds)
    {
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("code", code.name());
        error.put("message", message);
        details.ifPresent(value -> error.put("details", value));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", "error");
        body.put("result", null);
        body.put("error", error);
        body.put("time", seconds);
        return body;
    }

    /**
     * Whether a handler already wrote an envelope (so an error page must not replace it).
     */
    static boolean written(Context ctx)
    {
        return ctx.attribute(WRITTEN) != null;
    }

    private void write(Context ctx, int status, Map<String, Object> body)
    {
        Long start = ctx.attribute(START_NANOS);
        double seconds = start == null ? 0 : (System.nanoTime() - start) / 1e9;
        body.put("time", Math.round(seconds * 1e6) / 1e6);
        try {
            ctx.status(status).contentType("application/json").result(mapper.writeValueAsBytes(body));
        }
        catch (JsonProcessingException e) {
            throw new IllegalStateException("the envelope could not be written as JSON", e);
        }
        ctx.attribute(WRITTEN, Boolean.TRUE);
    }
}

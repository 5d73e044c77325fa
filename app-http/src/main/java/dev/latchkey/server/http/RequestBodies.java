package dev.latchkey.server.http;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import io.javalin.http.Context;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

import static java.util.Objects.requireNonNull;

/**
 * Reads request bodies: at most 64 KiB, a JSON object, fields of the right type. Unknown fields are ignored.
 */
final class RequestBodies
{
    static final int MAX_BYTES = 64 * 1024;

    private final ObjectMapper mapper;

    RequestBodies(ObjectMapper mapper)
    {
        this.mapper = requireNonNull(mapper, "mapper is null");
    }

    /**
     * The body as a JSON object; empty when there is no body at all and {@code required} is false.
     */
    Optional<JsonNode> object(Context ctx, boolean required)
    {
        byte[] bytes = read(ctx);
        if (bytes.length == 0 || new String(bytes, StandardCharsets.UTF_8).isBlank()) {
            if (required) {
                throw new LatchkeyException(ErrorCode.INVALID_ARGUMENT, "the request body must be a JSON object");
            }
            return Optional.empty();
        }
        JsonNode node;
        try {
            node = mapper.readTree(bytes);
        }
        catch (JacksonException e) {
            throw new LatchkeyException(ErrorCode.INVALID_ARGUMENT, "the request body is not valid JSON");
        }
        catch (IOException e) {
            throw new LatchkeyException(ErrorCode.INVALID_ARGUMENT, "the request body could not be read");
        }
        if (node == null || !node.isObject()) {
            throw new LatchkeyException(ErrorCode.INVALID_ARGUMENT, "the request body must be a JSON object");
        }
        return Optional.of(node);
    }

    static <T> T required(JsonNode body, String field, Function<String, T> parse)
    {
        return optional(body, field, parse)
                .orElseThrow(() -> LatchkeyException.invalidField(field, field + " is required"));
    }

    static <T> Optional<T> optional(JsonNode body, String field, Function<String, T> parse)
    {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            return Optional.empty();
        }
        if (!value.isTextual()) {
            throw LatchkeyException.invalidField(field, field + " must be a string");
        }
        return Optional.of(parse.apply(value.textValue()));
    }

    /**
     * A whole number field, within {@code [min, max]}.
     */
    static Optional<Long> optionalWholeNumber(JsonNode body, String field, long min, long max)
    {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            return Optional.empty();
        }
        if (!value.isIntegralNumber() || !value.canConvertToLong() || value.longValue() < min || value.longValue() > max) {
            throw LatchkeyException.invalidField(field, field + " must be a whole number from " + min + " to " + max);
        }
        return Optional.of(value.longValue());
    }

    /**
     * A field holding an array of strings.
     */
    static Optional<List<String>> optionalStrings(JsonNode body, String field)
    {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            return Optional.empty();
        }
        if (!value.isArray()) {
            throw LatchkeyException.invalidField(field, field + " must be an array of strings");
        }
        List<String> strings = new ArrayList<>();
        for (JsonNode element : value) {
            if (!element.isTextual()) {
                throw LatchkeyException.invalidField(field, field + " must be an array of strings");
            }
            strings.add(element.textValue());
        }
        return Optional.of(strings);
    }

    private static byte[] read(Context ctx)
    {
        long declared = ctx.req().getContentLengthLong();
        if (declared > MAX_BYTES) {
            throw tooLarge();
        }
        try (InputStream in = ctx.req().getInputStream()) {
            byte[] bytes = in.readNBytes(MAX_BYTES + 1);
            if (bytes.length > MAX_BYTES) {
                throw tooLarge();
            }
            return bytes;
        }
        catch (IOException e) {
            throw new LatchkeyException(ErrorCode.INVALID_ARGUMENT, "the request body could not be read");
        }
    }

    private static LatchkeyException tooLarge()
    {
        return new LatchkeyException(ErrorCode.PAYLOAD_TOO_LARGE, "the request body is larger than " + MAX_BYTES + " bytes");
    }
}

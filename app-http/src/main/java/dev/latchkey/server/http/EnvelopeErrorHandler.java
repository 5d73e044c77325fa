package dev.latchkey.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.latchkey.core.error.ErrorCode;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

import java.nio.ByteBuffer;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Jetty's own error answers, for requests that never reach a route (a target that is not valid percent-encoding or
 * UTF-8, a target or header block that is too large), written as the error envelope instead of Jetty's HTML page.
 * The message is the status's reason phrase: never the cause, never a part of the request.
 */
final class EnvelopeErrorHandler
        extends ErrorHandler
{
    private final ObjectMapper mapper;

    EnvelopeErrorHandler(ObjectMapper mapper)
    {
        this.mapper = requireNonNull(mapper, "mapper is null");
    }

    @Override
    public boolean errorPageForMethod(String method)
    {
        return true;
    }

    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause, Callback callback)
    {
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.write(true, ByteBuffer.wrap(body(code)), callback);
    }

    private byte[] body(int status)
    {
        ErrorCode code = HttpErrors.code(status);
        try {
            return mapper.writeValueAsBytes(Envelope.errorBody(code, HttpStatus.getMessage(status), Optional.empty(), 0));
        }
        catch (JsonProcessingException e) {
            throw new IllegalStateException("the envelope could not be written as JSON", e);
        }
    }
}

package dev.latchkey.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.http.HttpResponseStatus;

import java.nio.charset.StandardCharsets;
import java.util.Date;

/**
 * The verify port's answers as HTTP/1.1 response bytes, in one buffer: the status line, the headers and the body.
 * The requests are Netty's to parse; the responses have one fixed shape (the same headers, in the same order, on
 * every answer), and writing them straight into one buffer, instead of through a header map, Netty's response
 * encoder and its keep-alive handler, took writing an answer from 11 % to 7 % of the verify thread's CPU, and about
 * a fifth of the bytes allocated per request (docs/performance.md).
 * <p>
 * Header names and values are written as ASCII, one byte per character, as Netty's encoder writes them: every name
 * is a constant and every value is of a validated type (ids, roles, scopes, a request id checked by
 * {@link RequestIds}, numbers, a date).
 */
final class VerifyResponses
{
    /** Statuses 100 to 599: the status line of each, as Netty names it. */
    private static final byte[][] STATUS_LINES = new byte[600][];
    private static final byte[] CRLF = ascii("\r\n");
    private static final byte[] SEPARATOR = ascii(": ");
    private static final byte[] DATE = ascii("date: ");
    private static final byte[] REQUEST_ID = ascii("\r\n" + RequestIds.HEADER + ": ");
    private static final byte[] AGE = ascii("\r\n" + VerifyHandler.AGE_HEADER + ": ");
    private static final byte[] CONTENT = ascii("\r\ncontent-type: application/json\r\ncontent-length: ");
    private static final byte[] CLOSE = ascii("\r\nconnection: close");
    private static final byte[] KEEP_ALIVE = ascii("\r\nconnection: keep-alive");
    /** Room for the headers of an answer with long ids and scopes; the buffer grows if it needs more. */
    private static final int HEADROOM = 512;

    static {
        for (int code = 100; code < STATUS_LINES.length; code++) {
            HttpResponseStatus status = HttpResponseStatus.valueOf(code);
            STATUS_LINES[code] = ascii("HTTP/1.1 " + status.code() + " " + status.reasonPhrase() + "\r\n");
        }
    }

    /**
     * What a connection says after this answer.
     */
    enum Connection
    {
        /** Nothing: HTTP/1.1's default, the connection stays open. */
        DEFAULT,
        /** {@code connection: keep-alive}, to an HTTP/1.0 client that asked for it. */
        KEEP_ALIVE,
        /** {@code connection: close}: the server closes the connection once the answer is written. */
        CLOSE
    }

    private VerifyResponses() {}

    /**
     * The answer as a response, in a buffer from {@code allocator} that the caller writes (and so releases).
     *
     * @param head a response to {@code HEAD}: the headers of the {@code GET} answer (its length included) and no body
     * @param date the {@code date} header's value ({@link #date(long)})
     */
    static ByteBuf encode(ByteBufAllocator allocator, VerifyAnswers.Answer answer, boolean head, byte[] date, String requestId, Connection connection)
    {
        byte[] body = answer.body();
        ByteBuf out = allocator.buffer(HEADROOM + (head ? 0 : body.length));
        try {
            write(out, answer, head, date, requestId, connection);
            return out;
        }
        catch (RuntimeException e) {
            out.release();
            throw e;
        }
    }

    private static void write(ByteBuf out, VerifyAnswers.Answer answer, boolean head, byte[] date, String requestId, Connection connection)
    {
        byte[] body = answer.body();
        out.writeBytes(STATUS_LINES[answer.status()]);
        out.writeBytes(DATE).writeBytes(date);
        out.writeBytes(REQUEST_ID);
        ByteBufUtil.writeAscii(out, requestId);
        answer.identityHeaders((name, value) -> {
            out.writeBytes(CRLF);
            ByteBufUtil.writeAscii(out, name);
            out.writeBytes(SEPARATOR);
            ByteBufUtil.writeAscii(out, value);
        });
        out.writeBytes(AGE);
        ByteBufUtil.writeAscii(out, answer.age());
        out.writeBytes(CONTENT);
        ByteBufUtil.writeAscii(out, Integer.toString(body.length));
        if (connection == Connection.CLOSE) {
            out.writeBytes(CLOSE);
        }
        else if (connection == Connection.KEEP_ALIVE) {
            out.writeBytes(KEEP_ALIVE);
        }
        out.writeBytes(CRLF).writeBytes(CRLF);
        if (!head) {
            out.writeBytes(body);
        }
    }

    /**
     * The {@code date} header's value for the second that {@code epochMillis} falls in (RFC 1123, as HTTP has it).
     */
    static byte[] date(long epochMillis)
    {
        return ascii(DateFormatter.format(new Date(epochMillis / 1000 * 1000)));
    }

    private static byte[] ascii(String text)
    {
        return text.getBytes(StandardCharsets.US_ASCII);
    }
}

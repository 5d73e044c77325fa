package dev.latchkey.server.http;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The verify port's response bytes, read back by Netty's own HTTP client decoder: what a client parses is what the
 * answer says.
 */
public class TestVerifyResponses
{
    private static final byte[] DATE = VerifyResponses.date(1_700_000_000_123L);

    @Test
    public void testOkAnswerWithIdentityHeaders()
    {
        Identity identity = Identity.accountUser(AccountId.of("acme"), UserId.of("alice"), Role.ADMIN);
        byte[] body = VerifyBodies.ok(identity, null, 12);
        VerifyAnswers.Answer answer = new VerifyAnswers.Answer(200, identity, null, body, "3");

        FullHttpResponse response = decode(VerifyResponses.encode(ByteBufAllocator.DEFAULT, answer, false, DATE, "req-1", VerifyResponses.Connection.DEFAULT),
                HttpMethod.GET);
        try {
            assertThat(response.status().code()).isEqualTo(200);
            assertThat(response.protocolVersion()).isEqualTo(HttpVersion.HTTP_1_1);
            assertThat(response.headers().get("date")).isEqualTo("Tue, 14 Nov 2023 22:13:20 GMT");
            assertThat(DateFormatter.parseHttpDate(response.headers().get("date"))).isNotNull();
            assertThat(response.headers().get(RequestIds.HEADER)).isEqualTo("req-1");
            List<String> identityHeaders = new ArrayList<>();
            answer.identityHeaders((name, value) -> identityHeaders.add(name + "=" + value));
            assertThat(identityHeaders).isNotEmpty();
            answer.identityHeaders((name, value) -> assertThat(response.headers().getAll(name)).containsExactly(value));
            assertThat(response.headers().get(VerifyHandler.AGE_HEADER)).isEqualTo("3");
            assertThat(response.headers().get("content-type")).isEqualTo("application/json");
            assertThat(response.headers().getInt("content-length")).isEqualTo(body.length);
            assertThat(response.headers().contains("connection")).isFalse();
            assertThat(response.content().toString(StandardCharsets.UTF_8)).isEqualTo(new String(body, StandardCharsets.UTF_8));
        }
        finally {
            response.release();
        }
    }

    @Test
    public void testHeadAnswerHasTheLengthAndNoBody()
    {
        byte[] body = VerifyBodies.error(ErrorCode.UNAUTHENTICATED, "the API key is not valid", Optional.empty(), 5);
        VerifyAnswers.Answer answer = new VerifyAnswers.Answer(401, null, null, body, "0");

        ByteBuf encoded = VerifyResponses.encode(ByteBufAllocator.DEFAULT, answer, true, DATE, "r", VerifyResponses.Connection.CLOSE);
        String text = encoded.toString(StandardCharsets.US_ASCII);
        assertThat(text).startsWith("HTTP/1.1 401 Unauthorized\r\n").endsWith("\r\n\r\n");
        FullHttpResponse response = decode(encoded, HttpMethod.HEAD);
        try {
            assertThat(response.status().code()).isEqualTo(401);
            assertThat(response.headers().getInt("content-length")).isEqualTo(body.length);
            assertThat(response.headers().get("connection")).isEqualTo("close");
            assertThat(response.headers().contains(VerifyHandler.ROLE_HEADER)).isFalse();
            assertThat(response.content().readableBytes()).isZero();
        }
        finally {
            response.release();
        }
    }

    @Test
    public void testStatusLinesAndLongHeaders()
    {
        // 32 scopes of 64 characters: headers and body together well past the buffer's first size
        List<String> scopes = IntStream.range(0, Scopes.MAX_SCOPES).mapToObj(i -> ("s" + i + "-").repeat(Scopes.MAX_LENGTH).substring(0, Scopes.MAX_LENGTH)).toList();
        Identity identity = new Identity(Role.USER, Optional.of(AccountId.of("a")), Optional.of(UserId.of("u")), Optional.empty(), new Scopes(scopes), Optional.empty());
        byte[] body = VerifyBodies.ok(identity, null, 1);
        for (int status : new int[] {200, 400, 403, 404, 405, 431, 500, 503}) {
            VerifyAnswers.Answer answer = new VerifyAnswers.Answer(status, status == 200 ? identity : null, null, body, "1");
            FullHttpResponse response = decode(VerifyResponses.encode(ByteBufAllocator.DEFAULT, answer, false, DATE, "r", VerifyResponses.Connection.KEEP_ALIVE),
                    HttpMethod.GET);
            try {
                assertThat(response.status().code()).isEqualTo(status);
                assertThat(response.headers().get("connection")).isEqualTo("keep-alive");
                assertThat(response.content().readableBytes()).isEqualTo(body.length);
                if (status == 200) {
                    assertThat(response.headers().get(VerifyHandler.SCOPES_HEADER)).isEqualTo(String.join(" ", scopes));
                }
            }
            finally {
                response.release();
            }
        }
    }

    /**
     * Parses {@code encoded} as the answer to a request with {@code method} (a HEAD answer's length says nothing
     * about its body).
     */
    private static FullHttpResponse decode(ByteBuf encoded, HttpMethod method)
    {
        EmbeddedChannel client = new EmbeddedChannel(new HttpClientCodec(), new HttpObjectAggregator(1 << 20));
        try {
            // the codec pairs each response with the method of the request it sent
            client.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, VerifyHandler.PATH, Unpooled.EMPTY_BUFFER));
            client.releaseOutbound();
            assertThat(client.writeInbound(encoded)).isTrue();
            FullHttpResponse response = client.readInbound();
            assertThat(response.decoderResult().isSuccess()).isTrue();
            Object more = client.readInbound();
            assertThat(more).isNull();
            return response;
        }
        finally {
            client.finishAndReleaseAll();
        }
    }
}

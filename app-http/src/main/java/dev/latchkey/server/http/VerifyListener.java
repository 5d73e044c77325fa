package dev.latchkey.server.http;

import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.server.http.VerifyHandler.RequestedScopes;
import dev.latchkey.server.metrics.HttpRequestMetrics;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.eclipse.jetty.http.HttpURI;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * The verify port: {@code GET} and {@code HEAD /api/v1/auth/verify}, and nothing else, on Netty. The answers are the
 * HTTP port's, to the byte ({@link VerifyAnswers}); the server is leaner than Jetty (measured in
 * docs/performance.md), which is what bounds verify's throughput once the key is judged from memory.
 * <p>
 * Each connection answers its requests in order, pipelined ones included: while an answer waits for a store lookup
 * or a feed position, the requests behind it wait too. Any other path is a 404 and any other method a 405, with the
 * error envelope; a request the parser refuses (a header block over 8 KiB, a malformed request line) gets a 4xx
 * envelope and the connection is closed; so is a connection whose request body does not parse, once the answers under
 * way are written. Connections idle for 30 s are closed, as on the HTTP port.
 */
public final class VerifyListener
        implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(VerifyListener.class);
    /** As Jetty's default request header size on the HTTP port. */
    private static final int MAX_HEADER_BYTES = 8192;
    private static final Duration IDLE_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(2);
    private static final String LEAK_DETECTION = "io.netty.leakDetection.level";

    private final VerifyAnswers answers;
    private final String host;
    private final int port;
    private final int threads;
    private @Nullable EventLoopGroup group;
    private @Nullable Channel channel;

    VerifyListener(VerifyAnswers answers, String host, int port, int threads)
    {
        this.answers = requireNonNull(answers, "answers is null");
        this.host = requireNonNull(host, "host is null");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 0 to 65535: " + port);
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1: " + threads);
        }
        this.port = port;
        this.threads = threads;
    }

    /**
     * Binds the port and starts answering.
     *
     * @throws IllegalStateException when the address cannot be bound (the message says why)
     */
    public synchronized void start()
    {
        if (group != null) {
            throw new IllegalStateException("already started");
        }
        if (System.getProperty(LEAK_DETECTION) == null) {
            // Netty's sampling of buffers for leaks records a stack trace now and then: 1 % of verify's CPU, for a
            // server whose buffers are Netty's decoder's and the answers handed to the transport, which releases them
            // (-Dio.netty.leakDetection.level turns it back on)
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        }
        boolean epoll = Epoll.isAvailable();
        IoHandlerFactory handlers = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        Class<? extends ServerChannel> channelType = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("latchkey-verify", true), handlers);
        try {
            channel = new ServerBootstrap()
                    .group(loops)
                    .channel(channelType)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>()
                    {
                        @Override
                        protected void initChannel(SocketChannel connection)
                        {
                            connection.pipeline().addLast(
                                    // nothing read for that long: an answer under way takes at most a second, so only reads are watched
                                    new IdleStateHandler(IDLE_TIMEOUT.toSeconds(), 0, 0, TimeUnit.SECONDS),
                                    // requests parsed by Netty; answers written as bytes (VerifyResponses)
                                    new HttpRequestDecoder(new HttpDecoderConfig().setMaxInitialLineLength(MAX_HEADER_BYTES).setMaxHeaderSize(MAX_HEADER_BYTES)),
                                    new Connection());
                        }
                    })
                    .bind(host, port)
                    .syncUninterruptibly()
                    .channel();
        }
        catch (RuntimeException e) {
            loops.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
            String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            throw new IllegalStateException(reason, e);
        }
        group = loops;
        LOG.debug("verify port on {} with {} thread(s)", epoll ? "epoll" : "NIO", threads);
    }

    /**
     * The port bound (the one chosen, for port 0).
     */
    public synchronized int port()
    {
        if (channel == null) {
            throw new IllegalStateException("not started");
        }
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    /**
     * Stops accepting connections, gives answers under way a moment, then closes every connection.
     */
    @Override
    public synchronized void close()
    {
        if (channel != null) {
            channel.close().awaitUninterruptibly(STOP_TIMEOUT.toMillis());
            channel = null;
        }
        if (group != null) {
            group.shutdownGracefully(100, STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).awaitUninterruptibly(STOP_TIMEOUT.toMillis() * 2);
            group = null;
        }
    }

    /**
     * One connection's requests, on its event loop thread only.
     */
    private final class Connection
            extends ChannelInboundHandlerAdapter
    {
        /** Requests behind one whose answer is not written yet. */
        private final Queue<HttpRequest> waiting = new ArrayDeque<>();
        /** An answer is awaited (a store lookup, a feed position): later requests wait in {@link #waiting}. */
        private boolean answering;
        /** Inside {@link #channelRead}: answers written now are flushed at {@link #channelReadComplete}. */
        private boolean reading;
        private boolean closing;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object message)
        {
            try {
                if (message instanceof HttpRequest request && !closing) {
                    reading = true;
                    if (answering) {
                        waiting.add(request);
                    }
                    else {
                        handle(ctx, request);
                    }
                }
                else if (message instanceof HttpObject content && content.decoderResult().isFailure() && !closing) {
                    // a request body that does not parse: the decoder drops whatever follows, so the connection
                    // ends once the answer under way, if any, is written
                    endAfterThisAnswer();
                    if (!answering) {
                        ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
                    }
                }
            }
            finally {
                // a verify request's body, if it has one, is read and dropped
                ReferenceCountUtil.release(message);
                reading = false;
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx)
        {
            ctx.flush();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event)
        {
            if (event instanceof IdleStateEvent && !answering) {
                ctx.close();
            }
            ctx.fireUserEventTriggered(event);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause)
        {
            // the peer reset the connection, mostly: nothing to answer
            LOG.debug("verify connection closed: {}", cause.toString());
            ctx.close();
        }

        private void handle(ChannelHandlerContext ctx, HttpRequest request)
        {
            long start = System.nanoTime();
            HttpHeaders headers = request.headers();
            String requestId = RequestIds.from(headers.get(RequestIds.HEADER));
            boolean head = HttpMethod.HEAD.equals(request.method());
            if (request.decoderResult().isFailure()) {
                refuse(ctx, request, start, requestId, head, malformed(start, request.decoderResult().cause()));
                return;
            }
            if (!namesOneHost(request)) {
                // as the HTTP port (Jetty) answers
                refuse(ctx, request, start, requestId, head,
                        answers.error(start, ErrorCode.INVALID_ARGUMENT, "an HTTP/1.1 request must have exactly one Host header"));
                return;
            }
            String uri = request.uri();
            int question = uri.indexOf('?');
            String path = path(question < 0 ? uri : uri.substring(0, question));
            if (!VerifyHandler.PATH.equals(path)) {
                write(ctx, request, head, start, requestId, HttpRequestMetrics.UNMATCHED,
                        answers.error(start, ErrorCode.NOT_FOUND, "no such route: " + request.method() + " " + HttpApi.redactKeys(path)));
                return;
            }
            if (!head && !HttpMethod.GET.equals(request.method())) {
                write(ctx, request, false, start, requestId, VerifyHandler.PATH,
                        answers.error(start, ErrorCode.METHOD_NOT_ALLOWED, "method " + request.method() + " is not allowed on " + VerifyHandler.PATH));
                return;
            }
            answering = true;
            RequestedScopes requested = RequestedScopes.ofQuery(question < 0 ? null : uri.substring(question + 1));
            answers.answer(headers.get(VerifyHandler.API_KEY_HEADER), headers.get(HttpHeaderNames.AUTHORIZATION), headers.get(ReadYourWrites.HEADER), requested,
                    start, new VerifyAnswers.Sink()
                    {
                        @Override
                        public void send(VerifyAnswers.Answer answer)
                        {
                            onLoop(ctx, () -> {
                                answering = false;
                                write(ctx, request, head, start, requestId, VerifyHandler.PATH, answer);
                                next(ctx);
                            });
                        }

                        @Override
                        public void failed(Throwable failure)
                        {
                            LOG.error("unexpected failure answering verify: {}", failure.toString());
                            onLoop(ctx, () -> {
                                answering = false;
                                endAfterThisAnswer();
                                write(ctx, request, head, start, requestId, VerifyHandler.PATH, answers.error(start, ErrorCode.INTERNAL, "internal error"));
                            });
                        }
                    });
        }

        /**
         * One {@code Host} header (HTTP/1.1 requires it), or at most one (HTTP/1.0).
         */
        private static boolean namesOneHost(HttpRequest request)
        {
            int hosts = request.headers().getAll(HttpHeaderNames.HOST).size();
            return request.protocolVersion().equals(HttpVersion.HTTP_1_0) ? hosts <= 1 : hosts == 1;
        }

        /**
         * The path of a request target: itself in origin form ({@code /api/...}), the part after the authority in
         * absolute form ({@code http://host/api/...}, which proxies may send), {@code /} for an authority alone.
         */
        private static String path(String target)
        {
            if (target.startsWith("/")) {
                return target;
            }
            try {
                // parsed as the HTTP port (Jetty) parses it
                HttpURI uri = HttpURI.from(target);
                return uri.getScheme() == null ? target : uri.getPath() == null || uri.getPath().isEmpty() ? "/" : uri.getPath();
            }
            catch (IllegalArgumentException e) {
                return target;
            }
        }

        /**
         * Answers the requests that waited behind an answer, in order, until one has to wait in turn.
         */
        private void next(ChannelHandlerContext ctx)
        {
            while (!answering && !closing && !waiting.isEmpty()) {
                handle(ctx, waiting.poll());
            }
        }

        /**
         * Answers a request that is not one verify can judge, as the last answer of the connection.
         */
        private void refuse(ChannelHandlerContext ctx, HttpRequest request, long start, String requestId, boolean head, VerifyAnswers.Answer answer)
        {
            endAfterThisAnswer();
            write(ctx, request, head, start, requestId, HttpRequestMetrics.UNMATCHED, answer);
        }

        private VerifyAnswers.Answer malformed(long start, Throwable cause)
        {
            return cause instanceof TooLongFrameException
                    ? answers.error(start, 431, ErrorCode.INVALID_ARGUMENT, "the request line or headers are larger than " + MAX_HEADER_BYTES + " bytes")
                    : answers.error(start, ErrorCode.INVALID_ARGUMENT, "bad request");
        }

        /**
         * The answer being made is the connection's last: the requests behind it are dropped, and it closes once
         * the answer is written.
         */
        private void endAfterThisAnswer()
        {
            closing = true;
            waiting.clear();
        }

        private void write(ChannelHandlerContext ctx, HttpRequest request, boolean head, long start, String requestId, String route,
                VerifyAnswers.Answer answer)
        {
            if (!request.decoderResult().isFailure() && (!HttpUtil.isKeepAlive(request) || HttpUtil.is100ContinueExpected(request))) {
                // the client asked to close (Connection: close, or HTTP/1.0 without keep-alive), or waits for a
                // 100 Continue before it sends a body that verify does not read (as the HTTP port, the answer comes
                // at once instead, and the connection, whose body may follow or not, ends): this answer is the last
                endAfterThisAnswer();
            }
            VerifyResponses.Connection connection = closing
                    ? VerifyResponses.Connection.CLOSE
                    : request.protocolVersion().equals(HttpVersion.HTTP_1_0) ? VerifyResponses.Connection.KEEP_ALIVE : VerifyResponses.Connection.DEFAULT;
            ByteBuf response = VerifyResponses.encode(ctx.alloc(), answer, head, Dates.now(), requestId, connection);
            if (closing) {
                ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            }
            else if (reading) {
                ctx.write(response);
            }
            else {
                ctx.writeAndFlush(response);
            }
            answers.sent(request.method().name(), route, answer.status(), start, requestId);
        }

        private static void onLoop(ChannelHandlerContext ctx, Runnable action)
        {
            if (ctx.executor().inEventLoop()) {
                action.run();
            }
            else {
                ctx.executor().execute(action);
            }
        }
    }

    /**
     * The {@code Date} header's value, made once a second.
     */
    private static final class Dates
    {
        private static volatile Stamp stamp = new Stamp(-1, new byte[0]);

        private record Stamp(long second, byte[] text) {}

        static byte[] now()
        {
            long millis = System.currentTimeMillis();
            long second = millis / 1000;
            Stamp current = stamp;
            if (current.second() != second) {
                current = new Stamp(second, VerifyResponses.date(millis));
                stamp = current;
            }
            return current.text();
        }
    }
}

package dev.latchkey.adapters.s3.testing;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import software.amazon.awssdk.services.s3.S3Client;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Predicate;

import static java.util.Objects.requireNonNull;

/**
 * A test-only HTTP/1.1 reverse proxy on 127.0.0.1 in front of an S3-compatible server (S3Mock), that forwards every
 * request unchanged, but the writes of one object one at a time.
 *
 * <p>Why: S3Mock checks {@code If-None-Match: *} and {@code If-Match} correctly for one request at a time, but not
 * atomically under concurrency. Measured: 32 clients PUTting the same new key with {@code If-None-Match: *} at once,
 * up to 13 got 200. AWS S3 documents exactly one winner (the others get 412 Precondition Failed, or 409 Conflict
 * while the winning upload is still in flight). The proxy gives S3Mock that documented atomicity, so that tests of
 * code built on conditional writes test that code rather than S3Mock's race; a test asserting the race itself would
 * be flaky.
 *
 * <p>What it does: writes on one key (bucket and key from the path-style URL {@code /bucket/key}: PUT, DELETE, POST)
 * are forwarded one at a time, in arrival order, and reads of it (GET, HEAD) side by side, but never beside a write
 * of it: as on AWS S3, whose reads of one object are not serialized and see the latest write. Requests on different
 * keys, and requests on no key (listings, bucket requests, multi-object delete), go through in parallel. It forwards the method, path, query, headers (Authorization,
 * {@code x-amz-*}, conditional headers) and body, and returns the status, headers and body. Request bodies are read
 * whole into memory (test objects are small): a {@code Transfer-Encoding: chunked} body is forwarded with a
 * {@code Content-Length}, and an {@code aws-chunked} body (the SDK's streaming signatures and trailing checksums)
 * byte for byte, for S3Mock to decode. The {@code Host} header becomes the target's: that breaks the SigV4
 * signature, which the client computed over the proxy's host and port, but S3Mock checks no signatures (it would
 * not do in front of a server that does). Hop-by-hop headers ({@code Connection}, {@code Expect}, ...) are not
 * forwarded; the proxy answers {@code Expect: 100-continue} itself.
 *
 * <p>When the target does not answer (refused, reset, or no answer within a minute) the proxy closes the client's
 * connection without an answer, so that the client sees a network error, as it would without the proxy, rather
 * than a 502 or 504. A request waiting on a paused target keeps its key locked: later writes on that key wait
 * behind it (and reads, behind a write).
 *
 * <p>For tests of what a client makes of S3, it also counts requests ({@link #countRequests}, by {@link Operation},
 * as S3 bills them) and injects faults into the next request that matches: {@link #dropNextResponse} forwards the
 * request, which the server executes, and closes the client's connection without the answer (a connection lost
 * after the server committed: the client retries, or reports the outcome unknown); {@link #beforeNext} runs an
 * action first, such as another client's write that makes the request's condition fail; {@link #cutNextListing}
 * has the server answer a listing with a page cut short.
 */
public final class SerializingS3Proxy
        implements AutoCloseable
{
    static {
        // The JDK's server writes a response's headers and body separately; with Nagle's algorithm on, every response
        // with a body then waits for the client's delayed ACK (40 ms here).
        System.setProperty("sun.net.httpserver.nodelay", "true");
    }

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration FORWARD_TIMEOUT = Duration.ofSeconds(60);
    private static final Set<String> NOT_FORWARDED = Set.of(
            "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "expect", "host", "content-length");

    private final URI target;
    private final HttpServer server;
    private final ExecutorService executor;
    private final HttpClient client;
    private final Map<String, KeyLock> locks = new HashMap<>();
    private final List<RequestCounter> counters = new CopyOnWriteArrayList<>();
    private final AtomicInteger forwarding = new AtomicInteger();
    private final List<Fault> faults = new CopyOnWriteArrayList<>();

    private SerializingS3Proxy(URI target)
    {
        this.target = requireNonNull(target, "target is null");
        if (!"http".equals(target.getScheme()) || target.getHost() == null) {
            throw new IllegalArgumentException("target must be an http://host:port URI: " + target);
        }
        AtomicInteger threads = new AtomicInteger();
        ThreadFactory factory = runnable -> {
            Thread thread = new Thread(runnable, "serializing-s3-proxy-" + threads.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
        this.executor = Executors.newCachedThreadPool(factory);
        this.client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(CONNECT_TIMEOUT)
                .followRedirects(HttpClient.Redirect.NEVER)
                .executor(executor)
                .build();
        try {
            this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 256);
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        startDaemon(server);
    }

    /**
     * Starts a proxy on a free port of 127.0.0.1 in front of this plain-HTTP endpoint.
     */
    public static SerializingS3Proxy start(URI target)
    {
        return new SerializingS3Proxy(target);
    }

    /**
     * The proxy's endpoint, {@code http://127.0.0.1:port}, for path-style clients.
     */
    public URI endpoint()
    {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    public URI target()
    {
        return target;
    }

    /**
     * A new client of {@link #endpoint()} (see {@link TestingS3#newClient(URI)}).
     */
    public S3Client newClient()
    {
        return TestingS3.newClient(endpoint());
    }

    /**
     * How many requests on an object key are forwarded to the target now, their answer not back yet: those that got
     * past the key's lock.
     */
    public int forwarding()
    {
        return forwarding.get();
    }

    /**
     * Counts the requests that match from now until the counter is closed.
     */
    public RequestCounter countRequests(Predicate<ProxiedRequest> matching)
    {
        RequestCounter counter = new RequestCounter(matching, counters);
        counters.add(counter);
        return counter;
    }

    /**
     * Arms a fault for the next request that matches: the proxy forwards it, the server executes it, and the proxy
     * closes the client's connection without the answer. Fires once.
     */
    public Fault dropNextResponse(Predicate<ProxiedRequest> matching)
    {
        return arm(new Fault(matching, Optional.empty(), true, OptionalInt.empty()));
    }

    /**
     * Arms a fault for the next listing that matches: the proxy forwards it asking for at most {@code maxKeys}
     * names ({@code max-keys}), so that the server answers a page cut short ({@code IsTruncated}), as S3 may answer
     * any listing. Fires once.
     */
    public Fault cutNextListing(Predicate<ProxiedRequest> matching, int maxKeys)
    {
        if (maxKeys < 1) {
            throw new IllegalArgumentException("maxKeys must be at least 1: " + maxKeys);
        }
        return arm(new Fault(request -> request.operation() == Operation.LIST_OBJECTS && matching.test(request), Optional.empty(), false, OptionalInt.of(maxKeys)));
    }

    /**
     * Arms an action to run before the next request that matches is forwarded (before the proxy takes the request's
     * key, so the action may make requests on that key itself). Fires once; an exception the action throws is kept
     * in {@link Fault#failure()} and the request is forwarded anyway.
     */
    public Fault beforeNext(Predicate<ProxiedRequest> matching, Runnable action)
    {
        requireNonNull(action, "action is null");
        return arm(new Fault(matching, Optional.of(action), false, OptionalInt.empty()));
    }

    /**
     * Disarms every fault that has not fired.
     */
    public void clearFaults()
    {
        faults.clear();
    }

    /**
     * Stops accepting requests and closes every connection; requests in flight fail.
     */
    @Override
    public void close()
    {
        server.stop(0);
        executor.shutdownNow();
    }

    @Override
    public String toString()
    {
        return "SerializingS3Proxy " + endpoint() + " -> " + target;
    }

    /**
     * Starts the server from a daemon thread: its dispatcher thread inherits that, and a proxy left open (the shared
     * server's) does not keep the JVM from exiting.
     */
    private static void startDaemon(HttpServer server)
    {
        Thread starter = new Thread(server::start, "serializing-s3-proxy-start");
        starter.setDaemon(true);
        starter.start();
        try {
            starter.join();
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            server.stop(0);
            throw new IllegalStateException("interrupted", e);
        }
    }

    private Fault arm(Fault fault)
    {
        faults.add(fault);
        return fault;
    }

    private void handle(HttpExchange exchange)
    {
        try (exchange) {
            byte[] body = exchange.getRequestBody().readAllBytes();
            ProxiedRequest proxied = proxiedRequest(exchange);
            for (RequestCounter counter : counters) {
                counter.record(proxied);
            }
            Optional<Fault> fault = claimFault(proxied);
            fault.ifPresent(Fault::runBefore);
            HttpRequest request = forwardedRequest(exchange, body, fault.map(Fault::listLimit).orElse(OptionalInt.empty()));
            HttpResponse<byte[]> response;
            Optional<String> key = objectKey(exchange.getRequestURI());
            if (key.isPresent()) {
                boolean read = exchange.getRequestMethod().equals("GET") || exchange.getRequestMethod().equals("HEAD");
                Lock lock = lock(key.get(), read);
                forwarding.incrementAndGet();
                try {
                    response = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
                }
                finally {
                    forwarding.decrementAndGet();
                    unlock(key.get(), lock);
                }
            }
            else {
                response = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
            }
            if (fault.map(Fault::dropsResponse).orElse(false)) {
                // the server executed the request; closing the exchange unanswered closes the client's connection
                return;
            }
            respond(exchange, response);
        }
        catch (IOException e) {
            // the target did not answer, or the client went away: closing the exchange unanswered closes the connection
        }
        catch (InterruptedException e) {
            // closing
            Thread.currentThread().interrupt();
        }
    }

    private Optional<Fault> claimFault(ProxiedRequest request)
    {
        for (Fault fault : faults) {
            if (fault.matching.test(request) && fault.claim(request)) {
                faults.remove(fault);
                return Optional.of(fault);
            }
        }
        return Optional.empty();
    }

    private static ProxiedRequest proxiedRequest(HttpExchange exchange)
    {
        String method = exchange.getRequestMethod().toUpperCase(Locale.ROOT);
        String path = exchange.getRequestURI().getPath() == null ? "" : exchange.getRequestURI().getPath();
        String bucket = "";
        Optional<String> key = Optional.empty();
        if (path.length() > 1) {
            int slash = path.indexOf('/', 1);
            if (slash < 0 || slash == path.length() - 1) {
                bucket = path.substring(1, slash < 0 ? path.length() : slash);
            }
            else {
                bucket = path.substring(1, slash);
                key = Optional.of(path.substring(slash + 1));
            }
        }
        Operation operation = switch (method) {
            case "GET" -> key.isPresent() ? Operation.GET_OBJECT : bucket.isEmpty() ? Operation.OTHER : Operation.LIST_OBJECTS;
            case "HEAD" -> key.isPresent() ? Operation.HEAD_OBJECT : Operation.OTHER;
            case "PUT" -> key.isPresent() ? Operation.PUT_OBJECT : Operation.OTHER;
            case "DELETE" -> key.isPresent() ? Operation.DELETE_OBJECT : Operation.OTHER;
            default -> Operation.OTHER;
        };
        Map<String, String> parameters = new LinkedHashMap<>();
        String query = exchange.getRequestURI().getRawQuery();
        if (query != null && !query.isEmpty()) {
            for (String parameter : query.split("&")) {
                int equals = parameter.indexOf('=');
                String name = URLDecoder.decode(equals < 0 ? parameter : parameter.substring(0, equals), StandardCharsets.UTF_8);
                String value = equals < 0 ? "" : URLDecoder.decode(parameter.substring(equals + 1), StandardCharsets.UTF_8);
                parameters.putIfAbsent(name, value);
            }
        }
        return new ProxiedRequest(method, operation, bucket, key, parameters, exchange.getRequestHeaders());
    }

    private HttpRequest forwardedRequest(HttpExchange exchange, byte[] body, OptionalInt maxKeys)
    {
        URI uri = exchange.getRequestURI();
        String query = uri.getRawQuery() == null ? "" : uri.getRawQuery();
        if (maxKeys.isPresent()) {
            StringBuilder limited = new StringBuilder();
            for (String parameter : query.split("&")) {
                if (!parameter.isEmpty() && !parameter.equals("max-keys") && !parameter.startsWith("max-keys=")) {
                    limited.append(parameter).append('&');
                }
            }
            query = limited.append("max-keys=").append(maxKeys.getAsInt()).toString();
        }
        String pathAndQuery = uri.getRawPath() + (query.isEmpty() ? "" : "?" + query);
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(target.getScheme() + "://" + target.getRawAuthority() + pathAndQuery))
                .timeout(FORWARD_TIMEOUT)
                .method(exchange.getRequestMethod(), body.length == 0 ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        for (Map.Entry<String, List<String>> header : exchange.getRequestHeaders().entrySet()) {
            if (NOT_FORWARDED.contains(header.getKey().toLowerCase(Locale.ROOT))) {
                continue;
            }
            for (String value : header.getValue()) {
                request.header(header.getKey(), value);
            }
        }
        return request.build();
    }

    private static void respond(HttpExchange exchange, HttpResponse<byte[]> response)
            throws IOException
    {
        Headers headers = exchange.getResponseHeaders();
        response.headers().map().forEach((name, values) -> {
            if (!NOT_FORWARDED.contains(name.toLowerCase(Locale.ROOT))) {
                headers.put(name, values);
            }
        });
        int status = response.statusCode();
        byte[] body = response.body();
        boolean head = "HEAD".equalsIgnoreCase(exchange.getRequestMethod());
        if (head || status == 204 || status == 304 || status < 200) {
            if (head) {
                // the length of the object a GET would return; HttpServer sends it as it is for a HEAD
                response.headers().firstValue("Content-Length").ifPresent(length -> headers.set("Content-Length", length));
            }
            exchange.sendResponseHeaders(status, -1);
            return;
        }
        exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    /**
     * The bucket and key of a request on one object ({@code /bucket/key}), empty for requests on a bucket or on the
     * service.
     */
    private static Optional<String> objectKey(URI uri)
    {
        String path = uri.getPath();
        if (path == null || path.length() < 2) {
            return Optional.empty();
        }
        int slash = path.indexOf('/', 1);
        if (slash < 0 || slash == path.length() - 1) {
            return Optional.empty();
        }
        return Optional.of(path.substring(1));
    }

    /**
     * Takes the key's lock: shared for a read, exclusive for a write.
     */
    private Lock lock(String key, boolean read)
    {
        KeyLock keyLock;
        synchronized (locks) {
            keyLock = locks.computeIfAbsent(key, ignored -> new KeyLock());
            keyLock.users++;
        }
        Lock lock = read ? keyLock.lock.readLock() : keyLock.lock.writeLock();
        lock.lock();
        return lock;
    }

    private void unlock(String key, Lock lock)
    {
        lock.unlock();
        synchronized (locks) {
            KeyLock keyLock = locks.get(key);
            keyLock.users--;
            if (keyLock.users == 0) {
                locks.remove(key);
            }
        }
    }

    /**
     * What a request does, in the classes S3 bills by: {@link #PUT_OBJECT} and {@link #LIST_OBJECTS} at the PUT
     * price, {@link #GET_OBJECT} and {@link #HEAD_OBJECT} at the GET price, {@link #DELETE_OBJECT} free.
     */
    public enum Operation
    {
        GET_OBJECT,
        HEAD_OBJECT,
        PUT_OBJECT,
        DELETE_OBJECT,
        /**
         * A GET of a bucket (ListObjectsV2, and the bucket's other sub-resources).
         */
        LIST_OBJECTS,
        OTHER
    }

    /**
     * A request as the proxy received it.
     *
     * @param method the HTTP method, upper case
     * @param bucket the bucket of a path-style request; empty for a request on the service
     * @param key the object key inside the bucket, decoded; empty for a request on a bucket or the service
     * @param parameters the decoded query parameters (the first value of each)
     * @param headers the request headers, by case-insensitive name
     */
    public record ProxiedRequest(String method, Operation operation, String bucket, Optional<String> key, Map<String, String> parameters,
            Map<String, List<String>> headers)
    {
        public ProxiedRequest
        {
            requireNonNull(method, "method is null");
            requireNonNull(operation, "operation is null");
            requireNonNull(bucket, "bucket is null");
            requireNonNull(key, "key is null");
            parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
            TreeMap<String, List<String>> copy = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
            headers.forEach((name, values) -> copy.put(name, List.copyOf(values)));
            headers = Collections.unmodifiableMap(copy);
        }

        /**
         * The first value of a header, by case-insensitive name.
         */
        public Optional<String> header(String name)
        {
            return Optional.ofNullable(headers.get(name)).filter(values -> !values.isEmpty()).map(values -> values.get(0));
        }

        /**
         * Whether the request is on an object whose key starts with {@code prefix}, or lists keys under it.
         */
        public boolean isUnder(String prefix)
        {
            return key.map(name -> name.startsWith(prefix))
                    .orElseGet(() -> operation == Operation.LIST_OBJECTS && parameters.getOrDefault("prefix", "").startsWith(prefix));
        }

        /**
         * Whether this is a PUT of the object {@code key}.
         */
        public boolean isPutOf(String objectKey)
        {
            return operation == Operation.PUT_OBJECT && key.map(objectKey::equals).orElse(false);
        }
    }

    /**
     * Requests that matched, by operation, from {@link #countRequests} until {@link #close()}.
     */
    public static final class RequestCounter
            implements AutoCloseable
    {
        private final Predicate<ProxiedRequest> matching;
        private final List<RequestCounter> registry;
        private final Map<Operation, LongAdder> counts = new EnumMap<>(Operation.class);

        private RequestCounter(Predicate<ProxiedRequest> matching, List<RequestCounter> registry)
        {
            this.matching = requireNonNull(matching, "matching is null");
            this.registry = registry;
            for (Operation operation : Operation.values()) {
                counts.put(operation, new LongAdder());
            }
        }

        public long count(Operation operation)
        {
            return counts.get(operation).sum();
        }

        public long total()
        {
            return counts.values().stream().mapToLong(LongAdder::sum).sum();
        }

        /**
         * A snapshot of every operation's count.
         */
        public Map<Operation, Long> counts()
        {
            Map<Operation, Long> snapshot = new EnumMap<>(Operation.class);
            counts.forEach((operation, count) -> snapshot.put(operation, count.sum()));
            return snapshot;
        }

        /**
         * Stops counting; the counts keep their values.
         */
        @Override
        public void close()
        {
            registry.remove(this);
        }

        private void record(ProxiedRequest request)
        {
            if (matching.test(request)) {
                counts.get(request.operation()).increment();
            }
        }
    }

    /**
     * A fault armed for the next request that matches.
     */
    public static final class Fault
    {
        private final Predicate<ProxiedRequest> matching;
        private final Optional<Runnable> before;
        private final boolean dropResponse;
        private final OptionalInt listLimit;
        private final AtomicBoolean claimed = new AtomicBoolean();
        private final AtomicReference<ProxiedRequest> firedOn = new AtomicReference<>();
        private final AtomicReference<RuntimeException> failure = new AtomicReference<>();

        private Fault(Predicate<ProxiedRequest> matching, Optional<Runnable> before, boolean dropResponse, OptionalInt listLimit)
        {
            this.matching = requireNonNull(matching, "matching is null");
            this.before = before;
            this.dropResponse = dropResponse;
            this.listLimit = listLimit;
        }

        /**
         * The request it fired on; empty while it waits for one.
         */
        public Optional<ProxiedRequest> firedOn()
        {
            return Optional.ofNullable(firedOn.get());
        }

        public boolean fired()
        {
            return firedOn.get() != null;
        }

        /**
         * What the action of {@link #beforeNext} threw, if it threw.
         */
        public Optional<RuntimeException> failure()
        {
            return Optional.ofNullable(failure.get());
        }

        private boolean claim(ProxiedRequest request)
        {
            if (!claimed.compareAndSet(false, true)) {
                return false;
            }
            firedOn.set(request);
            return true;
        }

        private void runBefore()
        {
            before.ifPresent(action -> {
                try {
                    action.run();
                }
                catch (RuntimeException e) {
                    failure.set(e);
                }
            });
        }

        private boolean dropsResponse()
        {
            return dropResponse;
        }

        private OptionalInt listLimit()
        {
            return listLimit;
        }
    }

    private static final class KeyLock
    {
        // fair: writes on one key are forwarded in the order they arrived, and a write waiting holds back later reads
        private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock(true);
        // guarded by the map of locks
        private int users;
    }
}

package dev.latchkey.server.it;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static java.util.Objects.requireNonNull;

/**
 * The application behind a proxy, for tests: a JDK HTTP server on a free loopback port that records every request
 * it receives and answers 200 {@code upstream} (or 500 {@code upstream failed} on {@value #FAILING_PATH}).
 */
final class TestingUpstream
        implements AutoCloseable
{
    static final String FAILING_PATH = "/fail";

    private final HttpServer server;
    private final ExecutorService executor = Executors.newFixedThreadPool(2);
    private final List<ReceivedRequest> received = new CopyOnWriteArrayList<>();

    /**
     * A request as the upstream received it, header names in lower case.
     */
    record ReceivedRequest(String method, String path, Map<String, List<String>> headers, String body)
    {
        ReceivedRequest
        {
            requireNonNull(method, "method is null");
            requireNonNull(path, "path is null");
            headers = Map.copyOf(headers);
            requireNonNull(body, "body is null");
        }

        /**
         * The value of a header the request carried once, or empty if it carried none.
         */
        Optional<String> header(String name)
        {
            List<String> values = headers.getOrDefault(name.toLowerCase(Locale.ROOT), List.of());
            if (values.size() > 1) {
                throw new AssertionError("header " + name + " received " + values.size() + " times: " + values);
            }
            return values.stream().findFirst();
        }
    }

    private TestingUpstream(HttpServer server)
    {
        this.server = requireNonNull(server, "server is null");
    }

    static TestingUpstream start()
    {
        try {
            HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            TestingUpstream upstream = new TestingUpstream(server);
            server.createContext("/", upstream::handle);
            server.setExecutor(upstream.executor);
            server.start();
            return upstream;
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Where it listens, as {@code 127.0.0.1:port}.
     */
    String address()
    {
        return server.getAddress().getAddress().getHostAddress() + ":" + server.getAddress().getPort();
    }

    /**
     * The requests received so far for a path, in order of arrival.
     */
    List<ReceivedRequest> received(String path)
    {
        return received.stream().filter(request -> request.path().equals(path)).toList();
    }

    private void handle(HttpExchange exchange)
            throws IOException
    {
        try (exchange) {
            Map<String, List<String>> headers = new TreeMap<>();
            exchange.getRequestHeaders().forEach((name, values) -> headers.put(name.toLowerCase(Locale.ROOT), List.copyOf(values)));
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            String path = exchange.getRequestURI().getPath();
            received.add(new ReceivedRequest(exchange.getRequestMethod(), path, headers, body));

            boolean failing = path.equals(FAILING_PATH);
            byte[] answer = (failing ? "upstream failed" : "upstream").getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain");
            if (exchange.getRequestMethod().equals("HEAD")) {
                exchange.sendResponseHeaders(failing ? 500 : 200, -1);
                return;
            }
            exchange.sendResponseHeaders(failing ? 500 : 200, answer.length);
            exchange.getResponseBody().write(answer);
        }
    }

    @Override
    public void close()
    {
        server.stop(0);
        executor.shutdownNow();
    }
}

package dev.latchkey.server.metrics;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * {@code http_server_requests_seconds}: a timer per route template, method and status. The route is the template the
 * request matched ({@code /api/v1/admin/accounts/{account_id}/users}), never the raw path, which can hold ids and even
 * a key; a request that matched no route is counted under {@value #UNMATCHED}, and a method outside HTTP's usual ones
 * under {@code OTHER}, so that nothing a client sends can add a series.
 */
public final class HttpRequestMetrics
{
    public static final String UNMATCHED = "unmatched";
    private static final Set<String> METHODS = Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT");

    private final MeterRegistry registry;
    private final ConcurrentMap<Series, Timer> timers = new ConcurrentHashMap<>();

    public HttpRequestMetrics(MeterRegistry registry)
    {
        this.registry = requireNonNull(registry, "registry is null");
    }

    /**
     * @param route the route template, or {@value #UNMATCHED}
     */
    public void record(String method, String route, int status, long nanos)
    {
        timer(method, route, status).record(nanos, TimeUnit.NANOSECONDS);
    }

    /**
     * The timer of one series, for a caller that records to it often (the verify path) and looks it up once.
     */
    public Timer timer(String method, String route, int status)
    {
        Series series = new Series(METHODS.contains(method) ? method : "OTHER", route, status);
        Timer timer = timers.get(series);
        if (timer == null) {
            timer = timers.computeIfAbsent(series, this::newTimer);
        }
        return timer;
    }

    private Timer newTimer(Series series)
    {
        return Timer.builder("http.server.requests")
                .description("HTTP requests by route template, method and status")
                .tag("method", series.method())
                .tag("route", series.route())
                .tag("status", Integer.toString(series.status()))
                .register(registry);
    }

    private record Series(String method, String route, int status)
    {
        Series
        {
            requireNonNull(method, "method is null");
            requireNonNull(route, "route is null");
        }
    }
}

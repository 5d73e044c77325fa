package dev.latchkey.server.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.latchkey.core.admin.AdminService;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.server.cluster.Confirmations;
import dev.latchkey.server.cluster.InstancePresence;
import dev.latchkey.server.cluster.PeerToken;
import dev.latchkey.server.metrics.HttpRequestMetrics;
import io.javalin.Javalin;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.router.Endpoint;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.ServerConnector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

import static dev.latchkey.server.http.AdminApi.map;
import static java.util.Objects.requireNonNull;

/**
 * The whole HTTP surface: admin API, verify, health, readiness, metrics, and the error envelope for everything
 * else (unknown routes, wrong methods, oversized or malformed bodies). No response carries a stack trace, an
 * exception class name, a key or a hash.
 */
public final class HttpApi
{
    private static final Logger LOG = LoggerFactory.getLogger(HttpApi.class);
    private static final Logger ACCESS = LoggerFactory.getLogger("dev.latchkey.access");
    /**
     * Verify answers: as many as the proxied application's requests, which the proxy logs already; at DEBUG, so off
     * unless an operator turns them on (docs/integrations.md). Their outcomes are counted in /metrics either way.
     */
    private static final Logger ACCESS_VERIFY = LoggerFactory.getLogger("dev.latchkey.access.verify");
    private static final String VERIFY_PATH = VerifyHandler.PATH;
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);
    /** Javalin's default for the size of Jetty's thread pool, which the selector threads are taken from. */
    private static final int POOL_THREADS = 250;
    /**
     * Selector threads of the HTTP connector: one per core the JVM sees ({@code -XX:ActiveProcessorCount} lowers it),
     * and no more than Jetty's own bound of one per 16 threads of the pool, so that a large host leaves the pool its
     * threads for blocking work (admin calls).
     */
    static final int SELECTORS = selectors(Runtime.getRuntime().availableProcessors());
    /** Anything shaped like an API key in a logged path: its key id is kept, the rest is not logged. */
    private static final Pattern KEY_IN_PATH = Pattern.compile("(lk_[0-9A-Za-z]{16}_)[0-9A-Za-z]+");

    private final AdminApi adminApi;
    private final ClusterApi clusterApi;
    private final Authenticator authenticator;
    private final IdentityResolver resolver;
    private final PrometheusMeterRegistry registry;
    private final ObjectMapper mapper;
    private final Envelope envelope;
    private final String storeKind;
    private final Duration readyMaxLag;
    private final HttpRequestMetrics requestMetrics;
    private final VerifyAnswers verifyAnswers;
    private volatile boolean draining;

    /**
     * @param auditRetention how far back the audit trail is listed
     * @param waitTimeout how long a write with {@code wait=all} waits for every instance
     */
    public HttpApi(AdminService admin, IdentityResolver resolver, PrometheusMeterRegistry registry, HttpRequestMetrics requestMetrics, ObjectMapper mapper,
            String storeKind, Duration readyMaxLag, Duration auditRetention, Confirmations confirmations, InstancePresence presence, PeerToken peerToken,
            Duration waitTimeout)
    {
        this.resolver = requireNonNull(resolver, "resolver is null");
        this.registry = requireNonNull(registry, "registry is null");
        this.requestMetrics = requireNonNull(requestMetrics, "requestMetrics is null");
        this.mapper = requireNonNull(mapper, "mapper is null");
        this.envelope = new Envelope(mapper);
        this.authenticator = new Authenticator(resolver);
        this.verifyAnswers = new VerifyAnswers(authenticator, ACCESS_VERIFY, requestMetrics);
        this.adminApi = new AdminApi(admin, authenticator, new RequestBodies(mapper), envelope, auditRetention, confirmations, waitTimeout);
        this.clusterApi = new ClusterApi(admin, authenticator, envelope, confirmations, presence, peerToken);
        this.storeKind = requireNonNull(storeKind, "storeKind is null");
        this.readyMaxLag = requireNonNull(readyMaxLag, "readyMaxLag is null");
    }

    /**
     * From now on {@code /ready} answers 503, so that load balancers take this instance out of rotation while it
     * still serves every request: the start of a clean stop.
     */
    public void startDraining()
    {
        draining = true;
    }

    /**
     * The verify port: a listener that answers only verify, as the HTTP port does, on a leaner server; not started.
     *
     * @param threads its network threads, which answer every verify that needs no store lookup
     */
    public VerifyListener verifyListener(String host, int port, int threads)
    {
        return new VerifyListener(verifyAnswers, host, port, threads);
    }

    /**
     * How many selector threads a host with {@code cores} cores gets.
     */
    static int selectors(int cores)
    {
        return Math.max(1, Math.min(cores, POOL_THREADS / 16));
    }

    /**
     * A server configured with every route, not yet started.
     */
    public Javalin create(String host, int port)
    {
        return Javalin.create(config -> configure(config, host, port));
    }

    private void configure(JavalinConfig config, String host, int port)
    {
        config.startup.showJavalinBanner = false;
        config.startup.showOldJavalinVersionWarning = false;
        config.http.prefer405over404 = true;
        config.http.maxRequestSize = RequestBodies.MAX_BYTES;
        // one selector per core (Jetty's default is one per two): verify is answered on the selector's own thread, so
        // the selectors are what bounds its throughput, and with one of them on 2 cores the second core stays idle
        config.jetty.addConnector((server, http) -> {
            ServerConnector connector = new ServerConnector(server, -1, SELECTORS, new HttpConnectionFactory(http));
            connector.setHost(host);
            connector.setPort(port);
            return connector;
        });
        config.jetty.modifyServer(server -> {
            // on stop, requests in flight get this long to finish (graceful: Javalin's StatisticsHandler counts them)
            server.setStopTimeout(STOP_TIMEOUT.toMillis());
            server.setErrorHandler(new EnvelopeErrorHandler(mapper));
            // the verify fast path goes inside Javalin's outer handler (a StatisticsHandler, which graceful stop
            // needs) and ahead of its servlet, which Javalin attaches to the innermost wrapper it finds
            VerifyHandler verify = new VerifyHandler(verifyAnswers);
            if (server.getHandler() instanceof Handler.Wrapper outer) {
                verify.setHandler(outer.getHandler());
                outer.setHandler(verify);
            }
            else {
                server.setHandler(verify);
            }
        });
        config.requestLogger.http((ctx, millis) -> {
            Endpoint endpoint = ctx.endpoints().matchedHttpEndpoint();
            requestMetrics.record(ctx.method().name(), endpoint == null ? HttpRequestMetrics.UNMATCHED : endpoint.path, ctx.status().getCode(),
                    (long) (millis * 1_000_000L));
            logAccess(ctx, millis);
        });

        config.routes.before(ctx -> ctx.attribute(Envelope.START_NANOS, System.nanoTime()));
        adminApi.register(config.routes);
        clusterApi.register(config.routes);
        // every GET route has its HEAD twin running the same handler (Jetty drops the body): without one, Javalin
        // answers HEAD with 200 and never runs the handler, so a proxy that forwards HEAD would let every key through
        // verify, and a load balancer checking /ready with HEAD would see a not-ready instance as ready
        // (AdminApi does the same for its GET routes)
        config.routes.get(VERIFY_PATH, this::verify);
        config.routes.head(VERIFY_PATH, this::verify);
        config.routes.get("/health", this::health);
        config.routes.head("/health", this::health);
        config.routes.get("/ready", this::ready);
        config.routes.head("/ready", this::ready);
        config.routes.get("/metrics", this::metrics);
        config.routes.head("/metrics", this::metrics);

        config.routes.exception(LatchkeyException.class, (e, ctx) -> envelope.error(ctx, e.code(), e.getMessage(),
                e.field().map(field -> Map.<String, Object>of("field", field))));
        config.routes.exception(HttpResponseException.class, (e, ctx) -> httpError(ctx, e.getStatus()));
        config.routes.exception(Exception.class, (e, ctx) -> {
            LOG.error("unexpected failure serving {} {}", ctx.method(), redactKeys(ctx.path()), e);
            envelope.error(ctx, ErrorCode.INTERNAL, "internal error", Optional.empty());
        });
        for (int status : new int[] {400, 404, 405, 413, 500, 503}) {
            config.routes.error(status, "*", ctx -> {
                if (!Envelope.written(ctx)) {
                    httpError(ctx, status);
                }
            });
        }
    }

    private void verify(Context ctx)
    {
        ctx.header(VerifyHandler.AGE_HEADER, authenticator.readYourWrites().age());
        // the position first: the key is judged as of it
        authenticator.readYourWrites().awaitBlocking(ctx.header(ReadYourWrites.HEADER));
        Identity identity = authenticator.authenticate(ctx);
        VerifyHandler.requireScopes(identity, VerifyHandler.RequestedScopes.of(ctx.queryParams(VerifyHandler.SCOPE_PARAMETER)));
        VerifyHandler.identityHeaders(identity).forEach(ctx::header);
        envelope.ok(ctx, VerifyHandler.result(identity));
    }

    /**
     * One access-log line per request, without keys: headers are never logged, and a key a client put in the path
     * is cut to its public key id. The line names the request id and, once the caller authenticated, who it was
     * ({@code root} or the key id it presented).
     */
    static void logAccess(Context ctx, Float millis)
    {
        Logger logger = VERIFY_PATH.equals(ctx.path()) ? ACCESS_VERIFY : ACCESS;
        if (logger == ACCESS_VERIFY ? logger.isDebugEnabled() : logger.isInfoEnabled()) {
            String line = ctx.method() + " " + redactKeys(ctx.path()) + " " + ctx.status().getCode() + " " + Math.round(millis) + "ms"
                    + " request_id=" + AdminApi.requestId(ctx) + (ctx.attribute(Authenticator.ACTOR) instanceof String actor ? " actor=" + actor : "");
            if (logger == ACCESS_VERIFY) {
                logger.debug(line);
            }
            else {
                logger.info(line);
            }
        }
    }

    static String redactKeys(String path)
    {
        return KEY_IN_PATH.matcher(path).replaceAll("$1[redacted]");
    }

    private void health(Context ctx)
    {
        envelope.ok(ctx, map("status", "up"));
    }

    private void metrics(Context ctx)
    {
        ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(registry.scrape());
    }

    private void ready(Context ctx)
    {
        double lag = resolver.feedLag().toNanos() / 1e9;
        Map<String, Object> state = map("store", storeKind, "feed_lag_seconds", Math.round(lag * 1000) / 1000.0);
        if (draining) {
            envelope.error(ctx, ErrorCode.UNAVAILABLE, "the instance is shutting down", Optional.of(state));
            return;
        }
        if (resolver.feedLag().compareTo(readyMaxLag) > 0) {
            envelope.error(ctx, ErrorCode.UNAVAILABLE, "the change feed has not been read for longer than " + readyMaxLag.toMillis() + " ms", Optional.of(state));
            return;
        }
        envelope.ok(ctx, state);
    }

    private void httpError(Context ctx, int status)
    {
        ErrorCode code = HttpErrors.code(status);
        String message = switch (code) {
            case NOT_FOUND -> "no such route: " + ctx.method() + " " + redactKeys(ctx.path());
            case METHOD_NOT_ALLOWED -> "method " + ctx.method() + " is not allowed on " + redactKeys(ctx.path());
            case PAYLOAD_TOO_LARGE -> "the request body is larger than " + RequestBodies.MAX_BYTES + " bytes";
            case INVALID_ARGUMENT -> "bad request";
            default -> "internal error";
        };
        envelope.error(ctx, code, message, Optional.empty());
    }
}

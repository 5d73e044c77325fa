package dev.latchkey.server.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.latchkey.core.admin.AdminService;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.resolver.IdentityResolver;
import io.javalin.Javalin;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;

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

    private final AdminApi adminApi;
    private final Authenticator authenticator;
    private final IdentityResolver resolver;
    private final PrometheusMeterRegistry registry;
    private final ObjectMapper mapper;
    private final Envelope envelope;
    private final String storeKind;
    private final Duration readyMaxLag;

    public HttpApi(AdminService admin, IdentityResolver resolver, PrometheusMeterRegistry registry, ObjectMapper mapper, String storeKind, Duration readyMaxLag)
    {
        this.resolver = requireNonNull(resolver, "resolver is null");
        this.registry = requireNonNull(registry, "registry is null");
        this.mapper = requireNonNull(mapper, "mapper is null");
        this.envelope = new Envelope(mapper);
        this.authenticator = new Authenticator(resolver);
        this.adminApi = new AdminApi(admin, authenticator, new RequestBodies(mapper), envelope);
        this.storeKind = requireNonNull(storeKind, "storeKind is null");
        this.readyMaxLag = requireNonNull(readyMaxLag, "readyMaxLag is null");
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
        config.jetty.host = host;
        config.jetty.port = port;
        config.startup.showJavalinBanner = false;
        config.startup.showOldJavalinVersionWarning = false;
        config.http.prefer405over404 = true;
        config.http.maxRequestSize = RequestBodies.MAX_BYTES;
        config.jetty.modifyServer(server -> server.setErrorHandler(new EnvelopeErrorHandler(mapper)));
        config.requestLogger.http((ctx, millis) -> ACCESS.info("{} {} {} {}ms", ctx.method(), ctx.path(), ctx.status().getCode(), Math.round(millis)));

        config.routes.before(ctx -> ctx.attribute(Envelope.START_NANOS, System.nanoTime()));
        adminApi.register(config.routes);
        config.routes.get("/api/v1/auth/verify", this::verify);
        // without its own HEAD route, Javalin answers HEAD on a GET route with 200 and never runs the handler:
        // a proxy that forwards the client's method would then let every HEAD through
        config.routes.head("/api/v1/auth/verify", this::verify);
        config.routes.get("/health", ctx -> envelope.ok(ctx, map("status", "up")));
        config.routes.get("/ready", this::ready);
        config.routes.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(registry.scrape()));

        config.routes.exception(LatchkeyException.class, (e, ctx) -> envelope.error(ctx, e.code(), e.getMessage(),
                e.field().map(field -> Map.<String, Object>of("field", field))));
        config.routes.exception(HttpResponseException.class, (e, ctx) -> httpError(ctx, e.getStatus()));
        config.routes.exception(Exception.class, (e, ctx) -> {
            LOG.error("unexpected failure serving {} {}", ctx.method(), ctx.path(), e);
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
        Identity identity = authenticator.authenticate(ctx);
        ctx.header("X-Latchkey-Role", identity.role().wireName());
        identity.accountId().ifPresent(account -> ctx.header("X-Latchkey-Account", account.value()));
        identity.userId().ifPresent(user -> ctx.header("X-Latchkey-User", user.value()));
        envelope.ok(ctx, map(
                "role", identity.role().wireName(),
                "account_id", identity.accountId().map(AccountId::value).orElse(null),
                "user_id", identity.userId().map(UserId::value).orElse(null)));
    }

    private void ready(Context ctx)
    {
        double lag = resolver.feedLag().toNanos() / 1e9;
        Map<String, Object> state = map("store", storeKind, "feed_lag_seconds", Math.round(lag * 1000) / 1000.0);
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
            case NOT_FOUND -> "no such route: " + ctx.method() + " " + ctx.path();
            case METHOD_NOT_ALLOWED -> "method " + ctx.method() + " is not allowed on " + ctx.path();
            case PAYLOAD_TOO_LARGE -> "the request body is larger than " + RequestBodies.MAX_BYTES + " bytes";
            case INVALID_ARGUMENT -> "bad request";
            default -> "internal error";
        };
        envelope.error(ctx, code, message, Optional.empty());
    }
}

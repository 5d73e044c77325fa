package dev.latchkey.server.http;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.resolver.Outcome;
import dev.latchkey.core.resolver.Resolution;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.server.metrics.HttpRequestMetrics;
import io.micrometer.core.instrument.Timer;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * {@code GET} and {@code HEAD /api/v1/auth/verify} on Jetty's own handler API, ahead of Javalin: the endpoint a proxy
 * calls once per request of the application it guards, so its cost bounds the proxy's throughput. Measured on the
 * machine of docs/performance.md, this handler serves about twice the requests per second that Javalin's route did. The answer is exactly the route's (same headers, same envelope, same codes); every other
 * request, and any variant of the path this handler does not match exactly (a trailing slash, percent-encoding),
 * goes on to Javalin, whose route answers the same way.
 */
final class VerifyHandler
        extends Handler.Wrapper
{
    static final String PATH = "/api/v1/auth/verify";
    static final String ROLE_HEADER = "X-Latchkey-Role";
    static final String ACCOUNT_HEADER = "X-Latchkey-Account";
    static final String USER_HEADER = "X-Latchkey-User";
    static final String KEY_ID_HEADER = "X-Latchkey-Key-Id";
    static final String SCOPES_HEADER = "X-Latchkey-Scopes";
    static final String SCOPE_PARAMETER = "scope";
    /** Whole seconds since the change feed was last read: how old the answer may be. */
    static final String AGE_HEADER = "X-Latchkey-Age";

    private final Authenticator authenticator;
    private final ObjectMapper mapper;
    private final Logger accessLog;
    private final HttpRequestMetrics requestMetrics;
    private final Timer okTimer;

    VerifyHandler(Authenticator authenticator, ObjectMapper mapper, Logger accessLog, HttpRequestMetrics requestMetrics)
    {
        this.authenticator = requireNonNull(authenticator, "authenticator is null");
        this.mapper = requireNonNull(mapper, "mapper is null");
        this.accessLog = requireNonNull(accessLog, "accessLog is null");
        this.requestMetrics = requireNonNull(requestMetrics, "requestMetrics is null");
        this.okTimer = requestMetrics.timer("GET", PATH, 200);
    }

    /**
     * Non-blocking: Jetty then runs the handler chain on its network threads, so requests for Javalin are handed to
     * the thread pool here (what Jetty would do for a blocking handler), and a verify answer that needs a store
     * lookup is written when the lookup completes, from the lookup's thread. A verify answered from memory costs no
     * thread hand-off at all.
     */
    @Override
    public InvocationType getInvocationType()
    {
        return InvocationType.NON_BLOCKING;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback)
    {
        String requestId = RequestIds.from(request.getHeaders().get(RequestIds.HEADER));
        response.getHeaders().put(RequestIds.HEADER, requestId);
        String method = request.getMethod();
        boolean head = HttpMethod.HEAD.is(method);
        if (!(head || HttpMethod.GET.is(method)) || !PATH.equals(Request.getPathInContext(request))) {
            // only what Javalin serves needs the id later (the audit trail, the access log)
            request.setAttribute(RequestIds.ATTRIBUTE, requestId);
            try {
                getServer().getThreadPool().execute(() -> handleBlocking(request, response, callback));
            }
            catch (RejectedExecutionException e) {
                // the pool is stopping or full: Jetty answers with its error page (the envelope, see EnvelopeErrorHandler)
                callback.failed(e);
            }
            return true;
        }
        long start = System.nanoTime();
        RequestedScopes requested = RequestedScopes.of(request);
        HttpFields headers = request.getHeaders();
        CompletableFuture<Resolution> resolution;
        try {
            String apiKey = headers.get("X-API-Key");
            String authorization = headers.get("Authorization");
            Optional<FeedPosition> minPosition = ReadYourWrites.requested(headers.get(ReadYourWrites.HEADER));
            resolution = minPosition.isEmpty()
                    ? authenticator.resolveAsync(apiKey, authorization)
                    : withMinPosition(minPosition, apiKey, authorization);
        }
        catch (LatchkeyException e) {
            answer(response, callback, head, start, e);
            return true;
        }
        Resolution now = resolution.getNow(null);
        if (now != null) {
            answer(response, callback, head, start, now, requested);
            return true;
        }
        resolution.whenComplete((later, failure) -> {
            try {
                if (failure != null && unwrap(failure) instanceof LatchkeyException refused) {
                    // the position asked for was not applied in time
                    answer(response, callback, head, start, refused);
                    return;
                }
                answer(response, callback, head, start, later != null ? later : Resolution.rejected(Outcome.UNAVAILABLE), requested);
            }
            catch (RuntimeException e) {
                callback.failed(e);
            }
        });
        return true;
    }

    private static Throwable unwrap(Throwable failure)
    {
        return failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    }

    /**
     * Resolves once this instance has applied the position the request asks for: the key is judged as of the write
     * that gave the position (a revoked key refused, a new key accepted even if its id was remembered as unknown).
     */
    private CompletableFuture<Resolution> withMinPosition(Optional<FeedPosition> position, String apiKey, String authorization)
    {
        // a missing key or conflicting headers answer at once, without waiting
        Authenticator.presentedKey(apiKey, authorization);
        return authenticator.readYourWrites().await(position).thenCompose(applied -> authenticator.resolveAsync(apiKey, authorization));
    }

    /**
     * Javalin's part, on a pool thread: it may block (request bodies, store writes).
     */
    private void handleBlocking(Request request, Response response, Callback callback)
    {
        try {
            if (!super.handle(request, response, callback)) {
                Response.writeError(request, response, callback, HttpStatus.NOT_FOUND_404);
            }
        }
        catch (Throwable failure) {
            callback.failed(failure);
        }
    }

    private void answer(Response response, Callback callback, boolean head, long start, Resolution resolution, RequestedScopes requested)
    {
        Optional<Authenticator.Refusal> refusal = Authenticator.refusal(resolution);
        if (refusal.isPresent()) {
            Authenticator.Refusal refused = refusal.get();
            write(response, callback, head, start, HttpErrors.status(refused.code()), errorBody(refused.code(), refused.message(), Optional.empty(), micros(start)));
            return;
        }
        Identity identity = resolution.identity().orElseThrow();
        try {
            requireScopes(identity, requested);
        }
        catch (LatchkeyException e) {
            answer(response, callback, head, start, e);
            return;
        }
        // the key id and the scopes as text once, for the headers and the body (a key id is two numbers until written)
        String keyId = identity.keyId().map(KeyId::value).orElse(null);
        String scopes = identity.scopes().joined();
        HttpFields.Mutable headers = response.getHeaders();
        headers.put(ROLE_HEADER, identity.role().wireName());
        identity.accountId().ifPresent(account -> headers.put(ACCOUNT_HEADER, account.value()));
        identity.userId().ifPresent(user -> headers.put(USER_HEADER, user.value()));
        if (keyId != null) {
            headers.put(KEY_ID_HEADER, keyId);
        }
        headers.put(SCOPES_HEADER, scopes);
        write(response, callback, head, start, 200, okBody(identity, keyId, micros(start)));
    }

    private void answer(Response response, Callback callback, boolean head, long start, LatchkeyException e)
    {
        write(response, callback, head, start, HttpErrors.status(e.code()), errorBody(e.code(), e.getMessage(), e.field(), micros(start)));
    }

    private void write(Response response, Callback callback, boolean head, long start, int status, byte[] body)
    {
        response.setStatus(status);
        response.getHeaders().put(AGE_HEADER, authenticator.readYourWrites().age());
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, head ? BufferUtil.EMPTY_BUFFER : ByteBuffer.wrap(body), callback);
        long nanos = System.nanoTime() - start;
        if (status == 200 && !head) {
            // the one series nearly every verify answer goes to: its timer is looked up once
            okTimer.record(nanos, TimeUnit.NANOSECONDS);
        }
        else {
            requestMetrics.record(head ? "HEAD" : "GET", PATH, status, nanos);
        }
        if (accessLog.isDebugEnabled()) {
            accessLog.debug("{} {} {} {}ms request_id={}", head ? "HEAD" : "GET", PATH, status, Math.round(nanos / 1e6), response.getHeaders().get(RequestIds.HEADER));
        }
    }

    /**
     * The scopes a verify request asks the key to hold ({@code ?scope=a&scope=b}), checked once the key is known (a
     * 401 wins over a 400 or a 403).
     *
     * @param invalid why the query could not be read, if it could not
     */
    record RequestedScopes(List<String> scopes, Optional<LatchkeyException> invalid)
    {
        private static final RequestedScopes NONE = new RequestedScopes(List.of(), Optional.empty());

        static RequestedScopes of(Request request)
        {
            if (request.getHttpURI().getQuery() == null) {
                return NONE;
            }
            try {
                return of(Request.extractQueryParameters(request).getValues(SCOPE_PARAMETER));
            }
            catch (RuntimeException e) {
                return new RequestedScopes(List.of(), Optional.of(LatchkeyException.invalidField(SCOPE_PARAMETER, "the query string is not correctly percent-encoded")));
            }
        }

        static RequestedScopes of(@Nullable List<String> values)
        {
            return values == null || values.isEmpty() ? NONE : new RequestedScopes(List.copyOf(values), Optional.empty());
        }
    }

    /**
     * Refuses a key that does not hold every requested scope.
     *
     * @throws LatchkeyException INVALID_ARGUMENT when a requested scope is not a scope at all; PERMISSION_DENIED when
     *         the key does not hold one of them
     */
    static void requireScopes(Identity identity, RequestedScopes requested)
    {
        if (requested == RequestedScopes.NONE) {
            return;
        }
        requested.invalid().ifPresent(e -> {
            throw e;
        });
        for (String scope : requested.scopes()) {
            Scopes.checkScope(scope, SCOPE_PARAMETER);
        }
        if (!identity.scopes().grantsAll(requested.scopes())) {
            throw new LatchkeyException(ErrorCode.PERMISSION_DENIED, "the API key does not hold every requested scope");
        }
    }

    /**
     * The headers a proxy copies into the request it passes on: the role, the key's scopes, and for account keys the
     * account, the user and the key id (for Javalin's route; {@link #answer} writes the same ones itself).
     */
    static Map<String, String> identityHeaders(Identity identity)
    {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put(ROLE_HEADER, identity.role().wireName());
        identity.accountId().ifPresent(account -> headers.put(ACCOUNT_HEADER, account.value()));
        identity.userId().ifPresent(user -> headers.put(USER_HEADER, user.value()));
        identity.keyId().ifPresent(keyId -> headers.put(KEY_ID_HEADER, keyId.value()));
        headers.put(SCOPES_HEADER, identity.scopes().joined());
        return headers;
    }

    static Map<String, Object> result(Identity identity)
    {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("role", identity.role().wireName());
        result.put("account_id", identity.accountId().map(AccountId::value).orElse(null));
        result.put("user_id", identity.userId().map(UserId::value).orElse(null));
        result.put("key_id", identity.keyId().map(KeyId::value).orElse(null));
        result.put("scopes", identity.scopes().values());
        result.put("expires_at", identity.expiresAt().map(Instant::toString).orElse(null));
        return result;
    }

    /**
     * The envelope of an answer, written field by field with Jackson's streaming generator (several times cheaper
     * than serializing a map, on the hottest path of the server); the same JSON as {@link Envelope#ok}.
     */
    private byte[] okBody(Identity identity, @Nullable String keyId, long micros)
    {
        ByteArrayOutputStream out = new ByteArrayOutputStream(128);
        try (JsonGenerator json = mapper.getFactory().createGenerator(out)) {
            json.writeStartObject();
            json.writeStringField("status", "ok");
            json.writeObjectFieldStart("result");
            json.writeStringField("role", identity.role().wireName());
            json.writeStringField("account_id", identity.accountId().map(AccountId::value).orElse(null));
            json.writeStringField("user_id", identity.userId().map(UserId::value).orElse(null));
            json.writeStringField("key_id", keyId);
            json.writeArrayFieldStart("scopes");
            for (String scope : identity.scopes().values()) {
                json.writeString(scope);
            }
            json.writeEndArray();
            json.writeStringField("expires_at", identity.expiresAt().map(Instant::toString).orElse(null));
            json.writeEndObject();
            json.writeNullField("error");
            writeTime(json, micros);
            json.writeEndObject();
        }
        catch (IOException e) {
            throw new UncheckedIOException("the envelope could not be written as JSON", e);
        }
        return out.toByteArray();
    }

    /**
     * An error envelope, streamed as {@link #okBody} is (the paths of unknown and malformed keys are as hot as the
     * valid one under a flood); the same JSON as {@link Envelope#errorBody}.
     */
    private byte[] errorBody(ErrorCode code, String message, Optional<String> field, long micros)
    {
        ByteArrayOutputStream out = new ByteArrayOutputStream(160);
        try (JsonGenerator json = mapper.getFactory().createGenerator(out)) {
            json.writeStartObject();
            json.writeStringField("status", "error");
            json.writeNullField("result");
            json.writeObjectFieldStart("error");
            json.writeStringField("code", code.name());
            json.writeStringField("message", message);
            if (field.isPresent()) {
                json.writeObjectFieldStart("details");
                json.writeStringField("field", field.get());
                json.writeEndObject();
            }
            json.writeEndObject();
            writeTime(json, micros);
            json.writeEndObject();
        }
        catch (IOException e) {
            throw new UncheckedIOException("the envelope could not be written as JSON", e);
        }
        return out.toByteArray();
    }

    /**
     * {@code "time"}: seconds to the microsecond, from the whole number of microseconds (a {@code double} would cost
     * a floating-point conversion on every answer, and print small values in exponent notation).
     */
    private static void writeTime(JsonGenerator json, long micros)
            throws IOException
    {
        json.writeNumberField("time", BigDecimal.valueOf(Math.max(0, micros), 6));
    }

    private static long micros(long startNanos)
    {
        return (System.nanoTime() - startNanos + 500) / 1_000;
    }
}

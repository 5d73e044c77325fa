package dev.latchkey.server.http;

import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.resolver.Outcome;
import dev.latchkey.core.resolver.Resolution;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.server.http.VerifyHandler.RequestedScopes;
import dev.latchkey.server.metrics.HttpRequestMetrics;
import io.micrometer.core.instrument.Timer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

import static java.util.Objects.requireNonNull;

/**
 * What {@code GET} and {@code HEAD /api/v1/auth/verify} answer, whichever server sends it: the HTTP port's fast path
 * ({@link VerifyHandler}, on Jetty) and the verify port ({@link VerifyListener}, on Netty) both write these answers,
 * so that the two cannot drift apart.
 */
final class VerifyAnswers
{
    private final Authenticator authenticator;
    private final Logger accessLog;
    private final HttpRequestMetrics requestMetrics;
    private final Timer okTimer;

    /**
     * Where an answer goes: called once, on the caller's thread when the answer is known at once (a key in memory),
     * else on the thread that completed the lookup or the wait.
     */
    interface Sink
    {
        void send(Answer answer);

        /** Something that is not an answer went wrong (a bug): the server's own error handling takes over. */
        void failed(Throwable failure);
    }

    /**
     * One answer: the status, the identity whose headers go with a 200 (null otherwise), and the envelope.
     *
     * @param keyId the identity's key id as text, if it has one (null otherwise)
     * @param age the {@link VerifyHandler#AGE_HEADER} value
     */
    record Answer(int status, @Nullable Identity identity, @Nullable String keyId, byte[] body, String age)
    {
        /**
         * The identity headers of a 200 (none otherwise), by name and value, for each server to set its own way.
         */
        void identityHeaders(BiConsumer<String, String> header)
        {
            if (identity == null) {
                return;
            }
            header.accept(VerifyHandler.ROLE_HEADER, identity.role().wireName());
            identity.accountId().ifPresent(account -> header.accept(VerifyHandler.ACCOUNT_HEADER, account.value()));
            identity.userId().ifPresent(user -> header.accept(VerifyHandler.USER_HEADER, user.value()));
            if (keyId != null) {
                header.accept(VerifyHandler.KEY_ID_HEADER, keyId);
            }
            header.accept(VerifyHandler.SCOPES_HEADER, identity.scopes().joined());
        }
    }

    VerifyAnswers(Authenticator authenticator, Logger accessLog, HttpRequestMetrics requestMetrics)
    {
        this.authenticator = requireNonNull(authenticator, "authenticator is null");
        this.accessLog = requireNonNull(accessLog, "accessLog is null");
        this.requestMetrics = requireNonNull(requestMetrics, "requestMetrics is null");
        this.okTimer = requestMetrics.timer("GET", VerifyHandler.PATH, 200);
    }

    /**
     * Judges the presented key (after the position asked for, if any, is applied here) and sends the answer.
     *
     * @param start {@link System#nanoTime()} when the request arrived
     */
    void answer(@Nullable String apiKey, @Nullable String authorization, @Nullable String minPosition, RequestedScopes requested, long start, Sink sink)
    {
        CompletableFuture<Resolution> resolution;
        try {
            Optional<FeedPosition> position = ReadYourWrites.requested(minPosition);
            resolution = position.isEmpty()
                    ? authenticator.resolveAsync(apiKey, authorization)
                    : withMinPosition(position, apiKey, authorization);
        }
        catch (LatchkeyException e) {
            sink.send(error(start, e));
            return;
        }
        Resolution now = resolution.getNow(null);
        if (now != null) {
            sink.send(answer(start, now, requested));
            return;
        }
        resolution.whenComplete((later, failure) -> {
            try {
                if (failure != null && unwrap(failure) instanceof LatchkeyException refused) {
                    // the position asked for was not applied in time
                    sink.send(error(start, refused));
                    return;
                }
                sink.send(answer(start, later != null ? later : Resolution.rejected(Outcome.UNAVAILABLE), requested));
            }
            catch (RuntimeException e) {
                sink.failed(e);
            }
        });
    }

    /**
     * An error answer of the verify path that needs no key (a malformed request, a path or method it does not
     * serve), with the envelope of every other error.
     */
    Answer error(long start, ErrorCode code, String message)
    {
        return error(start, HttpErrors.status(code), code, message);
    }

    /**
     * {@link #error(long, ErrorCode, String)} with a status of its own (431, which has no code of its own).
     */
    Answer error(long start, int status, ErrorCode code, String message)
    {
        return new Answer(status, null, null, VerifyBodies.error(code, message, Optional.empty(), micros(start)), authenticator.readYourWrites().age());
    }

    /**
     * Counts a sent answer in the metrics and, at DEBUG, in the access log.
     *
     * @param route the route template of the metrics ({@link VerifyHandler#PATH}, or
     *         {@link HttpRequestMetrics#UNMATCHED} for a path the verify port does not serve)
     */
    void sent(String method, String route, int status, long start, String requestId)
    {
        long nanos = System.nanoTime() - start;
        if (status == 200 && "GET".equals(method) && VerifyHandler.PATH.equals(route)) {
            // the one series nearly every verify answer goes to: its timer is looked up once
            okTimer.record(nanos, TimeUnit.NANOSECONDS);
        }
        else {
            requestMetrics.record(method, route, status, nanos);
        }
        if (accessLog.isDebugEnabled()) {
            accessLog.debug("{} {} {} {}ms request_id={}", method, route, status, Math.round(nanos / 1e6), requestId);
        }
    }

    private static Throwable unwrap(Throwable failure)
    {
        return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    }

    /**
     * Resolves once this instance has applied the position the request asks for: the key is judged as of the write
     * that gave the position (a revoked key refused, a new key accepted even if its id was remembered as unknown).
     */
    private CompletableFuture<Resolution> withMinPosition(Optional<FeedPosition> position, @Nullable String apiKey, @Nullable String authorization)
    {
        // a missing key or conflicting headers answer at once, without waiting
        Authenticator.presentedKey(apiKey, authorization);
        return authenticator.readYourWrites().await(position).thenCompose(applied -> authenticator.resolveAsync(apiKey, authorization));
    }

    private Answer answer(long start, Resolution resolution, RequestedScopes requested)
    {
        Optional<Authenticator.Refusal> refusal = Authenticator.refusal(resolution);
        if (refusal.isPresent()) {
            Authenticator.Refusal refused = refusal.get();
            return new Answer(HttpErrors.status(refused.code()), null, null, VerifyBodies.error(refused.code(), refused.message(), Optional.empty(), micros(start)),
                    authenticator.readYourWrites().age());
        }
        Identity identity = resolution.identity().orElseThrow();
        try {
            VerifyHandler.requireScopes(identity, requested);
        }
        catch (LatchkeyException e) {
            return error(start, e);
        }
        // the key id as text once, for the header and the body (a key id is two numbers until written)
        String keyId = identity.keyId().map(KeyId::value).orElse(null);
        return new Answer(200, identity, keyId, VerifyBodies.ok(identity, keyId, micros(start)), authenticator.readYourWrites().age());
    }

    private Answer error(long start, LatchkeyException e)
    {
        return new Answer(HttpErrors.status(e.code()), null, null, VerifyBodies.error(e.code(), e.getMessage(), e.field(), micros(start)), authenticator.readYourWrites().age());
    }

    private static long micros(long startNanos)
    {
        return (System.nanoTime() - startNanos + 500) / 1_000;
    }
}

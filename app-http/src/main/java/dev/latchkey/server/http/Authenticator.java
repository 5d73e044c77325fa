package dev.latchkey.server.http;

import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.core.resolver.Resolution;
import io.javalin.http.Context;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;

import static java.util.Objects.requireNonNull;

/**
 * Reads the presented key from {@code X-API-Key} or {@code Authorization: Bearer} and resolves it. Never puts the
 * key in a message.
 */
final class Authenticator
{
    /** The request attribute naming the authenticated caller for the access log ({@link #actor}). */
    static final String ACTOR = "latchkey.actor";

    private static final String BEARER = "bearer ";
    /** The refusals as {@link #refusal} answers them, made once: verify asks on every request. */
    private static final Optional<Refusal> NOT_VALID = Optional.of(Refusal.NOT_VALID);
    private static final Optional<Refusal> STORE_UNAVAILABLE = Optional.of(Refusal.STORE_UNAVAILABLE);

    private final IdentityResolver resolver;
    private final ReadYourWrites readYourWrites;

    Authenticator(IdentityResolver resolver)
    {
        this.resolver = requireNonNull(resolver, "resolver is null");
        this.readYourWrites = new ReadYourWrites(resolver);
    }

    ReadYourWrites readYourWrites()
    {
        return readYourWrites;
    }

    /**
     * Authenticates the caller, then, when it asks for a position ({@code X-Latchkey-Min-Position}), waits until this
     * instance has applied it (only an authenticated caller may make a request wait).
     *
     * @throws LatchkeyException UNAUTHENTICATED for a missing, malformed, unknown or revoked key; UNAVAILABLE when
     *         the store is needed and unreachable, or the position was not applied in time; INVALID_ARGUMENT when
     *         both headers carry different keys, or the position is malformed
     */
    Identity authenticate(Context ctx)
    {
        Identity identity = authenticate(ctx.header("X-API-Key"), ctx.header("Authorization"));
        ctx.attribute(ACTOR, actor(identity));
        readYourWrites.awaitBlocking(ctx.header(ReadYourWrites.HEADER));
        return identity;
    }

    /**
     * How the access log names a caller: {@code root}, or the key id it presented (never the key).
     */
    static String actor(Identity identity)
    {
        if (identity.isRoot()) {
            return "root";
        }
        return identity.keyId().map(keyId -> "key:" + keyId.value()).orElse("user:" + identity.userId().orElseThrow().value());
    }

    /**
     * @param apiKeyHeader the {@code X-API-Key} header, or null
     * @param authorizationHeader the {@code Authorization} header, or null
     * @throws LatchkeyException as {@link #authenticate(Context)}
     */
    Identity authenticate(String apiKeyHeader, String authorizationHeader)
    {
        return identity(resolver.resolve(presentedKey(apiKeyHeader, authorizationHeader)));
    }

    /**
     * Resolves without blocking (see {@link IdentityResolver#resolveAsync}).
     *
     * @throws LatchkeyException at once for a missing key or conflicting headers
     */
    CompletableFuture<Resolution> resolveAsync(String apiKeyHeader, String authorizationHeader)
    {
        return resolver.resolveAsync(presentedKey(apiKeyHeader, authorizationHeader));
    }

    /**
     * The key a request presents.
     *
     * @throws LatchkeyException UNAUTHENTICATED when there is none; INVALID_ARGUMENT when both headers carry
     *         different keys
     */
    static String presentedKey(String apiKeyHeader, String authorizationHeader)
    {
        Optional<String> apiKey = Optional.ofNullable(apiKeyHeader).map(String::trim);
        Optional<String> bearer = Optional.ofNullable(authorizationHeader)
                .map(String::trim)
                .filter(value -> value.regionMatches(true, 0, BEARER, 0, BEARER.length()))
                .map(value -> value.substring(BEARER.length()).trim());
        if (apiKey.isPresent() && bearer.isPresent() && !apiKey.get().equals(bearer.get())) {
            throw new LatchkeyException(ErrorCode.INVALID_ARGUMENT, "X-API-Key and Authorization carry different keys");
        }
        return apiKey.or(() -> bearer).filter(value -> !value.isEmpty()).orElseThrow(
                () -> new LatchkeyException(ErrorCode.UNAUTHENTICATED, "an API key is required (X-API-Key or Authorization: Bearer)"));
    }

    /**
     * The identity a resolution grants.
     *
     * @throws LatchkeyException UNAUTHENTICATED for a malformed, unknown or revoked key; UNAVAILABLE when the store
     *         was needed and unreachable
     */
    static Identity identity(Resolution resolution)
    {
        Optional<Refusal> refusal = refusal(resolution);
        if (refusal.isPresent()) {
            throw refusal.get().exception();
        }
        return resolution.identity().orElseThrow();
    }

    /**
     * Why a resolution grants no identity, as an answer rather than a thrown exception: verify answers refusals as
     * often as grants under a flood of bad keys, and filling in an exception's stack trace cost it a tenth of its CPU.
     */
    static Optional<Refusal> refusal(Resolution resolution)
    {
        return switch (resolution.outcome()) {
            case OK -> Optional.empty();
            case MALFORMED, INVALID -> NOT_VALID;
            case UNAVAILABLE -> STORE_UNAVAILABLE;
        };
    }

    /**
     * The error a refused key is answered with.
     */
    record Refusal(ErrorCode code, String message)
    {
        static final Refusal NOT_VALID = new Refusal(ErrorCode.UNAUTHENTICATED, "the API key is not valid");
        static final Refusal STORE_UNAVAILABLE = new Refusal(ErrorCode.UNAVAILABLE, "the identity store is unavailable; try again");

        Refusal
        {
            requireNonNull(code, "code is null");
            requireNonNull(message, "message is null");
        }

        LatchkeyException exception()
        {
            return new LatchkeyException(code, message);
        }
    }
}

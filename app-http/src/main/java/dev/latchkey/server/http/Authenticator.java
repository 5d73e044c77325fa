package dev.latchkey.server.http;

import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.core.resolver.Resolution;
import io.javalin.http.Context;

import java.util.Locale;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Reads the presented key from {@code X-API-Key} or {@code Authorization: Bearer} and resolves it. Never puts the
 * key in a message.
 */
final class Authenticator
{
    private static final String BEARER = "bearer ";

    private final IdentityResolver resolver;

    Authenticator(IdentityResolver resolver)
    {
        this.resolver = requireNonNull(resolver, "resolver is null");
    }

    /**
     * @throws LatchkeyException UNAUTHENTICATED for a missing, malformed, unknown or revoked key; UNAVAILABLE when
     *         the store is needed and unreachable; INVALID_ARGUMENT when both headers carry different keys
     */
    Identity authenticate(Context ctx)
    {
        Optional<String> apiKey = Optional.ofNullable(ctx.header("X-API-Key")).map(String::trim);
        Optional<String> bearer = Optional.ofNullable(ctx.header("Authorization"))
                .map(String::trim)
                .filter(value -> value.toLowerCase(Locale.ROOT).startsWith(BEARER))
                .map(value -> value.substring(BEARER.length()).trim());
        if (apiKey.isPresent() && bearer.isPresent() && !apiKey.get().equals(bearer.get())) {
            throw new LatchkeyException(ErrorCode.INVALID_ARGUMENT, "X-API-Key and Authorization carry different keys");
        }
        Optional<String> presented = apiKey.or(() -> bearer).filter(value -> !value.isEmpty());
        if (presented.isEmpty()) {
            throw new LatchkeyException(ErrorCode.UNAUTHENTICATED, "an API key is required (X-API-Key or Authorization: Bearer)");
        }
        Resolution resolution = resolver.resolve(presented.get());
        return switch (resolution.outcome()) {
            case OK -> resolution.identity().orElseThrow();
            case MALFORMED, INVALID -> throw new LatchkeyException(ErrorCode.UNAUTHENTICATED, "the API key is not valid");
            case UNAVAILABLE -> throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the identity store is unavailable; try again");
        };
    }
}

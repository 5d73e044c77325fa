package dev.latchkey.server.http;

import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.server.cluster.PeerPositions;
import org.jspecify.annotations.Nullable;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * {@code X-Latchkey-Min-Position: P} on a request: it is answered only once this instance has applied the change feed
 * through P, reading the feed at once (one read shared by every request waiting) rather than at its next poll; after
 * {@link #WAIT} without getting there, 503 UNAVAILABLE. A client that carries the position of its write
 * ({@code X-Latchkey-Position}) thereby sees that write on every instance.
 */
final class ReadYourWrites
{
    static final String HEADER = PeerPositions.MIN_POSITION_HEADER;
    /** How long a request waits for its position. */
    static final Duration WAIT = Duration.ofSeconds(1);

    private final IdentityResolver resolver;
    private volatile Age lastAge = new Age(0, "0");

    ReadYourWrites(IdentityResolver resolver)
    {
        this.resolver = requireNonNull(resolver, "resolver is null");
    }

    /**
     * The position a request asks for.
     *
     * @throws LatchkeyException INVALID_ARGUMENT when the header is not a whole number from 0
     */
    static Optional<FeedPosition> requested(@Nullable String header)
    {
        if (header == null) {
            return Optional.empty();
        }
        String text = header.trim();
        if (!text.isEmpty() && text.length() <= 19 && text.chars().allMatch(Character::isDigit)) {
            return Optional.of(FeedPosition.of(Long.parseLong(text)));
        }
        throw new LatchkeyException(ErrorCode.INVALID_ARGUMENT, HEADER + " must be a feed position: a whole number from 0 (an X-Latchkey-Position a write answered)");
    }

    /**
     * Completes once this instance has applied the position (at once without one); fails with UNAVAILABLE after
     * {@link #WAIT}.
     */
    CompletableFuture<Void> await(Optional<FeedPosition> position)
    {
        if (position.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        long wanted = position.get().value();
        return resolver.whenApplied(position.get())
                .orTimeout(WAIT.toMillis(), TimeUnit.MILLISECONDS)
                .handle((applied, failure) -> {
                    if (failure != null) {
                        throw notApplied(wanted);
                    }
                    return null;
                });
    }

    /**
     * {@link #await}, blocking the calling thread (Javalin's requests).
     *
     * @throws LatchkeyException INVALID_ARGUMENT for a malformed header; UNAVAILABLE when the position was not
     *         applied in time
     */
    void awaitBlocking(@Nullable String header)
    {
        Optional<FeedPosition> position = requested(header);
        if (position.isEmpty()) {
            return;
        }
        try {
            await(position).get();
        }
        catch (ExecutionException e) {
            throw notApplied(position.get().value());
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw notApplied(position.get().value());
        }
    }

    private static LatchkeyException notApplied(long position)
    {
        return new LatchkeyException(ErrorCode.UNAVAILABLE,
                "this instance has not applied the change feed through position " + position + " within " + WAIT.toMillis() + " ms; try again");
    }

    /**
     * Whole seconds since this instance last read the change feed ({@code X-Latchkey-Age} on verify answers): how
     * old, at most, the decision is.
     */
    String age()
    {
        long seconds = TimeUnit.NANOSECONDS.toSeconds(resolver.feedLagNanos());
        Age last = lastAge;
        if (last.seconds() != seconds) {
            last = new Age(seconds, Long.toString(seconds));
            lastAge = last;
        }
        return last.text();
    }

    /** An age written, as text: nearly every answer has the same one as the one before. */
    private record Age(long seconds, String text) {}
}

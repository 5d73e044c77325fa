package dev.latchkey.core.resolver;

import dev.latchkey.core.domain.Identity;

import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The answer to "who is this key?": an identity when the outcome is {@link Outcome#OK}, nothing otherwise.
 */
public record Resolution(Outcome outcome, Optional<Identity> identity)
{
    public Resolution
    {
        requireNonNull(outcome, "outcome is null");
        requireNonNull(identity, "identity is null");
        if ((outcome == Outcome.OK) != identity.isPresent()) {
            throw new IllegalArgumentException("an identity comes with OK and only with OK");
        }
    }

    public static Resolution authenticated(Identity identity)
    {
        return new Resolution(Outcome.OK, Optional.of(identity));
    }

    public static Resolution rejected(Outcome outcome)
    {
        return new Resolution(outcome, Optional.empty());
    }
}

package dev.latchkey.core.store;

import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;

import java.util.List;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * One page of a user listing, sorted by user id.
 *
 * @param next the cursor for the next page (the last user id of this one) when more users may follow
 */
public record UserPage(List<User> users, Optional<UserId> next)
{
    public UserPage
    {
        users = List.copyOf(requireNonNull(users, "users is null"));
        requireNonNull(next, "next is null");
    }
}

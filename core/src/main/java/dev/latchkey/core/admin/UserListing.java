package dev.latchkey.core.admin;

import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.store.UserPage;

import java.time.Instant;
import java.util.Map;

import static java.util.Objects.requireNonNull;

/**
 * A page of users, with the last recorded use of their primary keys.
 *
 * @param lastUsed by primary key id; a key never reported used is absent
 */
public record UserListing(UserPage page, Map<KeyId, Instant> lastUsed)
{
    public UserListing
    {
        requireNonNull(page, "page is null");
        lastUsed = Map.copyOf(requireNonNull(lastUsed, "lastUsed is null"));
    }
}

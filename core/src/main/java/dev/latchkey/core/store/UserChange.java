package dev.latchkey.core.store;

import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.User;

import java.util.List;

import static java.util.Objects.requireNonNull;

/**
 * What a write to a user changed: the user as it was before, and every key of the user the write affected (as its
 * feed change names them; empty when the write changed nothing).
 */
public record UserChange(User before, List<KeyId> keyIds)
{
    public UserChange
    {
        requireNonNull(before, "before is null");
        keyIds = List.copyOf(requireNonNull(keyIds, "keyIds is null"));
    }
}

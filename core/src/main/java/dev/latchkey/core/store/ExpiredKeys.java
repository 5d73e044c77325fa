package dev.latchkey.core.store;

import dev.latchkey.core.domain.KeyId;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;

import static java.util.Objects.requireNonNull;

/**
 * What becomes of keys past their expiry. They are refused from their instant on without any write (the resolver
 * checks the clock), and stay in the store until the next write that adds a key to their user or replaces its
 * primary key: that write removes them, in the same atomic write, and names them in its change after the keys it
 * writes (so caches drop them too). Their ids are then free again, so a seeded key whose id an expired key held (a
 * grace key of an earlier rotation) can be issued again.
 */
public final class ExpiredKeys
{
    private ExpiredKeys() {}

    /**
     * The key ids a change names: {@code written} as the write names them, then each purged key not among them, by id.
     */
    public static List<KeyId> named(List<KeyId> written, Collection<KeyId> purged)
    {
        requireNonNull(written, "written is null");
        requireNonNull(purged, "purged is null");
        List<KeyId> named = new ArrayList<>(written);
        purged.stream()
                .filter(keyId -> !written.contains(keyId))
                .sorted(Comparator.comparing(KeyId::value))
                .distinct()
                .forEach(named::add);
        return List.copyOf(named);
    }
}

package dev.latchkey.core.resolver;

import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.key.Base62;

import static java.util.Objects.requireNonNull;

/**
 * A key id as the resolver's cache holds it: its two numbers, inline. The cache stores each {@link CachedKey} as
 * its own key (a cached key <em>is</em> a cache key), so a lookup follows one pointer fewer and a key id costs no
 * object of its own; lookups use a plain {@code CacheKey} as the probe. Equality is by key id alone, whatever the
 * subclass.
 */
class CacheKey
{
    private final long high;
    private final long low;

    CacheKey(KeyId keyId)
    {
        requireNonNull(keyId, "keyId is null");
        this.high = keyId.high();
        this.low = keyId.low();
    }

    KeyId keyId()
    {
        return KeyId.of(toString());
    }

    @Override
    public final boolean equals(Object other)
    {
        return other instanceof CacheKey that && high == that.high && low == that.low;
    }

    @Override
    public final int hashCode()
    {
        return KeyId.hashCode(high, low);
    }

    @Override
    public String toString()
    {
        return Base62.encode(high, KeyId.LENGTH / 2) + Base62.encode(low, KeyId.LENGTH / 2);
    }
}

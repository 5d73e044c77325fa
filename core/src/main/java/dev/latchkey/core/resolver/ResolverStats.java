package dev.latchkey.core.resolver;

import java.time.Duration;

/**
 * What the resolver reports about itself; app-http binds it to Micrometer. Every method is called on the hot path
 * or the poller thread and must be cheap and never throw.
 */
public interface ResolverStats
{
    ResolverStats NONE = new ResolverStats() {};

    default void resolved(Outcome outcome) {}

    /** A positive cache entry answered. */
    default void cacheHit() {}

    /** No cache entry: the store is asked (or an in-flight lookup is joined). */
    default void cacheMiss() {}

    /** The negative cache answered: the key id is known absent. */
    default void negativeCacheHit() {}

    /** One read of the store made to resolve a key (a point lookup, or a background refresh). */
    default void storeKeyLookup() {}

    /** A background refresh of a cached key failed; the old entry keeps serving. */
    default void refreshFailed() {}

    /** The change feed was read successfully. */
    default void feedPolled() {}

    /** Reading the change feed failed. */
    default void feedPollFailed() {}

    /**
     * A change from the feed was applied here.
     *
     * @param propagationDelay from the change's commit time (the writer's clock) to now (this instance's clock)
     */
    default void changeApplied(Duration propagationDelay) {}

    /** The feed position was compacted away; the whole cache was dropped. */
    default void feedReset() {}
}

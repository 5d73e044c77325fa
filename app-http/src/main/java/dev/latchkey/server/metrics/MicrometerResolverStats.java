package dev.latchkey.server.metrics;

import dev.latchkey.core.resolver.Outcome;
import dev.latchkey.core.resolver.ResolverStats;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;

/**
 * Binds the resolver's stats to Micrometer, under the names of http-api.md ({@code latchkey_auth_total},
 * {@code latchkey_store_key_lookups_total}, ...). The feed-lag gauge is registered by the server, which owns the
 * resolver.
 */
public final class MicrometerResolverStats
        implements ResolverStats
{
    private final Map<Outcome, Counter> outcomes = new EnumMap<>(Outcome.class);
    private final Counter cacheHits;
    private final Counter cacheMisses;
    private final Counter negativeCacheHits;
    private final Counter storeKeyLookups;
    private final Counter refreshFailures;
    private final Counter feedPolls;
    private final Counter feedPollFailures;
    private final Counter feedResets;
    private final Timer propagationDelay;

    public MicrometerResolverStats(MeterRegistry registry)
    {
        for (Outcome outcome : Outcome.values()) {
            outcomes.put(outcome, Counter.builder("latchkey.auth").tag("outcome", outcome.label())
                    .description("Presented keys, by how they were judged").register(registry));
        }
        cacheHits = Counter.builder("latchkey.cache.hits").description("Keys answered from the positive cache").register(registry);
        cacheMisses = Counter.builder("latchkey.cache.misses").description("Keys not in the cache").register(registry);
        negativeCacheHits = Counter.builder("latchkey.cache.negative.hits").description("Keys answered from the negative cache").register(registry);
        storeKeyLookups = Counter.builder("latchkey.store.key.lookups")
                .description("Reads of the store made to resolve a key (point lookups and refreshes)").register(registry);
        refreshFailures = Counter.builder("latchkey.cache.refresh.failures").description("Background refreshes that failed").register(registry);
        feedPolls = Counter.builder("latchkey.feed.polls").description("Successful change-feed reads").register(registry);
        feedPollFailures = Counter.builder("latchkey.feed.poll.failures").description("Failed change-feed reads").register(registry);
        feedResets = Counter.builder("latchkey.feed.resets").description("Feed positions compacted away (whole cache dropped)").register(registry);
        propagationDelay = Timer.builder("latchkey.feed.propagation")
                .description("From a change's commit on any instance to its application here")
                .publishPercentiles(0.5, 0.99)
                .register(registry);
    }

    @Override
    public void resolved(Outcome outcome)
    {
        outcomes.get(outcome).increment();
    }

    @Override
    public void cacheHit()
    {
        cacheHits.increment();
    }

    @Override
    public void cacheMiss()
    {
        cacheMisses.increment();
    }

    @Override
    public void negativeCacheHit()
    {
        negativeCacheHits.increment();
    }

    @Override
    public void storeKeyLookup()
    {
        storeKeyLookups.increment();
    }

    @Override
    public void refreshFailed()
    {
        refreshFailures.increment();
    }

    @Override
    public void feedPolled()
    {
        feedPolls.increment();
    }

    @Override
    public void feedPollFailed()
    {
        feedPollFailures.increment();
    }

    @Override
    public void changeApplied(Duration delay)
    {
        propagationDelay.record(delay.isNegative() ? Duration.ZERO : delay);
    }

    @Override
    public void feedReset()
    {
        feedResets.increment();
    }
}

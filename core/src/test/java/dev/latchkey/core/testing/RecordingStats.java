package dev.latchkey.core.testing;

import dev.latchkey.core.resolver.Outcome;
import dev.latchkey.core.resolver.ResolverStats;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Resolver stats that remember what they were told.
 */
public final class RecordingStats
        implements ResolverStats
{
    private final Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
    private final List<Duration> propagationDelays = new CopyOnWriteArrayList<>();

    public int count(String event)
    {
        return counts.getOrDefault(event, new AtomicInteger()).get();
    }

    public int count(Outcome outcome)
    {
        return count("resolved:" + outcome.label());
    }

    public List<Duration> propagationDelays()
    {
        return List.copyOf(propagationDelays);
    }

    private void add(String event)
    {
        counts.computeIfAbsent(event, ignored -> new AtomicInteger()).incrementAndGet();
    }

    @Override
    public void resolved(Outcome outcome)
    {
        add("resolved:" + outcome.label());
    }

    @Override
    public void cacheHit()
    {
        add("cacheHit");
    }

    @Override
    public void cacheMiss()
    {
        add("cacheMiss");
    }

    @Override
    public void negativeCacheHit()
    {
        add("negativeCacheHit");
    }

    @Override
    public void storeKeyLookup()
    {
        add("storeKeyLookup");
    }

    @Override
    public void refreshFailed()
    {
        add("refreshFailed");
    }

    @Override
    public void feedPolled()
    {
        add("feedPolled");
    }

    @Override
    public void feedPollFailed()
    {
        add("feedPollFailed");
    }

    @Override
    public void changeApplied(Duration propagationDelay)
    {
        add("changeApplied");
        propagationDelays.add(propagationDelay);
    }

    @Override
    public void feedReset()
    {
        add("feedReset");
    }
}

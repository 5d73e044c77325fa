package dev.latchkey.core.testing;

import com.github.benmanes.caffeine.cache.Ticker;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

import static java.util.Objects.requireNonNull;

/**
 * A clock that moves only when a test advances it: wall time ({@link Clock}) and monotonic time ({@link Ticker})
 * move together. Thread safe.
 */
public final class TestingClock
        extends Clock
        implements Ticker
{
    private final Instant start;
    private volatile Instant now;

    public TestingClock()
    {
        this(Instant.parse("2026-01-01T00:00:00Z"));
    }

    public TestingClock(Instant start)
    {
        this.start = requireNonNull(start, "start is null");
        this.now = start;
    }

    public synchronized void advance(Duration duration)
    {
        now = now.plus(duration);
    }

    @Override
    public Instant instant()
    {
        return now;
    }

    @Override
    public long read()
    {
        return Duration.between(start, now).toNanos();
    }

    @Override
    public ZoneId getZone()
    {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone)
    {
        throw new UnsupportedOperationException("TestingClock is always UTC");
    }
}

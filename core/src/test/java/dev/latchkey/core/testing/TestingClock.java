package dev.latchkey.core.testing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

import static java.util.Objects.requireNonNull;

/**
 * A clock that moves only when a test advances it. Thread safe.
 */
public final class TestingClock
        extends Clock
{
    private volatile Instant now;

    public TestingClock()
    {
        this(Instant.parse("2026-01-01T00:00:00Z"));
    }

    public TestingClock(Instant start)
    {
        this.now = requireNonNull(start, "start is null");
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

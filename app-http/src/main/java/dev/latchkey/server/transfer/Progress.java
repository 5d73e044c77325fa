package dev.latchkey.server.transfer;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.LongSupplier;

import static java.util.Objects.requireNonNull;

/**
 * Reports a long export or import on standard error: the count so far and the rate, at most once per interval, and
 * once at the end.
 */
final class Progress
{
    private static final long INTERVAL_NANOS = 2_000_000_000L;

    private final PrintWriter err;
    private final String verb;
    private final LongSupplier nanoTime;
    private final long start;
    private long lastReport;

    Progress(PrintWriter err, String verb, LongSupplier nanoTime)
    {
        this.err = requireNonNull(err, "err is null");
        this.verb = requireNonNull(verb, "verb is null");
        this.nanoTime = requireNonNull(nanoTime, "nanoTime is null");
        this.start = nanoTime.getAsLong();
        this.lastReport = start;
    }

    /**
     * Called after each key; prints when an interval has passed since the last report.
     */
    synchronized void keys(long keys, long users, long accounts)
    {
        long now = nanoTime.getAsLong();
        if (now - lastReport >= INTERVAL_NANOS) {
            lastReport = now;
            err.println(line(keys, users, accounts, now));
            err.flush();
        }
    }

    synchronized void done(long keys, long users, long accounts)
    {
        err.println(line(keys, users, accounts, nanoTime.getAsLong()) + ": done");
        err.flush();
    }

    private String line(long keys, long users, long accounts, long now)
    {
        double seconds = Math.max(1e-9, (now - start) / 1e9);
        return String.format(Locale.ROOT, "latchkey: %s %d keys of %d users in %d accounts in %.1f s (%.0f keys/s)", verb, keys, users, accounts, seconds, keys / seconds);
    }
}

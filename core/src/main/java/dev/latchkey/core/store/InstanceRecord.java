package dev.latchkey.core.store;

import java.time.Duration;
import java.time.Instant;

import static java.util.Objects.requireNonNull;

/**
 * One instance's entry in the instance registry: who it is, where its peers reach it, and how far it has applied the
 * change feed. Each instance writes only its own record, every heartbeat, and removes it at a clean stop.
 *
 * @param instanceId the instance ({@link Origin#isValidInstanceId}); names the record
 * @param url where the other instances reach its HTTP API ({@code http://host:port}), to ask it to confirm a
 *         position; empty when it cannot be reached
 * @param version the Latchkey version it runs
 * @param startedAt when it started
 * @param appliedPosition the feed position it has applied through, as of {@code publishedAt}
 * @param feedReadAt when it last read the feed successfully (its start, before the first read)
 * @param publishedAt when it wrote this record, by its own clock
 * @param heartbeat how often it writes the record: a record not rewritten for {@link #MISSED_HEARTBEATS} of them
 *         belongs to an instance that is gone
 */
public record InstanceRecord(String instanceId, String url, String version, Instant startedAt, FeedPosition appliedPosition, Instant feedReadAt,
                             Instant publishedAt, Duration heartbeat)
{
    /** How many heartbeats an instance may miss before it counts as gone. */
    public static final int MISSED_HEARTBEATS = 3;

    public InstanceRecord
    {
        Origin.requireValidInstanceId(requireNonNull(instanceId, "instanceId is null"));
        requireNonNull(url, "url is null");
        requireNonNull(version, "version is null");
        requireNonNull(startedAt, "startedAt is null");
        requireNonNull(appliedPosition, "appliedPosition is null");
        requireNonNull(feedReadAt, "feedReadAt is null");
        requireNonNull(publishedAt, "publishedAt is null");
        requireNonNull(heartbeat, "heartbeat is null");
        if (heartbeat.isNegative() || heartbeat.isZero()) {
            throw new IllegalArgumentException("heartbeat must be positive: " + heartbeat);
        }
    }

    /**
     * Whether the instance counts as running at {@code now}: it rewrote its record within the last
     * {@link #MISSED_HEARTBEATS} heartbeats (clocks of instances are assumed to agree to well within a heartbeat).
     */
    public boolean isLiveAt(Instant now)
    {
        return publishedAt.plus(heartbeat.multipliedBy(MISSED_HEARTBEATS)).isAfter(now);
    }

    /**
     * This record as the instance publishes it again: its applied position and last feed read at {@code now}.
     */
    public InstanceRecord publishedAgain(FeedPosition applied, Instant lastFeedRead, Instant now)
    {
        return new InstanceRecord(instanceId, url, version, startedAt, applied, lastFeedRead, now, heartbeat);
    }
}

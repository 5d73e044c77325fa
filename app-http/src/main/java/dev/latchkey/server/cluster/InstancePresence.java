package dev.latchkey.server.cluster;

import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.InstanceRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static java.util.Objects.requireNonNull;

/**
 * This instance's record in the store's instance registry: written when the server starts listening, every
 * heartbeat, and (at most once per {@code republishSpacing}) when this instance has confirmed a position to a waiting
 * writer and its applied position moved since the last write of the record; removed at a clean stop. A failed write
 * is logged and retried at the next heartbeat: the registry is for observing, and never stops the server.
 */
public final class InstancePresence
        implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(InstancePresence.class);

    private final IdentityStore store;
    private final IdentityResolver resolver;
    private final Clock clock;
    private final String instanceId;
    private final String version;
    private final Duration heartbeat;
    private final long republishSpacingNanos;
    private final Instant startedAt;
    private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "latchkey-presence");
        thread.setDaemon(true);
        return thread;
    });
    private final AtomicBoolean republishQueued = new AtomicBoolean();
    private final AtomicLong publishedPosition = new AtomicLong(-1);
    private final AtomicLong publishedNanos = new AtomicLong(System.nanoTime());
    /** Whether the last write failed (logged once until one succeeds). */
    private final AtomicBoolean failing = new AtomicBoolean();
    private volatile String url = "";
    private volatile boolean started;

    /**
     * @param republishSpacing the least time between two writes of the record other than heartbeats (the poll
     *         interval)
     */
    public InstancePresence(IdentityStore store, IdentityResolver resolver, Clock clock, String instanceId, String version, Duration heartbeat,
            Duration republishSpacing)
    {
        this.store = requireNonNull(store, "store is null");
        this.resolver = requireNonNull(resolver, "resolver is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.instanceId = requireNonNull(instanceId, "instanceId is null");
        this.version = requireNonNull(version, "version is null");
        this.heartbeat = requireNonNull(heartbeat, "heartbeat is null");
        this.republishSpacingNanos = requireNonNull(republishSpacing, "republishSpacing is null").toNanos();
        this.startedAt = clock.instant();
    }

    public String instanceId()
    {
        return instanceId;
    }

    /**
     * Publishes the record now, with the URL where the other instances reach this one, and every heartbeat from now on.
     */
    public synchronized void start(String advertisedUrl)
    {
        if (started) {
            throw new IllegalStateException("already started");
        }
        started = true;
        this.url = requireNonNull(advertisedUrl, "advertisedUrl is null");
        publish();
        long millis = heartbeat.toMillis();
        executor.scheduleWithFixedDelay(this::publish, millis, millis, TimeUnit.MILLISECONDS);
    }

    /**
     * The record as this instance would publish it now (its live applied position, not the last one written).
     */
    public InstanceRecord current()
    {
        Instant now = clock.instant();
        FeedPosition applied = resolver.appliedPosition().orElse(FeedPosition.START);
        Instant feedReadAt = now.minus(resolver.feedLag());
        return new InstanceRecord(instanceId, url, version, startedAt, applied, feedReadAt.isBefore(startedAt) ? startedAt : feedReadAt, now, heartbeat);
    }

    /**
     * After this instance confirmed a position to a writer waiting for every instance: writes the record again, in
     * the background, if its applied position moved since the last write and the last write is at least the
     * republish spacing ago, so that the registry (and {@code GET /api/v1/admin/instances}) shows it soon.
     */
    public void positionConfirmed()
    {
        long applied = resolver.appliedPosition().map(FeedPosition::value).orElse(0L);
        if (!started || applied == publishedPosition.get() || System.nanoTime() - publishedNanos.get() < republishSpacingNanos) {
            return;
        }
        if (republishQueued.compareAndSet(false, true)) {
            try {
                executor.execute(() -> {
                    republishQueued.set(false);
                    publish();
                });
            }
            catch (RejectedExecutionException e) {
                // stopping
                republishQueued.set(false);
            }
        }
    }

    private void publish()
    {
        InstanceRecord record = current();
        try {
            store.publishInstance(record);
            publishedPosition.set(record.appliedPosition().value());
            publishedNanos.set(System.nanoTime());
            if (failing.compareAndSet(true, false)) {
                LOG.info("the instance registry is written again");
            }
        }
        catch (RuntimeException e) {
            if (failing.compareAndSet(false, true)) {
                LOG.warn("writing this instance's record in the instance registry failed; retried every heartbeat: {}", e.getMessage());
            }
        }
    }

    /**
     * Stops the heartbeats and removes the record (a clean stop: the other instances stop counting this one at once).
     */
    @Override
    public void close()
    {
        executor.shutdownNow();
        if (!started) {
            return;
        }
        try {
            store.removeInstance(instanceId);
        }
        catch (RuntimeException e) {
            LOG.warn("removing this instance's record from the instance registry failed; it counts as gone after {} heartbeats: {}",
                    InstanceRecord.MISSED_HEARTBEATS, e.getMessage());
        }
    }
}

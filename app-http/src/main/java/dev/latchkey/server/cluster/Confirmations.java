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
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import static java.util.Objects.requireNonNull;

/**
 * Which live instances have applied a feed position: this one from its resolver, the others by asking each over HTTP
 * ({@link PeerPositions}). The live instances are those of the instance registry whose record is fresh
 * ({@link InstanceRecord#isLiveAt}), and always this one.
 */
public final class Confirmations
        implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(Confirmations.class);
    private static final int THREADS = 16;
    /** The longest single request to a peer: it waits up to a second for the position itself. */
    private static final Duration ASK_TIMEOUT = Duration.ofMillis(1_500);
    private static final Duration RETRY_PAUSE = Duration.ofMillis(100);
    private static final Duration STATUS_TIMEOUT = Duration.ofSeconds(1);

    private final IdentityStore store;
    private final IdentityResolver resolver;
    private final InstancePresence presence;
    private final PeerPositions peers;
    private final Clock clock;
    private final ExecutorService executor;

    public Confirmations(IdentityStore store, IdentityResolver resolver, InstancePresence presence, PeerPositions peers, Clock clock)
    {
        this.store = requireNonNull(store, "store is null");
        this.resolver = requireNonNull(resolver, "resolver is null");
        this.presence = requireNonNull(presence, "presence is null");
        this.peers = requireNonNull(peers, "peers is null");
        this.clock = requireNonNull(clock, "clock is null");
        AtomicInteger threads = new AtomicInteger();
        this.executor = Executors.newFixedThreadPool(THREADS, runnable -> {
            Thread thread = new Thread(runnable, "latchkey-confirm-" + threads.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
    }

    /**
     * The position of the newest committed change: a write answered before this call is at or before it.
     */
    public FeedPosition head()
    {
        return store.headPosition();
    }

    /**
     * A position at or after every write this instance has answered: what a write's answer reports (on some stores
     * it costs no request, unlike {@link #head}).
     */
    public FeedPosition writtenPosition()
    {
        return store.writtenPosition();
    }

    /**
     * The live instances, this one first, as the registry has them (this one as it is now).
     */
    public List<InstanceRecord> liveInstances()
    {
        Instant now = clock.instant();
        InstanceRecord self = presence.current();
        List<InstanceRecord> live = new ArrayList<>();
        live.add(self);
        List<InstanceRecord> registered;
        try {
            registered = store.listInstances();
        }
        catch (RuntimeException e) {
            LOG.warn("the instance registry could not be read; only this instance is counted: {}", e.getMessage());
            registered = List.of();
        }
        for (InstanceRecord record : registered) {
            if (!record.instanceId().equals(self.instanceId()) && record.isLiveAt(now)) {
                live.add(record);
            }
        }
        return live;
    }

    /**
     * Waits until every live instance has applied {@code position}, or {@code timeout} has passed: each instance that
     * has not confirmed is asked again until then.
     */
    public Confirmation confirm(FeedPosition position, Duration timeout)
    {
        long deadline = System.nanoTime() + timeout.toNanos();
        return collect(position, deadline, true);
    }

    /**
     * Which live instances have applied {@code position} now (each asked once, without waiting for it).
     */
    public Confirmation status(FeedPosition position)
    {
        return collect(position, System.nanoTime() + STATUS_TIMEOUT.toNanos(), false);
    }

    private Confirmation collect(FeedPosition position, long deadline, boolean wait)
    {
        List<InstanceRecord> live = liveInstances();
        List<CompletableFuture<Boolean>> answers = new ArrayList<>();
        answers.add(CompletableFuture.supplyAsync(() -> selfApplied(position, deadline, wait), executor));
        for (InstanceRecord peer : live.subList(1, live.size())) {
            answers.add(CompletableFuture.supplyAsync(() -> peerApplied(peer, position, deadline, wait), executor));
        }
        List<String> applied = new ArrayList<>();
        List<String> lagging = new ArrayList<>();
        for (int i = 0; i < live.size(); i++) {
            boolean confirmed;
            try {
                // each answer gives up by the deadline itself: the margin covers a request in flight then
                confirmed = answers.get(i).get(Math.max(0, deadline - System.nanoTime()) + ASK_TIMEOUT.toNanos(), TimeUnit.NANOSECONDS);
            }
            catch (ExecutionException | TimeoutException e) {
                confirmed = false;
            }
            catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                confirmed = false;
            }
            (confirmed ? applied : lagging).add(live.get(i).instanceId());
        }
        return new Confirmation(applied, lagging);
    }

    private boolean selfApplied(FeedPosition position, long deadline, boolean wait)
    {
        if (!wait) {
            return resolver.appliedPosition().map(applied -> applied.value() >= position.value()).orElse(false);
        }
        try {
            resolver.whenApplied(position).orTimeout(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS).get();
            return true;
        }
        catch (ExecutionException e) {
            return false;
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private boolean peerApplied(InstanceRecord peer, FeedPosition position, long deadline, boolean wait)
    {
        if (peer.url().isEmpty()) {
            return false;
        }
        while (true) {
            long remaining = deadline - System.nanoTime();
            if (remaining <= 0) {
                return false;
            }
            Duration timeout = Duration.ofNanos(Math.min(remaining, ASK_TIMEOUT.toNanos()));
            Optional<FeedPosition> applied = peers.ask(peer.url(), wait ? Optional.of(position) : Optional.empty(), timeout);
            if (applied.isPresent() && applied.get().value() >= position.value()) {
                return true;
            }
            if (!wait) {
                return false;
            }
            try {
                Thread.sleep(Math.min(RETRY_PAUSE.toMillis(), Math.max(1, (deadline - System.nanoTime()) / 1_000_000)));
            }
            catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
    }

    @Override
    public void close()
    {
        executor.shutdownNow();
    }
}

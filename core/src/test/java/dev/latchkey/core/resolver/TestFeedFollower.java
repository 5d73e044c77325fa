package dev.latchkey.core.resolver;

import dev.latchkey.core.admin.AdminService;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.memory.InMemoryIdentityStore;
import dev.latchkey.core.testing.RecordingStats;
import dev.latchkey.core.testing.TestingClock;
import dev.latchkey.core.testing.Waiting;
import dev.latchkey.core.testing.TestingIdentityStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The feed follower against a real in-memory store wrapped to count and fail on demand, with fake time.
 */
class TestFeedFollower
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final Identity ROOT = Identity.root();
    private static final AccountId ACME = AccountId.of("acme");

    private final TestingClock clock = new TestingClock();
    private final InMemoryIdentityStore memory = new InMemoryIdentityStore(clock);
    private final TestingIdentityStore store = new TestingIdentityStore(memory);
    private final AdminService writer = new AdminService(memory, new ApiKeyGenerator(new SecureRandom()), SecretHasher.sha256(), clock);
    private final RecordingStats stats = new RecordingStats();
    private final RecordingListener listener = new RecordingListener();
    private final ScheduledThreadPoolExecutor scheduler = new ScheduledThreadPoolExecutor(1);

    TestFeedFollower()
    {
        // a cancelled periodic read leaves the queue at once, so that an empty queue proves no read is scheduled
        scheduler.setRemoveOnCancelPolicy(true);
    }

    @AfterEach
    void tearDown()
    {
        scheduler.shutdownNow();
    }

    private FeedFollower follower(ResolverConfig config)
    {
        return new FeedFollower(store, config, stats, clock, clock, listener);
    }

    @Test
    void theFirstReadTakesTheHeadAndLaterReadsTellEveryChangeInFeedOrder()
    {
        writer.createAccount(ROOT, AccountId.of("before"), UserId.of("admin"), Optional.empty());
        FeedFollower follower = follower(ResolverConfig.defaults());
        assertThat(follower.isPositioned()).isFalse();

        follower.poll();
        assertThat(follower.isPositioned()).isTrue();
        assertThat(listener.changes).as("what was committed before the first read").isEmpty();

        writer.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty());
        writer.registerUser(ROOT, ACME, UserId.of("bob"), Role.USER, Optional.empty());
        writer.setRole(ROOT, ACME, UserId.of("bob"), Role.ADMIN);
        clock.advance(Duration.ofMillis(40));
        follower.poll();

        assertThat(listener.changes).extracting(Change::type)
                .containsExactly(ChangeType.ACCOUNT_CREATED, ChangeType.USER_ADDED, ChangeType.ROLE_CHANGED);
        assertThat(stats.propagationDelays()).containsOnly(Duration.ofMillis(40));
        follower.poll();
        assertThat(listener.changes).as("nothing told twice").hasSize(3);
    }

    @Test
    void oneReadCatchesUpFullyInBatches()
    {
        FeedFollower follower = follower(ResolverConfig.defaults().withFeedBatchSize(2));
        follower.poll();
        writer.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty());
        for (int i = 0; i < 4; i++) {
            writer.registerUser(ROOT, ACME, UserId.of("user-" + i), Role.USER, Optional.empty());
        }
        int readsBefore = store.feedReads();

        follower.poll();

        assertThat(listener.changes).hasSize(5);
        assertThat(store.feedReads() - readsBefore).as("2 + 2 + 1").isEqualTo(3);
    }

    @Test
    void aCompactedPositionTellsAReset()
    {
        FeedFollower follower = follower(ResolverConfig.defaults());
        follower.poll();
        writer.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty());
        writer.registerUser(ROOT, ACME, UserId.of("bob"), Role.USER, Optional.empty());
        memory.compactThrough(memory.headPosition());

        follower.poll();
        assertThat(listener.resets.get()).isEqualTo(1);
        assertThat(listener.changes).isEmpty();
        assertThat(stats.count("feedReset")).isEqualTo(1);

        writer.registerUser(ROOT, ACME, UserId.of("carol"), Role.USER, Optional.empty());
        follower.poll();
        assertThat(listener.changes).as("continues from the head it was given").extracting(Change::type).containsExactly(ChangeType.USER_ADDED);
        assertThat(listener.resets.get()).isEqualTo(1);
    }

    @Test
    void anOutageIsStaleOnlyAfterMaxStaleAndEndsAtTheNextSuccessfulRead()
    {
        Duration maxStale = Duration.ofSeconds(10);
        FeedFollower follower = follower(ResolverConfig.defaults().withMaxStale(maxStale));
        follower.poll();
        store.setUnavailable(true);

        clock.advance(maxStale.minusMillis(1));
        follower.poll();
        assertThat(follower.isStale()).isFalse();
        assertThat(listener.stale.get()).isZero();
        assertThat(follower.lag()).isEqualTo(maxStale.minusMillis(1));

        clock.advance(Duration.ofMillis(1));
        follower.poll();
        assertThat(follower.isStale()).isTrue();
        assertThat(listener.stale.get()).isEqualTo(1);
        assertThat(stats.count("feedPollFailed")).isEqualTo(2);

        writer.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty());
        store.setUnavailable(false);
        follower.poll();
        assertThat(follower.isStale()).isFalse();
        assertThat(follower.lag()).isZero();
        assertThat(listener.changes).as("caught up after the outage").hasSize(1);
    }

    @Test
    void aFollowerThatNeverReadTheFeedIsInTheOutageStateFromItsStart()
    {
        store.setUnavailable(true);
        FeedFollower follower = follower(ResolverConfig.defaults().withMaxStale(Duration.ofSeconds(5)));
        follower.poll();
        assertThat(follower.isPositioned()).isFalse();
        assertThat(follower.isStale()).isFalse();
        clock.advance(Duration.ofSeconds(5));
        assertThat(follower.isStale()).isTrue();
    }

    @Test
    void wakeUpsCoalesceIntoOneReadAndDoNothingBeforeStart()
            throws Exception
    {
        FeedFollower follower = follower(ResolverConfig.defaults().withPollInterval(Duration.ofHours(1)));
        follower.poll();
        int reads = store.feedReads();
        follower.wakeUp();
        assertThat(store.feedReads()).isEqualTo(reads);

        follower.start(scheduler);
        CountDownLatch busy = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        scheduler.execute(() -> {
            busy.countDown();
            awaitQuietly(release);
        });
        assertThat(busy.await(10, TimeUnit.SECONDS)).isTrue();
        for (int i = 0; i < 20; i++) {
            follower.wakeUp();
        }
        release.countDown();

        assertThat(Waiting.until(() -> store.feedReads() > reads, WAIT)).isTrue();
        // a task queued behind the read shows that no other read is pending
        CountDownLatch after = new CountDownLatch(1);
        scheduler.execute(after::countDown);
        assertThat(after.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(store.feedReads() - reads).isEqualTo(1);

        follower.wakeUp();
        assertThat(Waiting.until(() -> store.feedReads() - reads == 2, WAIT)).as("a wake-up after the read reads again").isTrue();
        follower.close();
    }

    @Test
    void startedItReadsEveryPollIntervalUntilClosed()
            throws Exception
    {
        FeedFollower follower = follower(ResolverConfig.defaults().withPollInterval(Duration.ofMillis(5)));
        follower.poll();
        int reads = store.feedReads();
        follower.start(scheduler);
        assertThatThrownBy(() -> follower.start(scheduler)).isInstanceOf(IllegalStateException.class);
        assertThat(Waiting.until(() -> store.feedReads() >= reads + 3, WAIT)).isTrue();


        follower.close();
        // a read in progress finishes and is not scheduled again
        assertThat(Waiting.until(() -> scheduler.getActiveCount() == 0, WAIT)).isTrue();
        assertThat(scheduler.getQueue()).as("no read is scheduled any more").isEmpty();
    }

    private static void awaitQuietly(CountDownLatch latch)
    {
        try {
            latch.await(10, TimeUnit.SECONDS);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }


    private static final class RecordingListener
            implements FeedFollower.Listener
    {
        private final List<Change> changes = new CopyOnWriteArrayList<>();
        private final AtomicInteger resets = new AtomicInteger();
        private final AtomicInteger stale = new AtomicInteger();

        @Override
        public void changed(Change change)
        {
            changes.add(change);
        }

        @Override
        public void reset()
        {
            resets.incrementAndGet();
        }

        @Override
        public void stale()
        {
            stale.incrementAndGet();
        }
    }
}

package dev.latchkey.core.resolver;

import com.github.benmanes.caffeine.cache.CacheLoader;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.testing.Waiting;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The resolver's cache on its own: the change stamp rule, evictions, account deletion, and the rule that a hit never reads
 * an entry Caffeine has dropped, including when a clear overlaps an install.
 */
class TestKeyCache
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final AccountId ACME = AccountId.of("acme");
    private static final AccountId BETA = AccountId.of("beta");
    private static final SecretHasher HASHER = SecretHasher.sha256();

    private final PausingTicker ticker = new PausingTicker();
    private final RecordingRefresher refresher = new RecordingRefresher();
    private final QueueingExecutor sweeper = new QueueingExecutor();

    private KeyCache cache(ResolverConfig config)
    {
        return new KeyCache(config, ticker, refresher, sweeper);
    }

    private KeyCache cache()
    {
        return cache(ResolverConfig.defaults());
    }

    @Test
    void anInstalledKeyIsServedFromBothMaps()
    {
        KeyCache cache = cache();
        CachedKey entry = cache.entry(record(1, ACME));
        assertThat(cache.hit(probe(1))).as("not yet installed").isNull();

        cache.install(entry, cache.stamp(entry.keyId()));

        assertThat(cache.hit(probe(1))).isSameAs(entry);
        assertThat(cache.peek(keyId(1))).isSameAs(entry);
        assertThat(cache.decidesOn(entry)).isTrue();
        assertThat(cache.serves(entry)).isTrue();
        assertThat(cache.size()).isEqualTo(1);
    }

    @Test
    void anAnswerReadBeforeAChangeToItsKeyIsNotRemembered()
    {
        KeyCache cache = cache();
        long found = cache.stamp(keyId(1));
        long absent = cache.stamp(keyId(3));
        CachedKey entry = cache.entry(record(1, ACME));
        // changes naming these keys, applied while the store was read
        cache.evict(ChangeType.ROLE_CHANGED, ACME, List.of(keyId(1), keyId(3)));
        assertThat(cache.isCurrent(keyId(1), found)).isFalse();

        cache.install(entry, found);
        cache.recordAbsent(keyId(3), absent);

        assertThat(cache.hit(probe(1))).isNull();
        assertThat(cache.decidesOn(entry)).isFalse();
        assertThat(cache.isKnownAbsent(keyId(3))).isFalse();

        cache.recordAbsent(keyId(3), cache.stamp(keyId(3)));
        assertThat(cache.isKnownAbsent(keyId(3))).isTrue();
    }

    @Test
    void changesToOtherKeysLeaveAReadAlone()
    {
        KeyCache cache = cache();
        long found = cache.stamp(keyId(1));
        long absent = cache.stamp(keyId(3));
        CachedKey entry = cache.entry(record(1, ACME));
        // the feed applies a burst of changes to other keys while the store is read
        List<KeyId> others = IntStream.range(100, 140).mapToObj(TestKeyCache::keyId)
                .filter(other -> !sharesStripe(other, keyId(1)) && !sharesStripe(other, keyId(3)))
                .toList();
        assertThat(others).hasSizeGreaterThan(30);
        others.forEach(other -> cache.evict(ChangeType.USER_ADDED, ACME, List.of(other)));

        assertThat(cache.isCurrent(keyId(1), found)).isTrue();
        cache.install(entry, found);
        cache.recordAbsent(keyId(3), absent);
        assertThat(cache.hit(probe(1))).isSameAs(entry);
        assertThat(cache.isKnownAbsent(keyId(3))).isTrue();

        // an account deletion concerns every key, of any account
        long before = cache.stamp(keyId(2));
        cache.evict(ChangeType.ACCOUNT_DELETED, BETA, List.of());
        assertThat(cache.isCurrent(keyId(2), before)).isFalse();
    }

    private static boolean sharesStripe(KeyId first, KeyId second)
    {
        KeyCache probe = new KeyCache(ResolverConfig.defaults(), Ticker.systemTicker(), key -> null, Runnable::run);
        long before = probe.stamp(second);
        probe.evict(ChangeType.USER_ADDED, ACME, List.of(first));
        return !probe.isCurrent(second, before);
    }

    @Test
    void aChangeForgetsTheKeysItNamesFoundOrAbsentAndNoOther()
    {
        KeyCache cache = cache();
        CachedKey named = install(cache, record(1, ACME));
        CachedKey other = install(cache, record(2, ACME));
        cache.recordAbsent(keyId(3), cache.stamp(keyId(3)));

        cache.evict(ChangeType.KEY_REPLACED, ACME, List.of(keyId(1), keyId(3)));

        assertThat(cache.hit(probe(1))).isNull();
        assertThat(cache.decidesOn(named)).isFalse();
        assertThat(cache.isKnownAbsent(keyId(3))).isFalse();
        assertThat(cache.hit(probe(2))).isSameAs(other);
    }

    @Test
    void deletingAnAccountDisownsEveryKeyOfItAtOnceAndTheSweepRemovesThem()
    {
        KeyCache cache = cache();
        List<CachedKey> acme = IntStream.range(0, 5).mapToObj(i -> install(cache, record(i, ACME))).toList();
        CachedKey beta = install(cache, record(9, BETA));

        cache.evict(ChangeType.ACCOUNT_DELETED, ACME, List.of(keyId(0)));

        // before the sweep has run: every key of the account is already refused
        assertThat(sweeper.pending()).isEqualTo(1);
        assertThat(cache.decidesOn(acme.get(1))).isTrue();
        for (int i = 0; i < acme.size(); i++) {
            assertThat(cache.hit(probe(i))).as("key %s", i).isNull();
            assertThat(cache.peek(keyId(i))).isNull();
        }
        assertThat(cache.hit(probe(9))).isSameAs(beta);

        CachedKey unused = install(cache, record(7, ACME));
        CachedKey disownedUnused = acme.get(4);
        sweeper.runAll();
        assertThat(acme).allSatisfy(entry -> {
            assertThat(cache.decidesOn(entry)).isFalse();
            assertThat(cache.serves(entry)).isFalse();
        });
        assertThat(disownedUnused.isDisowned()).isTrue();
        assertThat(cache.hit(probe(7))).as("a key cached after the deletion has a new account object").isSameAs(unused);
        assertThat(cache.hit(probe(9))).isSameAs(beta);
    }

    @Test
    void removingAnEntryLeavesANewerEntryForTheSameKeyId()
    {
        KeyCache cache = cache();
        CachedKey older = install(cache, record(1, ACME));
        CachedKey newer = install(cache, record(1, ACME));
        assertThat(newer).isNotSameAs(older);

        cache.removeExactly(older);

        assertThat(cache.hit(probe(1))).isSameAs(newer);
        assertThat(cache.decidesOn(newer)).isTrue();
    }

    @Test
    void sizeEvictionRemovesFromTheHitMapToo()
    {
        int maxKeys = 10;
        KeyCache cache = cache(ResolverConfig.defaults().withMaxKeys(maxKeys));
        List<CachedKey> entries = IntStream.range(0, 200).mapToObj(i -> install(cache, record(i, ACME))).toList();

        assertThat(cache.size()).isLessThanOrEqualTo(maxKeys);
        assertThat(entries).allSatisfy(entry -> {
            if (cache.serves(entry)) {
                assertThat(cache.decidesOn(entry)).as("served but dropped by Caffeine: %s", entry).isTrue();
            }
        });
        assertThat(entries.stream().filter(cache::serves).count()).isEqualTo(cache.size());
    }

    @Test
    void aHitOnAnEntryDueForRefreshStartsTheRefresh()
    {
        KeyCache cache = cache();
        install(cache, record(1, ACME));
        for (int i = 0; i < 10 * KeyCache.POLICY_SAMPLE; i++) {
            cache.hit(probe(1));
        }
        assertThat(refresher.reloads()).as("not due yet").isZero();

        ticker.advance(ResolverConfig.defaults().cacheTtl().plusNanos(1));
        assertThat(cache.hit(probe(1))).isNotNull();

        assertThat(refresher.reloads()).isEqualTo(1);
    }

    @Test
    void clearingForgetsEverythingFoundAndClearingAllForgetsTheAbsentToo()
    {
        KeyCache cache = cache();
        CachedKey entry = install(cache, record(1, ACME));
        cache.recordAbsent(keyId(2), cache.stamp(keyId(2)));
        long stamp = cache.stamp(keyId(5));

        cache.clear();

        assertThat(cache.isCurrent(keyId(5), stamp)).as("a read begun before the clear is not remembered").isFalse();
        assertThat(cache.hit(probe(1))).isNull();
        assertThat(cache.decidesOn(entry)).isFalse();
        assertThat(cache.isKnownAbsent(keyId(2))).isTrue();

        cache.clearAll();
        assertThat(cache.isKnownAbsent(keyId(2))).isFalse();
    }

    /**
     * The install is paused inside Caffeine's atomic compute of the entry (at a ticker read after the stamp check), a
     * clear runs meanwhile, and then the install finishes. Caffeine's own clear skips an entry whose first compute
     * is still running; without the install lock, the entry would outlive the clear in Caffeine.
     */
    @Test
    void aClearOverlappingAnInstallLeavesNothingOfIt()
            throws Exception
    {
        KeyCache cache = cache();
        CachedKey entry = cache.entry(record(1, ACME));
        long stamp = cache.stamp(entry.keyId());

        Thread installer = new Thread(() -> cache.install(entry, stamp), "installer");
        // Caffeine's compute reads the ticker twice: first before it locks the entry, then inside the map's atomic
        // compute, after the function that checked the stamp and filled the hit map
        ticker.pauseAtRead(installer, 2);
        installer.start();
        assertThat(ticker.awaitPaused()).as("the install reached Caffeine's compute").isTrue();
        assertThat(cache.serves(entry)).as("paused after the stamp check, with the hit map filled").isTrue();

        AtomicReference<Throwable> clearFailure = new AtomicReference<>();
        Thread clearer = new Thread(() -> {
            try {
                cache.clear();
            }
            catch (Throwable e) {
                clearFailure.set(e);
            }
        }, "clearer");
        clearer.start();
        // the clear either waits for the install, or (were it not excluded) runs to its end
        assertThat(Waiting.until(() -> clearer.getState() == Thread.State.WAITING || !clearer.isAlive(), WAIT)).isTrue();

        ticker.release();
        installer.join(TimeUnit.SECONDS.toMillis(10));
        clearer.join(TimeUnit.SECONDS.toMillis(10));

        assertThat(installer.isAlive()).isFalse();
        assertThat(clearer.isAlive()).isFalse();
        assertThat(clearFailure.get()).isNull();
        assertThat(cache.decidesOn(entry)).as("left in Caffeine").isFalse();
        assertThat(cache.serves(entry)).as("left in the hit map").isFalse();
        assertThat(cache.hit(probe(1))).isNull();
    }

    private static CachedKey install(KeyCache cache, KeyRecord record)
    {
        CachedKey entry = cache.entry(record);
        cache.install(entry, cache.stamp(entry.keyId()));
        return entry;
    }

    private static KeyId keyId(int index)
    {
        return KeyId.of("%016d".formatted(index));
    }

    private static CacheKey probe(int index)
    {
        return new CacheKey(keyId(index));
    }

    private static KeyRecord record(int index, AccountId accountId)
    {
        return new KeyRecord(keyId(index), HASHER.hash("secret-" + index), accountId, UserId.of("user-" + index), Role.USER, Instant.EPOCH);
    }


    /**
     * Fake time that can hold one chosen thread at one of its reads until released.
     */
    private static final class PausingTicker
            implements Ticker
    {
        private final AtomicLong nanos = new AtomicLong();
        private final CountDownLatch paused = new CountDownLatch(1);
        private final CountDownLatch released = new CountDownLatch(1);
        private volatile Thread toPause;
        private volatile int readsBeforePause;

        void advance(Duration duration)
        {
            nanos.addAndGet(duration.toNanos());
        }

        /**
         * Holds {@code thread} at its {@code read}-th read of this ticker (counting from 1).
         */
        void pauseAtRead(Thread thread, int read)
        {
            readsBeforePause = read;
            toPause = thread;
        }

        boolean awaitPaused()
                throws InterruptedException
        {
            return paused.await(10, TimeUnit.SECONDS);
        }

        void release()
        {
            released.countDown();
        }

        @Override
        public long read()
        {
            if (Thread.currentThread() == toPause && --readsBeforePause == 0) {
                toPause = null;
                paused.countDown();
                try {
                    released.await(10, TimeUnit.SECONDS);
                }
                catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return nanos.get();
        }
    }

    /**
     * Counts the background refreshes Caffeine asks for, and answers each with the old entry.
     */
    private static final class RecordingRefresher
            implements CacheLoader<CacheKey, CachedKey>
    {
        private final AtomicInteger reloads = new AtomicInteger();

        int reloads()
        {
            return reloads.get();
        }

        @Override
        public CachedKey load(CacheKey key)
        {
            throw new UnsupportedOperationException("the cache only refreshes");
        }

        @Override
        public CompletableFuture<CachedKey> asyncReload(CacheKey key, CachedKey oldValue, Executor executor)
        {
            reloads.incrementAndGet();
            return CompletableFuture.completedFuture(oldValue);
        }
    }

    /**
     * Runs what it is given only when told to.
     */
    private static final class QueueingExecutor
            implements Executor
    {
        private final List<Runnable> tasks = new ArrayList<>();

        @Override
        public synchronized void execute(Runnable task)
        {
            tasks.add(task);
        }

        synchronized int pending()
        {
            return tasks.size();
        }

        void runAll()
        {
            List<Runnable> toRun;
            synchronized (this) {
                toRun = List.copyOf(tasks);
                tasks.clear();
            }
            toRun.forEach(Runnable::run);
        }
    }
}

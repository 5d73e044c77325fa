package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.NewUser;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The change feed of the JDBC store under the out-of-order commit hazard: a transaction that took a position and
 * has not committed must hold back every later one, so that no reader ever steps past it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class AbstractTestJdbcChangeFeed
{
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final String HELD_WRITER = "held-writer";

    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final SecretHasher hasher = SecretHasher.sha256();
    private final Clock clock = Clock.systemUTC();
    private final List<JdbcIdentityStore> opened = new ArrayList<>();

    /**
     * The configuration of a fresh, empty database.
     */
    protected abstract JdbcStoreConfig freshDatabase();

    /**
     * How many sessions of the database are waiting for a lock held by another.
     */
    protected abstract int sessionsWaitingForLocks(Connection connection)
            throws SQLException;

    @AfterEach
    void closeStores()
    {
        opened.forEach(JdbcIdentityStore::close);
        opened.clear();
    }

    @Test
    void aLaterWriterWaitsForTheHeldTransactionAndTheReaderSkipsNeither()
            throws Exception
    {
        // the later writer's wait for the feed head must not time out while the test looks at it
        JdbcStoreConfig config = freshDatabase().withTimeouts(Duration.ofSeconds(1), TIMEOUT);
        CountDownLatch held = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicLong heldPosition = new AtomicLong();
        JdbcIdentityStore store = open(config, position -> {
            if (Thread.currentThread().getName().equals(HELD_WRITER)) {
                heldPosition.set(position);
                held.countDown();
                await(release);
            }
        });
        JdbcIdentityStore other = open(config, JdbcIdentityStore.BeforeCommit.NONE);
        AccountId acme = AccountId.of("acme");
        AccountId globex = AccountId.of("globex");
        createAccount(store, acme);
        createAccount(other, globex);
        FeedPosition before = store.headPosition();
        assertThat(before).isEqualTo(FeedPosition.of(2));

        // one writer takes position 3 and stays open; another, on another account and another handle, comes later
        NewUser bob = newUser(acme, "bob");
        NewUser carol = newUser(globex, "carol");
        CompletableFuture<Void> first = runOn(HELD_WRITER, () -> store.addUser(bob));
        assertThat(held.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)).as("the first writer reached its commit").isTrue();
        assertThat(heldPosition.get()).isEqualTo(3);
        CompletableFuture<Void> second = runOn("later-writer", () -> other.addUser(carol));

        // a sequence-numbered outbox would let the later writer commit position 4 now; here it must wait
        awaitLockWaitOrDone(config, second);
        assertThat(second).as("the later writer waits for the held transaction").isNotDone();
        for (IdentityStore reader : List.of(store, other)) {
            assertThat(reader.changesAfter(before, 10)).isEqualTo(new FeedBatch.Changes(List.of(), before));
            assertThat(reader.headPosition()).isEqualTo(before);
        }

        release.countDown();
        first.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        second.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);

        FeedBatch.Changes changes = (FeedBatch.Changes) other.changesAfter(before, 10);
        assertThat(changes.changes()).extracting(change -> change.position().value()).containsExactly(3L, 4L);
        assertThat(changes.changes()).extracting(Change::type).containsOnly(ChangeType.USER_ADDED);
        assertThat(changes.changes()).extracting(change -> change.userId().orElseThrow()).containsExactly(bob.user().id(), carol.user().id());
        assertThat(changes.next()).isEqualTo(FeedPosition.of(4));
    }

    @Test
    void aWriteThatRollsBackAfterTakingAPositionLeavesNoHole()
    {
        JdbcStoreConfig config = freshDatabase();
        AtomicBoolean fail = new AtomicBoolean(true);
        JdbcIdentityStore store = open(config, position -> {
            if (fail.getAndSet(false)) {
                throw new IllegalStateException("crash between append and commit");
            }
        });
        AccountId acme = AccountId.of("acme");
        assertThatThrownBy(() -> createAccount(store, acme)).isInstanceOf(IllegalStateException.class);
        assertThat(store.findAccount(acme)).isEmpty();
        assertThat(store.headPosition()).isEqualTo(FeedPosition.START);

        createAccount(store, acme);
        store.addUser(newUser(acme, "bob"));

        FeedBatch.Changes changes = (FeedBatch.Changes) store.changesAfter(FeedPosition.START, 10);
        assertThat(changes.changes()).extracting(change -> change.position().value()).containsExactly(1L, 2L);
        assertThat(changes.changes()).extracting(Change::type).containsExactly(ChangeType.ACCOUNT_CREATED, ChangeType.USER_ADDED);
    }

    @Test
    void aReaderTailingConcurrentWritersSeesEveryAcknowledgedWriteOnceInOrder()
            throws Exception
    {
        JdbcStoreConfig config = freshDatabase();
        List<JdbcIdentityStore> handles = List.of(open(config, JdbcIdentityStore.BeforeCommit.NONE), open(config, JdbcIdentityStore.BeforeCommit.NONE));
        int writers = 6;
        int writesEach = 40;
        for (int writer = 0; writer < writers; writer++) {
            createAccount(handles.get(0), AccountId.of("account-" + writer));
        }
        FeedPosition start = handles.get(0).headPosition();
        AtomicBoolean writing = new AtomicBoolean(true);
        ExecutorService executor = Executors.newFixedThreadPool(writers + 1);
        try {
            // the reader follows the feed in small, odd-sized steps while the writers (one per account, so no
            // account lock orders them) commit in whatever order the database lets them
            Future<List<Change>> reader = executor.submit(() -> {
                List<Change> seen = new ArrayList<>();
                FeedPosition position = start;
                while (true) {
                    boolean last = !writing.get();
                    FeedBatch.Changes batch = (FeedBatch.Changes) handles.get(1).changesAfter(position, 7);
                    seen.addAll(batch.changes());
                    position = batch.next();
                    if (last && batch.changes().isEmpty()) {
                        return seen;
                    }
                }
            });
            List<Future<List<UserId>>> acknowledged = new ArrayList<>();
            for (int writer = 0; writer < writers; writer++) {
                AccountId account = AccountId.of("account-" + writer);
                IdentityStore handle = handles.get(writer % 2);
                acknowledged.add(executor.submit(() -> {
                    List<UserId> added = new ArrayList<>();
                    for (int i = 0; i < writesEach; i++) {
                        NewUser user = newUser(account, "user-" + i);
                        handle.addUser(user);
                        added.add(user.user().id());
                    }
                    return added;
                }));
            }
            Set<String> expected = new HashSet<>();
            for (int writer = 0; writer < writers; writer++) {
                for (UserId user : acknowledged.get(writer).get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                    expected.add("account-" + writer + "/" + user);
                }
            }
            writing.set(false);
            List<Change> seen = reader.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);

            long head = handles.get(0).headPosition().value();
            assertThat(head).isEqualTo(start.value() + (long) writers * writesEach);
            assertThat(seen).extracting(change -> change.position().value())
                    .containsExactlyElementsOf(LongStream.rangeClosed(start.value() + 1, head).boxed().toList());
            assertThat(seen).extracting(change -> change.accountId() + "/" + change.userId().orElseThrow())
                    .containsExactlyInAnyOrderElementsOf(expected);
        }
        finally {
            writing.set(false);
            executor.shutdownNow();
            assertThat(executor.awaitTermination(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        }
    }

    @Test
    void writersCompactTheFeedBehindTheRetentionAndReadersBehindItAreReset()
    {
        JdbcStoreConfig config = freshDatabase().withFeedRetention(20);
        JdbcIdentityStore store = open(config, JdbcIdentityStore.BeforeCommit.NONE);
        AccountId acme = AccountId.of("acme");
        createAccount(store, acme);
        for (int i = 1; i < 50; i++) {
            store.addUser(newUser(acme, "user-" + i));
        }
        assertThat(store.headPosition()).isEqualTo(FeedPosition.of(50));

        // compaction runs every 2 changes and keeps the newest 20: after change 50, the feed starts after 30
        FeedBatch behind = store.changesAfter(FeedPosition.of(29), 100);
        assertThat(behind).isEqualTo(new FeedBatch.Reset(FeedPosition.of(50)));
        FeedBatch.Changes kept = (FeedBatch.Changes) store.changesAfter(FeedPosition.of(30), 100);
        assertThat(kept.changes()).extracting(change -> change.position().value())
                .containsExactlyElementsOf(LongStream.rangeClosed(31, 50).boxed().toList());
    }

    private JdbcIdentityStore open(JdbcStoreConfig config, JdbcIdentityStore.BeforeCommit beforeCommit)
    {
        JdbcIdentityStore store = JdbcIdentityStore.open(config, clock, beforeCommit);
        opened.add(store);
        return store;
    }

    private void createAccount(IdentityStore store, AccountId account)
    {
        store.createAccount(new Account(account, clock.instant(), true), Optional.of(newUser(account, "admin", Role.ADMIN)));
    }

    private NewUser newUser(AccountId account, String user)
    {
        return newUser(account, user, Role.USER);
    }

    private NewUser newUser(AccountId account, String user, Role role)
    {
        var key = keys.random();
        return new NewUser(new User(account, UserId.of(user), role, key.keyId(), clock.instant()), hasher.hash(key.secret()));
    }

    /**
     * Waits until some session of the database waits for a lock, or the write is done (as it would be if nothing
     * held it back).
     */
    private void awaitLockWaitOrDone(JdbcStoreConfig config, CompletableFuture<Void> write)
            throws SQLException
    {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        try (Connection connection = DriverManager.getConnection(config.url(), config.user().orElse(null), config.password().orElse(null))) {
            while (!write.isDone() && sessionsWaitingForLocks(connection) == 0) {
                assertThat(System.nanoTime() - deadline).as("waited for the later writer to block or finish").isNegative();
                LockSupport.parkNanos(Duration.ofMillis(5).toNanos());
            }
        }
    }

    private static CompletableFuture<Void> runOn(String threadName, Runnable write)
    {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread thread = new Thread(() -> {
            try {
                write.run();
                done.complete(null);
            }
            catch (RuntimeException | Error e) {
                done.completeExceptionally(e);
            }
        }, threadName);
        thread.setDaemon(true);
        thread.start();
        return done;
    }

    private static void await(CountDownLatch latch)
    {
        try {
            if (!latch.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("not released in time");
            }
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}

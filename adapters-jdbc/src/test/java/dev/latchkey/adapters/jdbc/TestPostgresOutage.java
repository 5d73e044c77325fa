package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.InstanceRecord;
import dev.latchkey.core.store.NewUser;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.ServerSocket;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * An unreachable database fails calls fast with UNAVAILABLE (never a hang, never an SQLException), and the store and
 * its commit listener recover by themselves when the database is back. Runs its own PostgreSQL server, which it stops.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TestPostgresOutage
{
    private static final Duration FAIL_FAST = Duration.ofSeconds(2);
    private static final Duration RECOVERY = Duration.ofSeconds(30);

    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final SecretHasher hasher = SecretHasher.sha256();
    /** The store keeps instants to the microsecond. */
    private final Clock clock = Clock.tick(Clock.systemUTC(), Duration.ofNanos(1000));
    private final List<AutoCloseable> resources = new ArrayList<>();
    private TestingPostgres server;

    @BeforeAll
    void startServer()
    {
        server = TestingPostgres.start(false);
    }

    @AfterAll
    void stopServer()
    {
        server.close();
    }

    @AfterEach
    void closeResources()
            throws Exception
    {
        for (AutoCloseable resource : resources) {
            resource.close();
        }
        resources.clear();
    }

    @Test
    void aDatabaseThatNeverAnswersFailsEveryCallWithinTwoSeconds()
    {
        TestingTcpProxy blackHole = closeLater(TestingTcpProxy.blackHole());
        String url = "jdbc:postgresql://127.0.0.1:" + blackHole.port() + "/latchkey";

        assertUnavailableWithin(FAIL_FAST, () -> JdbcIdentityStore.open(TestingJdbcStores.postgresConfig(url), clock));

        JdbcIdentityStore store = closeLater(JdbcIdentityStore.open(TestingJdbcStores.postgresConfig(url).withMigrate(false), clock));
        assertUnavailableWithin(FAIL_FAST, () -> store.findKey(keys.random().keyId()));
        assertUnavailableWithin(FAIL_FAST, () -> store.changesAfter(FeedPosition.START, 100));
        assertUnavailableWithin(FAIL_FAST, () -> {
            createAccount(store, AccountId.of("acme"));
            return null;
        });
    }

    @Test
    void aRefusedConnectionFailsEveryCallWithinTwoSeconds()
            throws Exception
    {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        JdbcIdentityStore store = closeLater(JdbcIdentityStore.open(
                TestingJdbcStores.postgresConfig("jdbc:postgresql://127.0.0.1:" + closedPort + "/latchkey").withMigrate(false), clock));

        assertUnavailableWithin(FAIL_FAST, store::headPosition);
        assertUnavailableWithin(FAIL_FAST, store::listAccounts);
        assertUnavailableWithin(FAIL_FAST, store::listInstances);
        assertUnavailableWithin(FAIL_FAST, () -> {
            Instant now = clock.instant();
            store.publishInstance(new InstanceRecord("instance-a", "http://instance-a:8080", "1.2.3", now, FeedPosition.START, now, now, Duration.ofSeconds(10)));
            return null;
        });
        assertUnavailableWithin(FAIL_FAST, () -> {
            store.removeInstance("instance-a");
            return null;
        });
    }

    @Test
    void connectionsThatGoSilentFailCallsWithinTwoSecondsAndTheStoreRecoversWhenTheyAnswerAgain()
    {
        String database = server.createDatabase();
        TestingTcpProxy proxy = closeLater(TestingTcpProxy.to(server.port()));
        String url = database.replace(":" + server.port() + "/", ":" + proxy.port() + "/");
        JdbcIdentityStore store = closeLater(JdbcIdentityStore.open(TestingJdbcStores.postgresConfig(url), clock));
        AccountId acme = AccountId.of("acme");
        NewUser admin = createAccount(store, acme);

        proxy.freeze();
        assertUnavailableWithin(FAIL_FAST, () -> store.findKey(admin.keyId()));
        assertUnavailableWithin(FAIL_FAST, () -> store.removeUser(acme, admin.user().id()));
        assertUnavailableWithin(FAIL_FAST, store::headPosition);

        proxy.thaw();
        Optional<KeyRecord> key = awaitSuccess(() -> store.findKey(admin.keyId()));
        assertThat(key).as("the removal whose outcome was unknown did not happen: the server never saw it").contains(admin.keyRecord());
        store.addUser(newUser(acme, "bob", Role.USER));
        assertThat(store.headPosition()).isEqualTo(FeedPosition.of(2));
    }

    @Test
    void aStoppedServerFailsCallsFastAndTheStoreAndItsListenerRecoverWhenItIsBack()
    {
        JdbcIdentityStore store = closeLater(JdbcIdentityStore.open(TestingJdbcStores.postgresConfig(server.createDatabase()), clock));
        AtomicInteger callbacks = new AtomicInteger();
        CommitListener listener = closeLater(store.listenForCommits(callbacks::incrementAndGet));
        await("the listener connects and calls back once", () -> listener.connected() && callbacks.get() == 1);
        AccountId acme = AccountId.of("acme");
        NewUser admin = createAccount(store, acme);
        await("the commit is announced", () -> callbacks.get() == 2);

        server.stop();
        try {
            assertUnavailableWithin(FAIL_FAST, () -> store.findKey(admin.keyId()));
            assertUnavailableWithin(FAIL_FAST, () -> {
                store.addUser(newUser(acme, "bob", Role.USER));
                return null;
            });
            await("the listener notices", () -> !listener.connected());
        }
        finally {
            server.restart();
        }

        assertThat(awaitSuccess(() -> store.findKey(admin.keyId()))).contains(admin.keyRecord());
        await("the listener reconnects and calls back, since it may have missed commits", () -> listener.connected() && callbacks.get() == 3);
        store.addUser(newUser(acme, "carol", Role.USER));
        await("commits are announced again", () -> callbacks.get() == 4);
        assertThat(store.findUser(acme, UserId.of("bob"))).as("the write that failed while the server was down").isEmpty();
    }

    private <T extends AutoCloseable> T closeLater(T resource)
    {
        resources.add(0, resource);
        return resource;
    }

    private NewUser createAccount(JdbcIdentityStore store, AccountId account)
    {
        NewUser admin = newUser(account, "admin", Role.ADMIN);
        store.createAccount(new Account(account, clock.instant(), true), Optional.of(admin));
        return admin;
    }

    private NewUser newUser(AccountId account, String user, Role role)
    {
        ApiKey key = keys.random();
        return new NewUser(new User(account, UserId.of(user), role, key.keyId(), clock.instant()), hasher.hash(key.secret()));
    }

    private static void assertUnavailableWithin(Duration bound, Supplier<?> call)
    {
        long start = System.nanoTime();
        try {
            call.get();
            fail("the call succeeded against an unreachable database");
        }
        catch (LatchkeyException e) {
            Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
            assertThat(e.code()).as("error code (%s)", e.getMessage()).isEqualTo(ErrorCode.UNAVAILABLE);
            assertThat(elapsed).as("time to fail").isLessThan(bound);
        }
    }

    private static <T> T awaitSuccess(Supplier<T> call)
    {
        long deadline = System.nanoTime() + RECOVERY.toNanos();
        while (true) {
            try {
                return call.get();
            }
            catch (LatchkeyException e) {
                assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
                assertThat(System.nanoTime() - deadline).as("recovered within %s", RECOVERY).isNegative();
                LockSupport.parkNanos(Duration.ofMillis(50).toNanos());
            }
        }
    }

    private static void await(String what, BooleanSupplier condition)
    {
        long deadline = System.nanoTime() + RECOVERY.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime() - deadline).as(what).isNegative();
            LockSupport.parkNanos(Duration.ofMillis(10).toNanos());
        }
    }
}

package dev.latchkey.server.it;

import dev.latchkey.adapters.jdbc.TestingPostgres;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.server.it.LatchkeyClient.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * The guarantees of consistency.md end to end on two real server processes, A and B ({@code java -jar
 * latchkey.jar}, {@code LATCHKEY_STORE=jdbc}), sharing one real PostgreSQL database ({@link TestingPostgres}, which
 * this test stops and restarts for G5). Every figure measured is printed; every wait has a deadline.
 *
 * <p>The tests run in order: G4 first, while nothing writes; G5 stops the database; G6 kills and replaces B.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PostgresMultiInstanceIT
{
    private static final String ROOT_KEY = "postgres-multi-instance-it-root-key-0123456789";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration PATIENCE = Duration.ofSeconds(15);
    private static final Duration POLL = Duration.ofMillis(5);
    private static final Duration REVOCATION_BOUND = Duration.ofSeconds(1);
    private static final Duration ADMIN_WRITE_BOUND = Duration.ofSeconds(5);
    private static final String USER = "user";
    private static final String ADMIN = "admin";
    private static final String REFUSED = "401 UNAUTHENTICATED";
    private static final String UNAVAILABLE = "503 UNAVAILABLE";

    private final LatchkeyClient client = new LatchkeyClient(ROOT_KEY);
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final List<ServerProcess> started = new ArrayList<>();
    private TestingPostgres postgres;
    private String databaseUrl;
    private Path logDirectory;
    private ServerProcess a;
    private ServerProcess b;

    @BeforeAll
    void startTwoInstancesOnOneDatabase()
    {
        postgres = TestingPostgres.start(false);
        databaseUrl = postgres.createDatabase();
        logDirectory = ServerProcess.jar().resolveSibling("it-logs").resolve(getClass().getSimpleName());
        long start = System.nanoTime();
        a = launch("A");
        b = launch("B");
        a.awaitReady(START_TIMEOUT);
        b.awaitReady(START_TIMEOUT);
        System.out.printf("started %s and %s on %s in %d ms (logs in %s)%n", a, b, databaseUrl, millisSince(start), logDirectory);
    }

    @AfterAll
    void stopInstances()
    {
        started.forEach(ServerProcess::close);
        postgres.close();
    }

    /**
     * G4: keys that fail their checksum never reach PostgreSQL.
     */
    @Test
    @Order(0)
    void g4KeysThatFailTheirChecksumNeverReachTheStore()
    {
        StoreLookupChecks.malformedKeysNeverReachTheStore(client, b);
    }

    /**
     * G4: a herd with one unknown key costs at most one PostgreSQL lookup per negative-cache period.
     */
    @Test
    @Order(0)
    void g4AHerdWithOneUnknownKeyCostsOneStoreLookup()
    {
        StoreLookupChecks.aHerdWithOneUnknownKeyCostsOneStoreLookup(client, b);
    }

    /**
     * G1: keys created on A work on B at their first request.
     */
    @Test
    @Order(1)
    void g1KeysCreatedOnOneInstanceWorkOnTheOtherAtTheirFirstRequest()
    {
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            boolean account = i < 10;
            String accountId = "g1-account-" + (account ? i : 0);
            String key = account ? client.createAccount(a, accountId, "admin") : client.registerUser(a, accountId, "user-" + i, USER);
            String first = answer(client.verify(b, key));
            if (!first.equals(account ? acceptedAs(ADMIN) : acceptedAs(USER))) {
                failures.add(accountId + ": " + first);
            }
        }
        System.out.printf("G1: 20 keys created on A, refused or misread by B at their first request: %s%n", failures);
        assertThat(failures).isEmpty();
    }

    /**
     * G2: revocations and a role change made on A reach B, which had the keys cached, within the bound; with
     * LISTEN/NOTIFY, typically within milliseconds.
     */
    @Test
    @Order(2)
    void g2RevocationsReachTheOtherInstanceWithinTheBound()
    {
        String account = "g2-account";
        client.createAccount(a, account, "owner");
        List<Duration> delays = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            String userId = "regenerated-" + i;
            String key = client.registerUser(a, account, userId, USER);
            delays.add(propagation(key, REFUSED, () -> client.tryRegenerateKey(a, account, userId)));
        }
        String promoted = client.registerUser(a, account, "promoted", USER);
        delays.add(propagation(promoted, acceptedAs(ADMIN), () -> client.trySetRole(a, account, "promoted", ADMIN)));
        String removed = client.registerUser(a, account, "removed", USER);
        delays.add(propagation(removed, REFUSED, () -> client.tryRemoveUser(a, account, "removed")));
        String doomed = client.createAccount(a, "g2-doomed", "owner");
        delays.add(propagation(doomed, REFUSED, () -> client.tryDeleteAccount(a, "g2-doomed")));

        List<Long> millis = delays.stream().map(Duration::toMillis).sorted().toList();
        System.out.printf("G2 (NOTIFY): %d changes made on A seen by B after p50 %d ms, p99 %d ms, max %d ms: %s%n",
                millis.size(), percentile(millis, 50), percentile(millis, 99), millis.get(millis.size() - 1), millis);
        assertThat(delays).allSatisfy(delay -> assertThat(delay).isLessThan(REVOCATION_BOUND));
    }

    /**
     * G3: one account created from both instances at once has one winner; registrations sent to both at once are all
     * kept.
     */
    @Test
    @Order(3)
    void g3ConcurrentWritesOnBothInstancesResolveToOneOutcomeAndLoseNothing()
    {
        for (int round = 0; round < 5; round++) {
            String account = "g3-race-" + round;
            List<Response> outcomes = concurrently(List.of(
                    () -> client.tryCreateAccount(a, account, "admin"),
                    () -> client.tryCreateAccount(b, account, "admin")));
            assertThat(outcomes).extracting(Response::status).as("%s", outcomes).containsExactlyInAnyOrder(200, 409);
        }
        String account = "g3-shared";
        client.createAccount(a, account, "owner");
        List<Callable<String>> registrations = IntStream.range(0, 40)
                .mapToObj(i -> (Callable<String>) () -> client.registerUser(i % 2 == 0 ? a : b, account, "user-" + i, USER))
                .toList();
        List<String> registered = concurrently(registrations);
        for (ServerProcess server : List.of(a, b)) {
            assertThat(registered).allSatisfy(key -> assertThat(answer(client.verify(server, key))).isEqualTo(acceptedAs(USER)));
            assertThat(client.userCounts(server)).containsEntry(account, 41);
        }
    }

    /**
     * G5: with PostgreSQL stopped, cached keys keep working, unknown keys and admin writes get 503 (writes within
     * five seconds), and /ready says 503; once it is back, both instances recover with no restart and see the
     * changes made after the outage.
     */
    @Test
    @Order(5)
    void g5AStoppedDatabaseIsSurvivedAndRecoveredFrom()
    {
        String account = "g5-account";
        client.createAccount(a, account, "owner");
        String cached = client.registerUser(a, account, "cached", USER);
        String doomed = client.registerUser(a, account, "doomed", USER);
        for (ServerProcess server : List.of(a, b)) {
            assertThat(answer(client.verify(server, cached))).isEqualTo(acceptedAs(USER));
            assertThat(answer(client.verify(server, doomed))).isEqualTo(acceptedAs(USER));
            assertThat(readyStatus(server)).isEqualTo(200);
        }

        long stop = System.nanoTime();
        postgres.stop();
        System.out.printf("G5: PostgreSQL stopped in %d ms%n", millisSince(stop));
        long outage = System.nanoTime();
        for (ServerProcess server : List.of(a, b)) {
            assertThat(answer(client.verify(server, cached))).as("a cached key on %s during the outage", server.name()).isEqualTo(acceptedAs(USER));
            assertThat(answer(client.verify(server, keys.random().value()))).as("an unknown key on %s during the outage", server.name()).isEqualTo(UNAVAILABLE);
        }
        long write = System.nanoTime();
        Response refusedWrite = client.tryRegisterUser(a, account, "during-outage", USER);
        long writeMillis = millisSince(write);
        assertThat(refusedWrite.status()).as("an admin write during the outage: %s", refusedWrite).isEqualTo(503);
        assertThat(Duration.ofMillis(writeMillis)).as("time to refuse an admin write").isLessThan(ADMIN_WRITE_BOUND);
        Duration notReadyA = awaitTrue(() -> "/ready on A to say 503", outage, () -> readyStatus(a) == 503);
        Duration notReadyB = awaitTrue(() -> "/ready on B to say 503", outage, () -> readyStatus(b) == 503);
        System.out.printf("G5: during the outage: cached key 200, unknown key 503, admin write 503 after %d ms, /ready 503 after %d ms (A) and %d ms (B)%n",
                writeMillis, notReadyA.toMillis(), notReadyB.toMillis());

        long restart = System.nanoTime();
        postgres.restart();
        Duration readyA = awaitTrue(() -> "/ready on A to say 200 again", restart, () -> readyStatus(a) == 200);
        Duration readyB = awaitTrue(() -> "/ready on B to say 200 again", restart, () -> readyStatus(b) == 200);
        String afterOutage = awaitWrite(() -> client.tryRegisterUser(a, account, "after-outage", USER));
        Duration revoked = propagation(doomed, REFUSED, () -> client.tryRemoveUser(a, account, "doomed"));
        assertThat(answer(client.verify(b, afterOutage))).as("a key created on A after the outage, on B").isEqualTo(acceptedAs(USER));
        assertThat(answer(client.verify(b, cached))).isEqualTo(acceptedAs(USER));
        assertThat(client.listUsers(b, account, 10)).extracting(user -> user.path("user_id").asText()).doesNotContain("during-outage", "doomed");
        System.out.printf("G5: after PostgreSQL restarted: /ready 200 after %d ms (A) and %d ms (B); a removal on A seen by B after %d ms%n",
                readyA.toMillis(), readyB.toMillis(), revoked.toMillis());
    }

    /**
     * G6: SIGKILL of B during a burst of registrations on B loses no acknowledged key.
     */
    @Test
    @Order(6)
    void g6KillingAnInstanceDuringWritesLosesNoAcknowledgedKey()
            throws InterruptedException
    {
        String account = "g6-account";
        client.createAccount(a, account, "owner");
        Map<String, String> acknowledged = new ConcurrentHashMap<>();
        AtomicInteger unanswered = new AtomicInteger();
        ExecutorService executor = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> writers = new ArrayList<>();
            for (int writer = 0; writer < 4; writer++) {
                int number = writer;
                writers.add(executor.submit(() -> {
                    for (int i = 0; i < 500; i++) {
                        String userId = "w" + number + "-user-" + i;
                        try {
                            Response response = client.tryRegisterUser(b, account, userId, USER);
                            if (response.status() == 200) {
                                acknowledged.put(userId, response.result().path("user_key").asText());
                            }
                        }
                        catch (UncheckedIOException e) {
                            unanswered.incrementAndGet();
                            return;
                        }
                    }
                }));
            }
            awaitTrue(() -> "25 acknowledged registrations on B", System.nanoTime(), () -> acknowledged.size() >= 25);
            b.kill();
            for (Future<?> writer : writers) {
                writer.get(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
            }
        }
        catch (Exception e) {
            throw new AssertionError("the burst failed", e);
        }
        finally {
            executor.shutdownNow();
        }
        Map<String, String> keysAcknowledged = Map.copyOf(acknowledged);
        b = launch("B-restarted").awaitReady(START_TIMEOUT);
        List<String> refused = new ArrayList<>();
        for (ServerProcess server : List.of(a, b)) {
            keysAcknowledged.forEach((userId, key) -> {
                if (client.verify(server, key).status() != 200) {
                    refused.add(server.name() + ": " + userId);
                }
            });
        }
        System.out.printf("G6: SIGKILL of B during a burst: %d acknowledged, %d requests cut; acknowledged keys refused after the restart: %s%n",
                keysAcknowledged.size(), unanswered.get(), refused);
        assertThat(unanswered.get()).as("requests cut by the kill").isPositive();
        assertThat(refused).isEmpty();
    }

    // --- helpers

    private ServerProcess launch(String name)
    {
        ServerProcess server = ServerProcess.launch(name, Map.of(
                "LATCHKEY_STORE", "jdbc",
                "LATCHKEY_JDBC_URL", databaseUrl,
                "LATCHKEY_JDBC_USER", TestingPostgres.SUPERUSER), ROOT_KEY, logDirectory);
        started.add(server);
        return server;
    }

    /**
     * B serves the key; the write runs on A; A must give the new answer at once, B within the bound.
     *
     * @return the time from A's 2xx to B's first answer showing the write
     */
    private Duration propagation(String key, String expected, Supplier<Response> writeOnA)
    {
        assertThat(answer(client.verify(b, key))).as("B serves the key before the change").startsWith("200").isNotEqualTo(expected);
        Response written = writeOnA.get();
        long acknowledged = System.nanoTime();
        assertThat(written.status()).as("the write on A: %s", written).isEqualTo(200);
        assertThat(answer(client.verify(a, key))).as("on A, the instance that wrote, at once").isEqualTo(expected);
        AtomicReference<String> last = new AtomicReference<>();
        return awaitTrue(() -> "'" + expected + "' from B, last answer '" + last.get() + "'", acknowledged, () -> {
            last.set(answer(client.verify(b, key)));
            return last.get().equals(expected);
        });
    }

    /**
     * Retries a write that may meet a pool still reconnecting; returns the new key.
     */
    private String awaitWrite(Supplier<Response> write)
    {
        AtomicReference<Response> last = new AtomicReference<>();
        awaitTrue(() -> "a write to succeed, last answer " + last.get(), System.nanoTime(), () -> {
            last.set(write.get());
            return last.get().status() == 200;
        });
        return last.get().result().path("user_key").asText();
    }

    private int readyStatus(ServerProcess server)
    {
        try {
            return http.send(HttpRequest.newBuilder(server.uri("/ready")).timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.discarding())
                    .statusCode();
        }
        catch (java.io.IOException e) {
            throw new UncheckedIOException(e);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static <T> List<T> concurrently(List<Callable<T>> tasks)
    {
        ExecutorService executor = Executors.newFixedThreadPool(tasks.size());
        try {
            List<Future<T>> futures = executor.invokeAll(tasks, PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
            List<T> results = new ArrayList<>();
            for (Future<T> future : futures) {
                results.add(future.get());
            }
            return results;
        }
        catch (Exception e) {
            throw new AssertionError("concurrent requests failed", e);
        }
        finally {
            executor.shutdownNow();
        }
    }

    private static Duration awaitTrue(Supplier<String> what, long sinceNanos, BooleanSupplier condition)
    {
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - sinceNanos > PATIENCE.toNanos()) {
                fail("waited %s for %s", PATIENCE, what.get());
            }
            LockSupport.parkNanos(POLL.toNanos());
        }
        return Duration.ofNanos(System.nanoTime() - sinceNanos);
    }

    private static String answer(Response response)
    {
        return response.status() == 200 ? acceptedAs(response.result().path("role").asText()) : response.status() + " " + response.errorCode();
    }

    private static String acceptedAs(String role)
    {
        return "200 " + role;
    }

    private static long percentile(List<Long> sorted, int percentile)
    {
        int index = (int) Math.ceil(percentile / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, index));
    }

    private static long millisSince(long startNanos)
    {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }
}

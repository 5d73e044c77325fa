package dev.latchkey.server.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.server.it.LatchkeyClient.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import java.util.stream.IntStream;

import static dev.latchkey.server.it.MultiInstanceSupport.acceptedAs;
import static dev.latchkey.server.it.MultiInstanceSupport.answer;
import static dev.latchkey.server.it.MultiInstanceSupport.millisSince;
import static dev.latchkey.server.it.StoreLookupChecks.wellFormedUnknownKey;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * The guarantees of consistency.md end to end on two real server processes, A and B ({@code java -jar
 * latchkey.jar}, {@code LATCHKEY_STORE=s3}, path-style), sharing one bucket on a real S3-compatible server: an S3Mock
 * process of this test's own ({@link TestingS3}, which G5 pauses with SIGSTOP), reached through its
 * {@link dev.latchkey.adapters.s3.testing.SerializingS3Proxy}, which gives S3Mock the atomic conditional writes of AWS
 * S3 that the store builds on. Default poll interval (250 ms), negative-cache period (2 s) and max stale (5 m); the
 * readiness bound is shortened to {@value #READY_MAX_LAG_SECONDS} s to keep the outage short. Every figure measured
 * is printed ({@code target/failsafe-reports/*-output.txt}); every wait has a deadline and the bounds are asserted on
 * the measured figures, so a slow machine fails with the number, not a timeout.
 *
 * <p>The tests run in a fixed order: G4 first, while nothing writes; G5 pauses S3; G6 last, because it kills and
 * replaces B. Each test uses its own accounts.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class S3MultiInstanceIT
{
    private static final String ROOT_KEY = "s3-multi-instance-it-root-key-0123456789abcdefghij";
    private static final String BUCKET = "latchkey-multi-instance";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    /** How long any wait may last before the test fails; the guarantees' bounds are asserted on what was measured. */
    private static final Duration PATIENCE = Duration.ofSeconds(20);
    private static final Duration POLL = Duration.ofMillis(5);
    private static final Duration REVOCATION_BOUND = Duration.ofSeconds(1);
    private static final Duration ADMIN_WRITE_BOUND = Duration.ofSeconds(5);
    private static final int READY_MAX_LAG_SECONDS = 2;
    private static final Duration READY_MAX_LAG = Duration.ofSeconds(READY_MAX_LAG_SECONDS);
    /** How long after the readiness bound /ready may keep answering 200 during the outage: its poll, and a busy machine. */
    private static final Duration READY_SLACK = Duration.ofMillis(1500);
    private static final String USER = "user";
    private static final String ADMIN = "admin";
    private static final String REFUSED = "401 UNAUTHENTICATED";
    private static final String UNAVAILABLE = "503 UNAVAILABLE";
    private static final int PAGE_SIZE = 7;

    private final MultiInstanceSupport waits = new MultiInstanceSupport(PATIENCE, POLL);
    private final LatchkeyClient client = new LatchkeyClient(ROOT_KEY);
    private final List<ServerProcess> started = new ArrayList<>();
    private TestingS3 s3;
    private URI endpoint;
    private Path logDirectory;
    private ServerProcess a;
    private ServerProcess b;

    @BeforeAll
    void startTwoInstancesOnOneBucket()
    {
        long start = System.nanoTime();
        s3 = TestingS3.start(BUCKET);
        endpoint = s3.serializingProxy().endpoint();
        System.out.printf("started %s in %d ms; the servers reach it through %s%n", s3, millisSince(start), s3.serializingProxy());
        logDirectory = ServerProcess.jar().resolveSibling("it-logs").resolve(getClass().getSimpleName());
        start = System.nanoTime();
        a = launch("A");
        b = launch("B");
        a.awaitReady(START_TIMEOUT);
        b.awaitReady(START_TIMEOUT);
        System.out.printf("started %s and %s on bucket %s in %d ms (logs in %s)%n", a, b, BUCKET, millisSince(start), logDirectory);
    }

    @AfterAll
    void stopInstances()
    {
        started.forEach(ServerProcess::close);
        if (s3 != null) {
            s3.close();
        }
    }

    /**
     * G4: a key that fails its checksum never reaches S3 (nor does the count of lookups move).
     */
    @Test
    @Order(1)
    void g4KeysThatFailTheirChecksumNeverReachTheStore()
    {
        StoreLookupChecks.malformedKeysNeverReachTheStore(client, b);
    }

    /**
     * G4: a herd of 400 concurrent requests with one unknown key costs at most one S3 lookup per negative-cache
     * period.
     */
    @Test
    @Order(2)
    void g4AHerdWithOneUnknownKeyCostsOneStoreLookup()
    {
        StoreLookupChecks.aHerdWithOneUnknownKeyCostsOneStoreLookup(client, b);
    }

    /**
     * G1: 30 keys (15 accounts' first admins, 15 users), created alternately on A and on B, are each accepted by the
     * other instance at their first request, with the identity they were created with.
     */
    @Test
    @Order(3)
    void g1KeysCreatedOnOneInstanceWorkOnTheOtherAtTheirFirstRequest()
    {
        List<String> failures = new ArrayList<>();
        long slowest = 0;
        for (int i = 0; i < 30; i++) {
            boolean account = i < 15;
            ServerProcess writer = i % 2 == 0 ? a : b;
            ServerProcess reader = writer == a ? b : a;
            String accountId = "g1-account-" + (account ? i : 0);
            String userId = account ? "admin" : "user-" + i;
            String key = account ? client.createAccount(writer, accountId, userId) : client.registerUser(writer, accountId, userId, USER);
            long start = System.nanoTime();
            Response first = client.verify(reader, key);
            slowest = Math.max(slowest, millisSince(start));
            JsonNode identity = first.result();
            boolean expected = first.status() == 200
                    && identity.path("role").asText().equals(account ? ADMIN : USER)
                    && identity.path("account_id").asText().equals(accountId)
                    && identity.path("user_id").asText().equals(userId);
            if (!expected) {
                failures.add(writer.name() + " -> " + reader.name() + " " + accountId + "/" + userId + ": " + first);
            }
        }
        System.out.printf("G1: 30 keys created on A and B alternately (15 accounts, 15 users); accepted by the other instance at their first request: %d; failures: %d; slowest first request %d ms%n",
                30 - failures.size(), failures.size(), slowest);
        assertThat(failures).as("keys created on one instance that the other refused, or answered with another identity, at their first request").isEmpty();
    }

    /**
     * G2: regenerations, a user removal, a role change and an account deletion made on A are seen by A at once and
     * by B within one second of A's answer, although B had the old key cached (it served it just before).
     */
    @Test
    @Order(4)
    void g2RevocationsAndRoleChangesMadeOnOneInstanceReachTheOtherWithinOneSecond()
    {
        String account = "g2-account";
        client.createAccount(a, account, "owner");
        Map<String, Duration> delays = new LinkedHashMap<>();
        List<String> newKeys = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            String userId = "regenerated-" + i;
            String key = client.registerUser(a, account, userId, USER);
            delays.put("regenerate " + i, propagation("regenerate " + i, key, REFUSED, () -> {
                Response response = client.tryRegenerateKey(a, account, userId);
                newKeys.add(response.result().path("user_key").asText());
                return response;
            }));
        }
        String removed = client.registerUser(a, account, "removed", USER);
        String promoted = client.registerUser(a, account, "promoted", USER);
        String doomedAdmin = client.createAccount(a, "g2-doomed", "owner");
        String doomedUser = client.registerUser(a, "g2-doomed", "member", USER);
        assertThat(answer(client.verify(b, doomedAdmin))).as("B serves the key before the change").isEqualTo(acceptedAs(ADMIN));
        delays.put("remove user", propagation("remove user", removed, REFUSED, () -> client.tryRemoveUser(a, account, "removed")));
        delays.put("role change", propagation("role change", promoted, acceptedAs(ADMIN), () -> client.trySetRole(a, account, "promoted", ADMIN)));
        delays.put("delete account", propagation("delete account", doomedUser, REFUSED, () -> client.tryDeleteAccount(a, "g2-doomed")));

        assertThat(newKeys).as("the regenerated keys on B, at their first request")
                .allSatisfy(key -> assertThat(answer(client.verify(b, key))).isEqualTo(acceptedAs(USER)));
        assertThat(answer(client.verify(b, doomedAdmin))).as("another cached key of the deleted account on B").isEqualTo(REFUSED);
        List<Long> millis = delays.values().stream().map(Duration::toMillis).sorted().toList();
        Map.Entry<String, Duration> largest = delays.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow();
        System.out.printf("G2: %d changes made on A seen by B after p50 %d ms, max %d ms (%s); bound %d ms; all: %s%n",
                millis.size(), millis.get(millis.size() / 2), largest.getValue().toMillis(), largest.getKey(), REVOCATION_BOUND.toMillis(), millis);
        assertThat(delays).allSatisfy((change, delay) -> assertThat(delay).as("G2 %s: delay until B saw it", change).isLessThan(REVOCATION_BOUND));
    }

    /**
     * G3: 40 registrations sent at once by two threads to A and two to B into one account are all kept: each user
     * is listed (page by page) by both instances with its key's prefix, the account's user count says 41 on both,
     * and each key is accepted by both.
     */
    @Test
    @Order(5)
    void g3ConcurrentRegistrationsOnBothInstancesAreAllKept()
    {
        String account = "g3-account";
        client.createAccount(a, account, "owner");
        List<ServerProcess> writers = List.of(a, a, b, b);
        long start = System.nanoTime();
        List<Map<String, String>> written = waits.concurrently(IntStream.range(0, writers.size())
                .mapToObj(writer -> (Callable<Map<String, String>>) () -> {
                    Map<String, String> keys = new LinkedHashMap<>();
                    for (int i = 0; i < 10; i++) {
                        String userId = "w" + writer + "-user-" + i;
                        keys.put(userId, client.registerUser(writers.get(writer), account, userId, USER));
                    }
                    return keys;
                })
                .toList());
        long took = millisSince(start);
        Map<String, String> keys = new TreeMap<>();
        written.forEach(keys::putAll);

        Map<String, String> expectedListing = new TreeMap<>();
        keys.forEach((userId, key) -> expectedListing.put(userId, key.substring(0, "lk_".length() + KeyId.LENGTH)));
        for (ServerProcess server : List.of(a, b)) {
            Map<String, String> listed = new TreeMap<>();
            client.listUsers(server, account, PAGE_SIZE).forEach(user -> listed.put(user.path("user_id").asText(), user.path("key_prefix").asText()));
            listed.remove("owner");
            assertThat(listed).as("users listed by %s (key prefixes)", server.name()).isEqualTo(expectedListing);
            assertThat(client.userCounts(server)).as("user counts on %s", server.name()).containsEntry(account, 41);
        }
        long accepted = keys.values().stream()
                .flatMap(key -> List.of(a, b).stream().map(server -> client.verify(server, key)))
                .filter(response -> response.status() == 200)
                .count();
        System.out.printf("G3 registrations: %d of 40 acknowledged in %d ms (2 threads on A, 2 on B); each listed by A and B; keys accepted %d of 80%n",
                keys.size(), took, accepted);
        assertThat(keys).hasSize(40);
        assertThat(accepted).as("verifications of the 40 keys on A and B").isEqualTo(80);
    }

    /**
     * G3: A and B create the same account at the same moment: exactly one 200 and one 409, and the winner's admin
     * is the account's only user on both instances.
     */
    @Test
    @Order(6)
    void g3TwoInstancesCreatingOneAccountGetOneSuccessAndOneConflict()
    {
        List<String> rounds = new ArrayList<>();
        for (int round = 1; round <= 5; round++) {
            String account = "g3-race-" + round;
            List<Response> responses = waits.concurrently(List.of(
                    () -> client.tryCreateAccount(a, account, "admin-from-a"),
                    () -> client.tryCreateAccount(b, account, "admin-from-b")));
            List<Integer> statuses = responses.stream().map(Response::status).toList();
            rounds.add(statuses.toString());
            assertThat(statuses).as("round %d: %s", round, responses).containsExactlyInAnyOrder(200, 409);
            Response winner = responses.get(statuses.indexOf(200));
            String winningAdmin = winner.result().path("admin_user_id").asText();
            for (ServerProcess server : List.of(a, b)) {
                assertThat(client.listUsers(server, account, PAGE_SIZE)).as("users of %s on %s", account, server.name())
                        .extracting(user -> user.path("user_id").asText())
                        .containsExactly(winningAdmin);
                assertThat(answer(client.verify(server, winner.result().path("user_key").asText()))).isEqualTo(acceptedAs(ADMIN));
            }
        }
        System.out.printf("G3 same account created on A and B at once, [A, B] statuses per round: %s%n", rounds);
    }

    /**
     * G3: A and B each remove one of the last two admins of an account at the same moment: exactly one 200 and one
     * 412; the other admin stays, the only user, and its key keeps working while the removed one stops.
     */
    @Test
    @Order(7)
    void g3TwoInstancesRemovingTheLastTwoAdminsGetOneSuccessAndOnePreconditionFailure()
    {
        List<String> rounds = new ArrayList<>();
        for (int round = 1; round <= 5; round++) {
            String account = "g3-admins-" + round;
            Map<String, String> keys = Map.of(
                    "first", client.createAccount(a, account, "first"),
                    "second", client.registerUser(a, account, "second", ADMIN));
            List<Response> responses = waits.concurrently(List.of(
                    () -> client.tryRemoveUser(a, account, "first"),
                    () -> client.tryRemoveUser(b, account, "second")));
            List<Integer> statuses = responses.stream().map(Response::status).toList();
            rounds.add(statuses.toString());
            assertThat(statuses).as("round %d: %s", round, responses).containsExactlyInAnyOrder(200, 412);
            assertThat(responses.get(statuses.indexOf(412)).errorCode()).isEqualTo("FAILED_PRECONDITION");
            String survivor = statuses.get(0) == 412 ? "first" : "second";
            String removed = survivor.equals("first") ? "second" : "first";
            for (ServerProcess server : List.of(a, b)) {
                assertThat(client.listUsers(server, account, PAGE_SIZE)).as("users of %s on %s", account, server.name())
                        .extracting(user -> user.path("user_id").asText() + ":" + user.path("role").asText())
                        .containsExactly(survivor + ":admin");
                assertThat(answer(client.verify(server, keys.get(survivor)))).isEqualTo(acceptedAs(ADMIN));
                awaitAnswer(server, keys.get(removed), REFUSED, System.nanoTime());
            }
        }
        System.out.printf("G3 last two admins removed on A and B at once, [A, B] statuses per round: %s%n", rounds);
    }

    /**
     * G3: A deletes an account while B registers a user in it: the deletion succeeds and the registration either
     * fails (404) or its key dies with the account; no key of the account works afterwards, anywhere.
     */
    @Test
    @Order(8)
    void g3NoKeyOutlivesItsAccountWhenARegistrationRacesTheDeletion()
    {
        List<String> rounds = new ArrayList<>();
        for (int round = 1; round <= 5; round++) {
            String account = "g3-deleted-" + round;
            String ownerKey = client.createAccount(a, account, "owner");
            List<Response> responses = waits.concurrently(List.of(
                    () -> client.tryDeleteAccount(a, account),
                    () -> client.tryRegisterUser(b, account, "late", USER)));
            Response registration = responses.get(1);
            rounds.add(responses.stream().map(Response::status).toList().toString());
            assertThat(responses.get(0).status()).as("round %d: delete %s", round, responses.get(0)).isEqualTo(200);
            assertThat(registration.status()).as("round %d: register %s", round, registration).isIn(200, 404);
            List<String> keys = new ArrayList<>(List.of(ownerKey));
            if (registration.status() == 200) {
                keys.add(registration.result().path("user_key").asText());
            }
            for (ServerProcess server : List.of(a, b)) {
                keys.forEach(key -> awaitAnswer(server, key, REFUSED, System.nanoTime()));
                assertThat(client.userCounts(server)).as("accounts on %s", server.name()).doesNotContainKey(account);
            }
        }
        System.out.printf("G3 account deleted on A while B registers in it, [delete, register] statuses per round: %s%n", rounds);
    }

    /**
     * G5: with S3 paused (SIGSTOP: connections are accepted, nothing is answered), cached keys keep working on both
     * instances, unknown keys get 503 (not 401), admin writes get 503 within five seconds, and /ready turns 503 once
     * the feed lag passes the readiness bound (and not before). After the resume, both instances recover with no
     * restart: /ready 200, writes work, a key created after the recovery works on both at its first request, and a
     * removal reaches the other instance within the revocation bound.
     */
    @Test
    @Order(9)
    void g5APausedS3IsSurvivedAndRecoveredFrom()
            throws Exception
    {
        String account = "g5-account";
        client.createAccount(a, account, "owner");
        String cached = client.registerUser(a, account, "cached", USER);
        String doomed = client.registerUser(a, account, "doomed", USER);
        client.registerUser(a, account, "regenerated", USER);
        for (ServerProcess server : List.of(a, b)) {
            assertThat(answer(client.verify(server, cached))).isEqualTo(acceptedAs(USER));
            assertThat(answer(client.verify(server, doomed))).isEqualTo(acceptedAs(USER));
            assertThat(client.ready(server).status()).as("/ready on %s before the outage", server.name()).isEqualTo(200);
        }

        long signalled = System.nanoTime();
        s3.pause();
        long pause;
        ExecutorService watchers = Executors.newFixedThreadPool(2);
        try {
            pause = System.nanoTime();
            System.out.printf("G5 S3 paused: S3Mock stopped %d ms after SIGSTOP was sent%n", (pause - signalled) / 1_000_000);
            Future<ReadyWatch> watchA = watchers.submit(() -> watchReady(a, pause, 503));
            Future<ReadyWatch> watchB = watchers.submit(() -> watchReady(b, pause, 503));

            Map<String, Long> unknownMillis = new TreeMap<>();
            for (ServerProcess server : List.of(a, b)) {
                assertThat(answer(client.verify(server, cached))).as("a cached key on %s during the outage", server.name()).isEqualTo(acceptedAs(USER));
                long start = System.nanoTime();
                String unknown = answer(client.verify(server, wellFormedUnknownKey()));
                unknownMillis.put(server.name(), millisSince(start));
                assertThat(unknown).as("an unknown key on %s during the outage, answered %d ms after the pause began (%d ms after the request)",
                        server.name(), millisSince(pause), unknownMillis.get(server.name())).isEqualTo(UNAVAILABLE);
            }
            Map<String, Long> writeMillis = new TreeMap<>();
            List<Supplier<Response>> writes = List.of(
                    () -> client.tryRegisterUser(a, account, "during-outage", USER),
                    () -> client.tryCreateAccount(b, "g5-during-outage", "admin"),
                    () -> client.tryRegenerateKey(b, account, "regenerated"));
            List<String> writeNames = List.of("register on A", "create account on B", "regenerate on B");
            for (int i = 0; i < writes.size(); i++) {
                long start = System.nanoTime();
                Response refused = writes.get(i).get();
                long took = millisSince(start);
                writeMillis.put(writeNames.get(i), took);
                assertThat(refused.status()).as("G5 admin write during the outage (%s): %s", writeNames.get(i), refused).isEqualTo(503);
                assertThat(refused.errorCode()).isEqualTo("UNAVAILABLE");
                assertThat(Duration.ofMillis(took)).as("G5 time to refuse an admin write (%s)", writeNames.get(i)).isLessThan(ADMIN_WRITE_BOUND);
            }

            ReadyWatch notReadyA = waits.await(watchA);
            ReadyWatch notReadyB = waits.await(watchB);
            for (ServerProcess server : List.of(a, b)) {
                assertThat(answer(client.verify(server, cached))).as("a cached key on %s, /ready 503", server.name()).isEqualTo(acceptedAs(USER));
            }
            System.out.printf("G5 during the outage: cached keys 200; unknown keys 503 after %s ms; admin writes 503 after %s ms; /ready 503 after %d ms (A, lag %.3f s) and %d ms (B, lag %.3f s), bound %d s; last 200 at %d ms (A, lag %.3f s) and %d ms (B, lag %.3f s)%n",
                    unknownMillis, writeMillis, notReadyA.changed().toMillis(), notReadyA.lag(), notReadyB.changed().toMillis(), notReadyB.lag(), READY_MAX_LAG_SECONDS,
                    notReadyA.lastBefore().toMillis(), notReadyA.lagBefore(), notReadyB.lastBefore().toMillis(), notReadyB.lagBefore());
            for (ReadyWatch watch : List.of(notReadyA, notReadyB)) {
                // the lag is reported in whole milliseconds: just past the bound reads as the bound
                assertThat(watch.lag()).as("G5 feed lag reported with /ready 503 on %s", watch.server()).isGreaterThanOrEqualTo(READY_MAX_LAG.toMillis() / 1000.0);
                assertThat(watch.lagBefore()).as("G5 feed lag reported with the last /ready 200 on %s", watch.server()).isLessThanOrEqualTo(READY_MAX_LAG.toMillis() / 1000.0);
                assertThat(watch.changed()).as("G5 time from the pause to /ready 503 on %s", watch.server()).isLessThan(READY_MAX_LAG.plus(READY_SLACK));
            }
        }
        finally {
            watchers.shutdownNow();
            s3.resume();
        }

        long resume = System.nanoTime();
        System.out.printf("G5 S3 resumed after a pause of %d ms%n", (resume - pause) / 1_000_000);
        Duration readyA = waits.awaitTrue(() -> "/ready on A to say 200 again", resume, () -> client.ready(a).status() == 200);
        Duration readyB = waits.awaitTrue(() -> "/ready on B to say 200 again", resume, () -> client.ready(b).status() == 200);
        AtomicInteger refusedWrites = new AtomicInteger();
        String afterOnA = awaitWrite(() -> client.tryRegisterUser(a, account, "after-outage-a", USER), refusedWrites);
        Duration writable = Duration.ofNanos(System.nanoTime() - resume);
        String afterOnB = client.registerUser(b, account, "after-outage-b", USER);
        assertThat(answer(client.verify(b, afterOnA))).as("a key created on A after the recovery, on B at its first request").isEqualTo(acceptedAs(USER));
        assertThat(answer(client.verify(a, afterOnB))).as("a key created on B after the recovery, on A at its first request").isEqualTo(acceptedAs(USER));
        String afterAccount = client.createAccount(b, "g5-after-outage", "admin");
        assertThat(answer(client.verify(a, afterAccount))).as("an account created on B after the recovery, on A").isEqualTo(acceptedAs(ADMIN));
        Duration revoked = propagation("remove user after the outage", doomed, REFUSED, () -> client.tryRemoveUser(a, account, "doomed"));
        for (ServerProcess server : List.of(a, b)) {
            assertThat(answer(client.verify(server, cached))).as("the cached key on %s after the outage", server.name()).isEqualTo(acceptedAs(USER));
        }
        Map<String, List<String>> listed = new TreeMap<>();
        for (ServerProcess server : List.of(a, b)) {
            listed.put(server.name(), client.listUsers(server, account, PAGE_SIZE).stream().map(user -> user.path("user_id").asText()).toList());
            assertThat(listed.get(server.name())).as("users of %s on %s", account, server.name())
                    .contains("owner", "cached", "after-outage-a", "after-outage-b")
                    .doesNotContain("doomed");
        }
        assertThat(listed.get(a.name())).as("users listed by A and B").isEqualTo(listed.get(b.name()));
        List<String> landedLater = new ArrayList<>();
        if (listed.get(a.name()).contains("during-outage")) {
            landedLater.add("user during-outage");
        }
        if (client.userCounts(a).containsKey("g5-during-outage")) {
            landedLater.add("account g5-during-outage");
        }
        System.out.printf("G5 after the resume: /ready 200 after %d ms (A) and %d ms (B); first write accepted after %d ms (%d refused before); a removal on A seen by B after %d ms; writes refused with 503 during the outage that landed later: %s%n",
                readyA.toMillis(), readyB.toMillis(), writable.toMillis(), refusedWrites.get(), revoked.toMillis(), landedLater);
        assertThat(revoked).as("G5 a removal after the recovery, delay until B saw it").isLessThan(REVOCATION_BOUND);
    }

    /**
     * G6: B is killed with SIGKILL during a burst of registrations sent to it, then restarted on the same bucket:
     * every registration it acknowledged is listed and its key accepted by A and the new B, the account's user
     * count matches its users, and the store still takes writes from both.
     */
    @Test
    @Order(10)
    void g6KillingAnInstanceDuringWritesLosesNoAcknowledgedKey()
            throws InterruptedException
    {
        String account = "g6-account";
        client.createAccount(a, account, "owner");
        RegistrationBurst burst = new RegistrationBurst(b, account);
        List<Future<Void>> writers = waits.startTogether(IntStream.range(0, 4).mapToObj(burst::writer).toList());
        waits.awaitTrue(() -> "25 acknowledged registrations on B", System.nanoTime(), () -> burst.acknowledged.size() >= 25);
        b.kill();
        writers.forEach(waits::await);
        Map<String, String> acknowledged = Map.copyOf(burst.acknowledged);
        System.out.printf("G6: SIGKILL of B during a burst of registrations (4 threads): %d acknowledged, %d requests cut by the kill, %d refused%n",
                acknowledged.size(), burst.unanswered.get(), burst.refused.size());
        assertThat(burst.unanswered.get()).as("requests cut by the kill (it landed during the burst)").isPositive();
        assertThat(burst.refused).as("registrations refused before the kill").isEmpty();
        assertThat(acknowledged.values()).as("acknowledged keys on A while B is down")
                .allSatisfy(key -> assertThat(client.verify(a, key).status()).isEqualTo(200));
        String whileDown = client.registerUser(a, account, "while-b-is-down", USER);

        long restart = System.nanoTime();
        b = launch("B-restarted").awaitReady(START_TIMEOUT);
        System.out.printf("G6: B restarted on the same bucket in %d ms: %s%n", millisSince(restart), b);
        Map<String, List<String>> refusedKeys = new TreeMap<>();
        Map<String, List<String>> unacknowledged = new TreeMap<>();
        for (ServerProcess server : List.of(a, b)) {
            acknowledged.forEach((userId, key) -> {
                Response response = client.verify(server, key);
                if (response.status() != 200) {
                    refusedKeys.computeIfAbsent(server.name(), ignored -> new ArrayList<>()).add(userId + ": " + response);
                }
            });
            List<String> listed = client.listUsers(server, account, 50).stream().map(user -> user.path("user_id").asText()).toList();
            assertThat(listed).as("users listed by %s", server.name()).containsAll(acknowledged.keySet());
            assertThat(client.userCounts(server)).as("user_count of %s on %s", account, server.name()).containsEntry(account, listed.size());
            unacknowledged.put(server.name(), listed.stream().filter(userId -> userId.contains("-user-") && !acknowledged.containsKey(userId)).toList());
        }
        System.out.printf("G6: acknowledged keys refused after the restart: %s of %d on each of A and B; burst users stored but never acknowledged (cut by the kill after their commit): %s%n",
                refusedKeys, acknowledged.size(), unacknowledged);
        assertThat(unacknowledged.get(a.name())).as("users listed by A and B").isEqualTo(unacknowledged.get(b.name()));
        assertThat(refusedKeys).as("acknowledged keys refused after the restart").isEmpty();

        String fromB = client.registerUser(b, account, "after-restart-b", USER);
        String fromA = client.registerUser(a, account, "after-restart-a", USER);
        String newAccount = client.createAccount(b, "g6-after-restart", "admin");
        for (ServerProcess server : List.of(a, b)) {
            assertThat(List.of(whileDown, fromA, fromB, newAccount)).as("keys written after the restart, on %s", server.name())
                    .allSatisfy(key -> assertThat(client.verify(server, key).status()).isEqualTo(200));
        }
    }

    /**
     * G6 for a multi-object operation on a store without multi-object transactions: B is killed with SIGKILL while
     * it deletes accounts one after another (each with its admin and a user, whose keys A has cached). Every
     * deletion B acknowledged holds on A and on the restarted B (the account is gone and none of its keys works),
     * and no account is left torn: an account is listed exactly when its keys work.
     */
    @Test
    @Order(11)
    void g6KillingAnInstanceDuringAccountDeletionsLeavesNoKeyOfADeletedAccount()
            throws InterruptedException
    {
        Map<String, List<String>> accounts = new TreeMap<>();
        for (int i = 0; i < 24; i++) {
            String account = String.format("g6-doomed-%02d", i);
            accounts.put(account, List.of(client.createAccount(a, account, "admin"), client.registerUser(a, account, "member", USER)));
        }
        List<String> order = List.copyOf(accounts.keySet());
        Map<String, Response> answered = new ConcurrentHashMap<>();
        AtomicInteger unanswered = new AtomicInteger();
        List<Future<Void>> deleters = waits.startTogether(IntStream.range(0, 2)
                .mapToObj(deleter -> (Callable<Void>) () -> {
                    for (int i = deleter; i < order.size(); i += 2) {
                        try {
                            answered.put(order.get(i), client.tryDeleteAccount(b, order.get(i)));
                        }
                        catch (UncheckedIOException e) {
                            unanswered.incrementAndGet();
                            return null;
                        }
                    }
                    return null;
                })
                .toList());
        waits.awaitTrue(() -> "4 acknowledged deletions on B", System.nanoTime(), () -> answered.values().stream().filter(response -> response.status() == 200).count() >= 4);
        b.kill();
        deleters.forEach(waits::await);
        List<String> deleted = answered.entrySet().stream().filter(entry -> entry.getValue().status() == 200).map(Map.Entry::getKey).sorted().toList();
        List<Response> refused = answered.values().stream().filter(response -> response.status() != 200).toList();
        assertThat(refused).as("deletions refused before the kill").isEmpty();
        assertThat(unanswered.get()).as("requests cut by the kill (it landed during the deletions)").isPositive();
        b = launch("B-restarted-again").awaitReady(START_TIMEOUT);

        Map<String, List<String>> torn = new TreeMap<>();
        Map<String, List<String>> survivors = new TreeMap<>();
        for (ServerProcess server : List.of(a, b)) {
            Map<String, Integer> listed = client.userCounts(server);
            accounts.forEach((account, keys) -> {
                List<String> answers = keys.stream().map(key -> answer(client.verify(server, key))).toList();
                boolean alive = answers.equals(List.of(acceptedAs(ADMIN), acceptedAs(USER))) && listed.containsKey(account);
                boolean gone = answers.equals(List.of(REFUSED, REFUSED)) && !listed.containsKey(account);
                if (!alive && !gone || deleted.contains(account) && !gone) {
                    torn.computeIfAbsent(server.name(), ignored -> new ArrayList<>()).add(account + " listed " + listed.containsKey(account) + ", keys " + answers);
                }
                if (alive) {
                    survivors.computeIfAbsent(server.name(), ignored -> new ArrayList<>()).add(account);
                }
            });
        }
        System.out.printf("G6: SIGKILL of B during account deletions (2 threads): %d acknowledged %s, %d requests cut; accounts left torn: %s; accounts still alive: %s%n",
                deleted.size(), deleted, unanswered.get(), torn, survivors);
        assertThat(torn).as("accounts half deleted, or acknowledged as deleted but with a working key or still listed").isEmpty();
        assertThat(survivors.get(a.name())).as("accounts alive on A and B").isEqualTo(survivors.get(b.name()));
        String last = survivors.getOrDefault(a.name(), List.of()).stream().reduce((first, second) -> second).orElseThrow(() -> new AssertionError("no account survived"));
        assertThat(client.tryDeleteAccount(b, last).status()).as("deleting a surviving account on the restarted B").isEqualTo(200);
        for (ServerProcess server : List.of(a, b)) {
            for (String key : accounts.get(last)) {
                awaitAnswer(server, key, REFUSED, System.nanoTime());
            }
        }
    }

    // --- helpers

    private ServerProcess launch(String name)
    {
        ServerProcess server = ServerProcess.launch(name, Map.of(
                "LATCHKEY_STORE", "s3",
                "LATCHKEY_S3_BUCKET", BUCKET,
                "LATCHKEY_S3_ENDPOINT", endpoint.toString(),
                "LATCHKEY_S3_PATH_STYLE", "true",
                "LATCHKEY_READY_MAX_LAG", READY_MAX_LAG_SECONDS + "s",
                "AWS_ACCESS_KEY_ID", TestingS3.ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY", TestingS3.SECRET_KEY,
                "AWS_REGION", TestingS3.REGION.id()), ROOT_KEY, logDirectory);
        started.add(server);
        return server;
    }

    /**
     * Registrations sent to one server by several threads, each until a request gets no answer (the server died)
     * or it has sent 500.
     */
    private final class RegistrationBurst
    {
        final Map<String, String> acknowledged = new ConcurrentHashMap<>();
        final List<Response> refused = new CopyOnWriteArrayList<>();
        final AtomicInteger unanswered = new AtomicInteger();
        private final ServerProcess server;
        private final String account;

        RegistrationBurst(ServerProcess server, String account)
        {
            this.server = server;
            this.account = account;
        }

        Callable<Void> writer(int number)
        {
            return () -> {
                for (int i = 0; i < 500; i++) {
                    String userId = "w" + number + "-user-" + i;
                    Response response;
                    try {
                        response = client.tryRegisterUser(server, account, userId, USER);
                    }
                    catch (UncheckedIOException e) {
                        unanswered.incrementAndGet();
                        return null;
                    }
                    if (response.status() == 200) {
                        acknowledged.put(userId, response.result().path("user_key").asText());
                    }
                    else {
                        refused.add(response);
                    }
                }
                return null;
            };
        }
    }

    /**
     * When /ready on one instance first gave the awaited status, and the last answer before.
     *
     * @param changed the time from the pause to the first answer with the status
     * @param lag the feed lag that answer reported
     * @param lastBefore the time from the pause to the last answer with another status
     * @param lagBefore the feed lag that answer reported
     */
    private record ReadyWatch(String server, Duration changed, double lag, Duration lastBefore, double lagBefore) {}

    /**
     * Asks /ready every 20 ms until it answers {@code status}.
     */
    private ReadyWatch watchReady(ServerProcess server, long sinceNanos, int status)
    {
        Duration lastBefore = Duration.ZERO;
        double lagBefore = 0;
        while (true) {
            long asked = System.nanoTime();
            Response ready = client.ready(server);
            Duration at = Duration.ofNanos(asked - sinceNanos);
            if (ready.status() == status) {
                return new ReadyWatch(server.name(), at, LatchkeyClient.feedLagSeconds(ready), lastBefore, lagBefore);
            }
            assertThat(ready.status()).as("/ready on %s: %s", server.name(), ready).isIn(200, 503);
            lastBefore = at;
            lagBefore = LatchkeyClient.feedLagSeconds(ready);
            if (System.nanoTime() - sinceNanos > PATIENCE.toNanos()) {
                fail("waited %s for /ready on %s to answer %d, last answer %s", PATIENCE, server.name(), status, ready);
            }
            LockSupport.parkNanos(Duration.ofMillis(20).toNanos());
        }
    }

    /**
     * Retries a write that may meet S3 still catching up with the requests queued during the outage; returns the
     * new key.
     */
    private String awaitWrite(Supplier<Response> write, AtomicInteger refused)
    {
        AtomicReference<Response> last = new AtomicReference<>();
        waits.awaitTrue(() -> "a write to succeed, last answer " + last.get(), System.nanoTime(), () -> {
            last.set(write.get());
            if (last.get().status() == 200) {
                return true;
            }
            assertThat(last.get().status()).as("a write after the outage: %s", last.get()).isEqualTo(503);
            refused.incrementAndGet();
            return false;
        });
        return last.get().result().path("user_key").asText();
    }

    /**
     * B serves {@code key} (so it has it cached); then {@code writeOnA} runs. A must give the new answer at once,
     * and B within the bound (asserted by the caller).
     *
     * @return the time from A's 2xx to B's first answer showing the write
     */
    private Duration propagation(String change, String key, String expected, Supplier<Response> writeOnA)
    {
        String before = answer(client.verify(b, key));
        assertThat(before).as("G2 %s: B serves the key before the change", change).startsWith("200").isNotEqualTo(expected);
        Response written = writeOnA.get();
        long acknowledged = System.nanoTime();
        assertThat(written.status()).as("G2 %s on A: %s", change, written).isEqualTo(200);
        assertThat(answer(client.verify(a, key))).as("G2 %s: on A, the instance that wrote, at once", change).isEqualTo(expected);
        Duration delay = awaitAnswer(b, key, expected, acknowledged);
        System.out.printf("G2 %s: seen on B after %d ms (B answered '%s' before, '%s' after)%n", change, delay.toMillis(), before, expected);
        return delay;
    }

    /**
     * Asks the server about the key until it gives the expected answer.
     *
     * @return the time from {@code sinceNanos} to that answer
     */
    private Duration awaitAnswer(ServerProcess server, String key, String expected, long sinceNanos)
    {
        AtomicReference<String> last = new AtomicReference<>();
        return waits.awaitTrue(() -> "'" + expected + "' from " + server.name() + ", last answer '" + last.get() + "'", sinceNanos, () -> {
            last.set(answer(client.verify(server, key)));
            return last.get().equals(expected);
        });
    }

}

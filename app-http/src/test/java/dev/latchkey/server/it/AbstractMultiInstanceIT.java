package dev.latchkey.server.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.server.it.LatchkeyClient.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
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
import static java.util.Objects.requireNonNull;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The guarantees of consistency.md (G1 to G6) and the graceful stop, checked end to end on two real server processes,
 * A and B ({@code java -jar latchkey.jar}), sharing one store, with the default poll interval (250 ms) and
 * negative-cache period (2 s). Every store runs it through a small subclass that says how to start the store, which
 * settings point a server at it, how to take it away for G5 and its own bounds; scenarios that exist on one store
 * only stay in that subclass.
 *
 * <p>Every figure measured is printed in the one format of {@link Figures} ({@code FIGURE <store> <scenario> ...}, in
 * {@code target/failsafe-reports/*-output.txt}), next to a line for people; every wait has a deadline and the bounds
 * are asserted on the measured figures, so a slow machine fails with the number, not a timeout.
 *
 * <p>The tests run in a fixed order: G4 first, while nothing writes (its lookup counts must not see feed traffic);
 * G5 takes the store away; G6 kills and replaces B; the graceful stop last, on a third instance of its own. Each test
 * uses its own accounts.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
abstract class AbstractMultiInstanceIT
{
    protected static final String USER = "user";
    protected static final String ADMIN = "admin";
    protected static final String REFUSED = "401 UNAUTHENTICATED";
    protected static final String UNAVAILABLE = "503 UNAVAILABLE";
    protected static final int PAGE_SIZE = 7;
    protected static final int NEW_KEYS_LIMIT = 20;
    protected static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    protected static final Duration USAGE_FLUSH = Duration.ofMillis(500);
    /** Every instance's heartbeat here (the default is 10 s). */
    protected static final Duration HEARTBEAT = Duration.ofSeconds(1);

    private static final String ROOT_KEY = "multi-instance-it-root-key-0123456789abcdefghij";
    private static final Duration POLL = Duration.ofMillis(5);
    /** How many feed changes an instance has applied (the count of the propagation timer). */
    private static final String CHANGES_APPLIED = "latchkey_feed_propagation_seconds_count";
    private static final Duration REVOCATION_BOUND = Duration.ofSeconds(1);
    private static final Duration ADMIN_WRITE_BOUND = Duration.ofSeconds(5);
    /** The server's default readiness bound (LATCHKEY_READY_MAX_LAG). */
    private static final Duration DEFAULT_READY_MAX_LAG = Duration.ofSeconds(3);
    /** How long after the readiness bound /ready may keep answering 200 during the outage: its poll, and a busy machine. */
    private static final Duration READY_SLACK = Duration.ofMillis(1500);
    private static final Duration DRAIN = Duration.ofSeconds(2);
    /** The JVM's exit status after SIGTERM, once its shutdown hooks have run. */
    private static final int SIGTERM_STATUS = 143;
    /** The coherence instances read their feeds this rarely: only a confirmation or a token explains a quicker answer. */
    private static final Duration COHERENCE_POLL = Duration.ofSeconds(10);
    private static final Duration COHERENCE_WAIT_TIMEOUT = Duration.ofSeconds(3);

    protected final LatchkeyClient client = new LatchkeyClient(ROOT_KEY);
    protected final MultiInstanceSupport waits;
    protected final Figures figures;
    private final Duration patience;
    private final List<ServerProcess> started = new ArrayList<>();
    private AutoCloseable store = () -> {};
    private Path logDirectory;
    private ServerProcess a;
    private ServerProcess b;

    /**
     * @param store the store's name in the figure lines
     * @param patience how long any wait may last before the test fails; the bounds are asserted on what was measured
     */
    protected AbstractMultiInstanceIT(String store, Duration patience)
    {
        this.figures = new Figures(store);
        this.patience = requireNonNull(patience, "patience is null");
        this.waits = new MultiInstanceSupport(patience, POLL);
    }

    /**
     * Starts the store that both instances share, in or below the directory given (removed after the tests).
     *
     * @return what stops the store, closed after the tests
     */
    protected abstract AutoCloseable startStore(Path temporaryDirectory);

    /**
     * The settings ({@code LATCHKEY_*} and {@code AWS_*} variables) that point a server at the store.
     */
    protected abstract Map<String, String> storeSettings();

    /**
     * How G5 takes the store away and gives it back; empty for a store with no outage to simulate, whose G5 is then
     * reported as skipped.
     */
    protected abstract Optional<StoreOutage> outage();

    /**
     * How long a change made on one instance may take to reach the other (G2).
     */
    protected Duration revocationBound()
    {
        return REVOCATION_BOUND;
    }

    /**
     * The readiness bound the servers run with ({@code LATCHKEY_READY_MAX_LAG}, default 3 s): past it, /ready says
     * 503 during an outage (G5).
     */
    protected Duration readyMaxLag()
    {
        return DEFAULT_READY_MAX_LAG;
    }

    /**
     * Whether an admin write refused with 503 during an outage may still land once the store is back (true for a
     * request that the store received but did not answer in time); false: it must not.
     */
    protected boolean refusedWritesMayLandAfterTheOutage()
    {
        return false;
    }

    /**
     * Whether G3 also sends forty registrations at once (twenty threads on each instance, one registration each), on
     * top of the four threads of ten each that every store runs.
     */
    protected boolean takesFortyRegistrationsAtOnce()
    {
        return true;
    }

    /**
     * Sends a request to the server that the store holds in flight (unanswered) until released, for the graceful
     * stop to check that it is still answered after the drain; empty where the store offers no way to hold one.
     */
    protected Optional<RequestInFlight> holdARequestInFlight(ServerProcess server, String rootKey)
    {
        return Optional.empty();
    }

    /**
     * The store taken away for G5 and given back.
     *
     * @param begin takes the store away (stopped, or paused), returning once it is
     * @param end gives the store back, with what it held
     */
    protected record StoreOutage(Runnable begin, Runnable end)
    {
        protected StoreOutage
        {
            requireNonNull(begin, "begin is null");
            requireNonNull(end, "end is null");
        }
    }

    /**
     * A request held in flight by the store.
     */
    protected interface RequestInFlight
            extends AutoCloseable
    {
        /**
         * Fails the test unless the request is still held.
         */
        void assertStillHeld();

        /**
         * Lets the store serve the request and returns the HTTP response, head and body, as text.
         */
        String releaseAndReadResponse();

        /**
         * Releases the request if it is still held, reading nothing.
         */
        @Override
        void close();
    }

    @BeforeAll
    void startTwoInstancesOnOneStore(@TempDir Path temporaryDirectory)
    {
        long start = System.nanoTime();
        store = startStore(temporaryDirectory);
        System.out.printf("started the %s store in %d ms%n", figures.store(), millisSince(start));
        logDirectory = ServerProcess.jar().resolveSibling("it-logs").resolve(getClass().getSimpleName());
        start = System.nanoTime();
        a = launch("A", Map.of());
        b = launch("B", Map.of());
        a.awaitReady(START_TIMEOUT);
        b.awaitReady(START_TIMEOUT);
        System.out.printf("started %s and %s on the %s store in %d ms (logs in %s)%n", a, b, figures.store(), millisSince(start), logDirectory);
    }

    @AfterAll
    void stopInstances()
            throws Exception
    {
        started.forEach(ServerProcess::close);
        store.close();
    }

    /**
     * G4: a key that fails its checksum never reaches the store (nor does the count of lookups move).
     */
    @Test
    @Order(1)
    void g4KeysThatFailTheirChecksumNeverReachTheStore()
    {
        StoreLookupChecks.malformedKeysNeverReachTheStore(client, b, figures);
    }

    /**
     * G4: a herd of 400 concurrent requests with one unknown key costs at most one store lookup per negative-cache
     * period.
     */
    @Test
    @Order(2)
    void g4AHerdWithOneUnknownKeyCostsOneStoreLookup()
    {
        StoreLookupChecks.aHerdWithOneUnknownKeyCostsOneStoreLookup(client, b, figures);
    }

    /**
     * G1: 30 keys (15 accounts' first admins, 15 users) created on A, and 30 created on B, are each accepted by the
     * other instance at their first request, with the identity they were created with.
     */
    @Test
    @Order(3)
    void g1KeysCreatedOnOneInstanceWorkOnTheOtherAtTheirFirstRequest()
    {
        List<String> failures = new ArrayList<>();
        long slowest = 0;
        int created = 0;
        for (List<ServerProcess> direction : List.of(List.of(a, b), List.of(b, a))) {
            ServerProcess writer = direction.get(0);
            ServerProcess reader = direction.get(1);
            for (int i = 0; i < 30; i++) {
                boolean account = i < 15;
                String accountId = "g1-" + writer.name().toLowerCase() + "-account-" + (account ? i : 0);
                String userId = account ? "admin" : "user-" + i;
                String key = account ? client.createAccount(writer, accountId, userId) : client.registerUser(writer, accountId, userId, USER);
                created++;
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
        }
        System.out.printf("G1: %d keys created, 30 on A and 30 on B (15 accounts, 15 users each); accepted by the other instance at their first request: %d; failures: %d; slowest first request %d ms%n",
                created, created - failures.size(), failures.size(), slowest);
        figures.print("g1", "keys", created, "accepted_at_first_request", created - failures.size(), "failures", failures.size(), "slowest_first_request_ms", slowest);
        assertThat(failures).as("keys created on one instance that the other refused, or answered with another identity, at their first request").isEmpty();
    }

    /**
     * G2: 20 regenerations, a user removal, a role change and an account deletion made on A are seen by A at once
     * and by B within the revocation bound of A's answer, although B had the old key cached (it served it just
     * before); the regenerated keys work on B at their first request.
     */
    @Test
    @Order(4)
    void g2RevocationsAndRoleChangesMadeOnOneInstanceReachTheOtherWithinTheBound()
    {
        String account = "g2-account";
        client.createAccount(a, account, "owner");
        Map<String, Duration> delays = new LinkedHashMap<>();
        List<String> newKeys = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            String userId = "regenerated-" + i;
            String key = client.registerUser(a, account, userId, USER);
            delays.put("regenerate-" + i, propagation("regenerate " + i, key, REFUSED, () -> {
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
        delays.put("remove-user", propagation("remove user", removed, REFUSED, () -> client.tryRemoveUser(a, account, "removed")));
        delays.put("role-change", propagation("role change", promoted, acceptedAs(ADMIN), () -> client.trySetRole(a, account, "promoted", ADMIN)));
        delays.put("delete-account", propagation("delete account", doomedUser, REFUSED, () -> client.tryDeleteAccount(a, "g2-doomed")));

        assertThat(newKeys).as("the regenerated keys on B, at their first request")
                .allSatisfy(key -> assertThat(answer(client.verify(b, key))).isEqualTo(acceptedAs(USER)));
        assertThat(answer(client.verify(b, doomedAdmin))).as("another cached key of the deleted account on B").isEqualTo(REFUSED);
        List<Long> millis = delays.values().stream().map(Duration::toMillis).sorted().toList();
        Map.Entry<String, Duration> largest = delays.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow();
        System.out.printf("G2: %d changes made on A seen by B after p50 %d ms, p99 %d ms, max %d ms (%s); bound %d ms; all: %s%n",
                millis.size(), percentile(millis, 50), percentile(millis, 99), largest.getValue().toMillis(), largest.getKey(), revocationBound().toMillis(), millis);
        figures.print("g2", "changes", millis.size(), "p50_ms", percentile(millis, 50), "p99_ms", percentile(millis, 99), "max_ms", largest.getValue().toMillis(),
                "largest", largest.getKey(), "bound_ms", revocationBound().toMillis(),
                "regenerate_max_ms", delays.entrySet().stream().filter(entry -> entry.getKey().startsWith("regenerate")).mapToLong(entry -> entry.getValue().toMillis()).max().orElseThrow(),
                "remove_user_ms", delays.get("remove-user").toMillis(), "role_change_ms", delays.get("role-change").toMillis(), "delete_account_ms", delays.get("delete-account").toMillis());
        assertThat(delays).allSatisfy((change, delay) -> assertThat(delay).as("G2 %s: delay until B saw it", change).isLessThan(revocationBound()));
    }

    /**
     * G3: registrations sent at once to A and B into one account are all kept: 40 by two threads on each instance
     * (ten each), and, where the store {@linkplain #takesFortyRegistrationsAtOnce takes them}, 40 by forty threads
     * (twenty on each instance, one each). Each user is listed (page by page) by both instances with its key's
     * prefix, the account's user count says 41 on both, and each key is accepted by both.
     */
    @Test
    @Order(5)
    void g3ConcurrentRegistrationsOnBothInstancesAreAllKept()
    {
        registerConcurrently("g3-account", 2, 10);
        if (takesFortyRegistrationsAtOnce()) {
            registerConcurrently("g3-shared", 20, 1);
        }
        else {
            System.out.printf("G3 registrations: forty at once not sent: the %s store of this test does not take them%n", figures.store());
        }
    }

    private void registerConcurrently(String account, int writersPerInstance, int registrationsPerWriter)
    {
        client.createAccount(a, account, "owner");
        List<ServerProcess> writers = IntStream.range(0, 2 * writersPerInstance).mapToObj(writer -> writer < writersPerInstance ? a : b).toList();
        long start = System.nanoTime();
        List<Map<String, String>> written = waits.concurrently(IntStream.range(0, writers.size())
                .mapToObj(writer -> (Callable<Map<String, String>>) () -> {
                    Map<String, String> keys = new LinkedHashMap<>();
                    for (int i = 0; i < registrationsPerWriter; i++) {
                        String userId = "w" + writer + "-user-" + i;
                        keys.put(userId, client.registerUser(writers.get(writer), account, userId, USER));
                    }
                    return keys;
                })
                .toList());
        long took = millisSince(start);
        Map<String, String> keys = new TreeMap<>();
        written.forEach(keys::putAll);
        int sent = writers.size() * registrationsPerWriter;

        Map<String, String> expectedListing = new TreeMap<>();
        keys.forEach((userId, key) -> expectedListing.put(userId, key.substring(0, "lk_".length() + KeyId.LENGTH)));
        for (ServerProcess server : List.of(a, b)) {
            Map<String, String> listed = new TreeMap<>();
            client.listUsers(server, account, PAGE_SIZE).forEach(user -> listed.put(user.path("user_id").asText(), user.path("key_prefix").asText()));
            listed.remove("owner");
            assertThat(listed).as("users listed by %s (key prefixes)", server.name()).isEqualTo(expectedListing);
            assertThat(client.userCounts(server)).as("user counts on %s", server.name()).containsEntry(account, sent + 1);
        }
        List<String> refused = new ArrayList<>();
        keys.forEach((userId, key) -> {
            for (ServerProcess server : List.of(a, b)) {
                Response response = client.verify(server, key);
                if (response.status() != 200) {
                    refused.add(userId + " on " + server.name() + ": " + response.status() + " " + response.errorCode());
                }
            }
        });
        long accepted = 2L * keys.size() - refused.size();
        System.out.printf("G3 registrations: %d of %d acknowledged in %d ms (%d threads on A, %d on B, %d each); each listed by A and B; keys accepted %d of %d%n",
                keys.size(), sent, took, writersPerInstance, writersPerInstance, registrationsPerWriter, accepted, 2 * sent);
        figures.print("g3-registrations", "threads", writers.size(), "sent", sent, "acknowledged", keys.size(), "took_ms", took, "accepted", accepted, "verified", 2 * sent);
        assertThat(keys).hasSize(sent);
        assertThat(refused).as("verifications of the %d keys on A and B that were refused", sent).isEmpty();
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
        figures.print("g3-create-race", "rounds", rounds.size(), "statuses", rounds);
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
        figures.print("g3-last-admins", "rounds", rounds.size(), "statuses", rounds);
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
        figures.print("g3-delete-race", "rounds", rounds.size(), "statuses", rounds);
    }

    /**
     * G5: with the store taken away, cached keys keep working on both instances, unknown keys get 503 (not 401),
     * admin writes get 503 within five seconds, and /ready turns 503 once the feed lag passes the readiness bound
     * (and not before). Once the store is back, both instances recover with no restart: /ready 200, writes work, a
     * key created after the recovery works on both at its first request, and a removal reaches the other instance
     * within the revocation bound. A store with no outage to simulate skips this test.
     */
    @Test
    @Order(9)
    void g5AStoreOutageIsSurvivedAndRecoveredFrom()
            throws Exception
    {
        Optional<StoreOutage> outage = outage();
        assumeTrue(outage.isPresent(), () -> "G5 skipped: the " + figures.store() + " store has no outage to simulate");
        String account = "g5-account";
        Map<ServerProcess, Double> appliedBefore = new HashMap<>();
        for (ServerProcess server : List.of(a, b)) {
            appliedBefore.put(server, client.metrics(server, CHANGES_APPLIED).get(CHANGES_APPLIED));
        }
        client.createAccount(a, account, "owner");
        String cached = client.registerUser(a, account, "cached", USER);
        String doomed = client.registerUser(a, account, "doomed", USER);
        client.registerUser(a, account, "regenerated", USER);
        // a write's own feed entry evicts its keys once more on the writer when the feed brings it back: wait for
        // both instances to have read the four writes, so that the keys cached below stay cached
        for (ServerProcess server : List.of(a, b)) {
            waits.awaitTrue(() -> server.name() + " to read the four writes from the feed", System.nanoTime(),
                    () -> client.metrics(server, CHANGES_APPLIED).get(CHANGES_APPLIED) >= appliedBefore.get(server) + 4);
        }
        for (ServerProcess server : List.of(a, b)) {
            assertThat(answer(client.verify(server, cached))).isEqualTo(acceptedAs(USER));
            assertThat(answer(client.verify(server, doomed))).isEqualTo(acceptedAs(USER));
            assertThat(client.ready(server).status()).as("/ready on %s before the outage", server.name()).isEqualTo(200);
        }

        long signalled = System.nanoTime();
        outage.get().begin().run();
        long begun;
        ExecutorService watchers = Executors.newFixedThreadPool(2);
        Map<String, Long> writeMillis = new TreeMap<>();
        Map<String, Long> unknownMillis = new TreeMap<>();
        ReadyWatch notReadyA;
        ReadyWatch notReadyB;
        try {
            begun = System.nanoTime();
            System.out.printf("G5 %s store taken away in %d ms%n", figures.store(), (begun - signalled) / 1_000_000);
            long since = begun;
            Future<ReadyWatch> watchA = watchers.submit(() -> watchReady(a, since, 503));
            Future<ReadyWatch> watchB = watchers.submit(() -> watchReady(b, since, 503));

            for (ServerProcess server : List.of(a, b)) {
                assertThat(answer(client.verify(server, cached))).as("a cached key on %s during the outage", server.name()).isEqualTo(acceptedAs(USER));
                long start = System.nanoTime();
                String unknown = answer(client.verify(server, wellFormedUnknownKey()));
                unknownMillis.put(server.name(), millisSince(start));
                assertThat(unknown).as("an unknown key on %s during the outage, answered %d ms after it began (%d ms after the request)",
                        server.name(), millisSince(begun), unknownMillis.get(server.name())).isEqualTo(UNAVAILABLE);
            }
            List<Supplier<Response>> writes = List.of(
                    () -> client.tryRegisterUser(a, account, "during-outage", USER),
                    () -> client.tryCreateAccount(b, "g5-during-outage", "admin"),
                    () -> client.tryRegenerateKey(b, account, "regenerated"));
            List<String> writeNames = List.of("register-on-A", "create-account-on-B", "regenerate-on-B");
            for (int i = 0; i < writes.size(); i++) {
                long start = System.nanoTime();
                Response refused = writes.get(i).get();
                long took = millisSince(start);
                writeMillis.put(writeNames.get(i), took);
                assertThat(refused.status()).as("G5 admin write during the outage (%s): %s", writeNames.get(i), refused).isEqualTo(503);
                assertThat(refused.errorCode()).isEqualTo("UNAVAILABLE");
                assertThat(Duration.ofMillis(took)).as("G5 time to refuse an admin write (%s)", writeNames.get(i)).isLessThan(ADMIN_WRITE_BOUND);
            }

            notReadyA = waits.await(watchA);
            notReadyB = waits.await(watchB);
            for (ServerProcess server : List.of(a, b)) {
                assertThat(answer(client.verify(server, cached))).as("a cached key on %s, /ready 503", server.name()).isEqualTo(acceptedAs(USER));
            }
            System.out.printf("G5 during the outage: cached keys 200; unknown keys 503 after %s ms; admin writes 503 after %s ms; /ready 503 after %d ms (A, lag %.3f s) and %d ms (B, lag %.3f s), bound %d ms; last 200 at %d ms (A, lag %.3f s) and %d ms (B, lag %.3f s)%n",
                    unknownMillis, writeMillis, notReadyA.changed().toMillis(), notReadyA.lag(), notReadyB.changed().toMillis(), notReadyB.lag(), readyMaxLag().toMillis(),
                    notReadyA.lastBefore().toMillis(), notReadyA.lagBefore(), notReadyB.lastBefore().toMillis(), notReadyB.lagBefore());
            for (ReadyWatch watch : List.of(notReadyA, notReadyB)) {
                // the lag is reported in whole milliseconds: just past the bound reads as the bound
                assertThat(watch.lag()).as("G5 feed lag reported with /ready 503 on %s", watch.server()).isGreaterThanOrEqualTo(readyMaxLag().toMillis() / 1000.0);
                assertThat(watch.lagBefore()).as("G5 feed lag reported with the last /ready 200 on %s", watch.server()).isLessThanOrEqualTo(readyMaxLag().toMillis() / 1000.0);
                assertThat(watch.changed()).as("G5 time from the outage to /ready 503 on %s", watch.server()).isLessThan(readyMaxLag().plus(READY_SLACK));
            }
        }
        finally {
            watchers.shutdownNow();
            outage.get().end().run();
        }

        long resume = System.nanoTime();
        System.out.printf("G5 %s store back after an outage of %d ms%n", figures.store(), (resume - begun) / 1_000_000);
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
        System.out.printf("G5 after the outage: /ready 200 after %d ms (A) and %d ms (B); first write accepted after %d ms (%d refused before); a removal on A seen by B after %d ms; writes refused with 503 during the outage that landed later: %s%n",
                readyA.toMillis(), readyB.toMillis(), writable.toMillis(), refusedWrites.get(), revoked.toMillis(), landedLater);
        figures.print("g5", "outage_ms", (resume - begun) / 1_000_000, "unknown_503_ms", unknownMillis, "write_503_ms", writeMillis,
                "write_bound_ms", ADMIN_WRITE_BOUND.toMillis(), "not_ready_a_ms", notReadyA.changed().toMillis(), "not_ready_b_ms", notReadyB.changed().toMillis(),
                "ready_bound_ms", readyMaxLag().toMillis(), "ready_again_a_ms", readyA.toMillis(), "ready_again_b_ms", readyB.toMillis(),
                "first_write_ms", writable.toMillis(), "writes_refused_after", refusedWrites.get(), "removal_seen_ms", revoked.toMillis(), "landed_later", landedLater.size());
        if (!refusedWritesMayLandAfterTheOutage()) {
            assertThat(landedLater).as("writes refused with 503 during the outage that landed later").isEmpty();
        }
        assertThat(revoked).as("G5 a removal after the recovery, delay until B saw it").isLessThan(revocationBound());
    }

    /**
     * G6: B is killed with SIGKILL during a burst of registrations sent to it, then restarted on the same store:
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
        ServerProcess restarted = restartB("B-restarted");
        System.out.printf("G6: B restarted on the same store in %d ms: %s%n", millisSince(restart), restarted);
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
        figures.print("g6-burst", "acknowledged", acknowledged.size(), "cut_by_kill", burst.unanswered.get(), "refused_before_kill", burst.refused.size(),
                "restart_ms", millisSince(restart), "acknowledged_refused_after_restart", refusedKeys.values().stream().mapToInt(List::size).sum(),
                "stored_not_acknowledged", unacknowledged.getOrDefault(a.name(), List.of()).size());
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
     * Several keys per user, across the two instances: a key added on A works on B at its first request (with its
     * scopes); 24 adds sent at once through both instances to a user holding 2 keys end with exactly 18 acknowledged
     * and 6 refused with 412, none lost (each acknowledged key accepted by both, each listed by both); a key deleted
     * on A is refused by B within the revocation bound while its siblings keep working on both.
     */
    @Test
    @Order(13)
    void g1g2g3KeysAddedOrDeletedOnOneInstanceReachTheOtherAndTheLimitHoldsUnderConcurrentAdds()
    {
        String account = "keys-account";
        client.createAccount(a, account, "owner");
        String primary = client.registerUser(a, account, "holder", USER);
        Response added = client.tryCreateKey(a, account, "holder", Map.of("name", "ci", "scopes", List.of("docs:read")));
        assertThat(added.status()).as("add a key on A: %s", added).isEqualTo(200);
        String ci = added.result().path("user_key").asText();
        Response first = client.verify(b, ci);
        assertThat(first.status()).as("the added key on B at its first request: %s", first).isEqualTo(200);
        assertThat(first.result().path("key_id").asText()).isEqualTo(added.result().path("key_id").asText());
        assertThat(first.result().path("scopes").toString()).isEqualTo("[\"docs:read\"]");

        int room = NEW_KEYS_LIMIT - 2;
        int sent = room + 6;
        List<Response> answers = waits.concurrently(IntStream.range(0, sent)
                .mapToObj(i -> (Callable<Response>) () -> client.tryCreateKey(i % 2 == 0 ? a : b, account, "holder", Map.of("name", "burst " + i)))
                .toList());
        List<String> acknowledged = answers.stream().filter(response -> response.status() == 200).map(response -> response.result().path("user_key").asText()).toList();
        List<Response> refused = answers.stream().filter(response -> response.status() != 200).toList();
        System.out.printf("Keys: %d adds at once through A and B to a user holding 2 keys: %d acknowledged, %d refused (%s)%n",
                sent, acknowledged.size(), refused.size(), refused.stream().map(Response::errorCode).distinct().toList());
        figures.print("keys-limit", "sent", sent, "acknowledged", acknowledged.size(), "refused", refused.size());
        assertThat(acknowledged).hasSize(room);
        assertThat(refused).allSatisfy(response -> assertThat(response.status()).as("%s", response).isEqualTo(412));
        for (ServerProcess server : List.of(a, b)) {
            Response listed = client.listKeys(server, account, "holder");
            assertThat(listed.result()).as("keys listed by %s", server.name()).hasSize(NEW_KEYS_LIMIT);
            for (String key : acknowledged) {
                assertThat(answer(client.verify(server, key))).as("an acknowledged key on %s", server.name()).isEqualTo(acceptedAs(USER));
            }
        }

        String deletedKeyId = added.result().path("key_id").asText();
        Duration delay = propagation("delete key", ci, REFUSED, () -> client.tryDeleteKey(a, account, "holder", deletedKeyId));
        for (ServerProcess server : List.of(a, b)) {
            assertThat(answer(client.verify(server, primary))).as("the primary key on %s after a sibling's deletion", server.name()).isEqualTo(acceptedAs(USER));
            assertThat(answer(client.verify(server, acknowledged.get(0)))).as("another sibling on %s", server.name()).isEqualTo(acceptedAs(USER));
        }
        figures.print("keys-delete", "seen_on_b_ms", delay.toMillis(), "bound_ms", revocationBound().toMillis());
        assertThat(delay).as("delay until B refused the deleted key").isLessThan(revocationBound());
    }

    /**
     * Who did what, across the two instances: an account created on A by root and a user registered on B by the
     * account's admin each leave one audit record, which both instances list alike, naming the instance, the actor's
     * key id and the request id the client sent. And last-used times: a key used on A and later on B shows B's (the
     * later) time on both instances' listings; a key never used shows null.
     */
    @Test
    @Order(15)
    void auditRecordsOfWritesThroughBothInstancesAreListedByEitherAndLastUsedIsTheLaterUse()
            throws InterruptedException
    {
        String account = "audit-account";
        String alice = client.createAccount(a, account, "alice");
        Response registered = client.send(b, "POST", "/api/v1/admin/accounts/" + account + "/users", alice, Map.of("user_id", "bob", "role", USER));
        assertThat(registered.status()).as("register bob on B: %s", registered).isEqualTo(200);
        Response spare = client.tryCreateKey(a, account, "alice", Map.of("name", "spare"));
        assertThat(spare.status()).as("a spare key on A: %s", spare).isEqualTo(200);

        List<JsonNode> seenByA = records(client.audit(a, ROOT_KEY, "account_id=" + account));
        List<JsonNode> seenByB = records(client.audit(b, alice, "limit=1000"));
        assertThat(seenByB).isEqualTo(seenByA);
        assertThat(seenByA).extracting(record -> record.path("type").asText()).containsExactly("key_added", "user_added", "account_created");
        JsonNode added = seenByA.get(1);
        assertThat(added.path("instance_id").asText()).isEqualTo("it-" + b.name().toLowerCase(Locale.ROOT));
        assertThat(added.path("actor").path("role").asText()).isEqualTo(ADMIN);
        assertThat(added.path("actor").path("key_id").asText()).isEqualTo(alice.substring(3, 19));
        assertThat(seenByA.get(2).path("instance_id").asText()).isEqualTo("it-" + a.name().toLowerCase(Locale.ROOT));
        assertThat(seenByA.get(2).path("actor").path("role").asText()).isEqualTo("root");

        assertThat(client.verify(a, alice).status()).isEqualTo(200);
        String aliceKeyId = alice.substring(3, 19);
        // wait (with a deadline) until A's flush has recorded the use, so that B's use is strictly the later one
        long flushedByA = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (lastUsedAt(a, account, "alice", aliceKeyId).isNull()) {
            assertThat(System.nanoTime()).as("A's usage flush within 30 s").isLessThan(flushedByA);
            Thread.sleep(50);
        }
        Thread.sleep(10);
        Instant beforeUseOnB = Instant.now();
        assertThat(client.verify(b, alice).status()).isEqualTo(200);
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        String spareKeyId = spare.result().path("key_id").asText();
        for (ServerProcess server : List.of(a, b)) {
            Map<String, JsonNode> lastUsed;
            while (true) {
                lastUsed = new HashMap<>();
                for (JsonNode key : client.listKeys(server, account, "alice").result()) {
                    lastUsed.put(key.path("key_id").asText(), key.path("last_used_at"));
                }
                JsonNode primary = lastUsed.get(aliceKeyId);
                if ((!primary.isNull() && !Instant.parse(primary.asText()).isBefore(beforeUseOnB)) || System.nanoTime() > deadline) {
                    break;
                }
                Thread.sleep(100);
            }
            assertThat(lastUsed.get(aliceKeyId).isNull()).as("alice's key listed by %s", server.name()).isFalse();
            assertThat(Instant.parse(lastUsed.get(aliceKeyId).asText())).as("alice's key listed by %s: B's use, the later one", server.name())
                    .isAfterOrEqualTo(beforeUseOnB);
            assertThat(lastUsed.get(spareKeyId).isNull()).as("the spare key, never used, listed by %s", server.name()).isTrue();
        }
        figures.print("audit", "records", seenByA.size(), "last_used_after_use_on_b", true);
    }

    private JsonNode lastUsedAt(ServerProcess server, String account, String user, String keyId)
    {
        for (JsonNode key : client.listKeys(server, account, user).result()) {
            if (key.path("key_id").asText().equals(keyId)) {
                return key.path("last_used_at");
            }
        }
        throw new AssertionError("no key " + keyId + " listed for " + user);
    }

        private static List<JsonNode> records(Response page)
    {
        assertThat(page.status()).as("audit page: %s", page).isEqualTo(200);
        List<JsonNode> records = new ArrayList<>();
        page.result().path("records").forEach(records::add);
        return records;
    }

    /**
     * The ends of keys, across the two instances, with no write in between to carry them: a primary key regenerated
     * on A with a grace period keeps working on both until {@code previous_key_expires_at} and is refused by both from
     * then on, while the new key works on both at once; a key created with {@code ttl: 2} is refused by both 2 s
     * later. And the writes that reach every key of a user: a role change and an account deletion made on A reach
     * each of the user's keys on B within the revocation bound.
     */
    @Test
    @Order(14)
    void g2KeysEndAtTheirExpiryOnBothInstancesAndUserWritesReachEveryKey()
    {
        String account = "expiry-account";
        client.createAccount(a, account, "owner");
        String old = client.registerUser(a, account, "rotating", USER);
        for (ServerProcess server : List.of(a, b)) {
            assertThat(answer(client.verify(server, old))).as("the key on %s before its regeneration", server.name()).isEqualTo(acceptedAs(USER));
        }

        Response regenerated = client.tryRegenerateKey(a, account, "rotating", Map.of("grace_period", 2));
        assertThat(regenerated.status()).as("regenerate with a grace period: %s", regenerated).isEqualTo(200);
        Instant until = Instant.parse(regenerated.result().path("previous_key_expires_at").asText());
        String fresh = regenerated.result().path("user_key").asText();
        for (ServerProcess server : List.of(a, b)) {
            assertThat(answer(client.verify(server, fresh))).as("the new key on %s at once", server.name()).isEqualTo(acceptedAs(USER));
        }
        Map<String, Duration> graceEnd = keyEnd("grace", old, until);

        Response shortLived = client.tryCreateKey(a, account, "rotating", Map.of("name", "two seconds", "ttl", 2));
        assertThat(shortLived.status()).as("a key with ttl 2: %s", shortLived).isEqualTo(200);
        String twoSeconds = shortLived.result().path("user_key").asText();
        Instant expiresAt = Instant.parse(shortLived.result().path("expires_at").asText());
        assertThat(Duration.between(Instant.parse(shortLived.result().path("created_at").asText()), expiresAt))
                .as("expiry instants are kept to the millisecond").isBetween(Duration.ofMillis(1999), Duration.ofSeconds(2));
        Map<String, Duration> ttlEnd = keyEnd("ttl", twoSeconds, expiresAt);
        System.out.printf("Key ends: grace period over, last success seen after the instant %s; ttl of 2 s, %s%n", graceEnd, ttlEnd);
        figures.print("keys-expiry", "grace_last_success_after_ms", graceEnd.values().stream().mapToLong(Duration::toMillis).max().orElseThrow(),
                "ttl_last_success_after_ms", ttlEnd.values().stream().mapToLong(Duration::toMillis).max().orElseThrow());

        // every key of the user: its primary key and two more, all served by B before the writes
        String user = "many-keys";
        List<String> keys = new ArrayList<>(List.of(client.registerUser(a, account, user, USER)));
        for (String name : List.of("first", "second")) {
            Response added = client.tryCreateKey(a, account, user, Map.of("name", name));
            assertThat(added.status()).as("add key %s: %s", name, added).isEqualTo(200);
            keys.add(added.result().path("user_key").asText());
        }
        keys.forEach(key -> assertThat(answer(client.verify(b, key))).as("B serves every key of the user").isEqualTo(acceptedAs(USER)));
        Response promoted = client.trySetRole(a, account, user, ADMIN);
        long acknowledged = System.nanoTime();
        assertThat(promoted.status()).as("role change: %s", promoted).isEqualTo(200);
        List<Long> roleDelays = keys.stream().map(key -> awaitAnswer(b, key, acceptedAs(ADMIN), acknowledged).toMillis()).toList();
        Response deleted = client.tryDeleteAccount(a, account);
        long deletedAt = System.nanoTime();
        assertThat(deleted.status()).as("account deletion: %s", deleted).isEqualTo(200);
        List<Long> deletionDelays = keys.stream().map(key -> awaitAnswer(b, key, REFUSED, deletedAt).toMillis()).toList();
        assertThat(answer(client.verify(b, fresh))).as("the regenerated key of another user of the deleted account").isEqualTo(REFUSED);
        System.out.printf("Every key of a user on B: role change seen after %s ms, account deletion after %s ms (bound %d ms)%n",
                roleDelays, deletionDelays, revocationBound().toMillis());
        figures.print("keys-every-key", "role_change_max_ms", roleDelays.stream().mapToLong(Long::longValue).max().orElseThrow(),
                "account_deletion_max_ms", deletionDelays.stream().mapToLong(Long::longValue).max().orElseThrow(), "bound_ms", revocationBound().toMillis());
        assertThat(roleDelays).allSatisfy(delay -> assertThat(delay).as("role change on B").isLessThan(revocationBound().toMillis()));
        assertThat(deletionDelays).allSatisfy(delay -> assertThat(delay).as("account deletion on B").isLessThan(revocationBound().toMillis()));
    }

    /**
     * Asks both instances about a key, turn by turn, until both refuse it, and checks that each accepted it for
     * every request answered before {@code end} and refused it for every request sent from then on (give or take
     * the millisecond that expiry instants are kept to).
     *
     * @return per instance, how long after {@code end} the last acceptance was answered (zero when none was)
     */
    private Map<String, Duration> keyEnd(String what, String key, Instant end)
    {
        Map<String, Instant> lastAccepted = new LinkedHashMap<>();
        Set<String> refusing = new HashSet<>();
        long start = System.nanoTime();
        while (refusing.size() < 2) {
            for (ServerProcess server : List.of(a, b)) {
                if (refusing.contains(server.name())) {
                    continue;
                }
                Instant sent = Instant.now();
                String answer = answer(client.verify(server, key));
                Instant received = Instant.now();
                if (answer.equals(acceptedAs(USER))) {
                    assertThat(sent).as("%s: a request accepted by %s was sent before the end", what, server.name()).isBefore(end.plusMillis(1));
                    lastAccepted.put(server.name(), received);
                }
                else {
                    assertThat(answer).as("%s: %s after the key's end", what, server.name()).isEqualTo(REFUSED);
                    assertThat(received).as("%s: %s refused the key no earlier than its end", what, server.name()).isAfterOrEqualTo(end.minusMillis(1));
                    refusing.add(server.name());
                }
            }
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("%s: time until both refused the key", what).isLessThan(Duration.ofSeconds(30));
        }
        Map<String, Duration> after = new LinkedHashMap<>();
        for (ServerProcess server : List.of(a, b)) {
            Instant last = lastAccepted.getOrDefault(server.name(), end);
            after.put(server.name(), last.isAfter(end) ? Duration.between(end, last) : Duration.ZERO);
        }
        return after;
    }

    /**
     * The graceful stop, on a third instance of its own on the store: SIGTERM drains ({@code /ready} 503 "shutting
     * down" while requests are still served), new connections are refused once the drain is over and not before,
     * a request held in flight by the store (where the store has a way to hold one) is still answered, and the
     * process exits with the status of SIGTERM, having logged the drain.
     */
    @Test
    @Order(20)
    void gracefulStopDrainsThenLetsRequestsInFlightFinish()
            throws InterruptedException
    {
        try (ServerProcess server = launch("C-draining", Map.of("LATCHKEY_SHUTDOWN_DRAIN", DRAIN.toSeconds() + "s")).awaitReady(START_TIMEOUT)) {
            String key = client.createAccount(server, "drain-account", "alice");
            assertThat(client.ready(server).status()).isEqualTo(200);
            Optional<RequestInFlight> inFlight = holdARequestInFlight(server, ROOT_KEY);
            Duration notReady;
            Duration refusing;
            try {
                long terminated = System.nanoTime();
                server.terminate();
                notReady = waits.awaitTrue(() -> "/ready to answer 503 after SIGTERM", terminated, () -> client.ready(server).status() == 503);
                Response ready = client.ready(server);
                assertThat(ready.body().path("error").path("code").textValue()).isEqualTo("UNAVAILABLE");
                assertThat(ready.body().path("error").path("message").textValue()).contains("shutting down");
                // still serving while load balancers take it out of rotation
                assertThat(client.verify(server, key).status()).isEqualTo(200);

                // once the drain is over new connections are refused, and the request in flight is still answered
                refusing = waits.awaitTrue(() -> "the server to stop accepting connections", terminated, () -> !accepts(server));
                assertThat(refusing).as("time until connections were refused").isGreaterThanOrEqualTo(DRAIN);
                inFlight.ifPresent(RequestInFlight::assertStillHeld);
                inFlight.ifPresent(request -> assertThat(request.releaseAndReadResponse()).startsWith("HTTP/1.1 200").contains("\"user_key\""));
            }
            finally {
                inFlight.ifPresent(RequestInFlight::close);
            }
            assertThat(server.awaitExit(patience)).isEqualTo(SIGTERM_STATUS);
            assertThat(server.logText()).contains("draining for " + DRAIN.toMillis() + " ms").contains("stopped");
            System.out.printf("graceful stop: /ready 503 %d ms after SIGTERM; connections refused after %d ms (drain %d ms); a request held in flight by the store: %s%n",
                    notReady.toMillis(), refusing.toMillis(), DRAIN.toMillis(), inFlight.isPresent() ? "answered 200" : "none (the store has no way to hold one)");
            figures.print("graceful-stop", "not_ready_ms", notReady.toMillis(), "refusing_ms", refusing.toMillis(), "drain_ms", DRAIN.toMillis(),
                    "in_flight", inFlight.isPresent() ? "answered" : "none");
        }
    }

    /**
     * Coherence one can see, on three instances of their own whose feeds are read every 10 s (A and B stopped
     * first, cleanly, which takes them out of the registry at once): a key regenerated with {@code wait=all} answers
     * {@code 3/3}, and the old key is refused on the other two at their very next request, which only the
     * confirmation can explain; with one instance paused (SIGSTOP) the write answers after the wait timeout with
     * {@code 2/3} naming it; three heartbeats later the registry no longer lists it; resumed, it is listed again and
     * catches up.
     */
    @Test
    @Order(30)
    void waitAllConfirmsEveryInstanceAndNamesOneThatIsPaused()
    {
        stopAAndB();
        List<ServerProcess> three = launchCoherenceInstances("X", "Y", "Z");
        ServerProcess x = three.get(0);
        ServerProcess y = three.get(1);
        ServerProcess z = three.get(2);
        waits.awaitTrue(() -> "X to list X, Y and Z", System.nanoTime(), () -> liveInstanceIds(x).equals(List.of("it-x", "it-y", "it-z")));

        client.createAccount(x, "confirmed", "alice");
        String bob = client.registerUser(x, "confirmed", "bob", USER);
        for (ServerProcess other : List.of(y, z)) {
            assertThat(answer(client.verify(other, bob))).as("%s caches bob's key", other.name()).isEqualTo(acceptedAs(USER));
        }
        long sent = System.nanoTime();
        Response regenerated = client.send(x, "POST", "/api/v1/admin/accounts/confirmed/users/bob/key?wait=all", ROOT_KEY, Map.of());
        long confirmedMillis = millisSince(sent);
        assertThat(regenerated.status()).as("%s", regenerated).isEqualTo(200);
        assertThat(regenerated.header("X-Latchkey-Applied")).contains("3/3");
        assertThat(regenerated.header("X-Latchkey-Lagging")).isEmpty();
        for (ServerProcess other : List.of(y, z)) {
            assertThat(answer(client.verify(other, bob))).as("the old key on %s at its very next request", other.name()).isEqualTo(REFUSED);
            assertThat(answer(client.verify(other, regenerated.result().path("user_key").asText()))).isEqualTo(acceptedAs(USER));
        }
        long position = Long.parseLong(regenerated.header("X-Latchkey-Position").orElseThrow());
        Response status = client.send(y, "GET", "/api/v1/admin/changes/" + position, ROOT_KEY, null);
        assertThat(status.status()).as("%s", status).isEqualTo(200);
        assertThat(status.result().path("live").asInt()).isEqualTo(3);
        assertThat(status.result().path("lagging").size()).isZero();

        z.pause();
        String pausedKey;
        long pausedMillis;
        try {
            sent = System.nanoTime();
            Response again = client.send(x, "POST", "/api/v1/admin/accounts/confirmed/users/bob/key?wait=all", ROOT_KEY, Map.of());
            pausedMillis = millisSince(sent);
            assertThat(again.status()).as("%s", again).isEqualTo(200);
            assertThat(again.header("X-Latchkey-Applied")).contains("2/3");
            assertThat(again.header("X-Latchkey-Lagging")).contains("it-z");
            assertThat(pausedMillis).as("answered once the wait timeout passed").isGreaterThanOrEqualTo(COHERENCE_WAIT_TIMEOUT.toMillis());
            pausedKey = again.result().path("user_key").asText();
            assertThat(answer(client.verify(y, pausedKey))).isEqualTo(acceptedAs(USER));
            Duration gone = waits.awaitTrue(() -> "the registry to drop the paused instance", sent, () -> !liveInstanceIds(x).contains("it-z"));
            assertThat(gone).as("dropped after three missed heartbeats").isGreaterThanOrEqualTo(HEARTBEAT.multipliedBy(2));
        }
        finally {
            z.resume();
        }
        long resumed = System.nanoTime();
        Duration back = waits.awaitTrue(() -> "the registry to list the resumed instance again", resumed, () -> liveInstanceIds(x).contains("it-z"));
        Duration caughtUp = awaitAnswer(z, pausedKey, acceptedAs(USER), resumed);
        System.out.printf("wait=all: 3/3 in %d ms; with one instance paused 2/3 in %d ms (wait timeout %d ms); resumed: listed after %d ms, caught up after %d ms%n",
                confirmedMillis, pausedMillis, COHERENCE_WAIT_TIMEOUT.toMillis(), back.toMillis(), caughtUp.toMillis());
        figures.print("wait-all", "confirmed_ms", confirmedMillis, "instances", 3, "paused_ms", pausedMillis, "relisted_ms", back.toMillis(),
                "caught_up_ms", caughtUp.toMillis());
    }

    /**
     * The read-your-writes token, on instances whose feeds are read every 10 s: a key revoked on one and presented to
     * another with {@code X-Latchkey-Min-Position} is refused at once; a seeded key whose id the other remembered as
     * unknown is accepted there with the token.
     */
    @Test
    @Order(31)
    void aReadYourWritesTokenMakesTheOtherInstanceAnswerAsOfTheWrite()
    {
        List<ServerProcess> instances = coherenceInstances.isEmpty() ? launchCoherenceInstances("X", "Y", "Z") : coherenceInstances;
        ServerProcess x = instances.get(0);
        ServerProcess y = instances.get(1);
        client.createAccount(x, "tokens", "alice");
        String bob = client.registerUser(x, "tokens", "bob", USER);
        assertThat(answer(client.verify(y, bob))).isEqualTo(acceptedAs(USER));
        Response removed = client.tryRemoveUser(x, "tokens", "bob");
        assertThat(removed.status()).as("%s", removed).isEqualTo(200);
        long sent = System.nanoTime();
        Response refused = client.send(y, "GET", "/api/v1/auth/verify", bob, null, Map.of("X-Latchkey-Min-Position", removed.header("X-Latchkey-Position").orElseThrow()));
        long refusedMillis = millisSince(sent);
        assertThat(answer(refused)).as("the removed user's key with the token").isEqualTo(REFUSED);

        String seed = "a-seed-for-the-token-test";
        Response first = client.send(y, "POST", "/api/v1/admin/accounts/tokens/users", ROOT_KEY, Map.of("user_id", "carol", "seed", seed));
        assertThat(first.status()).as("%s", first).isEqualTo(200);
        String carol = first.result().path("user_key").asText();
        assertThat(client.tryRemoveUser(y, "tokens", "carol").status()).isEqualTo(200);
        assertThat(answer(client.verify(y, carol))).as("y remembers the seeded key's id as unknown").isEqualTo(REFUSED);
        Response again = client.send(x, "POST", "/api/v1/admin/accounts/tokens/users", ROOT_KEY, Map.of("user_id", "carol", "seed", seed));
        assertThat(again.result().path("user_key").asText()).isEqualTo(carol);
        Response accepted = client.send(y, "GET", "/api/v1/auth/verify", carol, null, Map.of("X-Latchkey-Min-Position", again.header("X-Latchkey-Position").orElseThrow()));
        assertThat(answer(accepted)).as("the seeded key with the token").isEqualTo(acceptedAs(USER));
        System.out.printf("read-your-writes token: a removed user's key refused in %d ms on an instance polling every %d s%n", refusedMillis,
                COHERENCE_POLL.toSeconds());
        figures.print("token", "refused_ms", refusedMillis);
    }

    private final List<ServerProcess> coherenceInstances = new ArrayList<>();

    private void stopAAndB()
    {
        for (ServerProcess server : List.of(a, b)) {
            server.close();
        }
    }

    private List<ServerProcess> launchCoherenceInstances(String... names)
    {
        Map<String, String> settings = Map.of(
                "LATCHKEY_POLL_INTERVAL", COHERENCE_POLL.toSeconds() + "s",
                "LATCHKEY_NEGATIVE_TTL", "1h",
                "LATCHKEY_WAIT_TIMEOUT", COHERENCE_WAIT_TIMEOUT.toMillis() + "ms");
        List<ServerProcess> launched = new ArrayList<>();
        for (String name : names) {
            launched.add(launch(name, settings));
        }
        launched.forEach(server -> server.awaitReady(START_TIMEOUT));
        coherenceInstances.addAll(launched);
        return launched;
    }

    private List<String> liveInstanceIds(ServerProcess server)
    {
        Response listed = client.send(server, "GET", "/api/v1/admin/instances", ROOT_KEY, null);
        assertThat(listed.status()).as("%s", listed).isEqualTo(200);
        return listed.result().path("instances").findValuesAsText("instance_id").stream().sorted().toList();
    }

    // --- for the subclasses

    protected final ServerProcess instanceA()
    {
        return a;
    }

    protected final ServerProcess instanceB()
    {
        return b;
    }

    /**
     * Starts a new B on the store (after the old one was killed) and waits until it serves.
     */
    protected final ServerProcess restartB(String name)
    {
        b = launch(name, Map.of()).awaitReady(START_TIMEOUT);
        return b;
    }

    /**
     * Asks the server about the key until it gives the expected answer.
     *
     * @return the time from {@code sinceNanos} to that answer
     */
    protected final Duration awaitAnswer(ServerProcess server, String key, String expected, long sinceNanos)
    {
        AtomicReference<String> last = new AtomicReference<>();
        return waits.awaitTrue(() -> "'" + expected + "' from " + server.name() + ", last answer '" + last.get() + "'", sinceNanos, () -> {
            last.set(answer(client.verify(server, key)));
            return last.get().equals(expected);
        });
    }

    // --- helpers

    private ServerProcess launch(String name, Map<String, String> extraSettings)
    {
        Map<String, String> settings = new HashMap<>(storeSettings());
        settings.put("LATCHKEY_INSTANCE_ID", "it-" + name.toLowerCase(Locale.ROOT));
        settings.put("LATCHKEY_USAGE_FLUSH", USAGE_FLUSH.toMillis() + "ms");
        // an instance killed by a test drops out of the registry three heartbeats later: soon, for the tests after it
        settings.put("LATCHKEY_HEARTBEAT", HEARTBEAT.toMillis() + "ms");
        settings.putAll(extraSettings);
        ServerProcess server = ServerProcess.launch(name, settings, ROOT_KEY, logDirectory);
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
            this.server = requireNonNull(server, "server is null");
            this.account = requireNonNull(account, "account is null");
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
     * @param changed the time from the outage to the first answer with the status
     * @param lag the feed lag that answer reported
     * @param lastBefore the time from the outage to the last answer with another status
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
            if (System.nanoTime() - sinceNanos > patience.toNanos()) {
                fail("waited %s for /ready on %s to answer %d, last answer %s", patience, server.name(), status, ready);
            }
            LockSupport.parkNanos(Duration.ofMillis(20).toNanos());
        }
    }

    /**
     * Retries a write that may meet a store still catching up after the outage (a pool reconnecting, requests
     * queued during the outage); returns the new key.
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

    private static boolean accepts(ServerProcess server)
    {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port()), 1000);
            return true;
        }
        catch (IOException e) {
            return false;
        }
    }

    private static long percentile(List<Long> sorted, int percentile)
    {
        int index = (int) Math.ceil(percentile / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, index));
    }
}

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

import java.io.UncheckedIOException;
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
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.stream.IntStream;

import static dev.latchkey.server.it.MultiInstanceSupport.acceptedAs;
import static dev.latchkey.server.it.MultiInstanceSupport.answer;
import static dev.latchkey.server.it.MultiInstanceSupport.millisSince;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The guarantees of consistency.md, checked end to end on two real server processes, A and B ({@code java -jar
 * latchkey.jar}), sharing one filesystem store, with the default poll interval (250 ms) and negative-cache period
 * (2 s). Every figure measured is printed ({@code target/failsafe-reports/*-output.txt}); every wait has a deadline
 * and the bounds are asserted on the measured figures, so a slow machine fails with the number, not a timeout.
 *
 * <p>The tests run in a fixed order: G4 first, while nothing writes (its lookup counts must not see feed traffic),
 * and G6 last, because it kills and replaces B. Each test uses its own accounts.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MultiInstanceIT
{
    private static final String ROOT_KEY = "multi-instance-it-root-key-0123456789abcdefghij";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    /** How long any wait may last before the test fails; the guarantees' bounds are asserted on what was measured. */
    private static final Duration PATIENCE = Duration.ofSeconds(10);
    private static final Duration POLL = Duration.ofMillis(5);
    private static final Duration REVOCATION_BOUND = Duration.ofSeconds(1);
    private static final String USER = "user";
    private static final String ADMIN = "admin";
    private static final String REFUSED = "401 UNAUTHENTICATED";
    private static final int PAGE_SIZE = 7;

    private final MultiInstanceSupport waits = new MultiInstanceSupport(PATIENCE, POLL);
    private final LatchkeyClient client = new LatchkeyClient(ROOT_KEY);
    private final List<ServerProcess> started = new ArrayList<>();
    private Path storeDirectory;
    private Path logDirectory;
    private ServerProcess a;
    private ServerProcess b;

    @BeforeAll
    void startTwoInstancesOnOneStore(@TempDir Path temporaryDirectory)
    {
        storeDirectory = temporaryDirectory.resolve("store");
        logDirectory = ServerProcess.jar().resolveSibling("it-logs").resolve(getClass().getSimpleName());
        long start = System.nanoTime();
        a = launch("A");
        b = launch("B");
        a.awaitReady(START_TIMEOUT);
        b.awaitReady(START_TIMEOUT);
        System.out.printf("started %s and %s on %s in %d ms (logs in %s)%n", a, b, storeDirectory, millisSince(start), logDirectory);
    }

    @AfterAll
    void stopInstances()
    {
        started.forEach(ServerProcess::close);
    }

    /**
     * G4: a key that fails its checksum never reaches the store (nor does the count of lookups move).
     */
    @Test
    @Order(1)
    void g4KeysThatFailTheirChecksumNeverReachTheStore()
    {
        StoreLookupChecks.malformedKeysNeverReachTheStore(client, b);
    }

    /**
     * G4: a herd of 400 concurrent requests with one unknown key costs at most one store lookup per negative-cache
     * period.
     */
    @Test
    @Order(2)
    void g4AHerdWithOneUnknownKeyCostsOneStoreLookup()
    {
        StoreLookupChecks.aHerdWithOneUnknownKeyCostsOneStoreLookup(client, b);
    }

    /**
     * G1: 30 keys created on A (15 accounts' first admins, 15 users) are each accepted by B at their first
     * request, with the identity they were created with.
     */
    @Test
    @Order(3)
    void g1KeysCreatedOnOneInstanceWorkOnTheOtherAtTheirFirstRequest()
    {
        List<String> failures = new ArrayList<>();
        long slowest = 0;
        for (int i = 0; i < 30; i++) {
            boolean account = i < 15;
            String accountId = "g1-account-" + (account ? i : 0);
            String userId = account ? "admin" : "user-" + i;
            String key = account ? client.createAccount(a, accountId, userId) : client.registerUser(a, accountId, userId, USER);
            long start = System.nanoTime();
            Response first = client.verify(b, key);
            slowest = Math.max(slowest, millisSince(start));
            JsonNode identity = first.result();
            boolean expected = first.status() == 200
                    && identity.path("role").asText().equals(account ? ADMIN : USER)
                    && identity.path("account_id").asText().equals(accountId)
                    && identity.path("user_id").asText().equals(userId);
            if (!expected) {
                failures.add(accountId + "/" + userId + ": " + first);
            }
        }
        System.out.printf("G1: 30 keys created on A (15 accounts, 15 users); accepted by B at their first request: %d; failures: %d; slowest first request %d ms%n",
                30 - failures.size(), failures.size(), slowest);
        assertThat(failures).as("keys created on A that B refused, or answered with another identity, at their first request").isEmpty();
    }

    /**
     * G2: a regenerate, a user removal, a role change and an account deletion made on A are seen by A at once and by
     * B within one second of A's answer, although B had the old key cached (it served it just before).
     */
    @Test
    @Order(4)
    void g2RevocationsAndRoleChangesMadeOnOneInstanceReachTheOtherWithinOneSecond()
    {
        String account = "g2-account";
        client.createAccount(a, account, "owner");
        String regenerated = client.registerUser(a, account, "regenerated", USER);
        String removed = client.registerUser(a, account, "removed", USER);
        String promoted = client.registerUser(a, account, "promoted", USER);
        String doomedAdmin = client.createAccount(a, "g2-doomed", "owner");
        String doomedUser = client.registerUser(a, "g2-doomed", "member", USER);
        assertThat(answer(client.verify(b, doomedAdmin))).as("B serves the key before the change").isEqualTo(acceptedAs(ADMIN));

        AtomicReference<String> newKey = new AtomicReference<>();
        Map<String, Duration> delays = new LinkedHashMap<>();
        delays.put("regenerate", propagation("regenerate", regenerated, REFUSED, () -> {
            Response response = client.tryRegenerateKey(a, account, "regenerated");
            newKey.set(response.result().path("user_key").asText());
            return response;
        }));
        delays.put("remove user", propagation("remove user", removed, REFUSED, () -> client.tryRemoveUser(a, account, "removed")));
        delays.put("role change", propagation("role change", promoted, acceptedAs(ADMIN), () -> client.trySetRole(a, account, "promoted", ADMIN)));
        delays.put("delete account", propagation("delete account", doomedUser, REFUSED, () -> client.tryDeleteAccount(a, "g2-doomed")));

        assertThat(answer(client.verify(b, newKey.get()))).as("the regenerated key on B, at its first request").isEqualTo(acceptedAs(USER));
        assertThat(answer(client.verify(b, doomedAdmin))).as("another cached key of the deleted account on B").isEqualTo(REFUSED);
        Map.Entry<String, Duration> largest = delays.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow();
        System.out.printf("G2: largest delay %d ms (%s); bound %d ms%n", largest.getValue().toMillis(), largest.getKey(), REVOCATION_BOUND.toMillis());
        assertThat(delays).allSatisfy((change, delay) -> assertThat(delay).as("G2 %s: delay until B saw it", change).isLessThan(REVOCATION_BOUND));
    }

    /**
     * G3: 40 registrations sent at once by two threads to A and two to B into one account are all kept: each user
     * is listed (page by page) by both instances with its key's prefix, and each key is accepted by both.
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
     * G6: B is killed with SIGKILL during a burst of registrations sent to it, then restarted on the same store:
     * every registration it acknowledged is listed and its key accepted by A and the new B, the account's user
     * count matches its users, and the store still takes writes from both.
     */
    @Test
    @Order(9)
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
        System.out.printf("G6: B restarted on the same store in %d ms: %s%n", millisSince(restart), b);
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

    // --- helpers

    private ServerProcess launch(String name)
    {
        ServerProcess server = ServerProcess.launch(name, storeDirectory, ROOT_KEY, logDirectory);
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

package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.UserQuery;
import dev.latchkey.core.testing.TestingProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Several writer JVMs on one PostgreSQL database, and writers killed with SIGKILL mid-burst.
 */
class TestPostgresStoreProcesses
{
    private static final Duration TIMEOUT = Duration.ofSeconds(90);
    private static final int ROUNDS = 30;
    private static final int KILLS = 4;

    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final SecretHasher hasher = SecretHasher.sha256();
    private final Clock clock = Clock.systemUTC();
    private final TestingJdbcStores stores = new TestingJdbcStores();

    @TempDir
    Path temporaryDirectory;

    @AfterEach
    void closeStores()
    {
        stores.closeAll();
    }

    @Test
    void processesWritingAtOnceSeeEveryAcknowledgedWriteInTheSameOrderWithOneWinnerPerConflict()
            throws Exception
    {
        String url = TestingPostgres.shared().createDatabase();
        JdbcIdentityStore store = stores.open(TestingJdbcStores.postgresConfig(url), clock);
        createAccount(store, AccountId.of("shared"), "owner");
        for (int i = 0; i < ROUNDS; i++) {
            AccountId duo = AccountId.of("duo-" + i);
            createAccount(store, duo, "a");
            store.addUser(newUser(duo, "b", Role.ADMIN, keys.random()));
        }
        long setupWrites = store.headPosition().value();
        Path go = temporaryDirectory.resolve("go");
        Path done = Files.createDirectory(temporaryDirectory.resolve("done"));

        List<String> p1;
        List<String> p2;
        try (TestingProcess first = race(url, "p1", go, done);
                TestingProcess second = race(url, "p2", go, done)) {
            first.awaitLines("READY"::equals, 1, TIMEOUT);
            second.awaitLines("READY"::equals, 1, TIMEOUT);
            Files.createFile(go);
            p1 = first.awaitExit(TIMEOUT);
            p2 = second.awaitExit(TIMEOUT);
        }

        List<String> acknowledged = Stream.concat(p1.stream(), p2.stream()).filter(line -> line.startsWith("ACK ")).toList();
        for (int i = 0; i < ROUNDS; i++) {
            assertOneWinner(p1, p2, "CREATE race-" + i, "ALREADY_EXISTS");
            assertOneWinner(p1, p2, "ADD shared/both-" + i, "ALREADY_EXISTS");
            AccountId duo = AccountId.of("duo-" + i);
            List<String> removals = Stream.concat(p1.stream(), p2.stream()).filter(line -> line.contains(" REMOVE " + duo + "/")).sorted().toList();
            assertThat(removals).as("exactly one of two concurrent removals of the last two admins of %s wins", duo).hasSize(2);
            assertThat(removals.get(0)).startsWith("ACK ");
            assertThat(removals.get(1)).startsWith("LOST ").endsWith(" FAILED_PRECONDITION");
            assertThat(store.listUsers(duo, UserQuery.all()).users()).hasSize(1);
            assertThat(store.findAccount(AccountId.of("race-" + i))).isPresent();
        }
        for (String line : acknowledged) {
            if (line.startsWith("ACK ADD ")) {
                String[] path = line.substring("ACK ADD ".length()).split("/");
                assertThat(store.findUser(AccountId.of(path[0]), UserId.of(path[1]))).as(line).isPresent();
            }
        }
        assertThat(store.listUsers(AccountId.of("shared"), UserQuery.all()).users()).hasSize(1 + 2 * ROUNDS + ROUNDS);

        List<String> feedOfFirst = p1.stream().filter(line -> line.startsWith("FEED ")).toList();
        List<String> feedOfSecond = p2.stream().filter(line -> line.startsWith("FEED ")).toList();
        assertThat(feedOfFirst).as("both processes read the same feed, in the same order").isEqualTo(feedOfSecond);
        assertThat(feedOfFirst).as("one feed entry per setup write and per acknowledged write").hasSize((int) setupWrites + acknowledged.size());
        for (int i = 0; i < feedOfFirst.size(); i++) {
            assertThat(feedOfFirst.get(i)).as("positions without gaps").startsWith("FEED " + (i + 1) + " ");
        }
        Set<String> fed = new HashSet<>(feedOfFirst.stream().skip(setupWrites).map(line -> line.split(" ", 3)[2]).toList());
        assertThat(fed).as("every acknowledged write is in the feed exactly once").hasSize(acknowledged.size());
    }

    @Test
    void writersKilledMidBurstLeaveEveryAcknowledgedWriteAndNothingElse()
            throws Exception
    {
        String url = TestingPostgres.shared().createDatabase();
        JdbcIdentityStore store = stores.open(TestingJdbcStores.postgresConfig(url), clock);
        AccountId account = AccountId.of("crash");
        createAccount(store, account, "owner");

        Map<UserId, Optional<String>> expected = new HashMap<>();
        Set<String> revokedKeys = new HashSet<>();
        Set<UserId> inFlight = new HashSet<>();
        Random random = ThreadLocalRandom.current();
        for (int kill = 0; kill < KILLS; kill++) {
            List<String> lines;
            try (TestingProcess writer = TestingProcess.start(JdbcStoreWorkload.class, temporaryDirectory.resolve("burst-" + kill + ".log"), "burst", url, "k" + kill, account.value())) {
                writer.awaitLines(line -> line.startsWith("ACK "), 5 + random.nextInt(20), TIMEOUT);
                LockSupport.parkNanos(Duration.ofMillis(random.nextInt(15)).toNanos());
                lines = writer.kill(TIMEOUT);
            }
            String lastBegin = null;
            for (String line : lines) {
                String[] words = line.split(" ");
                switch (words[0]) {
                    case "BEGIN" -> lastBegin = line;
                    case "ACK" -> {
                        lastBegin = null;
                        UserId user = UserId.of(words[2]);
                        if (words[1].equals("REMOVE")) {
                            expected.get(user).ifPresent(revokedKeys::add);
                            expected.put(user, Optional.empty());
                        }
                        else {
                            Optional<String> previous = expected.put(user, Optional.of(words[3]));
                            if (previous != null) {
                                previous.ifPresent(revokedKeys::add);
                            }
                        }
                    }
                    default -> throw new AssertionError("unexpected output: " + line);
                }
            }
            if (lastBegin != null) {
                inFlight.add(UserId.of(lastBegin.split(" ")[2]));
            }
        }

        assertThat(expected).hasSizeGreaterThan(KILLS * 5);
        expected.forEach((user, key) -> {
            if (inFlight.contains(user)) {
                return;
            }
            Optional<User> found = store.findUser(account, user);
            assertThat(found.isPresent()).as("user %s", user).isEqualTo(key.isPresent());
            key.ifPresent(text -> {
                ApiKey apiKey = ApiKey.parse(text).orElseThrow();
                Optional<KeyRecord> record = store.findKey(apiKey.keyId());
                assertThat(record).as("acknowledged key of %s", user).isPresent();
                assertThat(hasher.matches(apiKey, record.get().secretHash())).isTrue();
                assertThat(found.get().keyId()).isEqualTo(apiKey.keyId());
            });
        });
        for (String text : revokedKeys) {
            assertThat(store.findKey(ApiKey.parse(text).orElseThrow().keyId())).as("a replaced or removed key stays dead").isEmpty();
        }
        for (User user : store.listUsers(account, UserQuery.all()).users()) {
            assertThat(store.findKey(user.keyId()).map(KeyRecord::userId)).as("every user's key resolves to it").contains(user.id());
        }
    }

    private TestingProcess race(String url, String name, Path go, Path done)
    {
        return TestingProcess.start(JdbcStoreWorkload.class, temporaryDirectory.resolve(name + ".log"),
                "race", url, name, Integer.toString(ROUNDS), go.toString(), done.toString(), "2");
    }

    private static void assertOneWinner(List<String> first, List<String> second, String what, String loserCode)
    {
        List<String> outcomes = Stream.concat(first.stream(), second.stream())
                .filter(line -> line.equals("ACK " + what) || line.startsWith("LOST " + what + " "))
                .sorted()
                .toList();
        assertThat(outcomes).as(what).containsExactly("ACK " + what, "LOST " + what + " " + loserCode);
    }

    private void createAccount(JdbcIdentityStore store, AccountId account, String admin)
    {
        store.createAccount(new Account(account, clock.instant(), true), Optional.of(newUser(account, admin, Role.ADMIN, keys.random())));
    }

    private NewUser newUser(AccountId account, String user, Role role, ApiKey key)
    {
        return new NewUser(new User(account, UserId.of(user), role, key.keyId(), clock.instant()), hasher.hash(key.secret()));
    }
}

package dev.latchkey.core.store;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.testing.ProcessStores;
import dev.latchkey.core.testing.StoreConsistency;
import dev.latchkey.core.testing.TestingProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
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
 * The multi-process scenarios of the store adapters, for every store (G3, G6): two writer JVMs racing on one
 * store, and writers killed with SIGKILL mid-burst. Subclass it with the store's {@link ProcessStores} and, where
 * the store is slower, its own timings; store-specific checks go in {@link #checkStore}, store-specific
 * scenarios in the subclass. The writers are {@code StoreWorkload} programs in child JVMs; each scenario prints
 * its figures in the {@code ScenarioFigures} format.
 */
public abstract class AbstractTestStoreProcesses
        extends AbstractTestAcrossProcesses
{
    private static final Set<String> LOSING_CODES = Set.of("ALREADY_EXISTS", "FAILED_PRECONDITION", "NOT_FOUND");

    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final SecretHasher hasher = SecretHasher.sha256();
    private final Clock clock = Clock.systemUTC();

    /**
     * @param storeName the store's name in the figures printed
     */
    protected AbstractTestStoreProcesses(String storeName, ProcessStores stores)
    {
        super(storeName, stores);
    }

    /**
     * How long any one step (a process starting, a race, a kill) may take.
     */
    protected Duration timeout()
    {
        return Duration.ofSeconds(90);
    }

    /**
     * How many rounds of conflicting writes each racer makes.
     */
    protected int rounds()
    {
        return 30;
    }

    /**
     * How many writers are killed mid-burst, one after the other.
     */
    protected int kills()
    {
        return 4;
    }

    /**
     * The longest random pause between a writer's first acknowledgements and its kill.
     */
    protected Duration maxPauseBeforeKill()
    {
        return Duration.ofMillis(15);
    }

    /**
     * Checks of a consistent store that only this store can make (of its files, say), beyond {@link StoreConsistency}.
     */
    protected void checkStore(String location, IdentityStore store) {}

    @Test
    public void processesWritingAtOnceSeeEveryAcknowledgedWriteInTheSameOrderWithOneWinnerPerConflict(@TempDir Path temporaryDirectory)
            throws Exception
    {
        int rounds = rounds();
        String location = createStore(temporaryDirectory);
        IdentityStore store = open(location);
        Map<String, ApiKey> setupKeys = new HashMap<>();
        setupKeys.put("shared/owner", createAccount(store, AccountId.of("shared"), "owner"));
        for (int i = 0; i < rounds; i++) {
            AccountId duo = AccountId.of("duo-" + i);
            setupKeys.put(duo + "/a", createAccount(store, duo, "a"));
            ApiKey second = keys.random();
            store.addUser(newUser(duo, "b", Role.ADMIN, second));
            setupKeys.put(duo + "/b", second);
            AccountId doomed = AccountId.of("doomed-" + i);
            setupKeys.put(doomed + "/owner", createAccount(store, doomed, "owner"));
        }
        long setupWrites = store.headPosition().value();
        Path go = temporaryDirectory.resolve("go");
        Path barriers = Files.createDirectory(temporaryDirectory.resolve("barriers"));

        List<String> p1;
        List<String> p2;
        try (TestingProcess first = race(temporaryDirectory, location, "p1", go, barriers);
                TestingProcess second = race(temporaryDirectory, location, "p2", go, barriers)) {
            first.awaitLines("READY"::equals, 1, timeout());
            second.awaitLines("READY"::equals, 1, timeout());
            Files.createFile(go);
            p1 = first.awaitExit(timeout());
            p2 = second.awaitExit(timeout());
        }

        List<String> both = Stream.concat(p1.stream(), p2.stream()).toList();
        List<String> acknowledged = both.stream().filter(line -> line.startsWith("ACK ")).toList();
        List<String> lost = both.stream().filter(line -> line.startsWith("LOST ")).toList();
        printFigures("writers-racing", "rounds", rounds, "acknowledged", acknowledged.size(), "lost", lost.size(),
                "doomed_adds_acknowledged", acknowledged.stream().filter(line -> line.startsWith("ACK ADD doomed-")).count(),
                "doomed_adds_refused", lost.stream().filter(line -> line.startsWith("LOST ADD doomed-")).count());
        assertThat(lost).as("every lost write lost a conflict (no write failed for another reason)")
                .allSatisfy(line -> assertThat(line.substring(line.lastIndexOf(' ') + 1)).isIn(LOSING_CODES));
        for (int i = 0; i < rounds; i++) {
            assertOneWinner(both, "CREATE race-" + i, "ALREADY_EXISTS");
            assertOneWinner(both, "ADD shared/both-" + i, "ALREADY_EXISTS");
            assertOneWinner(both, "DELETE doomed-" + i, "NOT_FOUND");
            assertThat(acknowledged).contains("ACK ADD shared/p1-" + i, "ACK ADD shared/p2-" + i);

            AccountId duo = AccountId.of("duo-" + i);
            List<String> removals = both.stream().filter(line -> line.contains(" REMOVE " + duo + "/")).sorted().toList();
            assertThat(removals).as("exactly one of two concurrent removals of the last two admins of %s wins", duo).hasSize(2);
            assertThat(removals.get(0)).startsWith("ACK ");
            assertThat(removals.get(1)).startsWith("LOST ").endsWith(" FAILED_PRECONDITION");
            String removed = removals.get(0).substring(removals.get(0).lastIndexOf('/') + 1);
            String kept = removed.equals("a") ? "b" : "a";
            assertThat(store.listUsers(duo, UserQuery.all()).users()).extracting(User::id).containsExactly(UserId.of(kept));
            assertThat(store.findKey(setupKeys.get(duo + "/" + removed).keyId())).as("the removed admin's key").isEmpty();
            assertThat(store.findKey(setupKeys.get(duo + "/" + kept).keyId())).as("the remaining admin's key").isPresent();

            assertThat(store.findAccount(AccountId.of("race-" + i))).isPresent();
            AccountId doomed = AccountId.of("doomed-" + i);
            assertThat(store.findAccount(doomed)).as("deleted %s", doomed).isEmpty();
            assertThat(store.findKey(setupKeys.get(doomed + "/owner").keyId())).as("the key of a deleted account's admin").isEmpty();
        }
        for (String line : acknowledged) {
            if (line.startsWith("ACK ADD ") && !line.startsWith("ACK ADD doomed-")) {
                String[] path = line.substring("ACK ADD ".length()).split("/");
                assertThat(store.findUser(AccountId.of(path[0]), UserId.of(path[1]))).as(line).isPresent();
            }
        }
        assertThat(store.listAccounts()).noneMatch(summary -> summary.id().value().startsWith("doomed-"));
        assertThat(store.listUsers(AccountId.of("shared"), UserQuery.all()).users()).hasSize(1 + 2 * rounds + rounds);
        assertThat(store.listAccounts().stream().filter(summary -> summary.id().equals(AccountId.of("shared"))).findFirst().orElseThrow().userCount())
                .isEqualTo(1 + 2 * rounds + rounds);

        // every key a racer issued works if and only if its write was acknowledged and its account still exists
        int liveKeys = 0;
        for (List<String> lines : List.of(p1, p2)) {
            for (String line : lines.stream().filter(line -> line.startsWith("KEY ")).toList()) {
                String path = line.split(" ")[1];
                ApiKey key = ApiKey.parse(line.split(" ")[2]).orElseThrow();
                String[] names = path.split("/");
                String write = names[0].startsWith("race-") ? "CREATE " + names[0] : "ADD " + path;
                boolean live = lines.contains("ACK " + write) && !names[0].startsWith("doomed-");
                Optional<KeyRecord> found = store.findKey(key.keyId());
                assertThat(found.isPresent()).as("key of %s, issued by %s", path, line).isEqualTo(live);
                if (live) {
                    liveKeys++;
                    assertThat(hasher.matches(key, found.get().secretHash())).isTrue();
                    assertThat(found.get().accountId()).isEqualTo(AccountId.of(names[0]));
                    assertThat(found.get().userId()).isEqualTo(UserId.of(names[1]));
                }
            }
        }
        assertThat(liveKeys).isEqualTo(rounds + rounds + 2 * rounds);

        List<String> feedOfFirst = p1.stream().filter(line -> line.startsWith("FEED ")).toList();
        List<String> feedOfSecond = p2.stream().filter(line -> line.startsWith("FEED ")).toList();
        assertThat(feedOfFirst).as("both processes read the same feed, in the same order").isEqualTo(feedOfSecond);
        assertThat(feedOfFirst).as("one feed entry per setup write and per acknowledged write").hasSize((int) setupWrites + acknowledged.size());
        for (int i = 0; i < feedOfFirst.size(); i++) {
            assertThat(feedOfFirst.get(i)).as("positions without gaps").startsWith("FEED " + (i + 1) + " ");
        }
        List<String> fed = feedOfFirst.stream().skip(setupWrites).map(line -> line.split(" ", 3)[2]).toList();
        assertThat(fed).as("every acknowledged write is in the feed exactly once, and nothing else")
                .containsExactlyInAnyOrderElementsOf(acknowledged.stream().map(AbstractTestStoreProcesses::feedEntryOf).toList());
        checkConsistent(location, store);
    }

    @Test
    public void writersKilledMidBurstLeaveAConsistentStoreHoldingEveryAcknowledgedWriteAndNothingElse(@TempDir Path temporaryDirectory)
            throws Exception
    {
        String location = createStore(temporaryDirectory);
        IdentityStore store = open(location);
        AccountId account = AccountId.of("crash");
        createAccount(store, account, "owner");
        long setupWrites = store.headPosition().value();

        Map<UserId, Optional<String>> expected = new HashMap<>();
        Set<String> revokedKeys = new HashSet<>();
        Set<UserId> inFlight = new HashSet<>();
        List<String> acknowledged = new ArrayList<>();
        List<String> begun = new ArrayList<>();
        List<String> output = new ArrayList<>();
        Random random = ThreadLocalRandom.current();
        for (int kill = 0; kill < kills(); kill++) {
            List<String> lines;
            try (TestingProcess writer = startChild(temporaryDirectory.resolve("burst-" + kill + ".log"), location, "burst", "k" + kill, account.value())) {
                writer.awaitLines(line -> line.startsWith("ACK "), 5 + random.nextInt(20), timeout());
                LockSupport.parkNanos(Duration.ofMillis(random.nextInt((int) maxPauseBeforeKill().toMillis())).toNanos());
                lines = writer.kill(timeout());
            }
            output.addAll(lines);
            String lastBegin = null;
            for (String line : lines) {
                String[] words = line.split(" ");
                switch (words[0]) {
                    case "BEGIN" -> lastBegin = line;
                    case "ACK" -> {
                        lastBegin = null;
                        acknowledged.add(words[1] + " " + words[2]);
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
                begun.add(lastBegin.substring("BEGIN ".length()));
            }
            checkConsistent(location, open(location));
        }

        IdentityStore restarted = open(location);
        checkConsistent(location, restarted);
        printFigures("writers-killed", "kills", kills(), "acknowledged", acknowledged.size(),
                "users_expected", expected.values().stream().filter(Optional::isPresent).count(), "in_flight_at_kill", begun.size());
        assertThat(expected).hasSizeGreaterThan(kills() * 5);
        expected.forEach((user, key) -> {
            if (inFlight.contains(user)) {
                return;
            }
            Optional<User> found = restarted.findUser(account, user);
            assertThat(found.isPresent()).as("user %s; what the writers said of it: %s", user, linesAbout(output, user)).isEqualTo(key.isPresent());
            key.ifPresent(text -> {
                ApiKey apiKey = ApiKey.parse(text).orElseThrow();
                Optional<KeyRecord> record = restarted.findKey(apiKey.keyId());
                assertThat(record).as("acknowledged key of %s", user).isPresent();
                assertThat(hasher.matches(apiKey, record.get().secretHash())).isTrue();
                assertThat(found.get().primaryKeyId()).contains(apiKey.keyId());
            });
        });
        for (String text : revokedKeys) {
            assertThat(restarted.findKey(ApiKey.parse(text).orElseThrow().keyId())).as("a replaced or removed key stays dead").isEmpty();
        }
        for (User user : restarted.listUsers(account, UserQuery.all()).users()) {
            assertThat(restarted.findKey(user.primaryKeyId().orElseThrow()).map(KeyRecord::userId)).as("every user's key resolves to it").contains(user.id());
        }

        // the feed: every acknowledged write once, and beyond them at most the writes in flight at a kill
        List<String> fed = new ArrayList<>(StoreConsistency.allChanges(restarted).stream()
                .skip(setupWrites)
                .map(change -> switch (change.type()) {
                    case USER_ADDED -> "ADD ";
                    case KEY_REPLACED -> "REPLACE ";
                    case USER_REMOVED -> "REMOVE ";
                    case ACCOUNT_CREATED, ACCOUNT_DELETED, ROLE_CHANGED, KEY_ADDED, KEY_DELETED -> change.type() + " ";
                } + change.userId().map(UserId::value).orElse("-"))
                .toList());
        for (String write : acknowledged) {
            assertThat(fed.remove(write)).as("acknowledged %s in the feed", write).isTrue();
        }
        assertThat(begun).as("the feed beyond the acknowledged writes").containsAll(fed);
        assertThat(fed).doesNotHaveDuplicates();
    }

    private void checkConsistent(String location, IdentityStore store)
    {
        StoreConsistency.check(store);
        checkStore(location, store);
    }

    private TestingProcess race(Path temporaryDirectory, String location, String name, Path go, Path barriers)
    {
        return startChild(temporaryDirectory.resolve(name + ".log"), location, "race", name, Integer.toString(rounds()), go.toString(), barriers.toString(), Long.toString(timeout().toSeconds()));
    }

    private static void assertOneWinner(List<String> lines, String what, String loserCode)
    {
        List<String> outcomes = lines.stream()
                .filter(line -> line.equals("ACK " + what) || line.startsWith("LOST " + what + " "))
                .sorted()
                .toList();
        assertThat(outcomes).as(what).containsExactly("ACK " + what, "LOST " + what + " " + loserCode);
    }

    /**
     * The feed entry (type, account, user, as the workload prints them) of an acknowledged write.
     */
    private static String feedEntryOf(String acknowledged)
    {
        String[] words = acknowledged.split(" ");
        String[] path = words[2].split("/");
        return switch (words[1]) {
            case "CREATE" -> "ACCOUNT_CREATED " + path[0] + " admin";
            case "ADD" -> "USER_ADDED " + path[0] + " " + path[1];
            case "REMOVE" -> "USER_REMOVED " + path[0] + " " + path[1];
            case "DELETE" -> "ACCOUNT_DELETED " + path[0] + " -";
            default -> throw new AssertionError("unexpected acknowledgement: " + acknowledged);
        };
    }

    private ApiKey createAccount(IdentityStore store, AccountId account, String admin)
    {
        ApiKey key = keys.random();
        store.createAccount(new Account(account, clock.instant(), true), Optional.of(newUser(account, admin, Role.ADMIN, key)));
        return key;
    }

    private NewUser newUser(AccountId account, String user, Role role, ApiKey key)
    {
        return new NewUser(new User(account, UserId.of(user), role, key.keyId(), clock.instant()), hasher.hash(key.secret()));
    }

    /**
     * The writers' BEGIN and ACK lines about one user (named by the third word), keys left out, for a failure's
     * message.
     */
    private static List<String> linesAbout(List<String> output, UserId user)
    {
        // without the keys the ACK lines end with
        return output.stream()
                .map(line -> line.split(" "))
                .filter(words -> words.length > 2 && words[2].equals(user.value()))
                .map(words -> words[0] + " " + words[1] + " " + words[2])
                .toList();
    }
}

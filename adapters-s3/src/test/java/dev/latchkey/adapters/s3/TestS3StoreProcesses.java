package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.UserQuery;
import dev.latchkey.core.testing.TestingProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
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
 * Several writer JVMs on one prefix of the S3 store, and writers killed with SIGKILL mid-burst: the checks of the
 * JDBC store's multi-process test, on S3Mock behind the proxy that gives it S3's per-object atomicity of
 * conditional writes (every process goes through the one proxy of this JVM).
 */
class TestS3StoreProcesses
{
    private static final Duration TIMEOUT = Duration.ofSeconds(180);
    private static final int ROUNDS = 12;
    private static final int KILLS = 4;
    private static final Set<String> LOSING_CODES = Set.of("ALREADY_EXISTS", "FAILED_PRECONDITION", "NOT_FOUND");

    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final SecretHasher hasher = SecretHasher.sha256();
    private final Clock clock = Clock.systemUTC();
    private final TestingS3Stores stores = new TestingS3Stores();

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
        URI endpoint = TestingS3.shared().serializingProxy().endpoint();
        String prefix = TestingS3.uniquePrefix("processes");
        S3IdentityStore store = stores.open(TestingS3Stores.config(endpoint, prefix), clock);
        Map<String, ApiKey> setupKeys = new HashMap<>();
        setupKeys.put("shared/owner", createAccount(store, AccountId.of("shared"), "owner"));
        for (int i = 0; i < ROUNDS; i++) {
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
        try (TestingProcess first = race(endpoint, prefix, "p1", go, barriers);
                TestingProcess second = race(endpoint, prefix, "p2", go, barriers)) {
            first.awaitLines("READY"::equals, 1, TIMEOUT);
            second.awaitLines("READY"::equals, 1, TIMEOUT);
            Files.createFile(go);
            p1 = first.awaitExit(TIMEOUT);
            p2 = second.awaitExit(TIMEOUT);
        }

        List<String> acknowledged = Stream.concat(p1.stream(), p2.stream()).filter(line -> line.startsWith("ACK ")).toList();
        System.out.printf("%d writes acknowledged, %d lost; users added to an account while it was deleted: %d before the deletion, %d refused%n",
                acknowledged.size(), Stream.concat(p1.stream(), p2.stream()).filter(line -> line.startsWith("LOST ")).count(),
                acknowledged.stream().filter(line -> line.startsWith("ACK ADD doomed-")).count(),
                Stream.concat(p1.stream(), p2.stream()).filter(line -> line.startsWith("LOST ADD doomed-")).count());
        assertThat(Stream.concat(p1.stream(), p2.stream()).filter(line -> line.startsWith("LOST ")))
                .as("every lost write lost a conflict (no write failed for another reason)")
                .allSatisfy(line -> assertThat(line.substring(line.lastIndexOf(' ') + 1)).isIn(LOSING_CODES));
        for (int i = 0; i < ROUNDS; i++) {
            assertOneWinner(p1, p2, "CREATE race-" + i, "ALREADY_EXISTS");
            assertOneWinner(p1, p2, "ADD shared/both-" + i, "ALREADY_EXISTS");
            assertOneWinner(p1, p2, "DELETE doomed-" + i, "NOT_FOUND");
            assertThat(acknowledged).contains("ACK ADD shared/p1-" + i, "ACK ADD shared/p2-" + i);

            AccountId duo = AccountId.of("duo-" + i);
            List<String> removals = Stream.concat(p1.stream(), p2.stream()).filter(line -> line.contains(" REMOVE " + duo + "/")).sorted().toList();
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
        assertThat(store.listAccounts()).noneMatch(summary -> summary.id().value().startsWith("doomed-"));
        assertThat(store.listUsers(AccountId.of("shared"), UserQuery.all()).users()).hasSize(1 + 2 * ROUNDS + ROUNDS);

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
        assertThat(liveKeys).isEqualTo(ROUNDS + ROUNDS + 2 * ROUNDS);

        List<String> feedOfFirst = p1.stream().filter(line -> line.startsWith("FEED ")).toList();
        List<String> feedOfSecond = p2.stream().filter(line -> line.startsWith("FEED ")).toList();
        assertThat(feedOfFirst).as("both processes read the same feed, in the same order").isEqualTo(feedOfSecond);
        assertThat(feedOfFirst).as("one feed entry per setup write and per acknowledged write").hasSize((int) setupWrites + acknowledged.size());
        for (int i = 0; i < feedOfFirst.size(); i++) {
            assertThat(feedOfFirst.get(i)).as("positions without gaps").startsWith("FEED " + (i + 1) + " ");
        }
        List<String> fed = feedOfFirst.stream().skip(setupWrites).map(line -> line.split(" ", 3)[2]).toList();
        assertThat(fed).as("every acknowledged write is in the feed exactly once, and nothing else")
                .containsExactlyInAnyOrderElementsOf(acknowledged.stream().map(TestS3StoreProcesses::feedEntryOf).toList());
    }

    @Test
    void writersKilledMidBurstLeaveEveryAcknowledgedWriteAndNothingElse()
            throws Exception
    {
        URI endpoint = TestingS3.shared().serializingProxy().endpoint();
        String prefix = TestingS3.uniquePrefix("crash");
        S3IdentityStore store = stores.open(TestingS3Stores.config(endpoint, prefix), clock);
        AccountId account = AccountId.of("crash");
        createAccount(store, account, "owner");
        long setupWrites = store.headPosition().value();

        Map<UserId, Optional<String>> expected = new HashMap<>();
        Set<String> revokedKeys = new HashSet<>();
        Set<UserId> inFlight = new HashSet<>();
        List<String> acknowledged = new ArrayList<>();
        List<String> begun = new ArrayList<>();
        Random random = ThreadLocalRandom.current();
        for (int kill = 0; kill < KILLS; kill++) {
            List<String> lines;
            try (TestingProcess writer = TestingProcess.start(S3StoreWorkload.class, temporaryDirectory.resolve("burst-" + kill + ".log"),
                    "burst", endpoint.toString(), prefix, "k" + kill, account.value())) {
                writer.awaitLines(line -> line.startsWith("ACK "), 5 + random.nextInt(20), TIMEOUT);
                LockSupport.parkNanos(Duration.ofMillis(random.nextInt(40)).toNanos());
                lines = writer.kill(TIMEOUT);
            }
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

        // the feed: gap-free, every acknowledged write once, and beyond them at most the writes in flight at a kill
        List<Change> feed = readFeed(store);
        for (int i = 0; i < feed.size(); i++) {
            assertThat(feed.get(i).position()).as("positions without gaps").isEqualTo(FeedPosition.of(i + 1));
        }
        List<String> fed = new ArrayList<>(feed.stream()
                .skip(setupWrites)
                .map(change -> switch (change.type()) {
                    case USER_ADDED -> "ADD ";
                    case KEY_REPLACED -> "REPLACE ";
                    case USER_REMOVED -> "REMOVE ";
                    case ACCOUNT_CREATED, ACCOUNT_DELETED, ROLE_CHANGED -> change.type() + " ";
                } + change.userId().map(UserId::value).orElse("-"))
                .toList());
        for (String write : acknowledged) {
            assertThat(fed.remove(write)).as("acknowledged %s in the feed", write).isTrue();
        }
        assertThat(begun).as("the feed beyond the acknowledged writes").containsAll(fed);
        assertThat(fed).doesNotHaveDuplicates();
    }

    private TestingProcess race(URI endpoint, String prefix, String name, Path go, Path barriers)
    {
        return TestingProcess.start(S3StoreWorkload.class, temporaryDirectory.resolve(name + ".log"),
                "race", endpoint.toString(), prefix, name, Integer.toString(ROUNDS), go.toString(), barriers.toString(), "2");
    }

    private static void assertOneWinner(List<String> first, List<String> second, String what, String loserCode)
    {
        List<String> outcomes = Stream.concat(first.stream(), second.stream())
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

    private static List<Change> readFeed(S3IdentityStore store)
    {
        List<Change> changes = new ArrayList<>();
        FeedPosition position = FeedPosition.START;
        while (true) {
            FeedBatch.Changes batch = (FeedBatch.Changes) store.changesAfter(position, 500);
            if (batch.changes().isEmpty()) {
                return changes;
            }
            changes.addAll(batch.changes());
            position = batch.next();
        }
    }

    private ApiKey createAccount(S3IdentityStore store, AccountId account, String admin)
    {
        ApiKey key = keys.random();
        store.createAccount(new Account(account, clock.instant(), true), Optional.of(newUser(account, admin, Role.ADMIN, key)));
        return key;
    }

    private NewUser newUser(AccountId account, String user, Role role, ApiKey key)
    {
        return new NewUser(new User(account, UserId.of(user), role, key.keyId(), clock.instant()), hasher.hash(key.secret()));
    }
}

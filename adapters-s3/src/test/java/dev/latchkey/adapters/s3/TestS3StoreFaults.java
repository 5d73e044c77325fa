package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.testing.SerializingS3Proxy;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.Fault;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.Operation;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.ProxiedRequest;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.RequestCounter;
import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.Origin;
import dev.latchkey.core.store.UserQuery;
import dev.latchkey.core.testing.Waiting;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import java.util.function.Predicate;

import static dev.latchkey.adapters.s3.TestingS3Stores.awaitFinished;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What the S3 store makes of S3 failing: an answer lost after S3 executed the request (the SDK retries, and the
 * retry of a conditional PUT then fails its condition), a commit that loses its condition to another writer, and an
 * S3 that does not answer at all. Faults are injected by the proxy in front of S3Mock (see
 * {@link SerializingS3Proxy#dropNextResponse} and {@link SerializingS3Proxy#beforeNext}). In every case a write is
 * reported exactly as it happened: a success once, a conflict, or UNAVAILABLE; never lost, never twice.
 */
class TestS3StoreFaults
{
    private static final String HEAD = "head.json";
    private static final Duration UNAVAILABLE_BOUND = Duration.ofMillis(2500);
    private static final Duration RECOVERY_TIMEOUT = Duration.ofSeconds(30);
    private static final int CONCURRENT_CALLS = 2;

    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final SecretHasher hasher = SecretHasher.sha256();
    private final Clock clock = Clock.systemUTC();
    private final TestingS3Stores stores = new TestingS3Stores();
    private final SerializingS3Proxy proxy = TestingS3.shared().serializingProxy();

    @AfterEach
    void closeStores()
    {
        proxy.clearFaults();
        stores.closeAll();
    }

    @Test
    void commitWhoseAnswerIsLostIsReportedOnceAsSuccess()
    {
        String prefix = TestingS3.uniquePrefix("lost-commit");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        AccountId acme = AccountId.of("acme");
        ApiKey adminKey = keys.random();
        ApiKey userKey = keys.random();

        try (RequestCounter commits = proxy.countRequests(request -> request.isPutOf(prefix + HEAD))) {
            // the very first commit creates the head (If-None-Match: *)
            Fault first = proxy.dropNextResponse(request -> request.isPutOf(prefix + HEAD));
            store.createAccount(new Account(acme, clock.instant(), true), Optional.of(newUser(acme, "admin", Role.ADMIN, adminKey)));
            assertThat(first.firedOn().flatMap(request -> request.header("If-None-Match"))).contains("*");
            assertThat(commits.total()).as("the commit and the SDK's retry of it").isEqualTo(2);

            // a later one replaces it (If-Match)
            Fault second = proxy.dropNextResponse(request -> request.isPutOf(prefix + HEAD));
            store.addUser(newUser(acme, "user", Role.USER, userKey));
            assertThat(second.firedOn().flatMap(request -> request.header("If-Match"))).isPresent();
            assertThat(commits.total()).isEqualTo(4);
        }

        for (S3IdentityStore handle : List.of(store, stores.openAnother(store, clock))) {
            assertThat(readFeed(handle)).extracting(TestS3StoreFaults::describe)
                    .containsExactly("1 ACCOUNT_CREATED acme admin", "2 USER_ADDED acme user");
            assertThat(handle.headPosition()).isEqualTo(FeedPosition.of(2));
            assertWorks(handle, adminKey, "admin");
            assertWorks(handle, userKey, "user");
            assertThat(handle.listAccounts()).singleElement().satisfies(summary -> assertThat(summary.userCount()).isEqualTo(2));
        }
    }

    @Test
    void writesQueuedWhileACommitIsInFlightCommitTogetherCheckedAgainstEachOther()
            throws Exception
    {
        String prefix = TestingS3.uniquePrefix("batch");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        AccountId acme = AccountId.of("acme");
        ApiKey adminKey = createAccount(store, acme);
        ApiKey carolKey = keys.random();
        ApiKey bobKey = keys.random();
        ApiKey otherBobKey = keys.random();
        UserId bob = UserId.of("bob");

        Map<String, Callable<Object>> queued = new LinkedHashMap<>();
        queued.put("add bob", () -> {
            store.addUser(origin("add-bob"), newUser(acme, "bob", Role.USER, bobKey));
            return "added";
        });
        queued.put("add bob again", () -> {
            store.addUser(origin("add-bob-again"), newUser(acme, "bob", Role.USER, otherBobKey));
            return "added";
        });
        queued.put("promote bob", () -> store.setRole(origin("promote-bob"), acme, bob, Role.ADMIN).before().role());
        queued.put("remove bob", () -> store.removeUser(origin("remove-bob"), acme, bob).before().role());
        queued.put("demote bob", () -> store.setRole(origin("demote-bob"), acme, bob, Role.USER).before().role());
        Map<String, Object> outcomes;
        try (RequestCounter commits = proxy.countRequests(request -> request.isPutOf(prefix + HEAD))) {
            outcomes = whileTheNextCommitIsHeld(store, prefix, () -> store.addUser(origin("add-carol"), newUser(acme, "carol", Role.USER, carolKey)), queued);
            assertThat(commits.total()).as("one commit for carol's write, one for the five queued behind it").isEqualTo(2);
        }

        // as if made one after another, in the order they were queued
        assertThat(outcomes).containsExactly(
                Map.entry("add bob", "added"),
                Map.entry("add bob again", "ALREADY_EXISTS"),
                Map.entry("promote bob", Role.USER),
                Map.entry("remove bob", Role.ADMIN),
                Map.entry("demote bob", "NOT_FOUND"));
        awaitFinished(store);
        for (S3IdentityStore handle : List.of(store, stores.openAnother(store, clock))) {
            assertThat(readFeed(handle)).extracting(TestS3StoreFaults::describe).containsExactly(
                    "1 ACCOUNT_CREATED acme admin", "2 USER_ADDED acme carol", "3 USER_ADDED acme bob", "4 ROLE_CHANGED acme bob", "5 USER_REMOVED acme bob");
            // each write of the batch committed with its own origin; the ones refused left no record
            assertThat(handle.listAudit(new AuditQuery(Optional.empty(), Optional.empty(), Instant.EPOCH, 100)).records())
                    .extracting(record -> record.change().position().value() + " " + record.origin().requestId())
                    .containsExactly("5 remove-bob", "4 promote-bob", "3 add-bob", "2 add-carol", "1 create-acme");
            assertThat(handle.findUser(acme, bob)).isEmpty();
            assertThat(handle.findKey(bobKey.keyId())).isEmpty();
            assertThat(handle.findKey(otherBobKey.keyId())).isEmpty();
            assertWorks(handle, adminKey, "admin");
            assertWorks(handle, carolKey, "carol");
            assertThat(handle.listAccounts()).singleElement().satisfies(summary -> assertThat(summary.userCount()).isEqualTo(2));
        }
    }

    @Test
    void aWriteThatStagedAKeyIdOverTheStageOfAnotherThatThenCommittedLosesTheId()
            throws Exception
    {
        String prefix = TestingS3.uniquePrefix("stage-over");
        S3IdentityStore first = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        S3IdentityStore second = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        AccountId acme = AccountId.of("acme");
        createAccount(first, acme);
        first.addUser(newUser(acme, "bob", Role.USER, keys.random()));
        ApiKey shared = keys.random();
        KeyAttributes extra = KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty());
        NewKey forAdmin = new NewKey(acme, UserId.of("admin"), shared.keyId(), hasher.hash(shared), clock.instant(), extra);
        NewKey forBob = new NewKey(acme, UserId.of("bob"), shared.keyId(), hasher.hash(keys.random()), clock.instant(), extra);
        String keyObject = prefix + "keys/" + shared.keyId().value() + ".json";
        String head = prefix + HEAD;

        // The first write stages the id and goes to commit; held there, the second stages the id over the first's stage
        // (not committed: not in use) and goes to commit; held there, the first commits; held before the first writes its
        // key, the second loses its commit, tries again, and finds its own stage on the key object.
        ExecutorService background = Executors.newSingleThreadExecutor();
        CountDownLatch secondAtCommit = new CountDownLatch(1);
        CountDownLatch firstCommitted = new CountDownLatch(1);
        CountDownLatch secondAnswered = new CountDownLatch(1);
        Future<Object> secondOutcome;
        try {
            Future<?>[] started = new Future<?>[1];
            Fault firstCommit = proxy.beforeNext(request -> request.isPutOf(head), () -> {
                proxy.beforeNext(request -> request.isPutOf(head), () -> {
                    proxy.beforeNext(request -> request.isPutOf(keyObject), () -> {
                        firstCommitted.countDown();
                        awaitQuietly(secondAnswered);
                    });
                    secondAtCommit.countDown();
                    awaitQuietly(firstCommitted);
                });
                started[0] = background.submit(() -> {
                    try {
                        second.addKey(forBob);
                        return "added";
                    }
                    catch (LatchkeyException e) {
                        return e.code();
                    }
                    finally {
                        secondAnswered.countDown();
                    }
                });
                awaitQuietly(secondAtCommit);
            });
            first.addKey(forAdmin);
            assertThat(firstCommit.fired()).isTrue();
            assertThat(firstCommit.failure()).isEmpty();
            @SuppressWarnings("unchecked")
            Future<Object> outcome = (Future<Object>) started[0];
            secondOutcome = outcome;
            assertThat(secondOutcome.get(30, TimeUnit.SECONDS)).as("the second write").isEqualTo(ErrorCode.ALREADY_EXISTS);
        }
        finally {
            proxy.clearFaults();
            background.shutdownNow();
        }

        for (S3IdentityStore handle : List.of(first, second, stores.openAnother(first, clock))) {
            assertThat(handle.findKey(shared.keyId())).as("the id is the first write's").contains(forAdmin.keyRecord(Role.ADMIN));
        }
        awaitFinished(first);
        assertThat(stores.openAnother(first, clock).findKey(shared.keyId())).contains(forAdmin.keyRecord(Role.ADMIN));
        assertThat(readFeed(first)).extracting(TestS3StoreFaults::describe).filteredOn(line -> line.contains("KEY_ADDED")).hasSize(1);
    }

    @Test
    void batchedCommitWhoseAnswerIsLostIsReportedOnceAsSuccessToEachOfItsWrites()
            throws Exception
    {
        String prefix = TestingS3.uniquePrefix("lost-batch");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        AccountId acme = AccountId.of("acme");
        createAccount(store, acme);
        Map<String, ApiKey> userKeys = new LinkedHashMap<>();
        Map<String, Callable<Object>> queued = new LinkedHashMap<>();
        for (int i = 0; i < 6; i++) {
            String user = "user-" + i;
            userKeys.put(user, keys.random());
            queued.put(user, () -> {
                store.addUser(newUser(acme, user, Role.USER, userKeys.get(user)));
                return "added";
            });
        }
        AtomicInteger commitsSeen = new AtomicInteger();
        Map<String, Object> outcomes;
        try (RequestCounter commits = proxy.countRequests(request -> request.isPutOf(prefix + HEAD))) {
            // the second commit is the batch of six: S3 makes it, its answer is lost, and the SDK's retry fails its condition
            Fault lost = proxy.dropNextResponse(request -> request.isPutOf(prefix + HEAD) && commitsSeen.incrementAndGet() == 2);
            outcomes = whileTheNextCommitIsHeld(store, prefix, () -> store.addUser(newUser(acme, "first", Role.USER, keys.random())), queued);
            assertThat(lost.fired()).isTrue();
            assertThat(commits.total()).as("the first write's commit, the batch's, and the SDK's retry of it").isEqualTo(3);
        }
        assertThat(outcomes).containsOnlyKeys(userKeys.keySet()).allSatisfy((user, outcome) -> assertThat(outcome).as(user).isEqualTo("added"));
        awaitFinished(store);
        for (S3IdentityStore handle : List.of(store, stores.openAnother(store, clock))) {
            assertFeedHoldsEachOnce(handle, 1 + 1 + userKeys.size());
            userKeys.forEach((user, key) -> assertWorks(handle, key, user));
            assertThat(handle.listAccounts()).singleElement().satisfies(summary -> assertThat(summary.userCount()).isEqualTo(2 + userKeys.size()));
        }
    }

    @Test
    void aWriteThatCannotCommitWithinTheWriteTimeoutIsBusyAndNeverLands()
    {
        String prefix = TestingS3.uniquePrefix("write-timeout");
        Duration writeTimeout = Duration.ofMillis(300);
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix).withWriteTimeout(writeTimeout), clock);
        AccountId acme = AccountId.of("acme");
        ApiKey adminKey = createAccount(store, acme);

        // the new key's staging, the step before the commit, answers after the write's time is over (but within one
        // request's attempt timeout, so the SDK does not retry it)
        ApiKey lateKey = keys.random();
        Fault slowStage = proxy.beforeNext(request -> request.isPutOf(prefix + "keys/" + lateKey.keyId().value() + ".json"), () -> sleep(Duration.ofMillis(500)));
        long start = System.nanoTime();
        assertThatThrownBy(() -> store.addUser(newUser(acme, "late", Role.USER, lateKey)))
                .isInstanceOfSatisfying(LatchkeyException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
                    assertThat(e.getMessage()).startsWith("the store is busy");
                });
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(slowStage.fired()).isTrue();
        assertThat(took).as("the write timeout plus the one request in flight").isLessThan(writeTimeout.plus(S3StoreConfig.DEFAULT_CALL_TIMEOUT));

        // what it staged is ignored, and the given-up write never lands
        ApiKey nextKey = keys.random();
        store.addUser(newUser(acme, "next", Role.USER, nextKey));
        for (S3IdentityStore handle : List.of(store, stores.openAnother(store, clock))) {
            assertThat(readFeed(handle)).extracting(TestS3StoreFaults::describe)
                    .containsExactly("1 ACCOUNT_CREATED acme admin", "2 USER_ADDED acme next");
            assertThat(handle.findUser(acme, UserId.of("late"))).isEmpty();
            assertThat(handle.findKey(lateKey.keyId())).isEmpty();
            assertWorks(handle, adminKey, "admin");
            assertWorks(handle, nextKey, "next");
            assertThat(handle.listAccounts()).singleElement().satisfies(summary -> assertThat(summary.userCount()).isEqualTo(2));
        }
    }

    @Test
    void firstWriteWhoseConditionalWriteProbeAnswerIsLostSucceeds()
    {
        String prefix = TestingS3.uniquePrefix("lost-probe");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        AccountId acme = AccountId.of("acme");

        // the first PUT of a handle's first write is its probe of If-None-Match: S3 creates the probe object, the
        // answer is lost, and the SDK's retry of the PUT is refused (412) because the first attempt created it
        Fault fault = proxy.dropNextResponse(request -> request.operation() == Operation.PUT_OBJECT && request.isUnder(prefix + "probes/"));
        ApiKey adminKey = createAccount(store, acme);

        assertThat(fault.fired()).isTrue();
        assertWorks(store, adminKey, "admin");
    }

    @Test
    void addUserWhoseAnswerToAnyPutIsLostSucceedsOnce()
    {
        String prefix = TestingS3.uniquePrefix("lost-add");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        AccountId acme = AccountId.of("acme");
        createAccount(store, acme);
        Map<Integer, ApiKey> added = new HashMap<>();

        int puts = dropEachPut(store, prefix, round -> {}, round -> {
            ApiKey key = keys.random();
            store.addUser(newUser(acme, "user-" + round, Role.USER, key));
            added.put(round, key);
        });

        added.forEach((round, key) -> assertWorks(store, key, "user-" + round));
        assertThat(store.listUsers(acme, UserQuery.all()).users()).hasSize(1 + puts + 1);
        assertFeedHoldsEachOnce(store, 1 + puts + 1);
    }

    @Test
    void replaceKeyWhoseAnswerToAnyPutIsLostSucceedsOnce()
    {
        String prefix = TestingS3.uniquePrefix("lost-replace");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        AccountId acme = AccountId.of("acme");
        createAccount(store, acme);
        List<ApiKey> issued = new ArrayList<>();
        issued.add(keys.random());
        store.addUser(newUser(acme, "user", Role.USER, issued.get(0)));

        int puts = dropEachPut(store, prefix, round -> {}, round -> {
            ApiKey key = keys.random();
            User before = store.replaceKey(acme, UserId.of("user"), key.keyId(), hasher.hash(key.secret()), clock.instant());
            assertThat(before.primaryKeyId()).as("the key replaced").contains(issued.get(issued.size() - 1).keyId());
            issued.add(key);
        });

        assertWorks(store, issued.get(issued.size() - 1), "user");
        for (ApiKey replaced : issued.subList(0, issued.size() - 1)) {
            assertThat(store.findKey(replaced.keyId())).as("a replaced key").isEmpty();
        }
        assertThat(readFeed(store)).filteredOn(change -> change.type() == ChangeType.KEY_REPLACED).hasSize(puts + 1);
        assertFeedHoldsEachOnce(store, 2 + puts + 1);
    }

    @Test
    void createAndDeleteAccountWhoseAnswerToAnyPutIsLostSucceedOnce()
    {
        String prefix = TestingS3.uniquePrefix("lost-delete");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        createAccount(store, AccountId.of("first"));
        Map<AccountId, ApiKey> created = new LinkedHashMap<>();

        int creationPuts = dropEachPut(store, prefix, round -> {}, round -> {
            AccountId account = AccountId.of("created-" + round);
            created.put(account, createAccount(store, account));
        });
        created.forEach((account, key) -> assertWorks(store, key, "admin"));

        Map<AccountId, List<ApiKey>> deleted = new LinkedHashMap<>();
        int deletionPuts = dropEachPut(store, prefix, round -> {
            AccountId account = AccountId.of("deleted-" + round);
            ApiKey userKey = keys.random();
            ApiKey adminKey = createAccount(store, account);
            store.addUser(newUser(account, "user", Role.USER, userKey));
            deleted.put(account, List.of(adminKey, userKey));
        }, round -> {
            // the deletion's cleanup runs after the call has answered: dropEachPut waits for it, so its PUTs count too
            store.deleteAccount(AccountId.of("deleted-" + round));
        });

        deleted.forEach((account, accountKeys) -> {
            assertThat(store.findAccount(account)).as("deleted %s", account).isEmpty();
            accountKeys.forEach(key -> assertThat(store.findKey(key.keyId())).as("a key of deleted %s", account).isEmpty());
        });
        assertThat(store.listAccounts()).hasSize(1 + creationPuts + 1);
        assertFeedHoldsEachOnce(store, 1 + (creationPuts + 1) + 3 * (deletionPuts + 1));
    }

    @Test
    void deletingAnAccountAnswersBeforeItsPerUserCleanupWhichFinishesInTheBackground()
            throws Exception
    {
        String prefix = TestingS3.uniquePrefix("background-delete");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        AccountId acme = AccountId.of("acme");
        List<ApiKey> accountKeys = new ArrayList<>(List.of(createAccount(store, acme)));
        for (int i = 0; i < 20; i++) {
            ApiKey key = keys.random();
            store.addUser(newUser(acme, "user-" + i, Role.USER, key));
            accountKeys.add(key);
        }

        // the cleanup's first request lists the account's users: hold it until the call has answered
        CountDownLatch answered = new CountDownLatch(1);
        Fault cleanup = proxy.beforeNext(request -> request.operation() == Operation.LIST_OBJECTS && request.isUnder(prefix + "accounts/acme/"),
                () -> awaitQuietly(answered));
        long requestsOfTheCall;
        try (RequestCounter requests = proxy.countRequests(request -> request.isUnder(prefix))) {
            store.deleteAccount(acme);
            requestsOfTheCall = requests.total();
        }
        // every key stopped with the committed deletion, before any of its users was cleaned up
        for (S3IdentityStore handle : List.of(store, stores.openAnother(store, clock))) {
            accountKeys.forEach(key -> assertThat(handle.findKey(key.keyId())).isEmpty());
            assertThat(handle.findAccount(acme)).isEmpty();
        }
        answered.countDown();
        awaitFinished(store);
        System.out.printf("account deletion with 21 users: %d requests before the call answered%n", requestsOfTheCall);

        // inline, the cleanup alone would take about four requests per user
        assertThat(requestsOfTheCall).as("requests of the call, with 21 users").isLessThanOrEqualTo(8);
        assertThat(cleanup.fired()).isTrue();
        try (S3Client client = proxy.newClient()) {
            List<String> left = client.listObjectsV2Paginator(list -> list.bucket(TestingS3.SHARED_BUCKET).prefix(prefix + "accounts/acme/")).contents().stream()
                    .map(S3Object::key)
                    .toList();
            assertThat(left).as("the users of the deleted account are cleaned up").containsExactly(prefix + "accounts/acme/account.json");
        }
        // the account can be created again at once, with nothing of the old one
        ApiKey newAdmin = createAccount(store, acme);
        assertWorks(store, newAdmin, "admin");
        assertThat(store.listUsers(acme, UserQuery.all()).users()).extracting(User::id).containsExactly(UserId.of("admin"));
    }

    @Test
    void commitThatLosesItsConditionToAnotherWriterIsRetried()
    {
        String prefix = TestingS3.uniquePrefix("lost-condition");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        S3IdentityStore other = stores.openAnother(store, clock);
        AccountId acme = AccountId.of("acme");
        createAccount(store, acme);
        ApiKey mine = keys.random();
        ApiKey theirs = keys.random();

        try (RequestCounter commits = proxy.countRequests(request -> request.isPutOf(prefix + HEAD))) {
            // another instance commits a write to the same account between this one's read of the head and its commit
            Fault fault = proxy.beforeNext(request -> request.isPutOf(prefix + HEAD), () -> other.addUser(newUser(acme, "theirs", Role.USER, theirs)));
            store.addUser(newUser(acme, "mine", Role.USER, mine));
            assertThat(fault.fired()).isTrue();
            assertThat(fault.failure()).isEmpty();
            assertThat(commits.total()).as("the other's commit, this one's failed commit and its retry").isEqualTo(3);
        }

        assertThat(readFeed(store)).extracting(TestS3StoreFaults::describe)
                .containsExactly("1 ACCOUNT_CREATED acme admin", "2 USER_ADDED acme theirs", "3 USER_ADDED acme mine");
        assertWorks(store, mine, "mine");
        assertWorks(store, theirs, "theirs");
        assertThat(store.listUsers(acme, UserQuery.all()).users()).extracting(user -> user.id().value()).containsExactly("admin", "mine", "theirs");
    }

    @Test
    void commitThatLosesItsConditionToAConflictingWriteReportsTheConflict()
    {
        String prefix = TestingS3.uniquePrefix("lost-conflict");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        S3IdentityStore other = stores.openAnother(store, clock);
        AccountId acme = AccountId.of("acme");
        ApiKey adminKey = createAccount(store, acme);
        ApiKey mine = keys.random();
        ApiKey theirs = keys.random();

        // the same user added by another instance: this write, staged, loses
        Fault same = proxy.beforeNext(request -> request.isPutOf(prefix + HEAD), () -> other.addUser(newUser(acme, "user", Role.USER, theirs)));
        assertThatThrownBy(() -> store.addUser(newUser(acme, "user", Role.USER, mine)))
                .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.ALREADY_EXISTS));
        assertThat(same.failure()).isEmpty();
        assertThat(store.findKey(mine.keyId())).as("the staged key of the write that lost").isEmpty();
        assertWorks(store, theirs, "user");

        // the account deleted by another instance: this write loses, and no key outlives the account
        ApiKey late = keys.random();
        Fault deletion = proxy.beforeNext(request -> request.isPutOf(prefix + HEAD), () -> other.deleteAccount(acme));
        assertThatThrownBy(() -> store.addUser(newUser(acme, "late", Role.USER, late)))
                .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
        assertThat(deletion.failure()).isEmpty();
        for (ApiKey key : List.of(adminKey, theirs, late, mine)) {
            assertThat(store.findKey(key.keyId())).isEmpty();
        }
        assertThat(store.findAccount(acme)).isEmpty();

        assertThat(readFeed(store)).extracting(TestS3StoreFaults::describe)
                .containsExactly("1 ACCOUNT_CREATED acme admin", "2 USER_ADDED acme user", "3 ACCOUNT_DELETED acme -");
    }

    @Test
    void pausedStoreFailsUnavailableWithinTheCallTimeoutAndRecovers()
            throws Exception
    {
        try (TestingS3 own = TestingS3.start("latchkey-paused")) {
            // the defaults of S3StoreConfig, straight to S3Mock
            S3StoreConfig config = S3StoreConfig.of(own.bucket()).withEndpoint(own.endpoint()).withPathStyle(true);
            S3IdentityStore store = stores.open(config, clock);
            S3IdentityStore fresh = stores.open(config, clock);
            AccountId acme = AccountId.of("acme");
            ApiKey adminKey = createAccount(store, acme);
            ApiKey userKey = keys.random();
            store.addUser(newUser(acme, "user", Role.USER, userKey));
            assertThat(store.headPosition()).isEqualTo(FeedPosition.of(2));

            Map<String, Runnable> calls = new LinkedHashMap<>();
            calls.put("findKey", () -> store.findKey(adminKey.keyId()));
            calls.put("findAccount", () -> store.findAccount(acme));
            calls.put("findUser", () -> store.findUser(acme, UserId.of("user")));
            calls.put("listUsers", () -> store.listUsers(acme, UserQuery.all()));
            calls.put("listAccounts", store::listAccounts);
            calls.put("changesAfter", () -> store.changesAfter(FeedPosition.START, 100));
            calls.put("headPosition", store::headPosition);
            calls.put("createAccount", () -> createAccount(store, AccountId.of("other")));
            calls.put("addUser", () -> store.addUser(newUser(acme, "added", Role.USER, keys.random())));
            calls.put("replaceKey", () -> store.replaceKey(acme, UserId.of("user"), keys.random().keyId(), hasher.hash(keys.random().secret()), clock.instant()));
            calls.put("setRole", () -> store.setRole(acme, UserId.of("user"), Role.ADMIN));
            calls.put("removeUser", () -> store.removeUser(acme, UserId.of("user")));
            calls.put("deleteAccount", () -> store.deleteAccount(acme));
            calls.put("addUser on a handle that has not written yet", () -> fresh.addUser(newUser(acme, "fresh", Role.USER, keys.random())));

            own.pause();
            Map<String, CallOutcome> outcomes;
            try {
                outcomes = callAll(calls);
            }
            finally {
                own.resume();
            }
            System.out.println("while S3 is paused: " + outcomes);
            outcomes.forEach((name, outcome) -> {
                assertThat(outcome.failure()).as("%s while S3 is paused", name)
                        .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
                assertThat(outcome.duration()).as("%s while S3 is paused", name).isLessThan(UNAVAILABLE_BOUND);
            });

            // S3Mock first works off what it was sent while paused
            long deadline = System.nanoTime() + RECOVERY_TIMEOUT.toNanos();
            while (!answers(store)) {
                assertThat(System.nanoTime() - deadline).as("the store answers again within %s of the resume", RECOVERY_TIMEOUT).isNegative();
            }
            assertThat(store.headPosition()).as("no write made while S3 was paused took effect").isEqualTo(FeedPosition.of(2));
            assertWorks(store, adminKey, "admin");
            assertWorks(store, userKey, "user");
            ApiKey added = keys.random();
            store.addUser(newUser(acme, "added", Role.USER, added));
            ApiKey freshKey = keys.random();
            fresh.addUser(newUser(acme, "fresh", Role.USER, freshKey));
            store.setRole(acme, UserId.of("user"), Role.ADMIN);
            assertWorks(fresh, added, "added");
            assertWorks(store, freshKey, "fresh");
            assertThat(readFeed(fresh)).extracting(TestS3StoreFaults::describe).containsExactly(
                    "1 ACCOUNT_CREATED acme admin", "2 USER_ADDED acme user", "3 USER_ADDED acme added", "4 USER_ADDED acme fresh", "5 ROLE_CHANGED acme user");
        }
    }

    /**
     * Runs {@code write} once to count the PUTs it makes, then once more for each of them with the answer to that
     * PUT dropped (the n-th PUT in round n); {@code prepare} runs before each round, with no fault armed. Each step
     * waits until the store has applied its writes (the account is counted applied a moment after a write answers),
     * so that every round makes the same PUTs.
     *
     * @return the number of PUTs of one write (so {@code write} ran that many times plus one)
     */
    private int dropEachPut(S3IdentityStore store, String prefix, IntConsumer prepare, IntConsumer write)
    {
        Predicate<ProxiedRequest> put = request -> request.operation() == Operation.PUT_OBJECT && request.isUnder(prefix);
        int puts;
        prepare.accept(0);
        awaitFinished(store);
        try (RequestCounter counter = proxy.countRequests(put)) {
            write.accept(0);
            awaitFinished(store);
            puts = (int) counter.total();
        }
        assertThat(puts).as("PUTs of one write").isGreaterThanOrEqualTo(3);
        for (int round = 1; round <= puts; round++) {
            prepare.accept(round);
            awaitFinished(store);
            AtomicInteger seen = new AtomicInteger();
            int target = round;
            Fault fault = proxy.dropNextResponse(put.and(request -> seen.incrementAndGet() == target));
            write.accept(round);
            awaitFinished(store);
            assertThat(fault.firedOn()).as("round %s: the answer to PUT %s of %s dropped", round, target, puts).isPresent();
        }
        return puts;
    }

    private record CallOutcome(Throwable failure, Duration duration)
    {
        @Override
        public String toString()
        {
            return (failure instanceof LatchkeyException e ? e.code().name() : String.valueOf(failure)) + " after " + duration.toMillis() + " ms";
        }
    }

    /**
     * Runs the calls, {@value #CONCURRENT_CALLS} at a time (more at once, on this 2-vCPU machine shared with other
     * builds, measures the scheduler: 14 at once took up to 2.6 s once).
     */
    private static Map<String, CallOutcome> callAll(Map<String, Runnable> calls)
            throws Exception
    {
        ExecutorService executor = Executors.newFixedThreadPool(CONCURRENT_CALLS);
        try {
            Map<String, Future<CallOutcome>> futures = new LinkedHashMap<>();
            calls.forEach((name, call) -> futures.put(name, executor.submit(() -> {
                long start = System.nanoTime();
                Throwable failure = null;
                try {
                    call.run();
                }
                catch (Throwable e) {
                    failure = e;
                }
                return new CallOutcome(failure, Duration.ofNanos(System.nanoTime() - start));
            })));
            Map<String, CallOutcome> outcomes = new LinkedHashMap<>();
            for (Map.Entry<String, Future<CallOutcome>> future : futures.entrySet()) {
                outcomes.put(future.getKey(), future.getValue().get(60, TimeUnit.SECONDS));
            }
            return outcomes;
        }
        finally {
            executor.shutdownNow();
        }
    }

    private static boolean answers(S3IdentityStore store)
    {
        try {
            store.headPosition();
            return true;
        }
        catch (LatchkeyException e) {
            assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
            return false;
        }
    }

    private void assertWorks(S3IdentityStore store, ApiKey key, String user)
    {
        Optional<KeyRecord> found = store.findKey(key.keyId());
        assertThat(found).as("key of %s", user).isPresent();
        assertThat(found.get().userId()).isEqualTo(UserId.of(user));
        assertThat(hasher.matches(key, found.get().secretHash())).as("secret of the key of %s", user).isTrue();
    }

    /**
     * The feed holds {@code expected} entries at positions 1, 2, 3, ... and no write twice.
     */
    private static void assertFeedHoldsEachOnce(S3IdentityStore store, int expected)
    {
        List<Change> feed = readFeed(store);
        assertThat(feed).hasSize(expected);
        for (int i = 0; i < feed.size(); i++) {
            assertThat(feed.get(i).position()).isEqualTo(FeedPosition.of(i + 1));
        }
        assertThat(feed).extracting(change -> change.type() + " " + change.accountId() + " " + change.userId().map(UserId::value).orElse("-") + " " + change.keyIds())
                .doesNotHaveDuplicates();
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

    private static String describe(Change change)
    {
        return change.position() + " " + change.type() + " " + change.accountId() + " " + change.userId().map(UserId::value).orElse("-");
    }

    private ApiKey createAccount(S3IdentityStore store, AccountId account)
    {
        ApiKey key = keys.random();
        store.createAccount(origin("create-" + account.value()), new Account(account, clock.instant(), true), Optional.of(newUser(account, "admin", Role.ADMIN, key)));
        return key;
    }

    private static Origin origin(String requestId)
    {
        return new Origin(Actor.root(), "instance-a", requestId);
    }

    private NewUser newUser(AccountId account, String user, Role role, ApiKey key)
    {
        return new NewUser(new User(account, UserId.of(user), role, key.keyId(), clock.instant()), hasher.hash(key.secret()));
    }

    /**
     * Runs {@code first}, holds its commit until every call of {@code queued} has been made, one by one and in order
     * (so that they queue behind it, in that order), then lets it go.
     *
     * @return each queued call's result, or the code of the {@link LatchkeyException} it threw
     */
    private Map<String, Object> whileTheNextCommitIsHeld(S3IdentityStore store, String prefix, Runnable first, Map<String, Callable<Object>> queued)
            throws Exception
    {
        CountDownLatch allQueued = new CountDownLatch(1);
        CountDownLatch held = new CountDownLatch(1);
        Fault hold = proxy.beforeNext(request -> request.isPutOf(prefix + HEAD), () -> {
            held.countDown();
            awaitQuietly(allQueued);
        });
        ExecutorService callers = Executors.newCachedThreadPool();
        try {
            Future<?> firstCall = callers.submit(first);
            assertThat(held.await(30, TimeUnit.SECONDS)).as("the first commit reached S3").isTrue();
            Map<String, Future<Object>> calls = new LinkedHashMap<>();
            for (Map.Entry<String, Callable<Object>> call : queued.entrySet()) {
                calls.put(call.getKey(), callers.submit(() -> {
                    try {
                        return call.getValue().call();
                    }
                    catch (LatchkeyException e) {
                        return e.code().name();
                    }
                }));
                // the next call only once this one's write is queued, so that they queue in order
                int behind = calls.size();
                assertThat(Waiting.until(() -> store.queuedWrites() == behind, Duration.ofSeconds(30))).as("%d writes queued", behind).isTrue();
            }
            allQueued.countDown();
            firstCall.get(30, TimeUnit.SECONDS);
            assertThat(hold.fired()).isTrue();
            Map<String, Object> outcomes = new LinkedHashMap<>();
            for (Map.Entry<String, Future<Object>> call : calls.entrySet()) {
                outcomes.put(call.getKey(), call.getValue().get(30, TimeUnit.SECONDS));
            }
            return outcomes;
        }
        finally {
            allQueued.countDown();
            callers.shutdownNow();
        }
    }

    private static void sleep(Duration duration)
    {
        try {
            Thread.sleep(duration.toMillis());
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }


    private static void awaitQuietly(CountDownLatch latch)
    {
        try {
            latch.await(30, TimeUnit.SECONDS);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

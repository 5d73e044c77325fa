package dev.latchkey.server.it;

import dev.latchkey.adapters.s3.S3IdentityStore;
import dev.latchkey.adapters.s3.S3StoreConfig;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy;
import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.server.it.LatchkeyClient.Response;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

import static dev.latchkey.server.it.MultiInstanceSupport.acceptedAs;
import static dev.latchkey.server.it.MultiInstanceSupport.answer;
import static dev.latchkey.server.it.MultiInstanceSupport.millisSince;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link AbstractMultiInstanceIT} on S3 ({@code LATCHKEY_STORE=s3}, path-style): A and B share one bucket on a real
 * S3-compatible server, an S3Mock process of this test's own ({@link TestingS3}, which G5 pauses with SIGSTOP:
 * connections are accepted, nothing is answered), reached through its
 * {@link dev.latchkey.adapters.s3.testing.SerializingS3Proxy}, which gives S3Mock the atomic conditional writes of AWS
 * S3 that the store builds on. Default poll interval (250 ms), negative-cache period (2 s) and max stale (5 m); the
 * readiness bound is shortened to {@value #READY_MAX_LAG_SECONDS} s to keep the outage short. A write refused during
 * the pause may still land once S3 answers again (S3 received it). Only here: G6 for a multi-object operation on a
 * store without multi-object transactions (account deletions killed midway).
 */
class S3MultiInstanceIT
        extends AbstractMultiInstanceIT
{
    private static final String BUCKET = "latchkey-multi-instance";
    /** Where the servers keep the store in the bucket: the default prefix. */
    private static final String PREFIX = S3StoreConfig.DEFAULT_PREFIX;
    private static final Duration IDLE_WINDOW = Duration.ofSeconds(20);
    /** How long after its last write an instance may still update its accounts' objects (the S3 store's settle turns). */
    private static final Duration SETTLED_AFTER = Duration.ofSeconds(21);
    private static final Duration PATIENCE = Duration.ofSeconds(20);
    private static final int READY_MAX_LAG_SECONDS = 2;

    private TestingS3 s3;

    S3MultiInstanceIT()
    {
        super("s3", PATIENCE);
    }

    @Override
    protected AutoCloseable startStore(Path temporaryDirectory)
    {
        s3 = TestingS3.start(BUCKET);
        System.out.printf("started %s; the servers reach it through %s%n", s3, s3.serializingProxy());
        return s3;
    }

    @Override
    protected Map<String, String> storeSettings()
    {
        return Map.of(
                "LATCHKEY_STORE", "s3",
                "LATCHKEY_S3_BUCKET", BUCKET,
                "LATCHKEY_S3_ENDPOINT", s3.serializingProxy().endpoint().toString(),
                "LATCHKEY_S3_PATH_STYLE", "true",
                "LATCHKEY_READY_MAX_LAG", READY_MAX_LAG_SECONDS + "s",
                "AWS_ACCESS_KEY_ID", TestingS3.ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY", TestingS3.SECRET_KEY,
                "AWS_REGION", TestingS3.REGION.id());
    }

    @Override
    protected Optional<StoreOutage> outage()
    {
        return Optional.of(new StoreOutage(s3::pause, s3::resume));
    }

    @Override
    protected Duration readyMaxLag()
    {
        return Duration.ofSeconds(READY_MAX_LAG_SECONDS);
    }

    @Override
    protected boolean refusedWritesMayLandAfterTheOutage()
    {
        return true;
    }

    /**
     * What two idle instances cost on S3, counted at the proxy for {@link #IDLE_WINDOW}: their feed polls (one
     * conditional GET of the head per poll interval each, answered 304) and their registry records (one PUT per
     * heartbeat each), and nothing else but the hourly audit purge (whose first run, a minute after an instance starts,
     * may fall in the window: a GET and a PUT of the audit horizon and a LIST of the feed pages).
     */
    @Test
    @Order(25)
    void idleInstancesCostTheirPollsAndOneRegistryWritePerHeartbeat()
            throws InterruptedException
    {
        long polls;
        long registry;
        long total;
        List<String> others = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<String> purges = new java.util.concurrent.CopyOnWriteArrayList<>();
        // the earlier tests' writes: each instance counts them on their accounts a few seconds later, once for many
        // writes, taking at most four turns of at most 5 s (waiting for the other instance to say its entries are
        // written); idle starts after the last of them
        Thread.sleep(SETTLED_AFTER.toMillis());
        try (SerializingS3Proxy.RequestCounter headGets = s3.serializingProxy().countRequests(
                        request -> request.operation() == SerializingS3Proxy.Operation.GET_OBJECT && request.key().equals(Optional.of(PREFIX + "head.json")));
                SerializingS3Proxy.RequestCounter registryPuts = s3.serializingProxy().countRequests(
                        request -> request.operation() == SerializingS3Proxy.Operation.PUT_OBJECT && request.isUnder(PREFIX + "instances/"));
                SerializingS3Proxy.RequestCounter all = s3.serializingProxy().countRequests(request -> {
                    boolean poll = request.operation() == SerializingS3Proxy.Operation.GET_OBJECT && request.key().equals(Optional.of(PREFIX + "head.json"));
                    boolean heartbeat = request.operation() == SerializingS3Proxy.Operation.PUT_OBJECT && request.isUnder(PREFIX + "instances/");
                    boolean purge = request.key().equals(Optional.of(PREFIX + "audit-horizon.json"))
                            || request.operation() == SerializingS3Proxy.Operation.LIST_OBJECTS && request.isUnder(PREFIX + "feed/");
                    if (purge) {
                        purges.add(request.method());
                    }
                    else if (!poll && !heartbeat) {
                        others.add(request.method() + " " + request.key().orElse("(bucket) " + request.parameters()));
                    }
                    return true;
                })) {
            Thread.sleep(IDLE_WINDOW.toMillis());
            polls = headGets.total();
            registry = registryPuts.total();
            total = all.total();
        }
        double minutes = IDLE_WINDOW.toMillis() / 60_000.0;
        System.out.printf("idle on S3: 2 instances in %d s: %d requests: %d head GETs (polls), %d registry PUTs (heartbeat %d ms), %d of the hourly audit purge, "
                        + "%d other: per instance per minute %.0f polls and %.1f registry PUTs%n",
                IDLE_WINDOW.toSeconds(), total, polls, registry, HEARTBEAT.toMillis(), purges.size(), others.size(), polls / 2 / minutes, registry / 2 / minutes);
        figures.print("idle", "seconds", IDLE_WINDOW.toSeconds(), "instances", 2, "head_gets", polls, "registry_puts", registry, "heartbeat_ms", HEARTBEAT.toMillis(),
                "purge", purges.size(), "other", others.size());
        assertThat(others).as("requests other than polls, registry writes and the audit purge").isEmpty();
        assertThat(purges.size()).as("the hourly purge runs at most once per instance in the window").isLessThanOrEqualTo(6);
        // each instance writes its record once per heartbeat
        long heartbeats = IDLE_WINDOW.toMillis() / HEARTBEAT.toMillis();
        assertThat(registry).isBetween(2 * heartbeats - 4, 2 * heartbeats + 4);
        assertThat(polls).as("polls of two instances at 250 ms").isBetween(2 * IDLE_WINDOW.toMillis() / 250 / 2, 2 * IDLE_WINDOW.toMillis() / 250 + 4);
    }

    /**
     * G6 for a batched commit: B is killed with SIGKILL while sixteen threads register users through it, so that its
     * writes commit in batches (fewer commits than writes are seen). Every registration B acknowledged is listed and
     * its key accepted by A and the restarted B, and no batch is torn: the feed's registrations of the account, the
     * users listed by each instance and the account's user count all agree (a batch is in the feed whole, with every
     * user of it, or not at all).
     */
    @Test
    @Order(12)
    void g6KillingAnInstanceDuringBatchedCommitsTearsNoBatch()
            throws Exception
    {
        String account = "g6-batched";
        client.createAccount(instanceA(), account, "owner");
        ServerProcess writing = instanceB();
        Map<String, String> acknowledged = new ConcurrentHashMap<>();
        AtomicInteger unanswered = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        long commits;
        try (SerializingS3Proxy.RequestCounter heads = s3.serializingProxy().countRequests(request -> request.isPutOf(PREFIX + "head.json"))) {
            List<Future<Void>> writers = waits.startTogether(IntStream.range(0, 16)
                    .mapToObj(writer -> (Callable<Void>) () -> {
                        for (int i = 0; i < 20; i++) {
                            String userId = "w" + writer + "-user-" + i;
                            try {
                                Response response = client.tryRegisterUser(writing, account, userId, USER);
                                if (response.status() == 200) {
                                    acknowledged.put(userId, response.result().path("user_key").asText());
                                }
                                else {
                                    refused.incrementAndGet();
                                }
                            }
                            catch (UncheckedIOException e) {
                                unanswered.incrementAndGet();
                                return null;
                            }
                        }
                        return null;
                    })
                    .toList());
            waits.awaitTrue(() -> "40 acknowledged registrations on B", System.nanoTime(), () -> acknowledged.size() >= 40);
            commits = heads.total();
            writing.kill();
            writers.forEach(waits::await);
        }
        Map<String, String> kept = Map.copyOf(acknowledged);
        assertThat(unanswered.get()).as("requests cut by the kill (it landed during the burst)").isPositive();
        assertThat(refused.get()).as("registrations refused before the kill").isZero();
        assertThat(commits).as("commits of B for the first %d acknowledged registrations: batched", 40).isLessThan(40);
        restartB("B-restarted-batched");

        List<String> inFeed = new ArrayList<>();
        try (S3IdentityStore reader = S3IdentityStore.open(S3StoreConfig.of(BUCKET).withEndpoint(s3.serializingProxy().endpoint()).withPathStyle(true),
                StaticCredentialsProvider.create(AwsBasicCredentials.create(TestingS3.ACCESS_KEY, TestingS3.SECRET_KEY)), Clock.systemUTC())) {
            FeedPosition position = FeedPosition.START;
            for (FeedBatch batch = reader.changesAfter(position, 500); batch instanceof FeedBatch.Changes changes && !changes.changes().isEmpty();
                    batch = reader.changesAfter(position, 500)) {
                changes.changes().stream()
                        .filter(change -> change.type() == ChangeType.USER_ADDED && change.accountId().value().equals(account))
                        .forEach(change -> inFeed.add(change.userId().orElseThrow().value()));
                position = changes.next();
            }
        }
        for (ServerProcess server : List.of(instanceA(), instanceB())) {
            List<String> listed = client.listUsers(server, account, 100).stream().map(user -> user.path("user_id").asText()).filter(user -> !user.equals("owner")).sorted().toList();
            assertThat(listed).as("users listed by %s: those in the feed", server.name()).containsExactlyInAnyOrderElementsOf(inFeed);
            assertThat(listed).as("users listed by %s", server.name()).containsAll(kept.keySet());
            assertThat(client.userCounts(server)).as("user count on %s", server.name()).containsEntry(account, listed.size() + 1);
            kept.forEach((user, key) -> assertThat(client.verify(server, key).status()).as("the key of acknowledged %s on %s", user, server.name()).isEqualTo(200));
        }
        System.out.printf("G6 batched: SIGKILL of B during 16 threads of registrations: %d acknowledged (the first 40 in %d commits), %d cut, %d in the feed%n",
                kept.size(), commits, unanswered.get(), inFeed.size());
        figures.print("g6-batched", "acknowledged", kept.size(), "commits_for_40", commits, "cut_by_kill", unanswered.get(), "in_feed", inFeed.size());
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
            accounts.put(account, List.of(client.createAccount(instanceA(), account, "admin"), client.registerUser(instanceA(), account, "member", USER)));
        }
        List<String> order = List.copyOf(accounts.keySet());
        ServerProcess deleting = instanceB();
        Map<String, Response> answered = new ConcurrentHashMap<>();
        AtomicInteger unanswered = new AtomicInteger();
        List<Future<Void>> deleters = waits.startTogether(IntStream.range(0, 2)
                .mapToObj(deleter -> (Callable<Void>) () -> {
                    for (int i = deleter; i < order.size(); i += 2) {
                        try {
                            answered.put(order.get(i), client.tryDeleteAccount(deleting, order.get(i)));
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
        deleting.kill();
        deleters.forEach(waits::await);
        List<String> deleted = answered.entrySet().stream().filter(entry -> entry.getValue().status() == 200).map(Map.Entry::getKey).sorted().toList();
        List<Response> refused = answered.values().stream().filter(response -> response.status() != 200).toList();
        assertThat(refused).as("deletions refused before the kill").isEmpty();
        assertThat(unanswered.get()).as("requests cut by the kill (it landed during the deletions)").isPositive();
        restartB("B-restarted-again");

        Map<String, List<String>> torn = new TreeMap<>();
        Map<String, List<String>> survivors = new TreeMap<>();
        for (ServerProcess server : List.of(instanceA(), instanceB())) {
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
        figures.print("g6-deletions", "accounts", accounts.size(), "acknowledged", deleted.size(), "cut_by_kill", unanswered.get(),
                "torn", torn.values().stream().mapToInt(List::size).sum(), "survivors", survivors.getOrDefault(instanceA().name(), List.of()).size());
        assertThat(torn).as("accounts half deleted, or acknowledged as deleted but with a working key or still listed").isEmpty();
        assertThat(survivors.get(instanceA().name())).as("accounts alive on A and B").isEqualTo(survivors.get(instanceB().name()));
        String last = survivors.getOrDefault(instanceA().name(), List.of()).stream().reduce((first, second) -> second).orElseThrow(() -> new AssertionError("no account survived"));
        assertThat(client.tryDeleteAccount(instanceB(), last).status()).as("deleting a surviving account on the restarted B").isEqualTo(200);
        for (ServerProcess server : List.of(instanceA(), instanceB())) {
            for (String key : accounts.get(last)) {
                awaitAnswer(server, key, REFUSED, System.nanoTime());
            }
        }
    }
}

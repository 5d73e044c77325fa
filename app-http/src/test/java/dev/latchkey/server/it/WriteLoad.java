package dev.latchkey.server.it;

import dev.latchkey.adapters.filesystem.FileSystemIdentityStore;
import dev.latchkey.adapters.jdbc.JdbcIdentityStore;
import dev.latchkey.adapters.jdbc.JdbcStoreConfig;
import dev.latchkey.adapters.jdbc.TestingPostgres;
import dev.latchkey.adapters.s3.S3IdentityStore;
import dev.latchkey.adapters.s3.S3StoreConfig;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.RequestCounter;
import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.server.it.LatchkeyClient.Response;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.services.s3.S3Client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The admin-write load: bulk registrations from many concurrent clients, split across real server processes
 * ({@code java -jar latchkey.jar}) on one store, run against the filesystem, PostgreSQL and S3 stores in one run so
 * that they compare on the same machine at the same moment. Three scenarios per store:
 * <ol>
 *     <li>{@code burst}: 40 registrations into one account from 16 clients, half through each of two instances;</li>
 *     <li>{@code sustained}: 400 registrations over 20 accounts from 32 clients, two instances;</li>
 *     <li>{@code three-instances}: 240 registrations over 4 accounts from 48 clients, a third through each of three
 *     instances.</li>
 * </ol>
 * After each: every acknowledged user is listed by every instance and counted in its account (no lost update), and
 * every acknowledged key is accepted by every instance at its first request; after the third, the store's feed is
 * read directly: positions 1, 2, 3, ... with no gap, and exactly one entry per acknowledged write. Prints a Markdown
 * table row per scenario (wall time, failures, p50 and max latency, writes per second) and, on S3, the S3 requests
 * made per acknowledged write (the instances' idle polls included). Exits 1 if a check fails.
 * <p>
 * The servers start cold for each store, so the first scenarios also measure their JIT compilation. With
 * {@code -Dlatchkey.load.warmup=N}, N registrations into accounts of their own go first (reported as a
 * {@code warm-up} row), then those accounts are deleted and, on S3, their leftover objects removed, so that the
 * scenarios run on warmed-up servers and a store of the size they start on cold. With
 * {@code -Dlatchkey.s3mock.peak-speed=true}, S3Mock runs with every tier of the JIT compiler instead of the first
 * only (the tests' quick start). {@code scripts/cpu-by-process.py} run around this program says which process used
 * the CPU in each scenario.
 * <p>
 * Usage, after {@code ./mvnw install -DskipTests}:
 * <pre>
 * ./mvnw -q -o -pl app-http test-compile dependency:build-classpath -Dmdep.outputFile=target/test-classpath.txt -Dmdep.includeScope=test
 * cd app-http &amp;&amp; java -Dlatchkey.jar=target/latchkey.jar -cp target/test-classes:target/classes:$(cat target/test-classpath.txt) \
 *     dev.latchkey.server.it.WriteLoad [filesystem] [postgres] [s3]
 * </pre>
 */
public final class WriteLoad
{
    private static final String ROOT_KEY = "write-load-root-key-0123456789abcdefghijklmnop";
    private static final String BUCKET = "latchkey-write-load";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration SCENARIO_TIMEOUT = Duration.ofMinutes(5);
    /** Registrations sent (and then deleted) before the scenarios, {@code -Dlatchkey.load.warmup=N}; none by default. */
    private static final int WARM_UP = Integer.getInteger("latchkey.load.warmup", 0);
    private static final Duration WARM_UP_CLEANUP_TIMEOUT = Duration.ofMinutes(2);

    private final LatchkeyClient client = new LatchkeyClient(ROOT_KEY);
    private final List<String> failures = new ArrayList<>();
    private final List<String> rows = new ArrayList<>();

    private WriteLoad() {}

    public static void main(String[] args)
            throws Exception
    {
        List<String> stores = args.length == 0 ? List.of("filesystem", "postgres", "s3") : List.of(args);
        WriteLoad load = new WriteLoad();
        for (String store : stores) {
            load.run(store);
        }
        System.out.println();
        System.out.println("| store | scenario | clients / instances | writes | failures | wall time | p50 / max latency | writes/s | S3 requests per write |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        load.rows.forEach(System.out::println);
        if (!load.failures.isEmpty()) {
            System.out.println();
            load.failures.forEach(failure -> System.out.println("FAILED: " + failure));
            System.exit(1);
        }
        System.exit(0);
    }

    private void run(String kind)
            throws Exception
    {
        Path directory = Files.createTempDirectory("latchkey-write-load-" + kind);
        try (StoreUnderLoad store = StoreUnderLoad.start(kind, directory)) {
            try (Instances two = Instances.launch(store, 2, directory.resolve("two"))) {
                if (WARM_UP > 0) {
                    warmUp(store, two, WARM_UP);
                }
                scenario(store, two, "burst", 16, accounts("burst", 1), 40);
                scenario(store, two, "sustained", 32, accounts("sustained", 20), 400);
            }
            try (Instances three = Instances.launch(store, 3, directory.resolve("three"))) {
                List<String> accounts = accounts("three", 4);
                int acknowledged = scenario(store, three, "three-instances", 48, accounts, 240);
                checkFeed(store, accounts, acknowledged);
            }
        }
    }

    /**
     * Warms the instances up (the JIT compilers, connection pools) with writes that leave nothing behind:
     * registrations into accounts of their own, those accounts deleted, and on S3 the objects they left (revoked keys)
     * removed once the deletions' cleanup has run, so that the scenarios after start on a store of the size they
     * start on cold.
     */
    private void warmUp(StoreUnderLoad store, Instances instances, int writes)
            throws Exception
    {
        List<String> accounts = accounts("warm-up", 20);
        Set<String> before = store.objectNames();
        scenario(store, instances, "warm-up", 32, accounts, writes);
        for (String account : accounts) {
            Response deleted = client.tryDeleteAccount(instances.get(0), account);
            if (deleted.status() != 200) {
                failures.add(store.kind() + " warm-up: deleting " + account + " answered " + deleted.status() + " " + deleted.errorCode());
                return;
            }
        }
        long began = System.nanoTime();
        Optional<String> left = store.removeLeftovers(before, WARM_UP_CLEANUP_TIMEOUT);
        left.ifPresent(problem -> failures.add(store.kind() + " warm-up: " + problem));
        System.out.printf("%s warm-up: %d registrations, accounts deleted, leftovers removed in %.1f s%n", store.kind(), writes, seconds(System.nanoTime() - began));
    }

    private static List<String> accounts(String scenario, int count)
    {
        List<String> accounts = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            accounts.add(String.format("%s-%02d", scenario, i));
        }
        return accounts;
    }

    /**
     * Sends {@code writes} registrations, spread evenly over the accounts, from {@code clients} threads (client
     * {@code i} through instance {@code i mod n}), and checks the outcome on every instance.
     *
     * @return how many were acknowledged
     */
    private int scenario(StoreUnderLoad store, Instances instances, String name, int clients, List<String> accounts, int writes)
            throws Exception
    {
        for (String account : accounts) {
            client.createAccount(instances.get(0), account, "owner");
        }
        ConcurrentLinkedQueue<String[]> work = new ConcurrentLinkedQueue<>();
        for (int i = 0; i < writes; i++) {
            work.add(new String[] {accounts.get(i % accounts.size()), String.format("user-%04d", i)});
        }
        ConcurrentLinkedQueue<Long> latencies = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<String> refused = new ConcurrentLinkedQueue<>();
        Map<String, String> keys = Collections.synchronizedMap(new TreeMap<>());
        ExecutorService threads = Executors.newFixedThreadPool(clients);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> running = new ArrayList<>();
        Map<String, RequestCounter> requests = store.countRequests();
        for (int c = 0; c < clients; c++) {
            ServerProcess server = instances.get(c % instances.size());
            running.add(threads.submit(() -> {
                start.await();
                for (String[] next = work.poll(); next != null; next = work.poll()) {
                    long sent = System.nanoTime();
                    try {
                        Response response = client.tryRegisterUser(server, next[0], next[1], "user");
                        latencies.add(System.nanoTime() - sent);
                        if (response.status() == 200) {
                            keys.put(next[0] + "/" + next[1], response.result().path("user_key").asText());
                        }
                        else {
                            refused.add(response.status() + " " + response.errorCode());
                        }
                    }
                    catch (UncheckedIOException e) {
                        latencies.add(System.nanoTime() - sent);
                        refused.add("no answer: " + e.getMessage());
                    }
                }
                return null;
            }));
        }
        long began = System.nanoTime();
        long beganMillis = System.currentTimeMillis();
        start.countDown();
        for (Future<?> future : running) {
            future.get(SCENARIO_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        }
        long wallNanos = System.nanoTime() - began;
        // for scripts/cpu-by-process.py
        System.out.printf("WINDOW store=%s scenario=%s start=%.3f end=%.3f%n", store.kind(), name, beganMillis / 1000.0, System.currentTimeMillis() / 1000.0);
        threads.shutdown();
        long s3Requests = requests.isEmpty() ? -1 : requests.values().stream().mapToLong(RequestCounter::total).sum();
        requests.values().forEach(RequestCounter::close);
        if (!requests.isEmpty()) {
            StringBuilder byKind = new StringBuilder();
            requests.forEach((kind, counter) -> counter.counts().forEach((operation, count) -> {
                if (count > 0) {
                    byKind.append(String.format(" %s %s %.2f;", kind, operation, (double) count / Math.max(1, keys.size())));
                }
            }));
            System.out.printf("%s %s: S3 requests per acknowledged write, by object:%s%n", store.kind(), name, byKind);
        }

        List<Long> sorted = new ArrayList<>(latencies);
        Collections.sort(sorted);
        double wall = wallNanos / 1e9;
        String row = String.format("| %s | %s | %d / %d | %d | %d | %.2f s | %.2f s / %.2f s | %.0f | %s |", store.kind(), name, clients, instances.size(), writes,
                refused.size(), wall, seconds(sorted.get(sorted.size() / 2)), seconds(sorted.get(sorted.size() - 1)), keys.size() / wall,
                s3Requests < 0 ? "" : String.format("%.1f", (double) s3Requests / Math.max(1, keys.size())));
        rows.add(row);
        System.out.println(row);
        System.out.printf("FIGURE write-load store=%s scenario=%s clients=%d instances=%d writes=%d failures=%d wall_ms=%d p50_ms=%d max_ms=%d%n", store.kind(), name, clients,
                instances.size(), writes, refused.size(), wallNanos / 1_000_000, sorted.get(sorted.size() / 2) / 1_000_000, sorted.get(sorted.size() - 1) / 1_000_000);
        if (!refused.isEmpty()) {
            failures.add(store.kind() + " " + name + ": " + refused.size() + " registrations failed, e.g. " + new TreeSet<>(refused).first());
        }
        checkKept(store, instances, name, accounts, keys);
        return keys.size();
    }

    /**
     * No lost update: every instance lists every acknowledged user in its account, counts them, and accepts their keys.
     */
    private void checkKept(StoreUnderLoad store, Instances instances, String scenario, List<String> accounts, Map<String, String> keys)
    {
        for (ServerProcess server : instances.all()) {
            Map<String, Integer> counts = client.userCounts(server);
            for (String account : accounts) {
                TreeSet<String> expected = new TreeSet<>();
                keys.keySet().stream().filter(user -> user.startsWith(account + "/")).forEach(user -> expected.add(user.substring(account.length() + 1)));
                TreeSet<String> listed = new TreeSet<>();
                client.listUsers(server, account, 1000).forEach(user -> listed.add(user.path("user_id").asText()));
                listed.remove("owner");
                if (!listed.equals(expected) || counts.getOrDefault(account, -1) != expected.size() + 1) {
                    failures.add(String.format("%s %s: %s lists %d users of %s and counts %s; %d were acknowledged", store.kind(), scenario, server.name(), listed.size(),
                            account, counts.get(account), expected.size()));
                }
            }
            long accepted = keys.values().stream().filter(key -> client.verify(server, key).status() == 200).count();
            if (accepted != keys.size()) {
                failures.add(String.format("%s %s: %s accepts %d of the %d acknowledged keys", store.kind(), scenario, server.name(), accepted, keys.size()));
            }
        }
    }

    /**
     * The feed, read straight from the store: consecutive positions from 1, one entry per acknowledged write.
     */
    private void checkFeed(StoreUnderLoad store, List<String> accounts, int acknowledged)
    {
        try (IdentityStore reader = store.openReader()) {
            List<Change> changes = new ArrayList<>();
            FeedPosition position = FeedPosition.START;
            while (true) {
                FeedBatch batch = reader.changesAfter(position, 500);
                if (!(batch instanceof FeedBatch.Changes read) || read.changes().isEmpty()) {
                    break;
                }
                changes.addAll(read.changes());
                position = read.next();
            }
            for (int i = 0; i < changes.size(); i++) {
                if (changes.get(i).position().value() != i + 1) {
                    failures.add(store.kind() + " feed: position " + changes.get(i).position().value() + " at index " + i + ": a gap");
                    break;
                }
            }
            long registrations = changes.stream()
                    .filter(change -> change.type() == ChangeType.USER_ADDED && accounts.contains(change.accountId().value()))
                    .count();
            if (registrations != acknowledged) {
                failures.add(store.kind() + " feed: " + registrations + " registrations in the feed, " + acknowledged + " acknowledged");
            }
            System.out.printf("%s feed: %d entries, positions 1..%d, %d registrations of the last scenario%n", store.kind(), changes.size(), changes.size(), registrations);
        }
        catch (Exception e) {
            failures.add(store.kind() + " feed: " + e);
        }
    }

    private static double seconds(long nanos)
    {
        return nanos / 1e9;
    }

    /**
     * Some server processes on one store.
     */
    private record Instances(List<ServerProcess> all)
            implements AutoCloseable
    {
        static Instances launch(StoreUnderLoad store, int count, Path logs)
        {
            List<ServerProcess> servers = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                servers.add(ServerProcess.launch(String.valueOf((char) ('A' + i)), store.settings(), ROOT_KEY, logs));
            }
            servers.forEach(server -> server.awaitReady(START_TIMEOUT));
            return new Instances(List.copyOf(servers));
        }

        ServerProcess get(int index)
        {
            return all.get(index);
        }

        int size()
        {
            return all.size();
        }

        @Override
        public void close()
        {
            all.forEach(ServerProcess::close);
        }
    }

    /**
     * A store of one kind, started for the run: its server settings, a reader of it, and (on S3) a request counter.
     */
    private record StoreUnderLoad(String kind, Map<String, String> settings, Supplier<IdentityStore> reader, Optional<TestingS3> s3, AutoCloseable resource)
            implements AutoCloseable
    {
        static StoreUnderLoad start(String kind, Path directory)
                throws IOException
        {
            return switch (kind) {
                case "filesystem" -> {
                    Path store = Files.createDirectories(directory.resolve("store"));
                    yield new StoreUnderLoad(kind, Map.of("LATCHKEY_FS_DIR", store.toString()), () -> FileSystemIdentityStore.open(store, Clock.systemUTC()),
                            Optional.empty(), () -> {});
                }
                case "postgres" -> {
                    TestingPostgres postgres = TestingPostgres.start(false);
                    String url = postgres.createDatabase();
                    yield new StoreUnderLoad(kind, Map.of("LATCHKEY_STORE", "jdbc", "LATCHKEY_JDBC_URL", url, "LATCHKEY_JDBC_USER", TestingPostgres.SUPERUSER),
                            () -> JdbcIdentityStore.open(JdbcStoreConfig.of(url, Optional.of(TestingPostgres.SUPERUSER), Optional.empty()), Clock.systemUTC()),
                            Optional.empty(), postgres);
                }
                case "s3" -> {
                    TestingS3 s3 = TestingS3.start(BUCKET);
                    Map<String, String> settings = MultiInstanceSupport.s3Settings(s3, BUCKET);
                    yield new StoreUnderLoad(kind, settings,
                            () -> S3IdentityStore.open(S3StoreConfig.of(BUCKET).withEndpoint(s3.serializingProxy().endpoint()).withPathStyle(true),
                                    StaticCredentialsProvider.create(AwsBasicCredentials.create(TestingS3.ACCESS_KEY, TestingS3.SECRET_KEY)), Clock.systemUTC()),
                            Optional.of(s3), s3);
                }
                default -> throw new IllegalArgumentException("unknown store " + kind + ": filesystem, postgres or s3");
            };
        }

        IdentityStore openReader()
        {
            return reader.get();
        }

        /**
         * Counters of the S3 requests from now on, by the kind of object asked for; empty for the other stores.
         */
        Map<String, RequestCounter> countRequests()
        {
            return s3.map(StoreUnderLoad::countByObject).orElse(Map.of());
        }

        /**
         * The names of every object in the S3 bucket; empty for the other stores.
         */
        Set<String> objectNames()
        {
            if (s3.isEmpty()) {
                return Set.of();
            }
            try (S3Client bucket = s3.get().newClient()) {
                return objectNames(bucket);
            }
        }

        private static Set<String> objectNames(S3Client bucket)
        {
            Set<String> names = new TreeSet<>();
            bucket.listObjectsV2Paginator(request -> request.bucket(BUCKET)).contents().forEach(object -> names.add(object.key()));
            return names;
        }

        /**
         * On S3, waits until the deleted accounts' cleanup has removed their users (and so revoked their keys), then
         * removes the objects written since {@code before} that the cleanup leaves: the revoked keys. The other stores
         * keep nothing per object that slows them.
         *
         * @return what went wrong, if anything
         */
        Optional<String> removeLeftovers(Set<String> before, Duration timeout)
                throws InterruptedException
        {
            if (s3.isEmpty()) {
                return Optional.empty();
            }
            try (S3Client bucket = s3.get().newClient()) {
                long deadline = System.nanoTime() + timeout.toNanos();
                // a listing of the whole bucket each time: polled every 200 ms, not to slow the cleanup it waits for
                while (objectNames(bucket).stream().anyMatch(name -> name.contains("accounts/warm-up-") && name.contains("/users/"))) {
                    if (System.nanoTime() > deadline) {
                        return Optional.of("the deleted accounts' users are still in the bucket after " + timeout.toSeconds() + " s");
                    }
                    Thread.sleep(200);
                }
                objectNames(bucket).stream()
                        // the servers store at the bucket's root (no prefix)
                        .filter(name -> !before.contains(name) && name.startsWith("keys/"))
                        .forEach(name -> bucket.deleteObject(request -> request.bucket(BUCKET).key(name)));
            }
            return Optional.empty();
        }

        private static Map<String, RequestCounter> countByObject(TestingS3 s3)
        {
            Map<String, RequestCounter> counters = new LinkedHashMap<>();
            for (String kind : List.of("head", "feed page", "account", "user", "key", "other")) {
                counters.put(kind, s3.serializingProxy().countRequests(request -> objectKind(request.key().orElse("")).equals(kind)));
            }
            return counters;
        }

        private static String objectKind(String key)
        {
            if (key.endsWith("/head.json")) {
                return "head";
            }
            if (key.contains("/feed/")) {
                return "feed page";
            }
            if (key.endsWith("/account.json")) {
                return "account";
            }
            if (key.contains("/users/")) {
                return "user";
            }
            return key.contains("/keys/") ? "key" : "other";
        }

        @Override
        public void close()
        {
            try {
                resource.close();
            }
            catch (Exception e) {
                throw new IllegalStateException("stopping the " + kind + " store", e);
            }
        }
    }
}

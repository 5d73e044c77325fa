package dev.latchkey.adapters.s3;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.Fault;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.Operation;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.RequestCounter;
import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.core.admin.AdminService;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.core.resolver.ResolverConfig;
import dev.latchkey.core.resolver.ResolverStats;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.testing.StoreWorkload;
import dev.latchkey.core.testing.TestingProcess;
import dev.latchkey.core.testing.WriteRounds;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Exception;

import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The figures of docs/performance.md for the S3 store, on S3Mock (a process of its own, started here) behind the
 * serializing proxy, which counts the requests: S3Mock's own latency, the requests and the AWS list price of an idle
 * instance, revocation propagation between two JVMs, and admin writes per second. Not a test; run it by hand:
 *
 * <pre>
 * ./mvnw -q -o -pl adapters-s3 test-compile dependency:build-classpath -Dmdep.outputFile=target/test-classpath.txt -Dmdep.includeScope=test
 * cd adapters-s3 && java -cp target/test-classes:target/classes:$(cat target/test-classpath.txt) \
 *     dev.latchkey.adapters.s3.S3Measurements [latency,idle,revocation,writes]
 * </pre>
 */
public final class S3Measurements
{
    private static final int LATENCY_REQUESTS = 300;
    private static final Duration IDLE = Duration.ofSeconds(60);
    private static final int REVOCATIONS = 100;
    private static final Duration POLL_INTERVAL = ResolverConfig.defaults().pollInterval();
    private static final Duration ROUND = Duration.ofSeconds(10);
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    // AWS S3 Standard list prices, us-east-1, per request: PUT, COPY, POST, LIST; GET and all other requests
    // (DELETE is free)
    private static final double PUT_PRICE = 0.005 / 1000;
    private static final double GET_PRICE = 0.0004 / 1000;
    private static final long MINUTES_PER_MONTH = 30L * 24 * 60;
    private static final Identity ROOT = Identity.root();

    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final SecretHasher hasher = SecretHasher.sha256();
    private final Clock clock = Clock.systemUTC();
    private final TestingS3 s3;
    private final SerializingS3Proxy proxy;

    private S3Measurements(TestingS3 s3)
    {
        this.s3 = s3;
        this.proxy = s3.serializingProxy();
    }

    public static void main(String[] args)
            throws Exception
    {
        List<String> parts = args.length > 0 ? List.of(args[0].split(",")) : List.of("latency", "idle", "revocation", "writes");
        // the bucket the test processes open (TestingS3Stores.config), on a server of its own: only this program's requests
        try (TestingS3 s3 = TestingS3.start(TestingS3.SHARED_BUCKET)) {
            S3Measurements measurements = new S3Measurements(s3);
            System.out.printf("load average at the start: %.2f%n", loadAverage());
            if (parts.contains("latency")) {
                measurements.latency();
            }
            if (parts.contains("idle")) {
                measurements.idle();
            }
            if (parts.contains("revocation")) {
                measurements.revocation();
            }
            if (parts.contains("writes")) {
                measurements.writes();
            }
            System.out.printf("load average at the end: %.2f%n", loadAverage());
        }
    }

    /**
     * S3Mock's latency per request on this machine, straight and through the proxy: a new object PUT with
     * {@code If-None-Match: *}, a GET, and a conditional GET answered 304 (an idle poll).
     */
    private void latency()
    {
        for (URI endpoint : List.of(s3.endpoint(), proxy.endpoint())) {
            String via = endpoint.equals(s3.endpoint()) ? "S3Mock" : "S3Mock through the proxy";
            String prefix = TestingS3.uniquePrefix("latency");
            try (S3Client client = TestingS3.newClient(endpoint)) {
                List<Duration> puts = new ArrayList<>();
                List<Duration> gets = new ArrayList<>();
                List<Duration> notModified = new ArrayList<>();
                for (int i = 0; i < LATENCY_REQUESTS; i++) {
                    String key = prefix + i;
                    long start = System.nanoTime();
                    String etag = client.putObject(request -> request.bucket(s3.bucket()).key(key).ifNoneMatch("*"), RequestBody.fromString("{\"value\":" + key.length() + "}"))
                            .eTag();
                    long put = System.nanoTime();
                    client.getObjectAsBytes(request -> request.bucket(s3.bucket()).key(key));
                    long get = System.nanoTime();
                    try {
                        client.getObjectAsBytes(request -> request.bucket(s3.bucket()).key(key).ifNoneMatch(etag));
                        throw new IllegalStateException("expected 304");
                    }
                    catch (S3Exception e) {
                        if (e.statusCode() != 304) {
                            throw e;
                        }
                    }
                    long conditional = System.nanoTime();
                    puts.add(Duration.ofNanos(put - start));
                    gets.add(Duration.ofNanos(get - put));
                    notModified.add(Duration.ofNanos(conditional - get));
                }
                System.out.printf("%s, %d requests each, p50 / p99: PUT %s, GET %s, GET 304 %s%n", via, LATENCY_REQUESTS,
                        percentiles(puts), percentiles(gets), percentiles(notModified));
            }
        }
    }

    /**
     * One idle instance: a resolver over the store with the default configuration (it reads the change feed every
     * 250 ms), on a store holding an account and some users, counted at the proxy for a minute.
     */
    private void idle()
            throws Exception
    {
        String prefix = TestingS3.uniquePrefix("idle");
        try (S3IdentityStore writer = S3IdentityStore.open(TestingS3Stores.config(proxy.endpoint(), prefix), TestingS3Stores.credentials(), clock);
                S3IdentityStore reader = S3IdentityStore.open(TestingS3Stores.config(proxy.endpoint(), prefix), TestingS3Stores.credentials(), clock)) {
            AccountId acme = AccountId.of("acme");
            writer.createAccount(new Account(acme, clock.instant(), false), Optional.empty());
            for (int i = 0; i < 100; i++) {
                writer.addUser(newUser(acme, "user-" + i));
            }
            ExecutorService lookups = Executors.newFixedThreadPool(2);
            ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor();
            try (IdentityResolver resolver = new IdentityResolver(reader, hasher, Optional.empty(), ResolverConfig.defaults(), ResolverStats.NONE, lookups,
                    Ticker.systemTicker(), clock)) {
                resolver.start(poller);
                // past the first poll, which reads the head in full
                LockSupport.parkNanos(Duration.ofSeconds(2).toNanos());
                Map<Operation, Long> counts;
                try (RequestCounter counter = proxy.countRequests(request -> request.isUnder(prefix))) {
                    LockSupport.parkNanos(IDLE.toNanos());
                    counts = counter.counts();
                }
                double minutes = IDLE.toNanos() / (double) Duration.ofMinutes(1).toNanos();
                long getClass = counts.get(Operation.GET_OBJECT) + counts.get(Operation.HEAD_OBJECT) + counts.get(Operation.OTHER);
                long putClass = counts.get(Operation.PUT_OBJECT) + counts.get(Operation.LIST_OBJECTS);
                double perMonth = (getClass * GET_PRICE + putClass * PUT_PRICE) / minutes * MINUTES_PER_MONTH;
                System.out.printf("idle instance (resolver, default 250 ms poll), %d s: %s = %.1f requests per minute; "
                                + "at AWS list prices (GET $0.0004, PUT/LIST $0.005 per 1,000; 30-day month): %.2f million requests, $%.2f per month%n",
                        IDLE.toSeconds(), counts, (getClass + putClass + counts.get(Operation.DELETE_OBJECT)) / minutes,
                        (getClass + putClass) / minutes * MINUTES_PER_MONTH / 1e6, perMonth);
            }
            finally {
                poller.shutdownNow();
                lookups.shutdownNow();
            }
        }
    }

    /**
     * Revocation propagation between two JVMs, as TestS3RevocationAcrossProcesses measures it (regeneratedKeysAreRefusedThereWithinTheBound): a key regenerated
     * here, until a resolver process (default 250 ms poll) that had it cached refuses it. Timed from the write's
     * return (what G2 bounds) and from its commit (when the proxy forwards its PUT of the head): the write goes on
     * for several requests after its commit, during which the other process may already have read the feed. Each
     * regeneration starts at a random moment of the other's poll cycle.
     */
    private void revocation()
    {
        String prefix = TestingS3.uniquePrefix("revocation");
        try (S3IdentityStore store = S3IdentityStore.open(TestingS3Stores.config(proxy.endpoint(), prefix), TestingS3Stores.credentials(), clock);
                TestingProcess other = TestingProcess.start(StoreWorkload.class, Path.of("target/measure-s3-resolver.log"),
                        S3ProcessStores.class.getName(), S3ProcessStores.location(proxy.endpoint(), prefix), "resolve")) {
            AdminService admin = new AdminService(store, keys, hasher, clock);
            AccountId acme = AccountId.of("acme");
            admin.createAccount(ROOT, acme, UserId.of("admin"), Optional.empty());
            other.awaitLines("READY"::equals, 1, TIMEOUT);
            List<Duration> fromReturn = new ArrayList<>();
            List<Duration> fromCommit = new ArrayList<>();
            List<Duration> writes = new ArrayList<>();
            for (int i = 0; i < REVOCATIONS; i++) {
                UserId user = UserId.of("user-" + i);
                ApiKey key = admin.registerUser(ROOT, acme, user, Role.USER, Optional.empty()).userKey();
                require(other.request("RESOLVE " + key.value(), TIMEOUT), "RESULT OK USER");
                // at a random moment of the other's poll cycle: back to back, each regeneration would start at the same
                // time after the poll that ended the last one, and measure one phase only
                LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(POLL_INTERVAL.toNanos()));
                AtomicLong committing = new AtomicLong();
                Fault commit = proxy.beforeNext(request -> request.isPutOf(prefix + "head.json"), () -> committing.set(System.nanoTime()));
                long start = System.nanoTime();
                admin.regenerateKey(ROOT, acme, user, Optional.empty());
                long written = System.nanoTime();
                require(commit.fired() ? "committed" : "not committed", "committed");
                while (!other.request("RESOLVE " + key.value(), TIMEOUT).equals("RESULT INVALID -")) {
                    if (System.nanoTime() - written > TIMEOUT.toNanos()) {
                        throw new IllegalStateException("the other process kept accepting a regenerated key");
                    }
                }
                long refused = System.nanoTime();
                writes.add(Duration.ofNanos(written - start));
                fromReturn.add(Duration.ofNanos(refused - written));
                fromCommit.add(Duration.ofNanos(refused - committing.get()));
            }
            System.out.printf("revocation between two JVMs (default 250 ms poll), %d regenerations, until the other process's first refusal: "
                            + "from the write's return p50 / p99 %s (max %d ms); from its commit p50 / p99 %s (max %d ms); the write itself p50 / p99 %s%n",
                    REVOCATIONS, percentiles(fromReturn), percentile(fromReturn, 100).toMillis(), percentiles(fromCommit), percentile(fromCommit, 100).toMillis(),
                    percentiles(writes));
        }
    }

    /**
     * addUser through the store (through the proxy), from 1 and 4 threads, each on its own account, and from 4 on
     * one account; with the S3 requests each write cost.
     */
    private void writes()
            throws Exception
    {
        String prefix = TestingS3.uniquePrefix("writes");
        try (S3IdentityStore store = S3IdentityStore.open(TestingS3Stores.config(proxy.endpoint(), prefix), TestingS3Stores.credentials(), clock)) {
            for (int threads : List.of(1, 4)) {
                List<AccountId> accounts = new ArrayList<>();
                for (int i = 0; i < threads; i++) {
                    AccountId account = AccountId.of("store-" + threads + "-" + i);
                    store.createAccount(new Account(account, clock.instant(), false), Optional.empty());
                    accounts.add(account);
                }
                measureWrites(threads + " threads on " + threads + " accounts", prefix, threads,
                        (thread, count) -> store.addUser(newUser(accounts.get(thread), "user-" + count)));
            }
            AccountId shared = AccountId.of("store-shared");
            store.createAccount(new Account(shared, clock.instant(), false), Optional.empty());
            measureWrites("4 threads on one account", prefix, 4, (thread, count) -> store.addUser(newUser(shared, "user-" + thread + "-" + count)));
        }
    }

    private void measureWrites(String what, String prefix, int threads, WriteRounds.Write write)
            throws Exception
    {
        long writes;
        Map<Operation, Long> counts;
        try (RequestCounter counter = proxy.countRequests(request -> request.isUnder(prefix))) {
            writes = WriteRounds.writesWithin(ROUND, threads, write);
            counts = counter.counts();
        }
        double perWrite = counts.values().stream().mapToLong(Long::longValue).sum() / (double) writes;
        double cost = ((counts.get(Operation.GET_OBJECT) + counts.get(Operation.HEAD_OBJECT)) * GET_PRICE
                + (counts.get(Operation.PUT_OBJECT) + counts.get(Operation.LIST_OBJECTS)) * PUT_PRICE) / writes;
        System.out.printf("store addUser, %s: %.1f writes/s; %.1f S3 requests per write (%s in all), $%.2f per million writes%n",
                what, writes / (double) ROUND.toSeconds(), perWrite, counts, cost * 1e6);
    }

    private NewUser newUser(AccountId account, String user)
    {
        ApiKey key = keys.random();
        return new NewUser(new User(account, UserId.of(user), Role.USER, key.keyId(), clock.instant()), hasher.hash(key.secret()));
    }

    private static void require(String answer, String expected)
    {
        if (!answer.equals(expected)) {
            throw new IllegalStateException("expected " + expected + ", got " + answer);
        }
    }

    private static String percentiles(List<Duration> durations)
    {
        return String.format("%.1f / %.1f ms", percentile(durations, 50).toNanos() / 1e6, percentile(durations, 99).toNanos() / 1e6);
    }

    private static Duration percentile(List<Duration> durations, int percentile)
    {
        List<Duration> sorted = durations.stream().sorted().toList();
        int index = (int) Math.ceil(percentile / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, index));
    }

    private static double loadAverage()
    {
        return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }
}

package dev.latchkey.benchmarks;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.core.resolver.Outcome;
import dev.latchkey.core.resolver.Resolution;
import dev.latchkey.core.resolver.ResolverConfig;
import dev.latchkey.core.resolver.ResolverStats;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.memory.InMemoryIdentityStore;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The resolver's request paths with {@code keys} keys cached (1,000,000 by default): a cache hit (hash the
 * presented secret, compare in constant time), a malformed key (rejected from the text alone), a negative-cache
 * hit, and a miss that looks the key up in the in-memory store.
 *
 * <pre>./mvnw -q -pl benchmarks -am package -DskipTests && java -jar benchmarks/target/benchmarks.jar ResolverBenchmark</pre>
 *
 * The fork pre-touches its heap: on a virtual machine, the page faults of a large heap touched for the first time
 * otherwise dominate the first tens of seconds (measured here: 2 us instead of 130 ns per malformed key).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms6g", "-Xmx6g", "-XX:+AlwaysPreTouch"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class ResolverBenchmark
{
    private static final AccountId ACCOUNT = AccountId.of("bench");

    @Param("1000000")
    public int keys;

    /** How many of the cached keys {@link #cacheHitActiveFew()} draws from. */
    private static final int ACTIVE_KEYS = 10_000;

    private final SecretHasher hasher = SecretHasher.sha256();
    private final PresentedKeys presentedKeys = new PresentedKeys(42);
    private ExecutorService lookups;
    private InMemoryIdentityStore store;
    private IdentityResolver resolver;
    private KeyId[] cachedIds;
    private String malformed;
    private String unknown;

    @Setup(Level.Trial)
    public void setUp()
    {
        Clock clock = Clock.systemUTC();
        ApiKeyGenerator generator = new ApiKeyGenerator(new SecureRandom());
        store = new InMemoryIdentityStore(clock);
        store.createAccount(new Account(ACCOUNT, clock.instant(), false), Optional.empty());
        cachedIds = new KeyId[keys];
        for (int i = 0; i < keys; i++) {
            ApiKey key = ApiKey.parse(presented(i)).orElseThrow();
            store.addUser(new NewUser(new User(ACCOUNT, UserId.of("user-" + i), Role.USER, key.keyId(), clock.instant()), hasher.hash(key.secret())));
            cachedIds[i] = key.keyId();
        }
        lookups = Executors.newFixedThreadPool(2);
        ResolverConfig config = ResolverConfig.defaults().withMaxKeys(keys).withNegativeTtl(Duration.ofHours(1));
        resolver = new IdentityResolver(new CopyingStore(store), hasher, Optional.empty(), config, ResolverStats.NONE, lookups, Ticker.systemTicker(), clock);
        for (int i = 0; i < keys; i++) {
            check(resolver.resolve(presented(i)), Outcome.OK);
        }
        String valid = presented(0);
        malformed = valid.substring(0, ApiKey.LENGTH - 1) + (valid.endsWith("0") ? "1" : "0");
        unknown = generator.random().value();
        check(resolver.resolve(unknown), Outcome.INVALID);
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        resolver.close();
        lookups.shutdownNow();
    }

    @Benchmark
    public Resolution cacheHit()
    {
        return resolver.resolve(presented(ThreadLocalRandom.current().nextInt(keys)));
    }

    /**
     * A cache hit when the requests come from 10,000 of the cached keys, as real traffic concentrates on its most
     * active clients; {@link #cacheHit()} draws uniformly from all of them, the worst case for memory locality.
     */
    @Benchmark
    public Resolution cacheHitActiveFew()
    {
        return resolver.resolve(presented(ThreadLocalRandom.current().nextInt(Math.min(ACTIVE_KEYS, keys))));
    }

    /**
     * The part of {@link #cacheHit()} that is not the resolver's: drawing a key and computing its text (see
     * {@link PresentedKeys}).
     */
    @Benchmark
    public String present()
    {
        return presented(ThreadLocalRandom.current().nextInt(keys));
    }

    @Benchmark
    public Resolution malformedKey()
    {
        return resolver.resolve(malformed);
    }

    @Benchmark
    public Resolution negativeCacheHit()
    {
        return resolver.resolve(unknown);
    }

    /**
     * Evicts one cached key as a change would, then resolves it: one point lookup of the in-memory store.
     */
    @Benchmark
    public Resolution missAfterEviction()
    {
        int index = ThreadLocalRandom.current().nextInt(keys);
        resolver.written(ChangeType.ROLE_CHANGED, ACCOUNT, List.of(cachedIds[index]));
        return resolver.resolve(presented(index));
    }

    private String presented(int index)
    {
        return presentedKeys.presented(index);
    }

    private static void check(Resolution resolution, Outcome expected)
    {
        if (resolution.outcome() != expected) {
            throw new IllegalStateException("expected " + expected + " but was " + resolution.outcome());
        }
    }
}

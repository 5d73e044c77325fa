package dev.latchkey.benchmarks;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.core.resolver.Outcome;
import dev.latchkey.core.resolver.ResolverConfig;
import dev.latchkey.core.resolver.ResolverStats;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.memory.InMemoryIdentityStore;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.ref.Reference;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.IntStream;

/**
 * Heap per cached key: the heap delta of a resolver's caches after every key of a store has been resolved once,
 * divided by the number of keys. Includes everything the resolver keeps per key (cache entries, the cache's
 * frequency sketch, whatever lets a deleted account's keys be found).
 *
 * <pre>java -Xms6g -Xmx6g -cp benchmarks/target/benchmarks.jar dev.latchkey.benchmarks.ResolverFootprint [keys] [accounts] [scopes]</pre>
 *
 * Keys are spread over {@code accounts} accounts (default 1,000); user ids are {@code user-<n>}, 6 to 11
 * characters. With {@code scopes} above 0 (default 0), every user also gets a key with that many scopes (of 9 to 12
 * characters) and an expiry, and those keys are the ones resolved: the cost of a key that does not share its grant
 * with every primary key.
 */
public final class ResolverFootprint
{
    private ResolverFootprint() {}

    public static void main(String[] args)
    {
        int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int accounts = args.length > 1 ? Integer.parseInt(args[1]) : 1_000;
        int scopes = args.length > 2 ? Integer.parseInt(args[2]) : 0;
        Scopes held = new Scopes(IntStream.range(0, Math.max(1, scopes)).mapToObj(i -> "docs:read-" + i).toList());
        Clock clock = Clock.systemUTC();
        SecretHasher hasher = SecretHasher.sha256();
        ApiKeyGenerator generator = new ApiKeyGenerator(new SecureRandom());
        InMemoryIdentityStore store = new InMemoryIdentityStore(clock);
        for (int a = 0; a < accounts; a++) {
            store.createAccount(new Account(AccountId.of("account-" + a), clock.instant(), false), Optional.empty());
        }
        String[] presented = new String[keys];
        for (int i = 0; i < keys; i++) {
            ApiKey key = generator.random();
            AccountId account = AccountId.of("account-" + (i % accounts));
            UserId user = UserId.of("user-" + i);
            store.addUser(new NewUser(new User(account, user, Role.USER, key.keyId(), clock.instant()), hasher.hash(key.secret())));
            if (scopes > 0) {
                key = generator.random();
                Instant now = clock.instant();
                store.addKey(new NewKey(account, user, key.keyId(), hasher.hash(key.secret()), now,
                        KeyAttributes.extra(Optional.empty(), held, Optional.of(now.plus(Duration.ofDays(30))))));
            }
            presented[i] = key.value();
        }
        ExecutorService lookups = Executors.newFixedThreadPool(2);
        ResolverConfig config = ResolverConfig.defaults().withMaxKeys(keys);
        IdentityResolver resolver = new IdentityResolver(new CopyingStore(store), hasher, Optional.empty(), config, ResolverStats.NONE, lookups, Ticker.systemTicker(), clock);
        long before = usedHeap();
        for (String key : presented) {
            Outcome outcome = resolver.resolve(key).outcome();
            if (outcome != Outcome.OK) {
                throw new IllegalStateException("expected OK, was " + outcome);
            }
        }
        long after = usedHeap();
        System.out.printf("keys cached: %,d of %,d (%s)%n", resolver.cachedKeys(), keys,
                scopes > 0 ? "keys with " + scopes + " scopes and an expiry" : "primary keys: every scope, no expiry");
        System.out.printf("heap delta: %,d bytes, %.1f bytes per cached key%n", after - before, (after - before) / (double) resolver.cachedKeys());
        Reference.reachabilityFence(presented);
        Reference.reachabilityFence(store);
        resolver.close();
        lookups.shutdownNow();
    }

    private static long usedHeap()
    {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return memory.getHeapMemoryUsage().getUsed();
    }
}

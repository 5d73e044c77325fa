package dev.latchkey.benchmarks;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.core.resolver.Outcome;
import dev.latchkey.core.resolver.ResolverConfig;
import dev.latchkey.core.resolver.ResolverStats;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.memory.InMemoryIdentityStore;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.ref.Reference;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Heap per cached key: the heap delta of a resolver's caches after every key of a store has been resolved once,
 * divided by the number of keys. Includes everything the resolver keeps per key (cache entries, the cache's
 * frequency sketch, whatever lets a deleted account's keys be found).
 *
 * <pre>java -Xms6g -Xmx6g -cp benchmarks/target/benchmarks.jar dev.latchkey.benchmarks.ResolverFootprint [keys] [accounts]</pre>
 *
 * Keys are spread over {@code accounts} accounts (default 1,000); user ids are {@code user-<n>}, 6 to 11
 * characters.
 */
public final class ResolverFootprint
{
    private ResolverFootprint() {}

    public static void main(String[] args)
    {
        int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int accounts = args.length > 1 ? Integer.parseInt(args[1]) : 1_000;
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
            store.addUser(new NewUser(new User(account, UserId.of("user-" + i), Role.USER, key.keyId(), clock.instant()), hasher.hash(key.secret())));
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
        System.out.printf("keys cached: %,d of %,d%n", resolver.cachedKeys(), keys);
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

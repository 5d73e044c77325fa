package dev.latchkey.core.resolver;

import dev.latchkey.core.admin.AdminService;
import dev.latchkey.core.admin.CreatedAccount;
import dev.latchkey.core.admin.CreatedKey;
import dev.latchkey.core.admin.CreatedUser;
import dev.latchkey.core.admin.KeyRequest;
import dev.latchkey.core.admin.RegeneratedKey;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.memory.InMemoryIdentityStore;
import dev.latchkey.core.testing.RecordingStats;
import dev.latchkey.core.testing.TestingClock;
import dev.latchkey.core.testing.TestingIdentityStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The resolver against a real in-memory store wrapped to count, fail and hang on demand, with fake time. "Another
 * instance" is an admin service with no link to this resolver: only the change feed tells the resolver of its
 * writes. "This instance" is an admin service that tells the resolver of its writes.
 */
class TestIdentityResolver
{
    private static final String ROOT_KEY = "root-key-of-at-least-thirty-two-characters";
    private static final Identity ROOT = Identity.root();
    private static final AccountId ACME = AccountId.of("acme");

    private final TestingClock clock = new TestingClock();
    private final InMemoryIdentityStore memory = new InMemoryIdentityStore(clock);
    private final TestingIdentityStore store = new TestingIdentityStore(memory);
    private final SecretHasher hasher = SecretHasher.sha256();
    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final RecordingStats stats = new RecordingStats();
    private final ExecutorService lookups = Executors.newFixedThreadPool(4);
    private final AdminService otherInstance = new AdminService(memory, keys, hasher, clock);

    private IdentityResolver resolver;
    private AdminService thisInstance;

    @AfterEach
    void tearDown()
    {
        store.releaseLookups();
        lookups.shutdownNow();
    }

    private IdentityResolver resolver(ResolverConfig config)
    {
        resolver = new IdentityResolver(store, hasher, Optional.of(new RootKey(ROOT_KEY)), config, stats, lookups, clock, clock);
        thisInstance = new AdminService(store, keys, hasher, clock, resolver);
        return resolver;
    }

    private IdentityResolver resolver()
    {
        return resolver(ResolverConfig.defaults());
    }

    @Test
    void malformedKeysAreRejectedWithoutTouchingTheStore()
    {
        resolver();
        ApiKey valid = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        String wrongCheck = valid.value().substring(0, ApiKey.LENGTH - 1) + (valid.value().endsWith("0") ? "1" : "0");
        for (String presented : List.of("", "nonsense", "lk_", valid.value() + "x", wrongCheck, valid.value().replace("lk_", "LK_"))) {
            assertThat(resolver.resolve(presented).outcome()).as(presented).isEqualTo(Outcome.MALFORMED);
        }
        assertThat(resolver.resolve(null).outcome()).isEqualTo(Outcome.MALFORMED);
        assertThat(store.keyLookups()).isZero();
        assertThat(stats.count(Outcome.MALFORMED)).isEqualTo(7);
    }

    @Test
    void theRootKeyResolvesToRootWithoutTouchingTheStore()
    {
        resolver();
        assertThat(resolver.resolve(ROOT_KEY)).isEqualTo(Resolution.authenticated(ROOT));
        assertThat(resolver.resolve(ROOT_KEY + "x").outcome()).isEqualTo(Outcome.MALFORMED);
        assertThat(store.keyLookups()).isZero();
    }

    @Test
    void aRootKeyShapedLikeAnApiKeyIsStillTheRootKey()
    {
        // an operator may configure a root key that parses as an account's key: it must be compared, not skipped
        String shaped = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey().value();
        RootKey root = new RootKey(shaped);
        assertThat(root.mayBe(true)).isTrue();
        resolver = new IdentityResolver(store, hasher, Optional.of(root), ResolverConfig.defaults(), stats, lookups, clock, clock);
        assertThat(resolver.resolve(shaped)).isEqualTo(Resolution.authenticated(ROOT));

        RootKey plain = new RootKey(ROOT_KEY);
        assertThat(plain.mayBe(true)).as("a key of the API key's shape cannot be a root key that is not").isFalse();
        assertThat(plain.mayBe(false)).isTrue();
    }

    @Test
    void aKeyCreatedOnAnotherInstanceResolvesAtItsFirstRequest()
    {
        resolver();
        for (int i = 0; i < 30; i++) {
            CreatedAccount created = otherInstance.createAccount(ROOT, AccountId.of("account-" + i), UserId.of("admin"), Optional.empty());
            assertThat(resolver.resolve(created.userKey().value()))
                    .isEqualTo(Resolution.authenticated(keyIdentity(created.userKey(), created.accountId(), UserId.of("admin"), Role.ADMIN)));
        }
    }

    @Test
    void aCachedKeyIsServedFromMemory()
    {
        resolver();
        ApiKey key = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        for (int i = 0; i < 10; i++) {
            assertThat(resolver.resolve(key.value()).outcome()).isEqualTo(Outcome.OK);
        }
        assertThat(store.keyLookups()).isEqualTo(1);
        assertThat(stats.count("cacheHit")).isEqualTo(9);
    }

    @Test
    void aWrongSecretForAKnownKeyIdIsInvalid()
    {
        resolver();
        ApiKey key = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        ApiKey forged = ApiKey.of(key.keyId(), keys.random().secret());
        assertThat(resolver.resolve(forged.value()).outcome()).isEqualTo(Outcome.INVALID);
        assertThat(resolver.resolve(key.value()).outcome()).isEqualTo(Outcome.OK);
        assertThat(resolver.resolve(forged.value()).outcome()).as("also once cached").isEqualTo(Outcome.INVALID);
    }

    @Test
    void aHerdOfRequestsForOneUnknownKeyCostsOneLookup()
            throws Exception
    {
        resolver();
        String unknown = keys.random().value();
        store.holdLookups();
        ExecutorService clients = Executors.newFixedThreadPool(64);
        try {
            List<Future<Resolution>> results = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                results.add(clients.submit(() -> resolver.resolve(unknown)));
            }
            assertThat(store.awaitBlockedLookup()).isTrue();
            store.releaseLookups();
            for (Future<Resolution> result : results) {
                assertThat(result.get(10, TimeUnit.SECONDS).outcome()).isEqualTo(Outcome.INVALID);
            }
        }
        finally {
            clients.shutdownNow();
        }
        assertThat(store.keyLookups()).isEqualTo(1);
    }

    @Test
    void concurrentRequestsForOneUnknownKeyNeverLookItUpTwiceWithinTheNegativePeriod()
            throws Exception
    {
        resolver();
        int rounds = 200;
        int threads = 8;
        ExecutorService clients = Executors.newFixedThreadPool(threads);
        try {
            for (int round = 0; round < rounds; round++) {
                String unknown = keys.random().value();
                CountDownLatch start = new CountDownLatch(1);
                List<Future<Resolution>> results = new ArrayList<>();
                for (int i = 0; i < threads; i++) {
                    results.add(clients.submit(() -> {
                        start.await();
                        return resolver.resolve(unknown);
                    }));
                }
                start.countDown();
                for (Future<Resolution> result : results) {
                    assertThat(result.get(10, TimeUnit.SECONDS).outcome()).isEqualTo(Outcome.INVALID);
                }
            }
        }
        finally {
            clients.shutdownNow();
        }
        assertThat(store.keyLookups()).as("one lookup per unknown key").isEqualTo(rounds);
    }

    @Test
    void anUnknownKeyIsLookedUpAgainOnlyAfterTheNegativePeriod()
    {
        resolver();
        String unknown = keys.random().value();
        for (int i = 0; i < 5; i++) {
            assertThat(resolver.resolve(unknown).outcome()).isEqualTo(Outcome.INVALID);
            clock.advance(Duration.ofMillis(300));
        }
        assertThat(store.keyLookups()).isEqualTo(1);
        clock.advance(Duration.ofSeconds(1));
        assertThat(resolver.resolve(unknown).outcome()).isEqualTo(Outcome.INVALID);
        assertThat(store.keyLookups()).isEqualTo(2);
        assertThat(stats.count("negativeCacheHit")).isEqualTo(4);
    }

    @Test
    void revocationsOnAnotherInstanceApplyAtTheNextFeedRead()
    {
        resolver();
        CreatedAccount acme = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty());
        ApiKey bob = otherInstance.registerUser(ROOT, ACME, UserId.of("bob"), Role.USER, Optional.empty()).userKey();
        ApiKey carol = otherInstance.registerUser(ROOT, ACME, UserId.of("carol"), Role.ADMIN, Optional.empty()).userKey();
        CreatedAccount beta = otherInstance.createAccount(ROOT, AccountId.of("beta"), UserId.of("dave"), Optional.empty());
        resolver.pollFeed();
        for (ApiKey key : List.of(acme.userKey(), bob, carol, beta.userKey())) {
            assertThat(resolver.resolve(key.value()).outcome()).isEqualTo(Outcome.OK);
        }

        ApiKey bobRegenerated = otherInstance.regenerateKey(ROOT, ACME, UserId.of("bob"), Optional.empty());
        otherInstance.setRole(ROOT, ACME, UserId.of("carol"), Role.USER);
        otherInstance.deleteAccount(ROOT, AccountId.of("beta"));
        assertThat(resolver.resolve(bob.value()).outcome()).as("until the feed is read, the cache serves").isEqualTo(Outcome.OK);

        clock.advance(Duration.ofMillis(250));
        resolver.pollFeed();
        assertThat(resolver.resolve(bob.value()).outcome()).isEqualTo(Outcome.INVALID);
        assertThat(resolver.resolve(bobRegenerated.value()).outcome()).isEqualTo(Outcome.OK);
        assertThat(resolver.resolve(carol.value()).identity()).contains(keyIdentity(carol, ACME, UserId.of("carol"), Role.USER));
        assertThat(resolver.resolve(beta.userKey().value()).outcome()).isEqualTo(Outcome.INVALID);
        assertThat(stats.propagationDelays().subList(4, 7)).allSatisfy(delay -> assertThat(delay).isEqualTo(Duration.ofMillis(250)));

        otherInstance.removeUser(ROOT, ACME, UserId.of("bob"));
        resolver.pollFeed();
        assertThat(resolver.resolve(bobRegenerated.value()).outcome()).isEqualTo(Outcome.INVALID);
    }

    @Test
    void deletingAnAccountEvictsEveryCachedKeyOfItAndNoOther()
    {
        resolver();
        ApiKey admin = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        List<ApiKey> users = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            users.add(otherInstance.registerUser(ROOT, ACME, UserId.of("user-" + i), Role.USER, Optional.empty()).userKey());
        }
        ApiKey other = otherInstance.createAccount(ROOT, AccountId.of("other"), UserId.of("zed"), Optional.empty()).userKey();
        resolver.pollFeed();
        users.forEach(key -> resolver.resolve(key.value()));
        resolver.resolve(admin.value());
        resolver.resolve(other.value());
        int lookupsBefore = store.keyLookups();

        otherInstance.deleteAccount(ROOT, ACME);
        resolver.pollFeed();

        assertThat(resolver.resolve(admin.value()).outcome()).isEqualTo(Outcome.INVALID);
        users.forEach(key -> assertThat(resolver.resolve(key.value()).outcome()).isEqualTo(Outcome.INVALID));
        assertThat(resolver.resolve(other.value()).outcome()).isEqualTo(Outcome.OK);
        assertThat(store.keyLookups() - lookupsBefore).as("the other account's key stayed cached").isEqualTo(21);
    }

    @Test
    void aDeletedAccountDisownsCachedKeysTheChangeDoesNotName()
            throws Exception
    {
        resolver();
        ApiKey alice = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        ApiKey bob = otherInstance.registerUser(ROOT, ACME, UserId.of("bob"), Role.USER, Optional.empty()).userKey();
        ApiKey other = otherInstance.createAccount(ROOT, AccountId.of("other"), UserId.of("zed"), Optional.empty()).userKey();
        resolver.pollFeed();
        for (ApiKey key : List.of(alice, bob, other)) {
            assertThat(resolver.resolve(key.value()).outcome()).isEqualTo(Outcome.OK);
        }
        assertThat(resolver.cachedKeys()).isEqualTo(3);

        // a deletion naming none of the keys (as a store may for an account with very many keys)
        otherInstance.deleteAccount(ROOT, ACME);
        resolver.written(ChangeType.ACCOUNT_DELETED, ACME, List.of());

        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.INVALID);
        assertThat(resolver.resolve(bob.value()).outcome()).isEqualTo(Outcome.INVALID);
        assertThat(resolver.resolve(other.value()).outcome()).isEqualTo(Outcome.OK);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (resolver.cachedKeys() != 1 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(resolver.cachedKeys()).as("the sweep removed the disowned entries").isEqualTo(1);

        // the same account id created again is a new account: its keys are served
        ApiKey newAlice = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        assertThat(resolver.resolve(newAlice.value()).identity()).contains(keyIdentity(newAlice, ACME, UserId.of("alice"), Role.ADMIN));
        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.INVALID);
    }

    @Test
    void aKeyIsRefusedFromItsExpiryOnWithNoFeedEntryAndItsScopesComeWithItsIdentity()
    {
        resolver();
        otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty());
        CreatedKey ci = otherInstance.createKey(ROOT, ACME, UserId.of("alice"),
                new KeyRequest(Optional.empty(), Optional.of(Scopes.of("docs:read")), Optional.empty(), Optional.of(60L)));
        Instant expiresAt = clock.instant().plusSeconds(60);

        Resolution first = resolver.resolve(ci.userKey().value());
        assertThat(first.identity()).contains(Identity.ofKey(ci.userKey().keyId(), ACME, UserId.of("alice"), Role.ADMIN, Scopes.of("docs:read"), Optional.of(expiresAt)));
        int storeLookups = store.keyLookups();
        clock.advance(Duration.ofSeconds(59));
        assertThat(resolver.resolve(ci.userKey().value()).outcome()).as("a cache hit before the expiry").isEqualTo(Outcome.OK);
        clock.advance(Duration.ofSeconds(1));

        assertThat(resolver.resolve(ci.userKey().value()).outcome()).as("a cache hit at the expiry").isEqualTo(Outcome.INVALID);
        assertThat(store.keyLookups()).as("no store lookup decided it").isEqualTo(storeLookups);
        assertThat(new IdentityResolver(store, hasher, Optional.empty(), ResolverConfig.defaults(), stats, lookups, clock, clock)
                .resolve(ci.userKey().value()).outcome()).as("a store lookup of an expired key").isEqualTo(Outcome.INVALID);
    }

    @Test
    void aRegeneratedKeysPredecessorResolvesThroughItsGracePeriodAndNotAfter()
    {
        resolver();
        otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty());
        CreatedUser bob = otherInstance.registerUser(ROOT, ACME, UserId.of("bob"), Role.USER, Optional.empty());
        assertThat(resolver.resolve(bob.userKey().value()).outcome()).isEqualTo(Outcome.OK);

        RegeneratedKey regenerated = thisInstance.regenerateKey(ROOT, ACME, UserId.of("bob"), Optional.empty(), 600);

        assertThat(resolver.resolve(regenerated.userKey().value()).outcome()).isEqualTo(Outcome.OK);
        assertThat(resolver.resolve(bob.userKey().value()).identity().flatMap(Identity::expiresAt)).contains(clock.instant().plusSeconds(600));
        clock.advance(Duration.ofSeconds(599));
        assertThat(resolver.resolve(bob.userKey().value()).outcome()).isEqualTo(Outcome.OK);
        clock.advance(Duration.ofSeconds(1));
        assertThat(resolver.resolve(bob.userKey().value()).outcome()).isEqualTo(Outcome.INVALID);
        assertThat(resolver.resolve(regenerated.userKey().value()).outcome()).isEqualTo(Outcome.OK);
    }

    @Test
    void writesOnThisInstanceApplyBeforeTheAdminCallReturns()
    {
        resolver();
        ApiKey alice = thisInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        String seed = "a seed of sixteen characters or more";
        ApiKey probed = ApiKeyGenerator.seeded(seed, ACME, UserId.of("bob"));
        assertThat(resolver.resolve(probed.value()).outcome()).as("probed before it exists").isEqualTo(Outcome.INVALID);
        CreatedUser bob = thisInstance.registerUser(ROOT, ACME, UserId.of("bob"), Role.USER, Optional.of(seed));
        assertThat(bob.userKey()).isEqualTo(probed);
        assertThat(resolver.resolve(bob.userKey().value()).outcome()).as("the negative entry was cleared").isEqualTo(Outcome.OK);

        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.OK);
        ApiKey regenerated = thisInstance.regenerateKey(ROOT, ACME, UserId.of("alice"), Optional.empty());
        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.INVALID);
        assertThat(resolver.resolve(regenerated.value()).outcome()).isEqualTo(Outcome.OK);

        thisInstance.setRole(ROOT, ACME, UserId.of("bob"), Role.ADMIN);
        assertThat(resolver.resolve(bob.userKey().value()).identity()).contains(keyIdentity(bob.userKey(), ACME, UserId.of("bob"), Role.ADMIN));
        thisInstance.removeUser(ROOT, ACME, UserId.of("bob"));
        assertThat(resolver.resolve(bob.userKey().value()).outcome()).isEqualTo(Outcome.INVALID);
        thisInstance.deleteAccount(ROOT, ACME);
        assertThat(resolver.resolve(regenerated.value()).outcome()).isEqualTo(Outcome.INVALID);
        assertThat(stats.count("feedPolled")).as("all without reading the feed after start").isEqualTo(1);
    }

    @Test
    void aLookupThatReadTheStoreBeforeARevocationNeverAnswersAfterIt()
            throws Exception
    {
        resolver();
        otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty());
        ApiKey bob = otherInstance.registerUser(ROOT, ACME, UserId.of("bob"), Role.USER, Optional.empty()).userKey();
        store.holdLookups();
        CompletableFuture<Resolution> inFlight = CompletableFuture.supplyAsync(() -> resolver.resolve(bob.value()));
        assertThat(store.awaitBlockedLookup()).as("the lookup has read bob's key").isTrue();

        otherInstance.removeUser(ROOT, ACME, UserId.of("bob"));
        resolver.pollFeed();
        store.releaseLookups();

        assertThat(inFlight.get(10, TimeUnit.SECONDS).outcome()).isEqualTo(Outcome.INVALID);
        assertThat(resolver.resolve(bob.value()).outcome()).isEqualTo(Outcome.INVALID);
        assertThat(resolver.cachedKeys()).isZero();
    }

    @Test
    void aLookupDuringABurstOfChangesToOtherKeysAnswersFromItsOneRead()
            throws Exception
    {
        resolver();
        otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty());
        // seeded keys, so that the ids are the same every run: none of the 40 shares a change stamp with bob's
        ApiKey bob = otherInstance.registerUser(ROOT, ACME, UserId.of("bob"), Role.USER, Optional.of("the seed of bob's key")).userKey();
        resolver.pollFeed();
        store.holdLookups();
        CompletableFuture<Resolution> inFlight = CompletableFuture.supplyAsync(() -> resolver.resolve(bob.value()));
        assertThat(store.awaitBlockedLookup()).isTrue();

        // registrations made elsewhere, applied from the feed while bob's key is read (as after a provisioning burst)
        for (int i = 0; i < 40; i++) {
            otherInstance.registerUser(ROOT, ACME, UserId.of("user-" + i), Role.USER, Optional.of("the seed of user " + i + "'s key"));
        }
        resolver.pollFeed();
        store.releaseLookups();

        assertThat(inFlight.get(10, TimeUnit.SECONDS).outcome()).isEqualTo(Outcome.OK);
        assertThat(store.keyLookups()).as("bob's key read once").isEqualTo(1);
        assertThat(resolver.resolve(bob.value()).outcome()).isEqualTo(Outcome.OK);
        assertThat(store.keyLookups()).as("and cached").isEqualTo(1);
    }

    @Test
    void aLookupThatFoundNothingBeforeACreationDoesNotHideTheNewKey()
            throws Exception
    {
        resolver();
        otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty());
        String seed = "a seed of sixteen characters or more";
        ApiKey future = ApiKeyGenerator.seeded(seed, ACME, UserId.of("bob"));
        store.holdLookups();
        CompletableFuture<Resolution> inFlight = CompletableFuture.supplyAsync(() -> resolver.resolve(future.value()));
        assertThat(store.awaitBlockedLookup()).isTrue();

        otherInstance.registerUser(ROOT, ACME, UserId.of("bob"), Role.USER, Optional.of(seed));
        resolver.pollFeed();
        store.releaseLookups();

        inFlight.get(10, TimeUnit.SECONDS);
        assertThat(resolver.resolve(future.value()).outcome()).isEqualTo(Outcome.OK);
    }

    @Test
    void anIdleInstanceReadsOnlyTheFeedOncePerPoll()
    {
        resolver();
        ApiKey key = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        resolver.resolve(key.value());
        int feedReads = store.feedReads();
        int keyLookups = store.keyLookups();
        for (int i = 0; i < 100; i++) {
            clock.advance(Duration.ofMillis(250));
            resolver.pollFeed();
        }
        assertThat(store.feedReads() - feedReads).isEqualTo(100);
        assertThat(store.keyLookups()).isEqualTo(keyLookups);
    }

    @Test
    void theSchedulerReadsTheFeedEveryPollInterval()
            throws Exception
    {
        resolver(ResolverConfig.defaults().withPollInterval(Duration.ofMillis(20)));
        ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
        try {
            int before = store.feedReads();
            resolver.start(scheduler);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (store.feedReads() - before < 5) {
                assertThat(System.nanoTime() - deadline).as("five polls within the deadline").isNegative();
                Thread.onSpinWait();
            }
            resolver.close();
            CountDownLatch drained = new CountDownLatch(1);
            scheduler.execute(drained::countDown);
            assertThat(drained.await(10, TimeUnit.SECONDS)).isTrue();
            int stopped = store.feedReads();
            scheduler.submit(() -> null).get(10, TimeUnit.SECONDS);
            assertThat(store.feedReads()).as("no polls after close").isEqualTo(stopped);
        }
        finally {
            scheduler.shutdownNow();
        }
    }

    @Test
    void aFeedResetDropsEveryCachedKey()
    {
        resolver();
        ApiKey alice = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        ApiKey unknown = keys.random();
        resolver.resolve(alice.value());
        resolver.resolve(unknown.value());
        assertThat(resolver.cachedKeys()).isEqualTo(1);

        otherInstance.registerUser(ROOT, ACME, UserId.of("bob"), Role.USER, Optional.empty());
        otherInstance.registerUser(ROOT, ACME, UserId.of("carol"), Role.USER, Optional.empty());
        memory.compactThrough(memory.headPosition());
        resolver.pollFeed();

        assertThat(stats.count("feedReset")).isEqualTo(1);
        assertThat(resolver.cachedKeys()).isZero();
        int lookups = store.keyLookups();
        resolver.resolve(alice.value());
        resolver.resolve(unknown.value());
        assertThat(store.keyLookups() - lookups).as("both caches were dropped").isEqualTo(2);
    }

    @Test
    void duringAnOutageCachedKeysServeUntilMaxStaleAndLookupsAreUnavailable()
    {
        resolver(ResolverConfig.defaults().withMaxStale(Duration.ofSeconds(30)));
        ApiKey alice = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        ApiKey bob = otherInstance.registerUser(ROOT, ACME, UserId.of("bob"), Role.USER, Optional.empty()).userKey();
        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.OK);

        store.setUnavailable(true);
        clock.advance(Duration.ofMillis(250));
        resolver.pollFeed();
        assertThat(stats.count("feedPollFailed")).isEqualTo(1);
        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.OK);
        assertThat(resolver.resolve(bob.value()).outcome()).as("a key that needs the store").isEqualTo(Outcome.UNAVAILABLE);
        assertThat(resolver.resolve(keys.random().value()).outcome()).isEqualTo(Outcome.UNAVAILABLE);

        clock.advance(Duration.ofSeconds(29));
        resolver.pollFeed();
        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.OK);
        clock.advance(Duration.ofSeconds(1));
        resolver.pollFeed();
        assertThat(resolver.resolve(alice.value()).outcome()).as("max stale passed").isEqualTo(Outcome.UNAVAILABLE);
        assertThat(resolver.feedLag()).isEqualTo(Duration.ofMillis(30_250));

        otherInstance.removeUser(ROOT, ACME, UserId.of("bob"));
        ApiKey carol = otherInstance.registerUser(ROOT, ACME, UserId.of("carol"), Role.USER, Optional.empty()).userKey();
        store.setUnavailable(false);
        clock.advance(Duration.ofMillis(250));
        resolver.pollFeed();
        assertThat(resolver.feedLag()).isZero();
        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.OK);
        assertThat(resolver.resolve(bob.value()).outcome()).isEqualTo(Outcome.INVALID);
        assertThat(resolver.resolve(carol.value()).outcome()).isEqualTo(Outcome.OK);
    }

    @Test
    void duringAnOutageAdminKeysStopAtTheirOwnBoundAndUserKeysAtMaxStale()
    {
        resolver(ResolverConfig.defaults().withMaxStale(Duration.ofSeconds(60)).withMaxStaleAdmin(Duration.ofSeconds(10)));
        ApiKey admin = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        ApiKey user = otherInstance.registerUser(ROOT, ACME, UserId.of("bob"), Role.USER, Optional.empty()).userKey();
        assertThat(resolver.resolve(admin.value()).outcome()).isEqualTo(Outcome.OK);
        assertThat(resolver.resolve(user.value()).outcome()).isEqualTo(Outcome.OK);

        store.setUnavailable(true);
        clock.advance(Duration.ofSeconds(9));
        resolver.pollFeed();
        assertThat(resolver.resolve(admin.value()).outcome()).isEqualTo(Outcome.OK);
        clock.advance(Duration.ofSeconds(1));
        assertThat(resolver.resolve(admin.value()).outcome()).as("the admin bound passed").isEqualTo(Outcome.UNAVAILABLE);
        assertThat(resolver.resolve(user.value()).outcome()).isEqualTo(Outcome.OK);
        assertThat(resolver.resolve(ROOT_KEY).outcome()).as("the root key needs no store").isEqualTo(Outcome.OK);
        clock.advance(Duration.ofSeconds(50));
        resolver.pollFeed();
        assertThat(resolver.resolve(user.value()).outcome()).as("max stale passed").isEqualTo(Outcome.UNAVAILABLE);

        store.setUnavailable(false);
        resolver.pollFeed();
        assertThat(resolver.resolve(admin.value()).outcome()).isEqualTo(Outcome.OK);
        assertThat(resolver.resolve(user.value()).outcome()).isEqualTo(Outcome.OK);
    }

    @Test
    void theAdminBoundHoldsOnlyWhileTheFeedCannotBeRead()
    {
        resolver(ResolverConfig.defaults().withMaxStale(Duration.ofSeconds(60)).withMaxStaleAdmin(Duration.ZERO));
        ApiKey admin = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        clock.advance(Duration.ofMinutes(5));
        assertThat(resolver.resolve(admin.value()).outcome()).as("no outage: not polled, but not failing").isEqualTo(Outcome.OK);
        store.setUnavailable(true);
        resolver.pollFeed();
        assertThat(resolver.resolve(admin.value()).outcome()).isEqualTo(Outcome.UNAVAILABLE);
    }

    @Test
    void whenAppliedCompletesOnceTheFeedIsReadThroughThePosition()
    {
        resolver();
        FeedPosition before = resolver.appliedPosition().orElseThrow();
        assertThat(resolver.whenApplied(before)).isCompletedWithValue(before);

        otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty());
        FeedPosition written = memory.headPosition();
        assertThat(written.value()).isGreaterThan(before.value());
        CompletableFuture<FeedPosition> waiting = resolver.whenApplied(written);
        CompletableFuture<FeedPosition> beyond = resolver.whenApplied(FeedPosition.of(written.value() + 1));
        assertThat(waiting).isNotDone();

        resolver.pollFeed();
        assertThat(waiting).isCompletedWithValue(written);
        assertThat(resolver.appliedPosition()).contains(written);
        assertThat(beyond).as("a position the feed has not reached").isNotDone();
        beyond.cancel(false);
    }

    @Test
    void whenAppliedAsksForARead()
            throws Exception
    {
        resolver(ResolverConfig.defaults().withPollInterval(Duration.ofHours(1)));
        ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
        try {
            resolver.start(scheduler);
            otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty());
            FeedPosition written = memory.headPosition();
            // the poll interval is an hour: only the read the wait asks for can apply the write
            assertThat(resolver.whenApplied(written).get(10, TimeUnit.SECONDS)).isEqualTo(written);
        }
        finally {
            resolver.close();
            scheduler.shutdownNow();
        }
    }

    @Test
    void withMaxStaleZeroTheFirstFailedFeedReadFailsClosed()
    {
        resolver(ResolverConfig.defaults().withMaxStale(Duration.ZERO));
        ApiKey alice = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.OK);
        store.setUnavailable(true);
        resolver.pollFeed();
        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.UNAVAILABLE);
        assertThat(resolver.resolve(ROOT_KEY).outcome()).as("the root key needs no store").isEqualTo(Outcome.OK);
        store.setUnavailable(false);
        resolver.pollFeed();
        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.OK);
    }

    @Test
    void aLookupThatHangsIsUnavailableAfterTheTimeout()
            throws Exception
    {
        resolver(ResolverConfig.defaults().withLookupTimeout(Duration.ofMillis(100)));
        ApiKey alice = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        store.holdLookups();
        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.UNAVAILABLE);
        store.releaseLookups();
        // the lookup timeout is real time (100 ms here): on a busy machine one attempt may miss it, so retry until a
        // deadline rather than demand the first attempt succeed
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        Outcome outcome = resolver.resolve(alice.value()).outcome();
        while (outcome != Outcome.OK && System.nanoTime() < deadline) {
            outcome = resolver.resolve(alice.value()).outcome();
        }
        assertThat(outcome).as("a later lookup succeeds").isEqualTo(Outcome.OK);
    }

    @Test
    void afterTheSafetyTtlAFailedBackgroundRefreshLeavesTheOldEntryServing()
    {
        resolver(ResolverConfig.defaults().withCacheTtl(Duration.ofMinutes(10)));
        ApiKey alice = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.OK);
        store.setUnavailable(true);
        resolveAfterTtlUntil(alice, () -> stats.count("refreshFailed") > 0);
        assertThat(resolver.resolve(alice.value()).outcome()).as("the refresh failed, the old entry serves").isEqualTo(Outcome.OK);
    }

    @Test
    void afterTheSafetyTtlABackgroundRefreshCatchesAChangeTheFeedNeverReported()
    {
        resolver(ResolverConfig.defaults().withCacheTtl(Duration.ofMinutes(10)));
        ApiKey alice = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        otherInstance.registerUser(ROOT, ACME, UserId.of("admin2"), Role.ADMIN, Optional.empty());
        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.OK);
        int lookups = store.keyLookups();
        memory.removeUser(ACME, UserId.of("alice"));
        clock.advance(Duration.ofMinutes(9));
        assertThat(resolver.resolve(alice.value()).outcome()).as("within the TTL, the cache serves").isEqualTo(Outcome.OK);
        assertThat(store.keyLookups()).isEqualTo(lookups);

        resolveAfterTtlUntil(alice, () -> resolver.cachedKeys() == 0);
        assertThat(store.keyLookups()).as("the refresh read the store").isGreaterThan(lookups);
        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.INVALID);
    }

    @Test
    void aRefreshThatFindsADifferentRecordServesTheNewOneAtTheNextRequest()
    {
        resolver(ResolverConfig.defaults().withCacheTtl(Duration.ofMinutes(10)));
        ApiKey alice = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        ApiKey bob = otherInstance.registerUser(ROOT, ACME, UserId.of("bob"), Role.USER, Optional.empty()).userKey();
        assertThat(resolver.resolve(bob.value()).identity()).contains(keyIdentity(bob, ACME, UserId.of("bob"), Role.USER));
        // a change the feed never reports
        memory.setRole(ACME, UserId.of("bob"), Role.ADMIN);
        assertThat(resolver.resolve(bob.value()).identity()).as("within the TTL, the cache serves")
                .contains(keyIdentity(bob, ACME, UserId.of("bob"), Role.USER));

        Identity promoted = keyIdentity(bob, ACME, UserId.of("bob"), Role.ADMIN);
        resolveAfterTtlUntil(bob, () -> resolver.resolve(bob.value()).identity().equals(Optional.of(promoted)));
        int lookups = store.keyLookups();
        for (int i = 0; i < 10; i++) {
            assertThat(resolver.resolve(bob.value()).identity()).contains(promoted);
        }
        assertThat(store.keyLookups()).as("the new record is cached").isEqualTo(lookups);
        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.OK);
    }

    @Test
    void aRefreshThatFindsTheKeyUnchangedIsNotRepeatedWithinTheTtl()
    {
        resolver(ResolverConfig.defaults().withCacheTtl(Duration.ofMinutes(10)));
        ApiKey alice = otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.OK);
        int lookups = store.keyLookups();

        // past the TTL once; the clock then stands still until the refresh has read the store
        clock.advance(Duration.ofMinutes(11));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (store.keyLookups() == lookups) {
            assertThat(System.nanoTime() - deadline).as("waiting for a background refresh").isNegative();
            assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.OK);
            Thread.onSpinWait();
        }
        // the refresh confirmed the entry: within the next TTL, hits read no store at all
        int afterRefresh = store.keyLookups();
        for (int minute = 0; minute < 9; minute++) {
            clock.advance(Duration.ofMinutes(1));
            for (int i = 0; i < 100; i++) {
                assertThat(resolver.resolve(alice.value()).outcome()).isEqualTo(Outcome.OK);
            }
        }
        assertThat(store.keyLookups()).isEqualTo(afterRefresh);
        assertThat(resolver.cachedKeys()).isEqualTo(1);
    }

    @Test
    void theCacheHoldsAtMostItsSizeAndAnEvictedKeyIsLookedUpAgain()
    {
        resolver(ResolverConfig.defaults().withMaxKeys(20));
        otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty());
        List<ApiKey> users = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            users.add(otherInstance.registerUser(ROOT, ACME, UserId.of("user-" + i), Role.USER, Optional.empty()).userKey());
        }
        resolver.pollFeed();
        for (ApiKey key : users) {
            assertThat(resolver.resolve(key.value()).outcome()).isEqualTo(Outcome.OK);
            assertThat(resolver.cachedKeys()).isLessThanOrEqualTo(20);
        }
        int lookups = store.keyLookups();
        for (int i = 0; i < users.size(); i++) {
            assertThat(resolver.resolve(users.get(i).value()).identity()).contains(keyIdentity(users.get(i), ACME, UserId.of("user-" + i), Role.USER));
        }
        assertThat(store.keyLookups() - lookups).as("the evicted keys were looked up again").isGreaterThanOrEqualTo(180);
        assertThat(resolver.cachedKeys()).isLessThanOrEqualTo(20);
    }

    @Test
    void concurrentMissesEvictionsAndRevocationsLeaveNoEntryBeyondTheCacheSize()
            throws Exception
    {
        resolver(ResolverConfig.defaults().withMaxKeys(50));
        otherInstance.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty());
        List<ApiKey> users = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            users.add(otherInstance.registerUser(ROOT, ACME, UserId.of("user-" + i), Role.USER, Optional.empty()).userKey());
        }
        resolver.pollFeed();
        ExecutorService clients = Executors.newFixedThreadPool(4);
        List<ApiKey> regenerated = new ArrayList<>();
        try {
            List<Future<?>> running = new ArrayList<>();
            for (int thread = 0; thread < 4; thread++) {
                int first = thread;
                running.add(clients.submit(() -> {
                    for (int round = 0; round < 5; round++) {
                        for (int i = first; i < users.size(); i += 4) {
                            resolver.resolve(users.get(i).value());
                        }
                    }
                }));
            }
            for (int i = 0; i < 40; i++) {
                regenerated.add(thisInstance.regenerateKey(ROOT, ACME, UserId.of("user-" + i), Optional.empty()));
            }
            for (Future<?> client : running) {
                client.get(30, TimeUnit.SECONDS);
            }
        }
        finally {
            clients.shutdownNow();
        }
        // one more miss lets the cache finish its pending maintenance (size evictions)
        assertThat(resolver.resolve(regenerated.get(0).value()).outcome()).isEqualTo(Outcome.OK);

        assertThat(resolver.cachedKeys()).isLessThanOrEqualTo(50);
        for (int i = 0; i < 40; i++) {
            assertThat(resolver.resolve(users.get(i).value()).outcome()).as("revoked key %s", i).isEqualTo(Outcome.INVALID);
            assertThat(resolver.resolve(regenerated.get(i).value()).outcome()).isEqualTo(Outcome.OK);
        }
        for (int i = 40; i < users.size(); i++) {
            assertThat(resolver.resolve(users.get(i).value()).outcome()).isEqualTo(Outcome.OK);
        }
        assertThat(resolver.cachedKeys()).isLessThanOrEqualTo(50);
    }

    /**
     * Moves past the safety TTL and uses the key (which starts a background refresh), until the condition holds.
     * Repeats because the cache stamps an entry when its load completes, which may be after the test moved on.
     */
    private void resolveAfterTtlUntil(ApiKey key, BooleanSupplier condition)
    {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime() - deadline).as("waiting for a background refresh").isNegative();
            clock.advance(Duration.ofMinutes(11));
            resolver.resolve(key.value());
            Thread.onSpinWait();
        }
    }

    /**
     * The identity a primary key of this user presents: its key id, every scope, no expiry.
     */
    private static Identity keyIdentity(ApiKey key, AccountId accountId, UserId userId, Role role)
    {
        return Identity.ofKey(key.keyId(), accountId, userId, role, Scopes.all(), Optional.empty());
    }
}

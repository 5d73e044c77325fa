package dev.latchkey.core.resolver;

import dev.latchkey.core.admin.AdminService;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.memory.InMemoryIdentityStore;
import dev.latchkey.core.testing.RecordingStats;
import dev.latchkey.core.testing.TestingClock;
import dev.latchkey.core.testing.TestingIdentityStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Last-used times: the resolver notes which keys it served (a mark on the cache entry, no store call on the request
 * path) and {@link IdentityResolver#flushUsage} writes them in one call, each as used at the flush. Fake time.
 */
class TestKeyUsage
{
    private static final Identity ROOT = Identity.root();
    private static final AccountId ACME = AccountId.of("acme");
    private static final String INSTANCE = "instance-a:1933";

    private final TestingClock clock = new TestingClock();
    private final InMemoryIdentityStore memory = new InMemoryIdentityStore(clock);
    private final TestingIdentityStore store = new TestingIdentityStore(memory);
    private final SecretHasher hasher = SecretHasher.sha256();
    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final ExecutorService lookups = Executors.newFixedThreadPool(2);
    private final AdminService admin = new AdminService(memory, keys, hasher, clock);

    private IdentityResolver resolver;
    private ApiKey alice;
    private ApiKey bob;

    @BeforeEach
    void setUp()
    {
        resolver = new IdentityResolver(store, hasher, Optional.empty(), ResolverConfig.defaults(), new RecordingStats(), lookups, clock, clock);
        alice = admin.createAccount(ROOT, ACME, UserId.of("alice"), Optional.empty()).userKey();
        bob = admin.registerUser(ROOT, ACME, UserId.of("bob"), Role.USER, Optional.empty()).userKey();
    }

    @AfterEach
    void tearDown()
    {
        lookups.shutdownNow();
    }

    @Test
    void aFlushRecordsTheKeysServedSinceTheLastOneAtTheFlushTime()
    {
        assertThat(resolver.flushUsage(INSTANCE)).as("nothing served yet").isZero();

        resolve(alice);
        resolve(alice);
        clock.advance(Duration.ofSeconds(30));
        Instant firstFlush = clock.instant();
        assertThat(resolver.flushUsage(INSTANCE)).isEqualTo(1);
        assertThat(lastUsed()).isEqualTo(Map.of(alice.keyId(), firstFlush));

        clock.advance(Duration.ofSeconds(60));
        assertThat(resolver.flushUsage(INSTANCE)).as("alice not served again").isZero();
        resolve(alice);
        resolve(bob);
        clock.advance(Duration.ofSeconds(60));
        Instant secondFlush = clock.instant();
        assertThat(resolver.flushUsage(INSTANCE)).isEqualTo(2);
        assertThat(lastUsed()).isEqualTo(Map.of(alice.keyId(), secondFlush, bob.keyId(), secondFlush));
    }

    @Test
    void aRejectedKeyIsNotRecorded()
    {
        ApiKey forged = ApiKey.of(alice.keyId(), keys.random().secret());
        assertThat(resolver.resolve(forged.value()).outcome()).isEqualTo(Outcome.INVALID);
        resolve(alice);
        assertThat(resolver.resolve(forged.value()).outcome()).as("cached, wrong secret").isEqualTo(Outcome.INVALID);
        resolver.flushUsage(INSTANCE);
        clock.advance(Duration.ofSeconds(60));

        assertThat(resolver.resolve(forged.value()).outcome()).isEqualTo(Outcome.INVALID);
        assertThat(resolver.flushUsage(INSTANCE)).isZero();
    }

    @Test
    void aUseOfAnEntryThatLeftTheCacheBeforeTheFlushIsStillRecorded()
    {
        resolve(alice);
        resolve(bob);
        assertThat(resolver.flushUsage(INSTANCE)).as("the first uses, store lookups").isEqualTo(2);
        clock.advance(Duration.ofSeconds(60));
        resolve(alice);
        resolve(bob);
        // both served from the cache now; a change names bob's key, so its entry (and its mark) leaves the cache
        admin.setRole(ROOT, ACME, UserId.of("bob"), Role.ADMIN);
        resolver.written(ChangeType.ROLE_CHANGED, ACME, List.of(bob.keyId()));
        clock.advance(Duration.ofSeconds(1));
        Instant flushed = clock.instant();

        assertThat(resolver.flushUsage(INSTANCE)).isEqualTo(2);
        assertThat(lastUsed()).isEqualTo(Map.of(alice.keyId(), flushed, bob.keyId(), flushed));
    }

    @Test
    void aFailedFlushIsSentAgainWithTheNextOne()
    {
        resolve(alice);
        Instant used = clock.instant();
        store.setUnavailable(true);
        assertThat(resolver.flushUsage(INSTANCE)).isZero();
        assertThat(memory.lastUsed(List.of(alice.keyId()))).isEmpty();

        store.setUnavailable(false);
        clock.advance(Duration.ofSeconds(60));
        assertThat(resolver.flushUsage(INSTANCE)).isEqualTo(1);
        assertThat(lastUsed()).isEqualTo(Map.of(alice.keyId(), used));
    }

    private void resolve(ApiKey key)
    {
        assertThat(resolver.resolve(key.value()).outcome()).isEqualTo(Outcome.OK);
    }

    private Map<KeyId, Instant> lastUsed()
    {
        return memory.lastUsed(List.of(alice.keyId(), bob.keyId()));
    }
}

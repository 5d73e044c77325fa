package dev.latchkey.core.store;

import dev.latchkey.core.admin.AdminService;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.resolver.ResolverConfig;
import dev.latchkey.core.testing.ProcessStores;
import dev.latchkey.core.testing.ScenarioFigures;
import dev.latchkey.core.testing.TestingProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;

import static dev.latchkey.core.testing.ScenarioFigures.percentile;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The resolver over a store in two JVMs, for every store: this one writes (instance A) through an
 * {@link AdminService}, a {@code StoreWorkload} {@code resolve} program answers (instance B), polling the feed at
 * the default interval (250 ms), woken between polls as the store's {@link ProcessStores#startWakeUps} says. G1: a
 * key created on A resolves on B at its first request. G2: a revoked key (regenerated, its user removed, its
 * account deleted) or an old role is refused by B within the store's revocation bound. Subclass it with the store
 * and its bounds; each scenario prints its delays through {@link ScenarioFigures}.
 */
public abstract class AbstractTestResolverAcrossProcesses
        extends AbstractTestAcrossProcesses
{
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final Duration POLL_INTERVAL = ResolverConfig.defaults().pollInterval();
    private static final Identity ROOT = Identity.root();
    private static final int NEW_ACCOUNTS = 30;
    private static final int REVOCATIONS = 40;
    private static final int KIND_ROUNDS = 3;

    /**
     * @param storeName the store's name in the figures printed
     */
    protected AbstractTestResolverAcrossProcesses(String storeName, ProcessStores stores)
    {
        super(storeName, stores);
    }

    /**
     * How long after a revocation's return on A instance B may still accept the old key or role (G2): the poll
     * interval plus one store read, under one second at the default interval.
     */
    protected Duration revocationBound()
    {
        return Duration.ofSeconds(1);
    }

    /**
     * The bound on the median of the delays of the regenerated keys: a store that wakes its resolvers between polls
     * has a much tighter one than the revocation bound.
     */
    protected Duration medianRevocationBound()
    {
        return revocationBound();
    }

    @Test
    public void keysOfNewAccountsResolveThereAtTheirFirstRequest(@TempDir Path temporaryDirectory)
    {
        try (Instances instances = startInstances(temporaryDirectory)) {
            AdminService admin = instances.admin();
            TestingProcess other = instances.other();
            for (int i = 0; i < NEW_ACCOUNTS; i++) {
                AccountId account = AccountId.of("account-" + i);
                assertFirstRequest(other, admin.createAccount(ROOT, account, UserId.of("admin"), Optional.empty()).userKey(), "RESULT OK ADMIN");
                assertFirstRequest(other, admin.registerUser(ROOT, account, UserId.of("user"), Role.USER, Optional.empty()).userKey(), "RESULT OK USER");
            }
            printFigures("new-keys", "keys", 2 * NEW_ACCOUNTS, "accepted_at_first_request", 2 * NEW_ACCOUNTS);
        }
    }

    @Test
    public void regeneratedKeysAreRefusedThereWithinTheBound(@TempDir Path temporaryDirectory)
    {
        try (Instances instances = startInstances(temporaryDirectory)) {
            AdminService admin = instances.admin();
            TestingProcess other = instances.other();
            AccountId acme = AccountId.of("acme");
            admin.createAccount(ROOT, acme, UserId.of("admin"), Optional.empty());
            List<Duration> delays = new ArrayList<>();
            for (int i = 0; i < REVOCATIONS; i++) {
                UserId user = UserId.of("user-" + i);
                ApiKey key = admin.registerUser(ROOT, acme, user, Role.USER, Optional.empty()).userKey();
                assertFirstRequest(other, key, "RESULT OK USER");

                // at a random moment of the other's poll cycle, not always at the same time after the poll that ended
                // the last wait
                LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(POLL_INTERVAL.toNanos()));
                ApiKey replacement = admin.regenerateKey(ROOT, acme, user, Optional.empty());
                delays.add(awaitAnswer(other, key, "RESULT INVALID -"));
                assertFirstRequest(other, replacement, "RESULT OK USER");
            }

            printFigures("regenerated-key-refused", "revocations", REVOCATIONS,
                    "p50_ms", percentile(delays, 50), "p99_ms", percentile(delays, 99), "max_ms", percentile(delays, 100));
            assertThat(delays).allSatisfy(delay -> assertThat(delay).isLessThan(revocationBound()));
            assertThat(percentile(delays, 50)).as("median").isLessThan(medianRevocationBound());
        }
    }

    @Test
    public void roleChangesRemovedUsersAndDeletedAccountsReachThereWithinTheBound(@TempDir Path temporaryDirectory)
    {
        try (Instances instances = startInstances(temporaryDirectory)) {
            for (int round = 0; round < KIND_ROUNDS; round++) {
                revokeEveryKind(instances.admin(), instances.other(), round);
            }
        }
    }

    /**
     * On a new account: a user promoted to admin and demoted again, a user removed, the account deleted; each seen
     * by the other instance within the bound.
     */
    private void revokeEveryKind(AdminService admin, TestingProcess other, int round)
    {
        AccountId account = AccountId.of("acme-" + round);
        ApiKey adminKey = admin.createAccount(ROOT, account, UserId.of("admin"), Optional.empty()).userKey();
        assertFirstRequest(other, adminKey, "RESULT OK ADMIN");
        ApiKey promoted = admin.registerUser(ROOT, account, UserId.of("promoted"), Role.USER, Optional.empty()).userKey();
        ApiKey removed = admin.registerUser(ROOT, account, UserId.of("removed"), Role.USER, Optional.empty()).userKey();
        assertFirstRequest(other, promoted, "RESULT OK USER");
        assertFirstRequest(other, removed, "RESULT OK USER");

        admin.setRole(ROOT, account, UserId.of("promoted"), Role.ADMIN);
        Duration roleChange = awaitAnswer(other, promoted, "RESULT OK ADMIN");
        admin.setRole(ROOT, account, UserId.of("promoted"), Role.USER);
        Duration roleRevoked = awaitAnswer(other, promoted, "RESULT OK USER");
        admin.removeUser(ROOT, account, UserId.of("removed"));
        Duration removal = awaitAnswer(other, removed, "RESULT INVALID -");
        assertThat(other.request("RESOLVE " + adminKey.value(), TIMEOUT)).isEqualTo("RESULT OK ADMIN");
        admin.deleteAccount(ROOT, account);
        Duration deletion = awaitAnswer(other, adminKey, "RESULT INVALID -");
        assertThat(other.request("RESOLVE " + promoted.value(), TIMEOUT)).as("every key of a deleted account").isEqualTo("RESULT INVALID -");

        printFigures("revocation-kinds", "round", round, "role_change_ms", roleChange, "role_revoked_ms", roleRevoked,
                "user_removed_ms", removal, "account_deleted_ms", deletion);
        assertThat(List.of(roleChange, roleRevoked, removal, deletion)).allSatisfy(delay -> assertThat(delay).isLessThan(revocationBound()));
    }

    /**
     * Instance A (an admin service over a new store in this JVM) and instance B (a resolver over it in another JVM,
     * ready to answer).
     */
    private Instances startInstances(Path temporaryDirectory)
    {
        String location = createStore(temporaryDirectory);
        AdminService admin = new AdminService(open(location), new ApiKeyGenerator(new SecureRandom()), SecretHasher.sha256(), Clock.systemUTC());
        TestingProcess other = startChild(temporaryDirectory.resolve("resolver.log"), location, "resolve");
        try {
            other.awaitLines("READY"::equals, 1, TIMEOUT);
        }
        catch (RuntimeException | Error e) {
            other.close();
            throw e;
        }
        return new Instances(admin, other);
    }

    private record Instances(AdminService admin, TestingProcess other)
            implements AutoCloseable
    {
        @Override
        public void close()
        {
            other.close();
        }
    }

    /**
     * G1: the other instance gives the expected answer at the key's first request there.
     */
    private static void assertFirstRequest(TestingProcess other, ApiKey key, String expected)
    {
        assertThat(other.request("RESOLVE " + key.value(), TIMEOUT)).as("first request for a new key %s (G1)", key.keyId()).isEqualTo(expected);
    }

    /**
     * Asks until the other instance gives the expected answer; returns how long that took from now.
     */
    private static Duration awaitAnswer(TestingProcess other, ApiKey key, String expected)
    {
        long start = System.nanoTime();
        while (!other.request("RESOLVE " + key.value(), TIMEOUT).equals(expected)) {
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("waiting for %s", expected).isLessThan(TIMEOUT);
        }
        return Duration.ofNanos(System.nanoTime() - start);
    }
}

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
import dev.latchkey.core.testing.StoreWorkload;
import dev.latchkey.core.testing.TestingProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
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
import static java.util.Objects.requireNonNull;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The resolver over a store in two JVMs, for every store: this one writes (instance A) through an
 * {@link AdminService}, a {@link StoreWorkload} {@code resolve} program answers (instance B), polling the feed at
 * the default interval (250 ms), woken between polls as the store's {@link ProcessStores#startWakeUps} says. G1: a
 * key created on A resolves on B at its first request. G2: a revoked key (regenerated, its user removed, its
 * account deleted) or an old role is refused by B within the store's revocation bound. Subclass it with the store
 * and its bounds; each scenario prints its delays through {@link ScenarioFigures}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class AbstractTestResolverAcrossProcesses
{
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final Duration POLL_INTERVAL = ResolverConfig.defaults().pollInterval();
    private static final Identity ROOT = Identity.root();
    private static final int NEW_ACCOUNTS = 30;
    private static final int REVOCATIONS = 40;
    private static final int KIND_ROUNDS = 3;

    private final String storeName;
    private final ProcessStores stores;
    private final List<IdentityStore> opened = new ArrayList<>();

    /**
     * @param storeName the store's name in the figures printed
     */
    protected AbstractTestResolverAcrossProcesses(String storeName, ProcessStores stores)
    {
        this.storeName = requireNonNull(storeName, "storeName is null");
        this.stores = requireNonNull(stores, "stores is null");
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

    @AfterEach
    public final void closeStores()
    {
        opened.forEach(stores::close);
        opened.clear();
    }

    @Test
    public void keysOfNewAccountsResolveThereAtTheirFirstRequest(@TempDir Path temporaryDirectory)
    {
        String location = stores.createStore(temporaryDirectory);
        AdminService admin = adminService(location);
        try (TestingProcess other = startResolver(temporaryDirectory, location)) {
            for (int i = 0; i < NEW_ACCOUNTS; i++) {
                ApiKey key = admin.createAccount(ROOT, AccountId.of("account-" + i), UserId.of("admin"), Optional.empty()).userKey();
                assertThat(other.request("RESOLVE " + key.value(), TIMEOUT)).as("first request for key %s (G1)", i).isEqualTo("RESULT OK ADMIN");
                ApiKey user = admin.registerUser(ROOT, AccountId.of("account-" + i), UserId.of("user"), Role.USER, Optional.empty()).userKey();
                assertThat(other.request("RESOLVE " + user.value(), TIMEOUT)).as("first request for user key %s (G1)", i).isEqualTo("RESULT OK USER");
            }
            ScenarioFigures.print(storeName, "new-keys", "keys", 2 * NEW_ACCOUNTS, "accepted_at_first_request", 2 * NEW_ACCOUNTS);
        }
    }

    @Test
    public void regeneratedKeysAreRefusedThereWithinTheBound(@TempDir Path temporaryDirectory)
    {
        String location = stores.createStore(temporaryDirectory);
        AdminService admin = adminService(location);
        AccountId acme = AccountId.of("acme");
        admin.createAccount(ROOT, acme, UserId.of("admin"), Optional.empty());
        try (TestingProcess other = startResolver(temporaryDirectory, location)) {
            List<Duration> delays = new ArrayList<>();
            for (int i = 0; i < REVOCATIONS; i++) {
                UserId user = UserId.of("user-" + i);
                ApiKey key = admin.registerUser(ROOT, acme, user, Role.USER, Optional.empty()).userKey();
                assertThat(other.request("RESOLVE " + key.value(), TIMEOUT)).as("first request for a new key (G1)").isEqualTo("RESULT OK USER");

                // at a random moment of the other's poll cycle, not always at the same time after the poll that ended
                // the last wait
                LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(POLL_INTERVAL.toNanos()));
                ApiKey replacement = admin.regenerateKey(ROOT, acme, user, Optional.empty());
                delays.add(awaitAnswer(other, key, "RESULT INVALID -"));
                assertThat(other.request("RESOLVE " + replacement.value(), TIMEOUT)).as("first request for a replacement key (G1)").isEqualTo("RESULT OK USER");
            }

            ScenarioFigures.print(storeName, "regenerated-key-refused", "revocations", REVOCATIONS,
                    "p50_ms", percentile(delays, 50), "p99_ms", percentile(delays, 99), "max_ms", percentile(delays, 100));
            assertThat(delays).allSatisfy(delay -> assertThat(delay).isLessThan(revocationBound()));
            assertThat(percentile(delays, 50)).as("median").isLessThan(medianRevocationBound());
        }
    }

    @Test
    public void roleChangesRemovedUsersAndDeletedAccountsReachThereWithinTheBound(@TempDir Path temporaryDirectory)
    {
        String location = stores.createStore(temporaryDirectory);
        AdminService admin = adminService(location);
        try (TestingProcess other = startResolver(temporaryDirectory, location)) {
            for (int round = 0; round < KIND_ROUNDS; round++) {
                AccountId account = AccountId.of("acme-" + round);
                ApiKey adminKey = admin.createAccount(ROOT, account, UserId.of("admin"), Optional.empty()).userKey();
                assertThat(other.request("RESOLVE " + adminKey.value(), TIMEOUT)).as("first request for a new account's admin key (G1)").isEqualTo("RESULT OK ADMIN");
                ApiKey promoted = admin.registerUser(ROOT, account, UserId.of("promoted"), Role.USER, Optional.empty()).userKey();
                ApiKey removed = admin.registerUser(ROOT, account, UserId.of("removed"), Role.USER, Optional.empty()).userKey();
                assertThat(other.request("RESOLVE " + promoted.value(), TIMEOUT)).isEqualTo("RESULT OK USER");
                assertThat(other.request("RESOLVE " + removed.value(), TIMEOUT)).isEqualTo("RESULT OK USER");

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

                ScenarioFigures.print(storeName, "revocation-kinds", "round", round, "role_change_ms", roleChange, "role_revoked_ms", roleRevoked,
                        "user_removed_ms", removal, "account_deleted_ms", deletion);
                assertThat(List.of(roleChange, roleRevoked, removal, deletion)).allSatisfy(delay -> assertThat(delay).isLessThan(revocationBound()));
            }
        }
    }

    private AdminService adminService(String location)
    {
        IdentityStore store = stores.open(location);
        opened.add(store);
        return new AdminService(store, new ApiKeyGenerator(new SecureRandom()), SecretHasher.sha256(), Clock.systemUTC());
    }

    private TestingProcess startResolver(Path temporaryDirectory, String location)
    {
        TestingProcess other = TestingProcess.start(StoreWorkload.class, temporaryDirectory.resolve("resolver.log"), stores.getClass().getName(), location, "resolve");
        try {
            other.awaitLines("READY"::equals, 1, TIMEOUT);
        }
        catch (RuntimeException | Error e) {
            other.close();
            throw e;
        }
        return other;
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

package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.core.admin.AdminService;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.resolver.ResolverConfig;
import dev.latchkey.core.testing.TestingProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The resolver over the S3 store in two JVMs: this one writes (instance A), an {@link S3ResolverProcess} answers
 * (instance B), polling the feed every 250 ms (the default). G1: a key created on A resolves on B at its first
 * request. G2: a revoked key (regenerated, its user removed, its account deleted) or an old role is refused by B
 * within the revocation bound. Prints the propagation delays.
 */
class TestS3RevocationAcrossProcesses
{
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final Duration REVOCATION_BOUND = Duration.ofSeconds(1);
    private static final int REVOCATIONS = 40;
    private static final Duration POLL_INTERVAL = ResolverConfig.defaults().pollInterval();
    private static final Identity ROOT = Identity.root();

    private final TestingS3Stores stores = new TestingS3Stores();

    @TempDir
    Path temporaryDirectory;

    @AfterEach
    void closeStores()
    {
        stores.closeAll();
    }

    @Test
    void newKeysResolveAtOnceAndRegeneratedKeysAreRefusedWithinTheBound()
    {
        URI endpoint = TestingS3.shared().serializingProxy().endpoint();
        String prefix = TestingS3.uniquePrefix("revocation");
        AdminService admin = adminService(endpoint, prefix);
        AccountId acme = AccountId.of("acme");
        admin.createAccount(ROOT, acme, UserId.of("admin"), Optional.empty());
        try (TestingProcess other = TestingProcess.start(S3ResolverProcess.class, temporaryDirectory.resolve("resolver.log"), endpoint.toString(), prefix)) {
            other.awaitLines("READY"::equals, 1, TIMEOUT);
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

            System.out.printf("regenerated key refused by the other process (polling every 250 ms): p50 %d ms, p99 %d ms, max %d ms%n",
                    percentile(delays, 50).toMillis(), percentile(delays, 99).toMillis(), percentile(delays, 100).toMillis());
            assertThat(delays).allSatisfy(delay -> assertThat(delay).isLessThan(REVOCATION_BOUND));
        }
    }

    @Test
    void roleChangesRemovedUsersAndDeletedAccountsReachTheOtherProcessWithinTheBound()
    {
        URI endpoint = TestingS3.shared().serializingProxy().endpoint();
        String prefix = TestingS3.uniquePrefix("revocation-kinds");
        AdminService admin = adminService(endpoint, prefix);
        try (TestingProcess other = TestingProcess.start(S3ResolverProcess.class, temporaryDirectory.resolve("resolver.log"), endpoint.toString(), prefix)) {
            other.awaitLines("READY"::equals, 1, TIMEOUT);
            List<String> delays = new ArrayList<>();
            for (int round = 0; round < 3; round++) {
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

                for (Duration delay : List.of(roleChange, roleRevoked, removal, deletion)) {
                    assertThat(delay).isLessThan(REVOCATION_BOUND);
                }
                delays.add(String.format("role change %d ms, role revoked %d ms, user removed %d ms, account deleted %d ms",
                        roleChange.toMillis(), roleRevoked.toMillis(), removal.toMillis(), deletion.toMillis()));
            }
            System.out.println("seen by the other process (polling every 250 ms): " + String.join("; ", delays));
        }
    }

    private AdminService adminService(URI endpoint, String prefix)
    {
        return new AdminService(stores.open(TestingS3Stores.config(endpoint, prefix), Clock.systemUTC()), new ApiKeyGenerator(new SecureRandom()),
                SecretHasher.sha256(), Clock.systemUTC());
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

    static Duration percentile(List<Duration> delays, int percentile)
    {
        List<Duration> sorted = delays.stream().sorted().toList();
        int index = (int) Math.ceil(percentile / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, index));
    }
}

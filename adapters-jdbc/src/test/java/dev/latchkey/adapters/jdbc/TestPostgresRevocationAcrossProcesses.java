package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.admin.AdminService;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.testing.TestingProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The resolver over PostgreSQL in two JVMs: this one writes (instance A), a {@link JdbcResolverProcess} answers
 * (instance B). G1: a key created on A resolves on B at its first request. G2: a revoked key is refused by B within
 * the revocation bound; with LISTEN/NOTIFY, within milliseconds instead of up to a poll interval. Prints the
 * propagation delays (docs/performance.md).
 */
class TestPostgresRevocationAcrossProcesses
{
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final Duration REVOCATION_BOUND = Duration.ofSeconds(1);
    private static final int REVOCATIONS = 40;
    private static final Identity ROOT = Identity.root();

    private final TestingJdbcStores stores = new TestingJdbcStores();

    @TempDir
    Path temporaryDirectory;

    @AfterEach
    void closeStores()
    {
        stores.closeAll();
    }

    @Test
    void withNotifyRevocationsReachTheOtherProcessWithinMilliseconds()
    {
        List<Duration> delays = revocationDelays("notify");

        System.out.printf("revocation seen by the other process with NOTIFY: p50 %d ms, p99 %d ms, max %d ms%n",
                percentile(delays, 50).toMillis(), percentile(delays, 99).toMillis(), percentile(delays, 100).toMillis());
        assertThat(delays).allSatisfy(delay -> assertThat(delay).isLessThan(REVOCATION_BOUND));
        assertThat(percentile(delays, 50)).as("median with NOTIFY, well under the 250 ms poll interval").isLessThan(Duration.ofMillis(100));
    }

    @Test
    void withPollingOnlyRevocationsReachTheOtherProcessWithinTheBound()
    {
        List<Duration> delays = revocationDelays("poll");

        System.out.printf("revocation seen by the other process polling only: p50 %d ms, p99 %d ms, max %d ms%n",
                percentile(delays, 50).toMillis(), percentile(delays, 99).toMillis(), percentile(delays, 100).toMillis());
        assertThat(delays).allSatisfy(delay -> assertThat(delay).isLessThan(REVOCATION_BOUND));
    }

    private List<Duration> revocationDelays(String mode)
    {
        String url = TestingPostgres.shared().createDatabase();
        AdminService admin = new AdminService(stores.open(TestingJdbcStores.postgresConfig(url), Clock.systemUTC()),
                new ApiKeyGenerator(new SecureRandom()), SecretHasher.sha256(), Clock.systemUTC());
        AccountId acme = AccountId.of("acme");
        admin.createAccount(ROOT, acme, UserId.of("admin"), Optional.empty());
        try (TestingProcess other = TestingProcess.start(JdbcResolverProcess.class, temporaryDirectory.resolve(mode + ".log"), url, mode)) {
            other.awaitLines("READY"::equals, 1, TIMEOUT);
            List<Duration> delays = new ArrayList<>();
            for (int i = 0; i < REVOCATIONS; i++) {
                UserId user = UserId.of("user-" + i);
                ApiKey key = admin.registerUser(ROOT, acme, user, Role.USER, Optional.empty()).userKey();
                assertThat(other.request("RESOLVE " + key.value(), TIMEOUT)).as("first request for a new key (G1)").isEqualTo("RESULT OK USER");

                ApiKey replacement = admin.regenerateKey(ROOT, acme, user, Optional.empty());
                delays.add(awaitAnswer(other, key, "RESULT INVALID -"));
                assertThat(other.request("RESOLVE " + replacement.value(), TIMEOUT)).isEqualTo("RESULT OK USER");
            }
            return delays;
        }
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

    private static Duration percentile(List<Duration> delays, int percentile)
    {
        List<Duration> sorted = delays.stream().sorted().toList();
        int index = (int) Math.ceil(percentile / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, index));
    }
}

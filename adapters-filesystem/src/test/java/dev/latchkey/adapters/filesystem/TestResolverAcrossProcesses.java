package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.admin.AdminService;
import dev.latchkey.core.admin.CreatedAccount;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
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
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The resolver over the filesystem store in two JVMs: this one writes (instance A), a {@link ResolverProcess}
 * answers (instance B). G1: a key created on A resolves on B at its first request. G2: a revocation on A is refused
 * by B within the revocation bound (poll interval plus one store read: under one second at the default 250 ms).
 */
class TestResolverAcrossProcesses
{
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final Duration REVOCATION_BOUND = Duration.ofSeconds(1);
    private static final Identity ROOT = Identity.root();

    @TempDir
    Path temporaryDirectory;

    @Test
    void keysCreatedHereResolveThereAtOnceAndRevocationsReachThereWithinTheBound()
    {
        Path directory = temporaryDirectory.resolve("store");
        AdminService admin = new AdminService(FileSystemIdentityStore.open(directory, Clock.systemUTC()),
                new ApiKeyGenerator(new SecureRandom()), SecretHasher.sha256(), Clock.systemUTC());
        try (TestingProcess other = TestingProcess.start(ResolverProcess.class, temporaryDirectory.resolve("resolver.log"), directory.toString())) {
            other.awaitLines("READY"::equals, 1, TIMEOUT);

            List<ApiKey> created = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                CreatedAccount account = admin.createAccount(ROOT, AccountId.of("account-" + i), UserId.of("admin"), Optional.empty());
                assertThat(other.request("RESOLVE " + account.userKey().value(), TIMEOUT)).as("first request for key %s", i).isEqualTo("RESULT OK ADMIN");
                created.add(account.userKey());
            }

            AccountId acme = AccountId.of("account-0");
            ApiKey bob = admin.registerUser(ROOT, acme, UserId.of("bob"), Role.USER, Optional.empty()).userKey();
            ApiKey carol = admin.registerUser(ROOT, acme, UserId.of("carol"), Role.USER, Optional.empty()).userKey();
            assertThat(other.request("RESOLVE " + bob.value(), TIMEOUT)).isEqualTo("RESULT OK USER");
            assertThat(other.request("RESOLVE " + carol.value(), TIMEOUT)).isEqualTo("RESULT OK USER");

            List<Duration> delays = new ArrayList<>();
            ApiKey bobNew = admin.regenerateKey(ROOT, acme, UserId.of("bob"), Optional.empty());
            delays.add(awaitAnswer(other, bob, "RESULT INVALID -"));
            assertThat(other.request("RESOLVE " + bobNew.value(), TIMEOUT)).isEqualTo("RESULT OK USER");

            admin.setRole(ROOT, acme, UserId.of("carol"), Role.ADMIN);
            delays.add(awaitAnswer(other, carol, "RESULT OK ADMIN"));

            admin.removeUser(ROOT, acme, UserId.of("carol"));
            delays.add(awaitAnswer(other, carol, "RESULT INVALID -"));

            admin.deleteAccount(ROOT, AccountId.of("account-1"));
            delays.add(awaitAnswer(other, created.get(1), "RESULT INVALID -"));

            System.out.printf("revocation seen by the other process after (ms): %s%n", delays.stream().map(Duration::toMillis).toList());
            assertThat(delays).allSatisfy(delay -> assertThat(delay).isLessThan(REVOCATION_BOUND));
        }
    }

    /**
     * Asks until the other instance gives the expected answer; returns how long that took from now.
     */
    private static Duration awaitAnswer(TestingProcess other, ApiKey key, String expected)
    {
        long start = System.nanoTime();
        Supplier<Duration> elapsed = () -> Duration.ofNanos(System.nanoTime() - start);
        while (!other.request("RESOLVE " + key.value(), TIMEOUT).equals(expected)) {
            assertThat(elapsed.get()).as("waiting for %s", expected).isLessThan(TIMEOUT);
        }
        return elapsed.get();
    }
}

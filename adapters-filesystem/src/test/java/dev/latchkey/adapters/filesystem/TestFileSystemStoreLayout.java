package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.testing.TestingClock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What an operator finds in the directory: private modes (audit segments and usage files too), readable JSON with
 * hashes and never secrets, and a feed that does not grow without bound.
 */
class TestFileSystemStoreLayout
{
    private final TestingClock clock = new TestingClock();
    private final SecretHasher hasher = SecretHasher.sha256();
    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final StoreFixtures fixtures = new StoreFixtures(clock);

    @TempDir
    Path temporaryDirectory;

    @Test
    void filesArePrivateAndDirectoriesTraversableOnlyByTheOwner()
            throws IOException
    {
        Path directory = temporaryDirectory.resolve("store");
        FileSystemIdentityStore store = FileSystemIdentityStore.open(directory, new FileSystemStoreOptions(Duration.ofSeconds(5), 1), clock);
        ApiKey key = keys.random();
        createAccount(store, AccountId.of("Acme"), UserId.of("alice"), key);
        store.addUser(newUser(AccountId.of("Acme"), UserId.of("bob"), Role.USER, keys.random()));
        store.recordUsage("instance-a", Map.of(key.keyId(), clock.instant()));
        store.purgeAudit(clock.instant().minusSeconds(60));
        assertThat(directory.resolve("usage/instance-a.json")).exists();
        assertThat(directory.resolve("audit/horizon")).exists();
        try (Stream<Path> segments = Files.list(directory.resolve("audit"))) {
            assertThat(segments.filter(file -> file.getFileName().toString().endsWith(".jsonl")).count()).as("audit segments").isPositive();
        }

        try (Stream<Path> paths = Files.walk(directory)) {
            for (Path path : paths.toList()) {
                String mode = PosixFilePermissions.toString(Files.getPosixFilePermissions(path));
                if (Files.isDirectory(path)) {
                    assertThat(mode).as("mode of directory %s", directory.relativize(path)).isEqualTo("rwx------");
                }
                else if (!path.getFileName().toString().equals("store.lock")) {
                    assertThat(mode).as("mode of %s", directory.relativize(path)).isEqualTo("rw-------");
                }
            }
        }
    }

    @Test
    void recordsAreReadableJsonWithTheHashAndNeverTheSecret()
            throws IOException
    {
        Path directory = temporaryDirectory.resolve("store");
        FileSystemIdentityStore store = FileSystemIdentityStore.open(directory, clock);
        ApiKey key = keys.random();
        createAccount(store, AccountId.of("Acme"), UserId.of("Alice"), key);

        String account = Files.readString(directory.resolve("accounts/acme~1/account.json"), StandardCharsets.UTF_8);
        assertThat(account).contains("\"account_id\" : \"Acme\"").contains("\"admin_count\" : 1").doesNotContain("pending");
        String user = Files.readString(directory.resolve("accounts/acme~1/users/alice~1.json"), StandardCharsets.UTF_8);
        assertThat(user).contains("\"user_id\" : \"Alice\"").contains("\"role\" : \"ADMIN\"")
                .contains("\"key_id\" : \"" + key.keyId().value() + "\"").contains("\"key_ids\" : [ \"" + key.keyId().value() + "\" ]");
        try (Stream<Path> files = Files.walk(directory)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                String content = Files.readString(file, StandardCharsets.UTF_8);
                assertThat(content).as("%s never holds the secret", file.getFileName()).doesNotContain(key.secret());
            }
        }
        String keyFile = Files.readString(keyFile(directory, key), StandardCharsets.UTF_8);
        assertThat(keyFile).contains(hasher.hash(key.secret()).toHex()).doesNotContain("staged_by")
                .contains("\"primary\" : true").contains("\"scopes\" : [ \"*\" ]").doesNotContain("expires_at");
    }

    @Test
    void theFeedIsCompactedToItsRetention()
            throws IOException
    {
        Path directory = temporaryDirectory.resolve("store");
        FileSystemIdentityStore store = FileSystemIdentityStore.open(directory, new FileSystemStoreOptions(Duration.ofSeconds(5), 20), clock);
        AccountId account = AccountId.of("acme");
        createAccount(store, account, UserId.of("admin"), keys.random());
        for (int i = 0; i < 100; i++) {
            store.addUser(newUser(account, UserId.of("user-" + i), Role.USER, keys.random()));
        }

        long entries;
        try (Stream<Path> files = Files.list(directory.resolve("feed"))) {
            entries = files.filter(file -> file.getFileName().toString().endsWith(".json")).count();
        }
        assertThat(entries).isBetween(20L, 22L);
        assertThat(store.headPosition()).isEqualTo(FeedPosition.of(101));
        assertThat(store.changesAfter(FeedPosition.of(50), 10)).isInstanceOf(FeedBatch.Reset.class);
        assertThat(store.changesAfter(FeedPosition.of(90), 100)).isInstanceOfSatisfying(FeedBatch.Changes.class,
                changes -> assertThat(changes.changes()).hasSize(11));
    }

    @Test
    void aKeyStagedByAWriteThatWasNeverDecidedNeverResolvesAndItsIdCanBeIssuedAgain()
    {
        Path directory = temporaryDirectory.resolve("store");
        FileSystemIdentityStore store = FileSystemIdentityStore.open(directory, clock);
        AccountId account = AccountId.of("acme");
        createAccount(store, account, UserId.of("admin"), keys.random());
        ApiKey key = keys.random();
        FileSystemIdentityStore stopped = FileSystemIdentityStore.open(directory, FileSystemStoreOptions.defaults(), clock, file -> {
            if (file.getFileName().toString().equals("account.json")) {
                throw new IOException("writer stopped before its decision");
            }
        });
        NewUser bob = newUser(account, UserId.of("bob"), Role.USER, key);
        assertThatThrownBy(() -> stopped.addUser(bob)).isInstanceOf(LatchkeyException.class);

        assertThat(Files.exists(keyFile(directory, key))).as("the key was staged").isTrue();
        assertThat(store.findKey(key.keyId())).isEmpty();
        store.addUser(bob);
        assertThat(store.findKey(key.keyId())).isPresent();
    }

    private static Path keyFile(Path directory, ApiKey key)
    {
        String name = FileNames.encode(key.keyId().value());
        return directory.resolve("keys").resolve(name.substring(0, 2)).resolve(name + ".json");
    }

    private void createAccount(FileSystemIdentityStore store, AccountId account, UserId admin, ApiKey key)
    {
        fixtures.createAccount(store, account, admin, key);
    }

    private NewUser newUser(AccountId account, UserId user, Role role, ApiKey key)
    {
        return fixtures.newUser(account, user, role, key);
    }
}

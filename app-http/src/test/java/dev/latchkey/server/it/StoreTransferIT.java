package dev.latchkey.server.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.latchkey.adapters.filesystem.FileSystemIdentityStore;
import dev.latchkey.adapters.jdbc.TestingPostgres;
import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyName;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.NewUser;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Moving a deployment between stores as an operator does it, with the jar: {@code store export} of a filesystem
 * store of 10,000 keys (2,000 users of 20 accounts, each with a primary key and four more: scopes, names, expiries),
 * then {@code store import} into PostgreSQL and H2; and of a store of 240 keys (48 users of 4 accounts) into S3
 * (S3Mock: 10,000 keys would take over ten minutes there, see docs/performance.md). On each, an export of the
 * imported store equals the first (every account, user and key, with its hash, role, scopes and expiry), and a
 * server started on it accepts a sample of the keys with the same identity. A second import of the same file
 * changes nothing; an import into a store holding another account with users is refused.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public class StoreTransferIT
{
    private static final String ROOT_KEY = "store-transfer-it-root-key-0123456789abcdefghij";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration COMMAND_TIMEOUT = Duration.ofMinutes(10);
    private static final int EXTRA_KEYS = 4;
    private static final int SAMPLE = 50;
    private static final String BUCKET = "latchkey-transfer";

    private Path directory;
    private Path logs;
    private Source large;
    private Source small;
    private TestingPostgres postgres;
    private TestingS3 s3;
    private final LatchkeyClient client = new LatchkeyClient(ROOT_KEY);

    /**
     * A filesystem store, its export, and a sample of its keys with their owners.
     */
    private record Source(int accounts, int usersPerAccount, Path export, List<String> exported, Map<String, ApiKey> sample, Map<String, String> sampleUsers)
    {
        int users()
        {
            return accounts * usersPerAccount;
        }

        int keys()
        {
            return users() * (1 + EXTRA_KEYS);
        }
    }

    @BeforeAll
    void exportFileSystemStores()
            throws IOException
    {
        directory = Files.createTempDirectory("latchkey-transfer-it");
        logs = ServerProcess.jar().resolveSibling("it-logs").resolve(getClass().getSimpleName());
        large = exported("large", 20, 100);
        // S3Mock on a shared machine answers a few hundred requests a second, and slower some days: the S3 case took
        // 56 to 202 s with 500 keys
        small = exported("small", 4, 12);
    }

    private Source exported(String name, int accounts, int usersPerAccount)
            throws IOException
    {
        Path store = directory.resolve(name);
        Map<String, ApiKey> sample = new LinkedHashMap<>();
        Map<String, String> sampleUsers = new LinkedHashMap<>();
        fill(store, accounts, usersPerAccount, sample, sampleUsers);
        Path export = directory.resolve(name + ".jsonl");
        long start = System.nanoTime();
        JarCommand.Run run = latchkey(Map.of("LATCHKEY_FS_DIR", store.toString()), "store", "export", "--out", export.toString());
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        Source source = new Source(accounts, usersPerAccount, export, Files.readAllLines(export, StandardCharsets.UTF_8), sample, sampleUsers);
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.err()).contains("exported " + accounts + " accounts, " + source.users() + " users, " + source.keys() + " keys and ");
        assertThat(withoutAudit(source.exported())).hasSize(1 + accounts + source.users() + source.keys() + 1);
        assertThat(source.exported().size() - withoutAudit(source.exported()).size()).as("audit records exported").isGreaterThan(0);
        assertThat(String.join("\n", source.exported())).as("no secret in an export").doesNotContain(sample.values().iterator().next().secret());
        System.out.printf("store export: filesystem, %d keys in %d ms (JVM start included)%n", source.keys(), millis);
        return source;
    }

    @AfterAll
    void stopStores()
    {
        if (postgres != null) {
            postgres.close();
        }
        if (s3 != null) {
            s3.close();
        }
    }

    @Test
    public void intoPostgres()
    {
        postgres = TestingPostgres.start(false);
        Map<String, String> store = Map.of("LATCHKEY_STORE", "jdbc", "LATCHKEY_JDBC_URL", postgres.createDatabase(), "LATCHKEY_JDBC_USER", TestingPostgres.SUPERUSER);
        importAndCheck("postgres", store, large, 16);
    }

    @Test
    public void intoH2()
    {
        Map<String, String> store = Map.of("LATCHKEY_STORE", "jdbc", "LATCHKEY_JDBC_URL", "jdbc:h2:file:" + directory.resolve("h2/latchkey"));
        importAndCheck("h2", store, large, 16);
    }

    @Test
    public void intoS3()
    {
        s3 = TestingS3.start(BUCKET);
        Map<String, String> store = MultiInstanceSupport.s3Settings(s3, BUCKET);
        importAndCheck("s3", store, small, 8);
    }

    private void importAndCheck(String name, Map<String, String> store, Source source, int threads)
    {
        Path export = source.export();
        List<String> exported = source.exported();
        long start = System.nanoTime();
        JarCommand.Run imported = latchkey(store, "store", "import", "--in", export.toString(), "--threads", Integer.toString(threads));
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(imported.exitCode()).as(imported.err()).isZero();
        assertThat(imported.err()).contains("the store holds the " + source.accounts() + " accounts, " + source.users() + " users and " + source.keys() + " keys");
        System.out.printf("store import: %s, %d keys in %d ms with %d threads (JVM start included)%n", name, source.keys(), millis, threads);

        // the imported store, exported again, is the file: every record, hash, role, scope and expiry
        Path again = directory.resolve(name + "-export.jsonl");
        JarCommand.Run reexported = latchkey(store, "store", "export", "--out", again.toString());
        assertThat(reexported.exitCode()).as(reexported.err()).isZero();
        // (but its audit trail, which starts with the import's own writes: the old one stays in the file)
        List<String> lines = withoutAudit(readLines(again));
        assertThat(lines.subList(1, lines.size())).as("%s, exported again", name).containsExactlyElementsOf(withoutAudit(exported.subList(1, exported.size())));

        // a second run changes nothing and says so
        JarCommand.Run second = latchkey(store, "store", "import", "--in", export.toString());
        assertThat(second.exitCode()).as(second.err()).isZero();
        List<String> afterSecond = withoutAudit(readLines(exportOf(name + "-second", store)));
        assertThat(afterSecond.subList(1, afterSecond.size())).containsExactlyElementsOf(withoutAudit(exported.subList(1, exported.size())));

        // the sample's keys work on a server of the new store, as they did on the old one
        try (ServerProcess server = ServerProcess.launch(name, store, ROOT_KEY, logs).awaitReady(START_TIMEOUT)) {
            for (Map.Entry<String, ApiKey> entry : source.sample().entrySet()) {
                LatchkeyClient.Response verified = client.verify(server, entry.getValue().value());
                assertThat(verified.status()).as("%s on %s", entry.getKey(), name).isEqualTo(200);
                JsonNode result = verified.result();
                assertThat(result.path("account_id").asText() + "/" + result.path("user_id").asText() + "/" + result.path("role").asText())
                        .isEqualTo(source.sampleUsers().get(entry.getKey()));
                assertThat(result.path("key_id").asText()).isEqualTo(entry.getValue().keyId().value());
            }
            // and a store holding an account not in the file is refused
            client.createAccount(server, "newcomer", "admin");
        }
        JarCommand.Run refused = latchkey(store, "store", "import", "--in", export.toString());
        assertThat(refused.exitCode()).isEqualTo(6);
        assertThat(refused.err()).contains("not empty").contains("newcomer").doesNotContain("Exception");
    }

    // --- the source store

    private static void fill(Path source, int accounts, int usersPerAccount, Map<String, ApiKey> sample, Map<String, String> sampleUsers)
    {
        SecretHasher hasher = SecretHasher.sha256();
        ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
        Random random = new Random(42);
        Instant now = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        List<String> candidates = new ArrayList<>();
        Map<String, ApiKey> all = new LinkedHashMap<>();
        Map<String, String> owners = new LinkedHashMap<>();
        try (FileSystemIdentityStore store = FileSystemIdentityStore.open(source, Clock.systemUTC())) {
            for (int a = 0; a < accounts; a++) {
                AccountId account = AccountId.of("account-" + a);
                for (int u = 0; u < usersPerAccount; u++) {
                    UserId userId = UserId.of("user-" + u);
                    Role role = u == 0 || u % 10 == 7 ? Role.ADMIN : Role.USER;
                    ApiKey primary = keys.random();
                    NewUser user = new NewUser(new User(account, userId, role, primary.keyId(), now.minusSeconds(3600 - u)), hasher.hash(primary.secret()));
                    if (u == 0) {
                        store.createAccount(new Account(account, now.minusSeconds(7200 - a), true), Optional.of(user));
                    }
                    else {
                        store.addUser(user);
                    }
                    String owner = account.value() + "/" + userId.value() + "/" + role.name().toLowerCase(java.util.Locale.ROOT);
                    all.put(primary.keyId().value(), primary);
                    owners.put(primary.keyId().value(), owner);
                    for (int k = 0; k < EXTRA_KEYS; k++) {
                        ApiKey extra = keys.random();
                        Optional<Instant> expiry = k % 2 == 0 ? Optional.of(now.plus(Duration.ofDays(1 + random.nextInt(300)))) : Optional.empty();
                        Scopes scopes = k == 0 ? Scopes.all() : Scopes.of("docs:read", "api:" + k + ":*");
                        store.addKey(new NewKey(account, userId, extra.keyId(), hasher.hash(extra.secret()), now.minusSeconds(1800 - k),
                                KeyAttributes.extra(k == 3 ? Optional.empty() : Optional.of(KeyName.of("key " + k)), scopes, expiry)));
                        all.put(extra.keyId().value(), extra);
                        owners.put(extra.keyId().value(), owner);
                    }
                }
            }
        }
        candidates.addAll(all.keySet());
        Collections.shuffle(candidates, random);
        for (String keyId : candidates.subList(0, SAMPLE)) {
            sample.put(keyId, all.get(keyId));
            sampleUsers.put(keyId, owners.get(keyId));
        }
    }

    // --- running the jar

    private Path exportOf(String name, Map<String, String> store)
    {
        Path file = directory.resolve(name + ".jsonl");
        JarCommand.Run run = latchkey(store, "store", "export", "--out", file.toString());
        assertThat(run.exitCode()).as(run.err()).isZero();
        return file;
    }

    private static List<String> readLines(Path file)
    {
        try {
            return Files.readAllLines(file, StandardCharsets.UTF_8);
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private JarCommand.Run latchkey(Map<String, String> environment, String... args)
    {
        return JarCommand.run(directory, environment, COMMAND_TIMEOUT, args);
    }

    private static List<String> withoutAudit(List<String> lines)
    {
        return lines.stream().filter(line -> !line.startsWith("{\"type\":\"audit\"")).toList();
    }
}

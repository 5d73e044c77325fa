package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyName;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.Origin;
import dev.latchkey.core.store.UserChange;
import dev.latchkey.core.store.UserQuery;
import dev.latchkey.core.testing.StoreConsistency;
import dev.latchkey.core.testing.TestingClock;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

/**
 * A store written before users held several keys keeps working: its key files (no name, primary, scopes or expiry)
 * read as primary keys, its user files (one key id, no list of keys) as users holding that one key, a write it left
 * decided but unfinished is finished, and the new writes work on its files. It was also written before the store
 * recorded audits: its feed entries (and the write it left decided) have no origin, read as changes and are not
 * listed in the audit trail, which starts with the first write of the new version.
 *
 * <h2>The fixture</h2>
 * {@code src/test/resources/legacy-store-v1/} is a store directory written by the filesystem store of commit
 * {@code e99f95bd79712b12b70e1029c382511de8aec005}, the last one before keys had attributes. It was produced in a
 * worktree of that commit, without installing anything:
 * <pre>
 * git -C /work/main worktree add /tmp/fs-legacy e99f95bd79712b12b70e1029c382511de8aec005
 * cd /tmp/fs-legacy &amp;&amp; ./mvnw -B -ntp -q -o -pl core,adapters-filesystem test-compile
 * CP=core/target/classes:adapters-filesystem/target/classes:(jackson-annotations, -core and -databind 2.21 jars)
 * javac -d /tmp/fixture-classes -cp $CP WriteLegacyStore.java    # src/test/resources/legacy-store-v1-writer.java.txt
 * java -cp /tmp/fixture-classes:$CP dev.latchkey.adapters.filesystem.WriteLegacyStore /tmp/legacy-store-v1
 * </pre>
 * and copied here without its empty directories ({@code tmp/} and the {@code keys/} directories of ended keys).
 * It holds, with every key {@code ApiKeyGenerator.seeded(SEED, account, user)} issued a minute apart from
 * 2026-01-15T09:00:00Z:
 * <ul>
 *   <li>account {@code acme}: {@code alice} (admin); {@code Bob} (user), whose key was then replaced by
 *       {@code seeded(REPLACEMENT_SEED, acme, Bob)}; {@code carol}, added as a user and made an admin;
 *       {@code mallory}, added and removed;</li>
 *   <li>account {@code beta}: {@code dave} (admin) and {@code erin} (user), whose key replacement (by
 *       {@code seeded(REPLACEMENT_SEED, beta, erin)}) was stopped right after its decision: {@code beta}'s account
 *       file still holds that pending write, in the format of that commit ({@code new_key}, {@code removed_key_id}),
 *       and the new key file is staged.</li>
 * </ul>
 * Each test works on a fresh copy.
 */
class TestLegacyStoreV1
{
    private static final String SEED = "legacy-store-v1-fixture";
    private static final String REPLACEMENT_SEED = "legacy-store-v1-replacement";
    private static final Instant WRITTEN = Instant.parse("2026-01-15T09:00:00Z");
    private static final AccountId ACME = AccountId.of("acme");
    private static final AccountId BETA = AccountId.of("beta");
    private static final UserId ALICE = UserId.of("alice");
    private static final UserId BOB = UserId.of("Bob");
    private static final UserId CAROL = UserId.of("carol");
    private static final UserId MALLORY = UserId.of("mallory");
    private static final UserId DAVE = UserId.of("dave");
    private static final UserId ERIN = UserId.of("erin");

    private final TestingClock clock = new TestingClock(Instant.parse("2026-02-01T00:00:00Z"));
    private final SecretHasher hasher = SecretHasher.sha256();
    private final ApiKeyGenerator generator = new ApiKeyGenerator(new SecureRandom());

    @TempDir
    Path temporaryDirectory;

    private Path directory;
    private FileSystemIdentityStore store;

    @BeforeEach
    void copyTheFixture()
            throws IOException, URISyntaxException
    {
        Path fixture = Path.of(requireResource("legacy-store-v1").toURI());
        directory = temporaryDirectory.resolve("store");
        try (Stream<Path> paths = Files.walk(fixture)) {
            for (Path path : paths.toList()) {
                Path target = directory.resolve(fixture.relativize(path).toString());
                if (Files.isDirectory(path)) {
                    Files.createDirectories(target);
                }
                else {
                    Files.copy(path, target);
                }
            }
        }
        store = FileSystemIdentityStore.open(directory, clock);
    }

    @Test
    void everyUserKeepsItsOneKeyAsItsPrimaryKey()
    {
        Map<UserId, User> expected = Map.of(
                ALICE, new User(ACME, ALICE, Role.ADMIN, key(ACME, ALICE).keyId(), WRITTEN),
                BOB, new User(ACME, BOB, Role.USER, replacement(ACME, BOB).keyId(), WRITTEN.plus(Duration.ofMinutes(1))),
                CAROL, new User(ACME, CAROL, Role.ADMIN, key(ACME, CAROL).keyId(), WRITTEN.plus(Duration.ofMinutes(2))));
        Map<UserId, ApiKey> keys = Map.of(ALICE, key(ACME, ALICE), BOB, replacement(ACME, BOB), CAROL, key(ACME, CAROL));
        Map<UserId, Instant> issued = Map.of(ALICE, WRITTEN, BOB, WRITTEN.plus(Duration.ofMinutes(3)), CAROL, WRITTEN.plus(Duration.ofMinutes(2)));

        assertThat(store.listUsers(ACME, UserQuery.all()).users()).containsExactly(expected.get(BOB), expected.get(ALICE), expected.get(CAROL));
        for (UserId userId : List.of(ALICE, BOB, CAROL)) {
            User user = expected.get(userId);
            ApiKey key = keys.get(userId);
            assertThat(store.findUser(ACME, userId)).contains(user);
            KeyRecord record = store.findKey(key.keyId()).orElseThrow();
            assertThat(record).isEqualTo(new KeyRecord(key.keyId(), record.secretHash(), ACME, userId, user.role(), issued.get(userId), KeyAttributes.primaryKey()));
            assertThat(hasher.matches(key, record.secretHash())).as("the hash of %s's key", userId).isTrue();
            assertThat(store.listKeys(ACME, userId, clock.instant())).containsExactly(record.summary());
        }
        assertThat(store.findKey(key(ACME, BOB).keyId())).as("Bob's replaced key").isEmpty();
        assertThat(store.findKey(key(ACME, MALLORY).keyId())).as("the key of a removed user").isEmpty();
        assertThat(store.findUser(ACME, MALLORY)).isEmpty();
        assertThat(store.listAccounts()).extracting(AccountSummary::id, AccountSummary::userCount).containsExactly(
                tuple(ACME, 3),
                tuple(BETA, 2));
        assertThat(StoreConsistency.allChanges(store)).extracting(Change::type).startsWith(
                ChangeType.ACCOUNT_CREATED, ChangeType.USER_ADDED, ChangeType.USER_ADDED, ChangeType.KEY_REPLACED, ChangeType.ROLE_CHANGED,
                ChangeType.USER_ADDED, ChangeType.USER_REMOVED, ChangeType.ACCOUNT_CREATED, ChangeType.USER_ADDED);
        StoreInvariants.check(directory, store);
    }

    @Test
    void aWriteTheOldStoreLeftDecidedIsFinished()
            throws IOException
    {
        ApiKey oldKey = key(BETA, ERIN);
        ApiKey newKey = replacement(BETA, ERIN);

        // lookups honour the pending write before anyone rolls it forward
        assertThat(store.findKey(oldKey.keyId())).isEmpty();
        KeyRecord issued = new KeyRecord(newKey.keyId(), hasher.hash(newKey.secret()), BETA, ERIN, Role.USER, WRITTEN.plus(Duration.ofMinutes(9)));
        assertThat(store.findKey(newKey.keyId())).contains(issued);

        assertThat(store.findUser(BETA, ERIN)).contains(new User(BETA, ERIN, Role.USER, newKey.keyId(), WRITTEN.plus(Duration.ofMinutes(8))));
        assertThat(store.listKeys(BETA, ERIN, clock.instant())).containsExactly(issued.summary());
        assertThat(Files.readString(directory.resolve("accounts/beta/account.json"), StandardCharsets.UTF_8)).doesNotContain("pending");
        assertThat(Files.readString(keyFile(newKey.keyId()), StandardCharsets.UTF_8)).doesNotContain("staged_by");
        assertThat(keyFile(oldKey.keyId())).doesNotExist();
        List<Change> changes = StoreConsistency.allChanges(store);
        assertThat(changes).hasSize(10);
        assertThat(changes.get(9)).isEqualTo(new Change(changes.get(9).position(), ChangeType.KEY_REPLACED, BETA, Optional.of(ERIN),
                List.of(oldKey.keyId(), newKey.keyId()), clock.instant()));
        assertThat(store.findKey(oldKey.keyId())).isEmpty();
        assertThat(store.findKey(newKey.keyId())).contains(issued);
        assertThat(store.findKey(key(BETA, DAVE).keyId())).isPresent();
        StoreInvariants.check(directory, store);
    }

    @Test
    void theNewWritesWorkOnTheOldFiles()
    {
        ApiKey alicesOldKey = key(ACME, ALICE);
        ApiKey bobsKey = replacement(ACME, BOB);

        // a key beside Bob's one key
        ApiKey extra = generator.random();
        KeyAttributes attributes = KeyAttributes.extra(Optional.of(KeyName.of("ci")), Scopes.of("docs:read"), Optional.of(clock.instant().plus(Duration.ofDays(30))));
        NewKey added = new NewKey(ACME, BOB, extra.keyId(), hasher.hash(extra.secret()), clock.instant(), attributes);
        store.addKey(added);
        assertThat(store.findKey(extra.keyId())).contains(added.keyRecord(Role.USER));
        assertThat(store.listKeys(ACME, BOB, clock.instant())).extracting(KeySummary::keyId).containsExactly(bobsKey.keyId(), extra.keyId());

        // alice's key replaced, the old one kept for an hour
        ApiKey alicesNewKey = generator.random();
        Instant until = clock.instant().plus(Duration.ofHours(1));
        User before = store.replaceKey(ACME, ALICE, alicesNewKey.keyId(), hasher.hash(alicesNewKey.secret()), clock.instant(), Optional.of(until));
        assertThat(before.primaryKeyId()).contains(alicesOldKey.keyId());
        assertThat(store.findKey(alicesOldKey.keyId()).orElseThrow().attributes()).isEqualTo(KeyAttributes.primaryKey().retiredUntil(until));
        assertThat(store.findUser(ACME, ALICE).orElseThrow().primaryKeyId()).contains(alicesNewKey.keyId());
        assertThat(store.listKeys(ACME, ALICE, clock.instant())).extracting(KeySummary::keyId).containsExactly(alicesOldKey.keyId(), alicesNewKey.keyId());
        assertThat(store.listKeys(ACME, ALICE, until)).extracting(KeySummary::keyId).containsExactly(alicesNewKey.keyId());

        // Bob's old primary key deleted: Bob keeps the added one
        KeySummary deleted = store.deleteKey(ACME, BOB, bobsKey.keyId(), clock.instant());
        assertThat(deleted).isEqualTo(new KeySummary(bobsKey.keyId(), WRITTEN.plus(Duration.ofMinutes(3)), KeyAttributes.primaryKey()));
        assertThat(store.findKey(bobsKey.keyId())).isEmpty();
        assertThat(store.findUser(ACME, BOB).orElseThrow().primaryKeyId()).isEmpty();
        assertThat(store.findKey(extra.keyId())).isPresent();

        // a role change and a removal reach the old users' keys
        UserChange demoted = store.setRole(ACME, CAROL, Role.USER);
        assertThat(demoted.keyIds()).containsExactly(key(ACME, CAROL).keyId());
        assertThat(store.findKey(key(ACME, CAROL).keyId()).orElseThrow().role()).isEqualTo(Role.USER);
        StoreInvariants.check(directory, store);
        UserChange removed = store.removeUser(ACME, BOB);
        assertThat(removed.keyIds()).containsExactly(extra.keyId());
        assertThat(store.findKey(extra.keyId())).isEmpty();

        // an account of old users is deleted with every key
        store.deleteAccount(BETA);
        for (ApiKey key : List.of(key(BETA, DAVE), key(BETA, ERIN), replacement(BETA, ERIN))) {
            assertThat(store.findKey(key.keyId())).isEmpty();
        }
        assertThat(directory.resolve("accounts/beta")).doesNotExist();
        StoreInvariants.check(directory, store);
    }

    @Test
    void theOldFeedEntriesAreReadAsChangesAndNotListedAsAuditRecords()
            throws IOException
    {
        AuditQuery all = new AuditQuery(Optional.empty(), Optional.empty(), Instant.EPOCH, AuditQuery.MAX_LIMIT);
        assertThat(StoreConsistency.allChanges(store)).hasSize(9);
        assertThat(store.listAudit(all).records()).isEmpty();

        // the write the old store left decided is finished without an origin: it was not made by this version
        assertThat(store.findAccount(BETA)).isPresent();
        assertThat(StoreConsistency.allChanges(store)).hasSize(10);
        assertThat(store.listAudit(all).records()).isEmpty();

        Origin origin = new Origin(Actor.root(), "instance-a:1", "after-the-upgrade");
        ApiKey key = generator.random();
        store.addUser(origin, new NewUser(new User(ACME, UserId.of("frank"), Role.USER, key.keyId(), clock.instant()), hasher.hash(key.secret())));
        List<Change> changes = StoreConsistency.allChanges(store);
        assertThat(changes).hasSize(11);
        assertThat(store.listAudit(all).records()).containsExactly(new AuditRecord(changes.get(10), origin));
        assertThat(Files.readString(directory.resolve("feed/0000000000000000011.json"), StandardCharsets.UTF_8))
                .contains("\"actor\" : \"root\"").contains("\"request_id\" : \"after-the-upgrade\"");
        assertThat(Files.readString(directory.resolve("feed/0000000000000000010.json"), StandardCharsets.UTF_8)).doesNotContain("origin");
        StoreInvariants.check(directory, store);

        // compaction archives the one audited entry, and none of the old ones
        store.compactThrough(store.headPosition());
        assertThat(store.listAudit(all).records()).containsExactly(new AuditRecord(changes.get(10), origin));
        try (Stream<Path> segments = Files.list(directory.resolve("audit"))) {
            List<Path> files = segments.filter(file -> file.getFileName().toString().endsWith(".jsonl")).toList();
            assertThat(files).hasSize(1);
            assertThat(Files.readAllLines(files.get(0), StandardCharsets.UTF_8)).hasSize(1);
        }
        assertThat(FileSystemIdentityStore.open(directory, clock).listAudit(all).records()).extracting(record -> record.origin().requestId())
                .containsExactly("after-the-upgrade");
    }

    private static ApiKey key(AccountId account, UserId user)
    {
        return ApiKeyGenerator.seeded(SEED, account, user);
    }

    private static ApiKey replacement(AccountId account, UserId user)
    {
        return ApiKeyGenerator.seeded(REPLACEMENT_SEED, account, user);
    }

    private Path keyFile(KeyId keyId)
    {
        String name = FileNames.encode(keyId.value());
        return directory.resolve("keys").resolve(name.substring(0, 2)).resolve(name + ".json");
    }

    private static URL requireResource(String name)
    {
        URL resource = TestLegacyStoreV1.class.getClassLoader().getResource(name);
        assertThat(resource).as("test resource %s", name).isNotNull();
        return resource;
    }
}

package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.AuditPage;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.Origin;
import dev.latchkey.core.testing.TestingClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The audit trail and the last-used times as the JDBC store keeps them (latchkey_audit, latchkey_key_usage): what
 * the shared contract cannot see from outside, such as a write that rolls back after its append, automatic
 * compaction, a purge larger than one chunk, a key's usage row going with the key, and batches larger than one
 * statement's chunk.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class AbstractTestJdbcAuditAndUsage
{
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final AccountId ACME = AccountId.of("acme");
    private static final UserId ADMIN = UserId.of("admin");
    private static final UserId BOB = UserId.of("bob");

    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final SecretHasher hasher = SecretHasher.sha256();
    private final TestingClock clock = new TestingClock();
    private final List<JdbcIdentityStore> opened = new ArrayList<>();

    /**
     * The configuration of a fresh, empty database.
     */
    protected abstract JdbcStoreConfig freshDatabase();

    @AfterEach
    void closeStores()
    {
        opened.forEach(JdbcIdentityStore::close);
        opened.clear();
    }

    @Test
    void aWriteThatRollsBackAfterItsAppendLeavesNoAuditRecord()
            throws SQLException
    {
        JdbcStoreConfig config = freshDatabase();
        AtomicBoolean fail = new AtomicBoolean(true);
        JdbcIdentityStore store = open(config, position -> {
            if (fail.getAndSet(false)) {
                throw new IllegalStateException("crash between append and commit");
            }
        });
        assertThatThrownBy(() -> createAccount(store, origin("rolled-back"))).isInstanceOf(IllegalStateException.class);
        assertThat(rows(config, "latchkey_audit")).isZero();
        assertThat(store.listAudit(all()).records()).isEmpty();

        createAccount(store, origin("committed"));
        assertThat(store.listAudit(all()).records()).singleElement().satisfies(record -> {
            assertThat(record.change().position()).isEqualTo(FeedPosition.of(1));
            assertThat(record.origin().requestId()).isEqualTo("committed");
        });
    }

    @Test
    void theAuditTrailKeepsEveryRecordWhileTheFeedIsCompactedByCount()
            throws SQLException
    {
        JdbcStoreConfig config = freshDatabase().withFeedRetention(20);
        JdbcIdentityStore store = open(config, JdbcIdentityStore.BeforeCommit.NONE);
        createAccount(store, origin("request-1"));
        for (int i = 2; i <= 50; i++) {
            store.addUser(origin("request-" + i), newUser(UserId.of("user-" + i)));
        }
        assertThat(store.changesAfter(FeedPosition.of(29), 100)).isEqualTo(new FeedBatch.Reset(FeedPosition.of(50)));
        assertThat(rows(config, "latchkey_feed")).isEqualTo(20);

        assertThat(rows(config, "latchkey_audit")).isEqualTo(50);
        List<AuditRecord> records = store.listAudit(all()).records();
        assertThat(records).extracting(record -> record.change().position().value())
                .containsExactlyElementsOf(IntStream.iterate(50, i -> i >= 1, i -> i - 1).mapToObj(i -> (long) i).toList());
        assertThat(records.get(49).origin().requestId()).isEqualTo("request-1");
        assertThat(records.get(49).change().type()).isEqualTo(ChangeType.ACCOUNT_CREATED);
    }

    @Test
    void aPurgeOfMoreRecordsThanOneStatementDeletesEveryOneCommittedBeforeItsHorizon()
            throws SQLException
    {
        JdbcStoreConfig config = freshDatabase();
        JdbcIdentityStore store = open(config, JdbcIdentityStore.BeforeCommit.NONE);
        Instant base = Instant.parse("2026-01-01T00:00:00Z");
        int total = 12_000;
        insertAuditRecords(config, total, base);

        // committed at base + i seconds: those before base + 11,000 s go, 11,000 to 12,000 stay
        store.purgeAudit(base.plusSeconds(11_000));
        assertThat(rows(config, "latchkey_audit")).isEqualTo(1_001);
        AuditPage first = store.listAudit(new AuditQuery(Optional.empty(), Optional.empty(), Instant.EPOCH, AuditQuery.MAX_LIMIT));
        assertThat(first.records()).hasSize(AuditQuery.MAX_LIMIT);
        assertThat(first.records().get(0).change().position()).isEqualTo(FeedPosition.of(total));
        assertThat(first.next()).contains(FeedPosition.of(11_001));
        AuditPage second = store.listAudit(new AuditQuery(Optional.empty(), first.next(), Instant.EPOCH, AuditQuery.MAX_LIMIT));
        assertThat(second.records()).extracting(record -> record.change().position()).containsExactly(FeedPosition.of(11_000));
        assertThat(second.next()).isEmpty();

        // idempotent
        store.purgeAudit(base.plusSeconds(11_000));
        assertThat(rows(config, "latchkey_audit")).isEqualTo(1_001);
    }

    @Test
    void aKeysRecordedUseGoesWithTheKeyAndSurvivesItsOwnReplacementByTheSameKey()
            throws SQLException
    {
        JdbcStoreConfig config = freshDatabase();
        JdbcIdentityStore store = open(config, JdbcIdentityStore.BeforeCommit.NONE);
        NewUser admin = createAccount(store, origin("create"));
        NewUser bob = newUser(BOB);
        store.addUser(bob);
        NewKey extra = newKey(BOB);
        store.addKey(extra);
        Instant used = clock.instant().truncatedTo(ChronoUnit.MILLIS);
        KeyId unknown = keys.random().keyId();
        store.recordUsage("instance-a", Map.of(admin.keyId(), used, bob.keyId(), used, extra.keyId(), used, unknown, used));
        assertThat(store.lastUsed(List.of(admin.keyId(), bob.keyId(), extra.keyId(), unknown)))
                .isEqualTo(Map.of(admin.keyId(), used, bob.keyId(), used, extra.keyId(), used));
        // the id of a key that does not exist is not stored
        assertThat(rows(config, "latchkey_key_usage")).isEqualTo(3);

        // the same key, hashed again: still the same key, its use kept
        ApiKey same = keys.random();
        store.replaceKey(ACME, ADMIN, admin.keyId(), hasher.hash(same.secret()), clock.instant());
        assertThat(store.lastUsed(List.of(admin.keyId()))).isEqualTo(Map.of(admin.keyId(), used));

        store.deleteKey(ACME, BOB, extra.keyId(), clock.instant());
        assertThat(store.lastUsed(List.of(extra.keyId()))).isEmpty();
        store.removeUser(ACME, BOB);
        assertThat(store.lastUsed(List.of(bob.keyId()))).isEmpty();
        store.deleteAccount(ACME);
        assertThat(rows(config, "latchkey_key_usage")).isZero();

        // a use reported after its key went is skipped, not an error, and never reported for the id issued again
        store.recordUsage("instance-a", Map.of(bob.keyId(), used.plusSeconds(1)));
        assertThat(rows(config, "latchkey_key_usage")).isZero();
        createAccount(store, origin("again"));
        store.addUser(new NewUser(new User(ACME, BOB, Role.USER, bob.keyId(), clock.instant()), bob.secretHash()));
        assertThat(store.lastUsed(List.of(bob.keyId()))).isEmpty();
    }

    @Test
    void aFlushOfThousandsOfKeysIsOneBatchAndEveryOneIsReadBack()
            throws SQLException
    {
        JdbcStoreConfig config = freshDatabase();
        JdbcIdentityStore store = open(config, JdbcIdentityStore.BeforeCommit.NONE);
        createAccount(store, origin("create"));
        List<KeyId> keyIds = insertUsersWithKeys(config, 2_500);
        Instant base = clock.instant().truncatedTo(ChronoUnit.MICROS);
        Map<KeyId, Instant> batch = new HashMap<>();
        for (int i = 0; i < keyIds.size(); i++) {
            batch.put(keyIds.get(i), base.plusNanos(1_000L * i));
        }
        store.recordUsage("instance-a", batch);
        assertThat(store.lastUsed(keyIds)).isEqualTo(batch);

        // the later of the stored and the given instant, per key, whichever instance reports it
        Map<KeyId, Instant> mixed = new HashMap<>();
        Map<KeyId, Instant> expected = new HashMap<>(batch);
        for (int i = 0; i < keyIds.size(); i++) {
            Instant given = i % 2 == 0 ? batch.get(keyIds.get(i)).plusSeconds(10) : batch.get(keyIds.get(i)).minusSeconds(10);
            mixed.put(keyIds.get(i), given);
            if (i % 2 == 0) {
                expected.put(keyIds.get(i), given);
            }
        }
        open(config, JdbcIdentityStore.BeforeCommit.NONE).recordUsage("instance-b", mixed);
        assertThat(store.lastUsed(keyIds)).isEqualTo(expected);
        assertThat(store.headPosition()).isEqualTo(FeedPosition.of(1));
        assertThat(rows(config, "latchkey_audit")).isEqualTo(1);
    }

    @Test
    void concurrentFlushesOfTheSameKeysFromTwoHandlesKeepTheLatestWhileKeysAreDeleted()
            throws Exception
    {
        JdbcStoreConfig config = freshDatabase();
        JdbcIdentityStore store = open(config, JdbcIdentityStore.BeforeCommit.NONE);
        JdbcIdentityStore other = open(config, JdbcIdentityStore.BeforeCommit.NONE);
        createAccount(store, origin("create"));
        List<KeyId> keyIds = insertUsersWithKeys(config, 200);
        NewUser bob = newUser(BOB);
        store.addUser(bob);
        List<KeyId> flushed = new ArrayList<>(keyIds);
        flushed.add(bob.keyId());
        Instant base = clock.instant().truncatedTo(ChronoUnit.MICROS);
        int rounds = 30;

        ExecutorService executor = Executors.newFixedThreadPool(3);
        try {
            List<Future<?>> flushes = new ArrayList<>();
            for (JdbcIdentityStore handle : List.of(store, other)) {
                flushes.add(executor.submit(() -> {
                    for (int round = 1; round <= rounds; round++) {
                        Map<KeyId, Instant> batch = new HashMap<>();
                        for (KeyId keyId : flushed) {
                            batch.put(keyId, base.plusSeconds(round));
                        }
                        handle.recordUsage(handle == store ? "instance-a" : "instance-b", batch);
                    }
                    return null;
                }));
            }
            Future<?> removal = executor.submit(() -> store.removeUser(ACME, BOB));
            for (Future<?> flush : flushes) {
                flush.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            }
            removal.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        }
        finally {
            executor.shutdownNow();
            assertThat(executor.awaitTermination(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        }

        Map<KeyId, Instant> used = other.lastUsed(flushed);
        assertThat(used).hasSize(keyIds.size()).doesNotContainKey(bob.keyId());
        assertThat(used.values()).containsOnly(base.plusSeconds(rounds));
    }

    // helpers

    private JdbcIdentityStore open(JdbcStoreConfig config, JdbcIdentityStore.BeforeCommit beforeCommit)
    {
        JdbcIdentityStore store = JdbcIdentityStore.open(config, clock, beforeCommit);
        opened.add(store);
        return store;
    }

    private NewUser createAccount(JdbcIdentityStore store, Origin origin)
    {
        ApiKey key = keys.random();
        NewUser admin = new NewUser(new User(ACME, ADMIN, Role.ADMIN, key.keyId(), clock.instant()), hasher.hash(key.secret()));
        store.createAccount(origin, new Account(ACME, clock.instant(), true), Optional.of(admin));
        return admin;
    }

    private NewUser newUser(UserId userId)
    {
        ApiKey key = keys.random();
        return new NewUser(new User(ACME, userId, Role.USER, key.keyId(), clock.instant()), hasher.hash(key.secret()));
    }

    private NewKey newKey(UserId userId)
    {
        ApiKey key = keys.random();
        return new NewKey(ACME, userId, key.keyId(), hasher.hash(key.secret()), clock.instant(), KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty()));
    }

    private static Origin origin(String requestId)
    {
        return new Origin(Actor.root(), "instance-a", requestId);
    }

    private static AuditQuery all()
    {
        return new AuditQuery(Optional.empty(), Optional.empty(), Instant.EPOCH, AuditQuery.MAX_LIMIT);
    }

    private static Connection connect(JdbcStoreConfig config)
            throws SQLException
    {
        return DriverManager.getConnection(config.url(), config.user().orElse(null), config.password().orElse(null));
    }

    private static long rows(JdbcStoreConfig config, String table)
            throws SQLException
    {
        try (Connection connection = connect(config);
                PreparedStatement statement = connection.prepareStatement("SELECT COUNT(*) FROM " + table);
                ResultSet row = statement.executeQuery()) {
            row.next();
            return row.getLong(1);
        }
    }

    /**
     * Audit records at positions 1 to {@code count}, committed at {@code base} plus their position in seconds, as
     * writes of account acme would leave them.
     */
    private static void insertAuditRecords(JdbcStoreConfig config, int count, Instant base)
            throws SQLException
    {
        try (Connection connection = connect(config);
                PreparedStatement insert = connection.prepareStatement(
                        "INSERT INTO latchkey_audit (" + AuditRow.COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            connection.setAutoCommit(false);
            for (int i = 1; i <= count; i++) {
                insert.setLong(1, i);
                new FeedRow(ChangeType.USER_ADDED, ACME, Optional.of(UserId.of("user-" + i)), List.of(), base.plusSeconds(i)).bindAfterPosition(insert, 2);
                AuditRow.bindOrigin(insert, 7, new Origin(Actor.system(), "instance-a", "request-" + i));
                insert.addBatch();
            }
            insert.executeBatch();
            connection.commit();
        }
    }

    /**
     * Users of account acme with one key each, inserted directly (faster than one write each): their key ids.
     */
    private List<KeyId> insertUsersWithKeys(JdbcStoreConfig config, int count)
            throws SQLException
    {
        List<KeyId> keyIds = new ArrayList<>();
        try (Connection connection = connect(config);
                PreparedStatement user = connection.prepareStatement(
                        "INSERT INTO latchkey_user (account_id, user_id, role, created_at) VALUES (?, ?, 'USER', ?)");
                PreparedStatement key = connection.prepareStatement("""
                        INSERT INTO latchkey_key (key_id, secret_hash, account_id, user_id, created_at, name, is_primary, scopes, expires_at)
                        VALUES (?, ?, ?, ?, ?, NULL, TRUE, '*', NULL)""")) {
            connection.setAutoCommit(false);
            for (int i = 0; i < count; i++) {
                ApiKey apiKey = keys.random();
                user.setString(1, ACME.value());
                user.setString(2, "bulk-" + i);
                user.setObject(3, Timestamps.toDatabase(clock.instant()));
                user.addBatch();
                key.setString(1, apiKey.keyId().value());
                key.setBytes(2, hasher.hash(apiKey.secret()).bytes());
                key.setString(3, ACME.value());
                key.setString(4, "bulk-" + i);
                key.setObject(5, Timestamps.toDatabase(clock.instant()));
                key.addBatch();
                keyIds.add(apiKey.keyId());
            }
            user.executeBatch();
            key.executeBatch();
            connection.commit();
        }
        return keyIds;
    }
}

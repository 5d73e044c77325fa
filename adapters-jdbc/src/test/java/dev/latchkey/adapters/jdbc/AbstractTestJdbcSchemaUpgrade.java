package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyName;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHash;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.AuditPage;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.InstanceRecord;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.Origin;
import dev.latchkey.core.store.UserChange;
import dev.latchkey.core.store.UserQuery;
import dev.latchkey.core.testing.TestingClock;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A store written under an older schema keeps working once this version opens it and migrates it. From version 1
 * (one key per user, no key attributes): every key becomes its user's primary key, with every scope and no expiry,
 * and the feed goes on. From version 2 (no audit trail, no last-used times): the keys keep resolving as they were,
 * the audit trail and the last-used times start empty (the older writes are in the feed only), and every write from
 * then on is audited. From version 3 (no instance registry): the keys, the feed, the audit trail and the last-used
 * times are kept as they were, and the registry starts empty.
 */
abstract class AbstractTestJdbcSchemaUpgrade
{
    private static final AccountId ACME = AccountId.of("acme");
    private static final UserId ALICE = UserId.of("alice");
    private static final UserId BOB = UserId.of("bob");
    /** The schema version this jar migrates to. */
    private static final String CURRENT_VERSION = "4";

    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final SecretHasher hasher = SecretHasher.sha256();
    private final TestingClock clock = new TestingClock();

    /**
     * The configuration of a fresh, empty database.
     */
    protected abstract JdbcStoreConfig freshDatabase();

    @Test
    void aStoreOfVersionOneOpensMigratedWithEveryKeyAsItsUsersPrimaryKey()
            throws SQLException
    {
        JdbcStoreConfig config = freshDatabase();
        migrateToVersionOne(config);
        Instant created = clock.instant();
        ApiKey aliceKey = keys.random();
        ApiKey bobKey = keys.random();
        try (Connection connection = connect(config)) {
            // as version 1 wrote them: createAccount with its first admin, then addUser, each with its change
            insertAccount(connection, created);
            insertUserWithKey(connection, ALICE, Role.ADMIN, aliceKey.keyId(), hash(aliceKey), created);
            appendChange(connection, 1, ChangeType.ACCOUNT_CREATED, Optional.of(ALICE), List.of(aliceKey.keyId()), created);
            insertUserWithKey(connection, BOB, Role.USER, bobKey.keyId(), hash(bobKey), created);
            appendChange(connection, 2, ChangeType.USER_ADDED, Optional.of(BOB), List.of(bobKey.keyId()), created);
        }
        clock.advance(Duration.ofMinutes(1));

        try (JdbcIdentityStore store = JdbcIdentityStore.open(config, clock)) {
            assertThat(schemaVersion(config)).isEqualTo(CURRENT_VERSION);
            KeyRecord alicesRecord = new KeyRecord(aliceKey.keyId(), hash(aliceKey), ACME, ALICE, Role.ADMIN, created);
            KeyRecord bobsRecord = new KeyRecord(bobKey.keyId(), hash(bobKey), ACME, BOB, Role.USER, created);
            assertThat(store.findKey(aliceKey.keyId())).contains(alicesRecord);
            assertThat(store.findKey(aliceKey.keyId()).orElseThrow().attributes()).isEqualTo(KeyAttributes.primaryKey());
            assertThat(store.findKey(bobKey.keyId())).contains(bobsRecord);
            User alice = new User(ACME, ALICE, Role.ADMIN, aliceKey.keyId(), created);
            User bob = new User(ACME, BOB, Role.USER, bobKey.keyId(), created);
            assertThat(store.listUsers(ACME, UserQuery.all()).users()).containsExactly(alice, bob);
            assertThat(store.findUser(ACME, ALICE)).contains(alice);
            assertThat(store.listKeys(ACME, ALICE, clock.instant())).containsExactly(alicesRecord.summary());
            assertThat(store.listKeys(ACME, BOB, clock.instant())).containsExactly(bobsRecord.summary());
            assertThat(store.headPosition()).isEqualTo(FeedPosition.of(2));
            assertThat(store.changesAfter(FeedPosition.START, 10)).isEqualTo(new FeedBatch.Changes(List.of(
                    new Change(FeedPosition.of(1), ChangeType.ACCOUNT_CREATED, ACME, Optional.of(ALICE), List.of(aliceKey.keyId()), created),
                    new Change(FeedPosition.of(2), ChangeType.USER_ADDED, ACME, Optional.of(BOB), List.of(bobKey.keyId()), created)),
                    FeedPosition.of(2)));

            // a migrated user takes more keys, up to the limit: one that expires (and goes with the next key added), then 19 more
            List<KeyId> bobsKeys = new ArrayList<>(List.of(bobKey.keyId()));
            KeyId expiring = addKey(store, BOB, Optional.of(clock.instant().plusSeconds(60)));
            clock.advance(Duration.ofSeconds(60));
            for (int i = 1; i < NewKey.MAX_LIVE_KEYS; i++) {
                bobsKeys.add(addKey(store, BOB, Optional.empty()));
            }
            assertThat(store.listKeys(ACME, BOB, Instant.EPOCH)).hasSize(NewKey.MAX_LIVE_KEYS).first().isEqualTo(bobsRecord.summary());
            assertThat(store.findKey(expiring)).isEmpty();
            assertFailsWith(ErrorCode.FAILED_PRECONDITION, () -> addKey(store, BOB, Optional.empty()));

            // a migrated primary key is replaced with a grace period like any other
            ApiKey fresh = keys.random();
            Instant until = clock.instant().plus(Duration.ofHours(1));
            assertThat(store.replaceKey(ACME, ALICE, fresh.keyId(), hash(fresh), clock.instant(), Optional.of(until))).isEqualTo(alice);
            assertThat(store.findKey(aliceKey.keyId()).orElseThrow().attributes()).isEqualTo(KeyAttributes.primaryKey().retiredUntil(until));
            assertThat(store.findUser(ACME, ALICE)).contains(alice.withKey(fresh.keyId()));

            // the feed holds a change that names all 20 keys of a user
            FeedPosition before = store.headPosition();
            UserChange removed = store.removeUser(ACME, BOB);
            assertThat(removed.keyIds()).hasSize(NewKey.MAX_LIVE_KEYS).containsExactlyInAnyOrderElementsOf(bobsKeys);
            FeedBatch.Changes after = (FeedBatch.Changes) store.changesAfter(before, 10);
            assertThat(after.changes()).singleElement().satisfies(change -> {
                assertThat(change.type()).isEqualTo(ChangeType.USER_REMOVED);
                assertThat(change.keyIds()).containsExactlyInAnyOrderElementsOf(bobsKeys);
            });
            assertThat(store.findKey(bobKey.keyId())).isEmpty();
        }
    }

    @Test
    void aStoreOfVersionTwoOpensMigratedWithItsKeysAndAnEmptyAuditTrailAndNoRecordedUse()
            throws SQLException
    {
        JdbcStoreConfig config = freshDatabase();
        flyway(config).target("2").load().migrate();
        Instant created = clock.instant();
        ApiKey aliceKey = keys.random();
        ApiKey bobKey = keys.random();
        ApiKey bobsExtra = keys.random();
        KeyAttributes extraAttributes = KeyAttributes.extra(Optional.of(KeyName.of("ci")), Scopes.of("docs:read"), Optional.of(created.plus(Duration.ofDays(30))));
        try (Connection connection = connect(config)) {
            // as version 2 wrote them: createAccount with its first admin, addUser, then addKey, each with its change
            insertAccount(connection, created);
            insertUser(connection, ALICE, Role.ADMIN, created);
            insertKeyOfVersionTwo(connection, ALICE, aliceKey.keyId(), hash(aliceKey), created, KeyAttributes.primaryKey());
            appendChange(connection, 1, ChangeType.ACCOUNT_CREATED, Optional.of(ALICE), List.of(aliceKey.keyId()), created);
            insertUser(connection, BOB, Role.USER, created);
            insertKeyOfVersionTwo(connection, BOB, bobKey.keyId(), hash(bobKey), created, KeyAttributes.primaryKey());
            appendChange(connection, 2, ChangeType.USER_ADDED, Optional.of(BOB), List.of(bobKey.keyId()), created);
            insertKeyOfVersionTwo(connection, BOB, bobsExtra.keyId(), hash(bobsExtra), created.plusSeconds(1), extraAttributes);
            appendChange(connection, 3, ChangeType.KEY_ADDED, Optional.of(BOB), List.of(bobsExtra.keyId()), created.plusSeconds(1));
        }
        clock.advance(Duration.ofMinutes(1));

        try (JdbcIdentityStore store = JdbcIdentityStore.open(config, clock)) {
            assertThat(schemaVersion(config)).isEqualTo(CURRENT_VERSION);
            assertThat(rows(config, "latchkey_audit")).isZero();
            assertThat(rows(config, "latchkey_key_usage")).isZero();

            // the keys resolve as they did
            KeyRecord alicesRecord = new KeyRecord(aliceKey.keyId(), hash(aliceKey), ACME, ALICE, Role.ADMIN, created);
            KeyRecord bobsRecord = new KeyRecord(bobKey.keyId(), hash(bobKey), ACME, BOB, Role.USER, created);
            KeyRecord bobsExtraRecord = new KeyRecord(bobsExtra.keyId(), hash(bobsExtra), ACME, BOB, Role.USER, created.plusSeconds(1), extraAttributes);
            assertThat(store.findKey(aliceKey.keyId())).contains(alicesRecord);
            assertThat(store.findKey(bobKey.keyId())).contains(bobsRecord);
            assertThat(store.findKey(bobsExtra.keyId())).contains(bobsExtraRecord);
            assertThat(store.listKeys(ACME, BOB, clock.instant())).containsExactly(bobsRecord.summary(), bobsExtraRecord.summary());
            assertThat(store.headPosition()).isEqualTo(FeedPosition.of(3));
            assertThat(((FeedBatch.Changes) store.changesAfter(FeedPosition.START, 10)).changes()).hasSize(3);

            // the writes of version 2 are in the feed only; no key has a recorded use
            AuditQuery everything = new AuditQuery(Optional.empty(), Optional.empty(), Instant.EPOCH, AuditQuery.MAX_LIMIT);
            assertThat(store.listAudit(everything)).isEqualTo(new AuditPage(List.of(), Optional.empty()));
            assertThat(store.lastUsed(List.of(aliceKey.keyId(), bobKey.keyId(), bobsExtra.keyId()))).isEmpty();
            store.purgeAudit(clock.instant());

            // from now on every write is audited, at its feed position, and uses are recorded
            Origin origin = new Origin(Actor.user(ACME, ALICE, Role.ADMIN, Optional.of(aliceKey.keyId())), "instance-a", "after-upgrade");
            store.deleteKey(origin, ACME, BOB, bobsExtra.keyId(), clock.instant());
            FeedBatch.Changes after = (FeedBatch.Changes) store.changesAfter(FeedPosition.of(3), 10);
            assertThat(store.listAudit(everything).records()).containsExactly(new AuditRecord(after.changes().get(0), origin));
            assertThat(after.changes().get(0).position()).isEqualTo(FeedPosition.of(4));
            Instant used = clock.instant().truncatedTo(ChronoUnit.MILLIS);
            store.recordUsage("instance-a", Map.of(aliceKey.keyId(), used, bobKey.keyId(), used));
            assertThat(store.lastUsed(List.of(aliceKey.keyId(), bobKey.keyId(), bobsExtra.keyId())))
                    .isEqualTo(Map.of(aliceKey.keyId(), used, bobKey.keyId(), used));
        }
    }

    @Test
    void aStoreOfVersionThreeOpensMigratedWithItsDataAndAnEmptyInstanceRegistry()
            throws SQLException
    {
        JdbcStoreConfig config = freshDatabase();
        flyway(config).target("3").load().migrate();
        Instant created = clock.instant();
        ApiKey aliceKey = keys.random();
        NewUser alice = new NewUser(new User(ACME, ALICE, Role.ADMIN, aliceKey.keyId(), created), hash(aliceKey));
        Origin origin = new Origin(Actor.root(), "instance-a", "before-upgrade");
        Instant used = created.truncatedTo(ChronoUnit.MILLIS);
        // as version 3 writes them (with migrations off, this version's writes of those tables are version 3's): an
        // audited account with its first admin, and a recorded use
        try (JdbcIdentityStore versionThree = JdbcIdentityStore.open(config.withMigrate(false), clock)) {
            versionThree.createAccount(origin, new Account(ACME, created, true), Optional.of(alice));
            versionThree.recordUsage("instance-a", Map.of(aliceKey.keyId(), used));
        }
        assertThat(schemaVersion(config)).isEqualTo("3");
        clock.advance(Duration.ofMinutes(1));

        try (JdbcIdentityStore store = JdbcIdentityStore.open(config, clock)) {
            assertThat(schemaVersion(config)).isEqualTo(CURRENT_VERSION);
            assertThat(rows(config, "latchkey_instances")).isZero();
            assertThat(store.listInstances()).isEmpty();

            // the keys, the feed, the audit trail and the last-used times as they were
            assertThat(store.findKey(aliceKey.keyId())).contains(alice.keyRecord());
            assertThat(store.headPosition()).isEqualTo(FeedPosition.of(1));
            FeedBatch.Changes changes = (FeedBatch.Changes) store.changesAfter(FeedPosition.START, 10);
            AuditQuery everything = new AuditQuery(Optional.empty(), Optional.empty(), Instant.EPOCH, AuditQuery.MAX_LIMIT);
            assertThat(store.listAudit(everything).records()).containsExactly(new AuditRecord(changes.changes().get(0), origin));
            assertThat(store.lastUsed(List.of(aliceKey.keyId()))).isEqualTo(Map.of(aliceKey.keyId(), used));

            // the registry: written, replaced and removed, outside the feed and the audit trail
            Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS);
            InstanceRecord record = new InstanceRecord("instance-a", "http://instance-a:8080", "1.2.3", now.minusSeconds(30), FeedPosition.of(1),
                    now.minusSeconds(1), now, Duration.ofSeconds(10));
            store.publishInstance(record);
            assertThat(store.listInstances()).containsExactly(record);
            InstanceRecord again = record.publishedAgain(FeedPosition.of(1), now.plusSeconds(9), now.plusSeconds(10));
            store.publishInstance(again);
            assertThat(store.listInstances()).containsExactly(again);
            assertThat(rows(config, "latchkey_instances")).isEqualTo(1);
            store.removeInstance("instance-a");
            assertThat(store.listInstances()).isEmpty();
            assertThat(store.headPosition()).isEqualTo(FeedPosition.of(1));
            assertThat(rows(config, "latchkey_audit")).isEqualTo(1);
        }
    }

    private static void migrateToVersionOne(JdbcStoreConfig config)
    {
        flyway(config).target("1").load().migrate();
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

    private static void insertKeyOfVersionTwo(Connection connection, UserId userId, KeyId keyId, SecretHash secretHash, Instant created, KeyAttributes attributes)
            throws SQLException
    {
        try (PreparedStatement insert = connection.prepareStatement("""
                INSERT INTO latchkey_key (key_id, secret_hash, account_id, user_id, created_at, name, is_primary, scopes, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""")) {
            insert.setString(1, keyId.value());
            insert.setBytes(2, secretHash.bytes());
            insert.setString(3, ACME.value());
            insert.setString(4, userId.value());
            insert.setObject(5, Timestamps.toDatabase(created));
            insert.setString(6, attributes.name().map(KeyName::value).orElse(null));
            insert.setBoolean(7, attributes.primary());
            insert.setString(8, attributes.scopes().joined());
            insert.setObject(9, attributes.expiresAt().map(Timestamps::toDatabase).orElse(null), Types.TIMESTAMP_WITH_TIMEZONE);
            insert.executeUpdate();
        }
    }

    private static FluentConfiguration flyway(JdbcStoreConfig config)
    {
        return Flyway.configure(JdbcIdentityStore.class.getClassLoader())
                .dataSource(config.url(), config.user().orElse(null), config.password().orElse(null))
                .locations(SqlDialect.of(config.url()).migrationLocation())
                .table("latchkey_schema_history");
    }

    private static Connection connect(JdbcStoreConfig config)
            throws SQLException
    {
        return DriverManager.getConnection(config.url(), config.user().orElse(null), config.password().orElse(null));
    }

    private static String schemaVersion(JdbcStoreConfig config)
    {
        return flyway(config).load().info().current().getVersion().getVersion();
    }

    private static void insertAccount(Connection connection, Instant created)
            throws SQLException
    {
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO latchkey_account (account_id, created_at, admin_required) VALUES (?, ?, ?)")) {
            insert.setString(1, ACME.value());
            insert.setObject(2, Timestamps.toDatabase(created));
            insert.setBoolean(3, true);
            insert.executeUpdate();
        }
    }

    private static void insertUser(Connection connection, UserId userId, Role role, Instant created)
            throws SQLException
    {
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO latchkey_user (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)")) {
            insert.setString(1, ACME.value());
            insert.setString(2, userId.value());
            insert.setString(3, role.name());
            insert.setObject(4, Timestamps.toDatabase(created));
            insert.executeUpdate();
        }
    }

    private static void insertUserWithKey(Connection connection, UserId userId, Role role, KeyId keyId, SecretHash secretHash, Instant created)
            throws SQLException
    {
        insertUser(connection, userId, role, created);
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO latchkey_key (key_id, secret_hash, account_id, user_id, created_at) VALUES (?, ?, ?, ?, ?)")) {
            insert.setString(1, keyId.value());
            insert.setBytes(2, secretHash.bytes());
            insert.setString(3, ACME.value());
            insert.setString(4, userId.value());
            insert.setObject(5, Timestamps.toDatabase(created));
            insert.executeUpdate();
        }
    }

    private static void appendChange(Connection connection, long position, ChangeType type, Optional<UserId> userId, List<KeyId> keyIds, Instant committed)
            throws SQLException
    {
        try (PreparedStatement increment = connection.prepareStatement("UPDATE latchkey_feed_head SET feed_position = ? WHERE id = 1")) {
            increment.setLong(1, position);
            increment.executeUpdate();
        }
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO latchkey_feed (feed_position, change_type, account_id, user_id, key_ids, committed_at) VALUES (?, ?, ?, ?, ?, ?)")) {
            insert.setLong(1, position);
            new FeedRow(type, ACME, userId, keyIds, committed).bindAfterPosition(insert, 2);
            insert.executeUpdate();
        }
    }

    private KeyId addKey(JdbcIdentityStore store, UserId userId, Optional<Instant> expiresAt)
    {
        ApiKey key = keys.random();
        store.addKey(new NewKey(ACME, userId, key.keyId(), hash(key), clock.instant(),
                KeyAttributes.extra(Optional.of(KeyName.of("extra")), Scopes.of("docs:read"), expiresAt)));
        return key.keyId();
    }

    private SecretHash hash(ApiKey key)
    {
        return hasher.hash(key.secret());
    }

    private static void assertFailsWith(ErrorCode code, ThrowingCallable call)
    {
        assertThatThrownBy(call)
                .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).as("error code").isEqualTo(code));
    }
}

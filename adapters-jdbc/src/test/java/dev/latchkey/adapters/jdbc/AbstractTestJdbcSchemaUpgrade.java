package dev.latchkey.adapters.jdbc;

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
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.NewKey;
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
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A store written under schema version 1 (one key per user, no key attributes) keeps working once this version opens
 * it and migrates it: every key becomes its user's primary key, with every scope and no expiry, and the feed goes on.
 */
abstract class AbstractTestJdbcSchemaUpgrade
{
    private static final AccountId ACME = AccountId.of("acme");
    private static final UserId ALICE = UserId.of("alice");
    private static final UserId BOB = UserId.of("bob");

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
            assertThat(schemaVersion(config)).isEqualTo("2");
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

    private static void migrateToVersionOne(JdbcStoreConfig config)
    {
        flyway(config).target("1").load().migrate();
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

    private static void insertUserWithKey(Connection connection, UserId userId, Role role, KeyId keyId, SecretHash secretHash, Instant created)
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

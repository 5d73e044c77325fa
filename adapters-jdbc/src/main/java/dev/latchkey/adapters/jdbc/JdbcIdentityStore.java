package dev.latchkey.adapters.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.latchkey.core.domain.Account;
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
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.SecretHash;
import dev.latchkey.core.store.AuditPage;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.ExpiredKeys;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.InstanceRecord;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.Origin;
import dev.latchkey.core.store.StoreErrors;
import dev.latchkey.core.store.UserChange;
import dev.latchkey.core.store.UserPage;
import dev.latchkey.core.store.UserQuery;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;

import java.lang.System.Logger.Level;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;

import static java.util.Objects.requireNonNull;

/**
 * The identity store in a SQL database: PostgreSQL for deployments of many instances, H2 for embedded use.
 *
 * <h2>Schema</h2>
 * Flyway migrations shipped in this jar ({@code dev/latchkey/adapters/jdbc/migration/<database>/}), applied by
 * {@link #open} unless {@link JdbcStoreConfig#migrate()} is off. Tables {@code latchkey_account},
 * {@code latchkey_user} and {@code latchkey_key} hold the invariants SQL can hold: unique ids (a key id is the primary
 * key of {@code latchkey_key}, so unique across the store), foreign keys that cascade an account's deletion to its
 * users and their keys, at most one primary key per user (on PostgreSQL; H2 has no partial index). A user holds
 * several keys; its primary key is the one with {@code is_primary}, and it has none after that key was deleted.
 * A key's scopes are stored joined by single spaces. Ids sort in ordinal order ({@code COLLATE "C"} on PostgreSQL).
 *
 * <h2>Writes</h2>
 * Each mutation is one short transaction at READ COMMITTED. A mutation of an account's users first locks the account
 * row ({@code SELECT ... FOR UPDATE}), so writes to one account are serialized and checks such as the last-admin
 * guard, "the user exists" or "the account still exists" are decided atomically with the write; a user added while
 * its account is deleted waits for the deletion and then finds no account. A write that adds a live key to a user
 * also locks the user row before it counts the user's live keys, so the limit of {@link NewKey#MAX_LIVE_KEYS} is
 * decided atomically with the write too. Conflicts that cross accounts (one key id issued twice) are settled by the
 * unique constraint: the loser's violation becomes ALREADY_EXISTS. Deadlocks and
 * serialization failures are retried; every other SQL failure is UNAVAILABLE (or INTERNAL for a statement the
 * database rejects), and no {@link SQLException} leaves this class.
 *
 * <h2>A gap-free change feed</h2>
 * The classic outbox numbers changes from a sequence; but transactions commit in any order, so a reader can see
 * change 8 before change 7 commits, move its position to 8, and never see 7. Here every writing transaction, as its
 * last statement, increments the one row of {@code latchkey_feed_head} and appends its change at the new value. The
 * row lock it takes is held until the transaction ends, so the next writer can only take position n + 1 once the
 * transaction holding n has committed (or rolled back, releasing n unused): positions are handed out in commit order
 * and a change is visible before any change with a higher position. A reader of "changes after P" therefore never
 * skips one that commits later. The price is that writers serialize for the length of one commit (admin writes, not
 * key lookups); reads take no lock. As a second guard, a reader stops at the first hole it would step over.
 * On PostgreSQL, the same statement queues a {@code NOTIFY latchkey_feed}, which PostgreSQL delivers only at commit:
 * see {@link #listenForCommits}.
 *
 * <h2>Compaction</h2>
 * Every {@code feedRetention / 10} changes, the writer that appended the change deletes the entries older than the
 * newest {@code feedRetention} and raises {@code latchkey_feed_floor}; a reader behind the floor gets
 * {@link FeedBatch.Reset}.
 *
 * <h2>The audit trail</h2>
 * Table {@code latchkey_audit} (schema version 3): one row per committed write, keyed by its feed position, holding
 * the change's own columns (type, account, user, key ids joined by single spaces, commit time: the same values as
 * its feed row) and its {@link Origin}: {@code actor_kind} (root, admin, user or system), {@code actor_account_id},
 * {@code actor_user_id}, {@code actor_key_id} (NULL when the actor has none), {@code instance_id},
 * {@code request_id}. The statement that appends the change inserts it too (one more statement on H2), in the same
 * transaction, so a record exists exactly when its change committed. Compaction never touches it; it is kept by
 * time: {@link #purgeAudit} deletes the rows committed before its horizon, in chunks. A page is one statement,
 * newest first, on the primary key or on the index ({@code account_id}, {@code feed_position}) when it filters by
 * account. Writes of an older version (schema 2) have feed entries only, so they are not listed.
 *
 * <h2>Last-used times</h2>
 * Table {@code latchkey_key_usage}: one row per key that has a recorded use ({@code key_id}, {@code last_used_at}),
 * never part of the feed nor of the audit trail. A flush of {@link #recordUsage} is one statement whatever its size:
 * the ids and instants go as two arrays into one upsert ({@code INSERT ... ON CONFLICT} on PostgreSQL, {@code MERGE}
 * on H2) that keeps the later instant, for existing keys only, in key order (so concurrent flushes lock shared rows in
 * one order). Its foreign key to {@code latchkey_key} cascades: a deleted key (its user removed, its account deleted,
 * or replaced) takes its row along, so a key id issued again never inherits a use. Which instance reported a use is
 * not kept, only the latest use across them all. {@link #lastUsed} is one primary-key read per
 * {@value #LAST_USED_CHUNK} keys.
 *
 * <h2>The instance registry</h2>
 * Table {@code latchkey_instances} (schema version 4): one row per instance, keyed by its instance id, holding its
 * {@link InstanceRecord} ({@code url}, {@code version}, {@code started_at}, {@code applied_position},
 * {@code feed_read_at}, {@code published_at}, and the heartbeat as {@code heartbeat_millis}). Each instance writes
 * only its own row: {@link #publishInstance} is one upsert ({@code INSERT ... ON CONFLICT} on PostgreSQL,
 * {@code MERGE ... KEY} on H2), {@link #removeInstance} one DELETE, {@link #listInstances} one SELECT in instance id
 * order. None of them touches the feed head or the audit trail, so they neither wait for admin writes nor hold them
 * up. Instants are kept to the microsecond like every other, the heartbeat to the millisecond (a finer one rounded
 * up, so that a live instance never counts as gone early).
 *
 * <h2>Connections and timeouts</h2>
 * A HikariCP pool of up to {@link JdbcStoreConfig#poolSize()} connections. A call waits at most
 * {@link JdbcStoreConfig#connectTimeout()} for a connection (validating an idle one first); each statement is
 * cancelled by the server after {@link JdbcStoreConfig#queryTimeout()}, and the client drops a connection that stays
 * silent as long (rounded up to whole seconds, the driver's unit), so an unreachable database fails a call with
 * UNAVAILABLE within about one to one and a half seconds at the defaults instead of hanging it. Thread safe.
 */
public final class JdbcIdentityStore
        implements IdentityStore
{
    private static final System.Logger LOG = System.getLogger(JdbcIdentityStore.class.getName());
    private static final int ATTEMPTS = 3;
    /** A feed read returns at most this many changes, whatever the limit asked. */
    private static final int MAX_FEED_BATCH = 10_000;
    private static final String SCHEMA_HISTORY_TABLE = "latchkey_schema_history";
    /** A purge of the audit trail deletes at most this many rows per statement. */
    private static final int PURGE_CHUNK = 5_000;
    /** A last-used read asks for at most this many keys per statement. */
    private static final int LAST_USED_CHUNK = 1_000;

    private final JdbcStoreConfig config;
    private final SqlDialect dialect;
    private final HikariDataSource dataSource;
    private final Clock clock;
    private final int feedRetention;
    private final int compactionInterval;
    private final List<CommitListener> listeners = new CopyOnWriteArrayList<>();
    private final BeforeCommit beforeCommit;

    private JdbcIdentityStore(JdbcStoreConfig config, HikariDataSource dataSource, Clock clock, BeforeCommit beforeCommit)
    {
        this.beforeCommit = beforeCommit;
        this.config = config;
        this.dialect = SqlDialect.of(config.url());
        this.dataSource = dataSource;
        this.clock = clock;
        this.feedRetention = config.feedRetention();
        this.compactionInterval = Math.max(1, config.feedRetention() / 10);
    }

    /**
     * Opens a connection pool to the database and, when {@link JdbcStoreConfig#migrate()} is on, brings the schema
     * up to date (several instances may do so at once). With migrations off, the store opens even while the
     * database is unreachable; calls fail with UNAVAILABLE until it is back.
     *
     * @throws LatchkeyException UNAVAILABLE when migrations are on and the database cannot be reached; INTERNAL when
     *         the schema in the database cannot be migrated (for example, it is newer than this version)
     */
    public static JdbcIdentityStore open(JdbcStoreConfig config, Clock clock)
    {
        return open(config, clock, BeforeCommit.NONE);
    }

    /**
     * For tests: {@code beforeCommit} runs in every writing transaction after its change is appended, just before
     * the commit (while the transaction holds the feed head's lock).
     */
    static JdbcIdentityStore open(JdbcStoreConfig config, Clock clock, BeforeCommit beforeCommit)
    {
        requireNonNull(config, "config is null");
        requireNonNull(clock, "clock is null");
        requireNonNull(beforeCommit, "beforeCommit is null");
        HikariDataSource dataSource = new HikariDataSource(poolConfig(config));
        try {
            if (config.migrate()) {
                migrate(config, dataSource);
            }
            return new JdbcIdentityStore(config, dataSource, clock, beforeCommit);
        }
        catch (RuntimeException e) {
            dataSource.close();
            throw e;
        }
    }

    private static HikariConfig poolConfig(JdbcStoreConfig config)
    {
        SqlDialect dialect = SqlDialect.of(config.url());
        HikariConfig pool = new HikariConfig();
        pool.setPoolName("latchkey-store");
        pool.setJdbcUrl(config.url());
        config.user().ifPresent(pool::setUsername);
        config.password().ifPresent(pool::setPassword);
        pool.setMaximumPoolSize(config.poolSize());
        pool.setMinimumIdle(Math.min(2, config.poolSize()));
        pool.setConnectionTimeout(config.connectTimeout().toMillis());
        pool.setValidationTimeout(Math.max(250, config.connectTimeout().toMillis() / 2));
        // the pool starts without the database; calls fail with UNAVAILABLE until it is reachable
        pool.setInitializationFailTimeout(-1);
        pool.setAutoCommit(true);
        pool.setTransactionIsolation("TRANSACTION_READ_COMMITTED");
        pool.setConnectionInitSql(dialect.connectionInitSql(config.queryTimeout()));
        dialect.driverProperties(config).forEach(pool::addDataSourceProperty);
        return pool;
    }

    private static void migrate(JdbcStoreConfig config, HikariDataSource dataSource)
    {
        try {
            Flyway.configure(JdbcIdentityStore.class.getClassLoader())
                    .dataSource(dataSource)
                    .locations(SqlDialect.of(config.url()).migrationLocation())
                    .table(SCHEMA_HISTORY_TABLE)
                    .baselineOnMigrate(false)
                    .load()
                    .migrate();
        }
        catch (FlywayException e) {
            if (hasConnectionFailure(e)) {
                throw new LatchkeyException(ErrorCode.UNAVAILABLE, "cannot reach the database to migrate the schema", e);
            }
            throw new LatchkeyException(ErrorCode.INTERNAL, "cannot migrate the schema of the JDBC store: " + e.getMessage(), e);
        }
    }

    private static boolean hasConnectionFailure(Throwable e)
    {
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof SQLTransientConnectionException
                    || (cause instanceof SQLException sql && sql.getSQLState() != null && sql.getSQLState().startsWith("08"))) {
                return true;
            }
        }
        return false;
    }

    // --- reads

    @Override
    public Optional<KeyRecord> findKey(KeyId keyId)
    {
        requireNonNull(keyId, "keyId is null");
        return read(connection -> {
            try (PreparedStatement statement = connection.prepareStatement("""
                    SELECT k.secret_hash, k.account_id, k.user_id, u.role, k.created_at, k.name, k.is_primary, k.scopes, k.expires_at
                    FROM latchkey_key k JOIN latchkey_user u ON u.account_id = k.account_id AND u.user_id = k.user_id
                    WHERE k.key_id = ?""")) {
                statement.setString(1, keyId.value());
                try (ResultSet row = statement.executeQuery()) {
                    if (!row.next()) {
                        return Optional.empty();
                    }
                    // an expired key is returned too: the caller checks its expiry
                    return Optional.of(new KeyRecord(keyId, SecretHash.ofBytes(row.getBytes(1)), AccountId.of(row.getString(2)),
                            UserId.of(row.getString(3)), Role.valueOf(row.getString(4)), Timestamps.read(row, 5), readAttributes(row, 6)));
                }
            }
        });
    }

    @Override
    public Optional<Account> findAccount(AccountId accountId)
    {
        requireNonNull(accountId, "accountId is null");
        return read(connection -> {
            try (PreparedStatement statement = connection.prepareStatement(
                    "SELECT created_at, admin_required FROM latchkey_account WHERE account_id = ?")) {
                statement.setString(1, accountId.value());
                try (ResultSet row = statement.executeQuery()) {
                    return row.next() ? Optional.of(new Account(accountId, Timestamps.read(row, 1), row.getBoolean(2))) : Optional.empty();
                }
            }
        });
    }

    @Override
    public List<AccountSummary> listAccounts()
    {
        return read(connection -> {
            try (PreparedStatement statement = connection.prepareStatement("""
                    SELECT a.account_id, a.created_at, (SELECT COUNT(*) FROM latchkey_user u WHERE u.account_id = a.account_id)
                    FROM latchkey_account a
                    ORDER BY a.account_id""");
                    ResultSet row = statement.executeQuery()) {
                List<AccountSummary> accounts = new ArrayList<>();
                while (row.next()) {
                    accounts.add(new AccountSummary(AccountId.of(row.getString(1)), Timestamps.read(row, 2), row.getInt(3)));
                }
                return accounts;
            }
        });
    }

    @Override
    public Optional<User> findUser(AccountId accountId, UserId userId)
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        return read(connection -> selectUser(connection, accountId, userId));
    }

    @Override
    public UserPage listUsers(AccountId accountId, UserQuery query)
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(query, "query is null");
        // one statement, so one snapshot: the account row comes back (with no user) even when no user matches
        StringBuilder sql = new StringBuilder("""
                SELECT u.user_id, u.role, k.key_id, u.created_at
                FROM latchkey_account a
                LEFT JOIN (latchkey_user u LEFT JOIN latchkey_key k ON k.account_id = u.account_id AND k.user_id = u.user_id AND k.is_primary)
                    ON u.account_id = a.account_id""");
        List<String> parameters = new ArrayList<>();
        query.after().ifPresent(after -> {
            sql.append(" AND u.user_id > ?");
            parameters.add(after.value());
        });
        query.role().ifPresent(role -> {
            sql.append(" AND u.role = ?");
            parameters.add(role.name());
        });
        query.nameGlob().ifPresent(glob -> {
            sql.append(" AND u.user_id LIKE ? ESCAPE '\\'");
            parameters.add(likePattern(glob));
        });
        sql.append(" WHERE a.account_id = ? ORDER BY u.user_id LIMIT ?");
        return read(connection -> {
            try (PreparedStatement statement = connection.prepareStatement(sql.toString())) {
                int index = 1;
                for (String parameter : parameters) {
                    statement.setString(index++, parameter);
                }
                statement.setString(index++, accountId.value());
                // one more than the page, to know whether more follow
                statement.setInt(index, query.limit() + 1);
                try (ResultSet row = statement.executeQuery()) {
                    if (!row.next()) {
                        throw StoreErrors.accountNotFound(accountId);
                    }
                    List<User> users = new ArrayList<>();
                    boolean more = false;
                    do {
                        if (row.getString(1) == null) {
                            break;
                        }
                        if (users.size() == query.limit()) {
                            more = true;
                            break;
                        }
                        users.add(new User(accountId, UserId.of(row.getString(1)), Role.valueOf(row.getString(2)),
                                Optional.ofNullable(row.getString(3)).map(KeyId::of), Timestamps.read(row, 4)));
                    }
                    while (row.next());
                    return new UserPage(users, more ? Optional.of(users.get(users.size() - 1).id()) : Optional.empty());
                }
            }
        });
    }

    @Override
    public List<KeySummary> listKeys(AccountId accountId, UserId userId, Instant now)
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(now, "now is null");
        // one statement, so one snapshot: the account row comes back without a user, or the user without a key
        return read(connection -> {
            try (PreparedStatement statement = connection.prepareStatement("""
                    SELECT u.user_id, k.key_id, k.created_at, k.name, k.is_primary, k.scopes, k.expires_at
                    FROM latchkey_account a
                    LEFT JOIN latchkey_user u ON u.account_id = a.account_id AND u.user_id = ?
                    LEFT JOIN latchkey_key k ON k.account_id = u.account_id AND k.user_id = u.user_id
                        AND (k.expires_at IS NULL OR k.expires_at > ?)
                    WHERE a.account_id = ?
                    ORDER BY k.created_at, k.key_id""")) {
                statement.setString(1, userId.value());
                statement.setObject(2, Timestamps.toDatabase(now));
                statement.setString(3, accountId.value());
                try (ResultSet row = statement.executeQuery()) {
                    if (!row.next()) {
                        throw StoreErrors.accountNotFound(accountId);
                    }
                    if (row.getString(1) == null) {
                        throw StoreErrors.userNotFound(accountId, userId);
                    }
                    List<KeySummary> keys = new ArrayList<>();
                    do {
                        if (row.getString(2) == null) {
                            break;
                        }
                        keys.add(new KeySummary(KeyId.of(row.getString(2)), Timestamps.read(row, 3), readAttributes(row, 4)));
                    }
                    while (row.next());
                    return keys;
                }
            }
        });
    }

    /**
     * A name glob as a LIKE pattern with {@code \} as escape: {@code *} is {@code %}, {@code ?} is {@code _}, and
     * every other character (including {@code _} and {@code %}) matches itself.
     */
    static String likePattern(String glob)
    {
        StringBuilder pattern = new StringBuilder(glob.length() + 8);
        for (int i = 0; i < glob.length(); i++) {
            char c = glob.charAt(i);
            switch (c) {
                case '*' -> pattern.append('%');
                case '?' -> pattern.append('_');
                case '%', '_', '\\' -> pattern.append('\\').append(c);
                default -> pattern.append(c);
            }
        }
        return pattern.toString();
    }

    // --- writes

    @Override
    public void createAccount(Origin origin, Account account, Optional<NewUser> firstAdmin)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(account, "account is null");
        requireNonNull(firstAdmin, "firstAdmin is null");
        NewUser.requireFirstAdmin(account.id(), firstAdmin);
        write(origin, transaction -> {
            Connection connection = transaction.connection();
            try (PreparedStatement insert = connection.prepareStatement(
                    "INSERT INTO latchkey_account (account_id, created_at, admin_required) VALUES (?, ?, ?)")) {
                insert.setString(1, account.id().value());
                insert.setObject(2, Timestamps.toDatabase(account.createdAt()));
                insert.setBoolean(3, account.adminRequired());
                insert.executeUpdate();
            }
            if (firstAdmin.isPresent()) {
                insertUser(connection, firstAdmin.get());
            }
            transaction.append(ChangeType.ACCOUNT_CREATED, account.id(), firstAdmin.map(admin -> admin.user().id()),
                    firstAdmin.map(admin -> List.of(admin.keyId())).orElse(List.of()));
            return null;
        });
    }

    @Override
    public void addUser(Origin origin, NewUser newUser)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(newUser, "newUser is null");
        User user = newUser.user();
        write(origin, transaction -> {
            Connection connection = transaction.connection();
            lockAccount(connection, user.accountId());
            if (selectUser(connection, user.accountId(), user.id()).isPresent()) {
                throw StoreErrors.userExists(user.accountId(), user.id());
            }
            insertUser(connection, newUser);
            transaction.append(ChangeType.USER_ADDED, user.accountId(), Optional.of(user.id()), List.of(newUser.keyId()));
            return null;
        });
    }

    @Override
    public User replaceKey(Origin origin, AccountId accountId, UserId userId, KeyId newKeyId, SecretHash newSecretHash, Instant issuedAt, Optional<Instant> previousKeyUntil)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(newKeyId, "newKeyId is null");
        requireNonNull(newSecretHash, "newSecretHash is null");
        requireNonNull(issuedAt, "issuedAt is null");
        requireNonNull(previousKeyUntil, "previousKeyUntil is null");
        return write(origin, transaction -> {
            Connection connection = transaction.connection();
            lockAccount(connection, accountId);
            User before = lockedUser(connection, accountId, userId);
            List<KeyId> ended = deleteExpiredKeys(connection, accountId, userId, issuedAt);
            Optional<KeyId> old = before.primaryKeyId();
            boolean sameKey = old.isPresent() && old.get().equals(newKeyId);
            boolean keepOld = old.isPresent() && !sameKey && previousKeyUntil.isPresent();
            if (keepOld || old.isEmpty()) {
                // the old key stays live beside the new one, or there was none: one more live key
                lockUser(connection, accountId, userId);
                requireRoomForKey(connection, accountId, userId, newKeyId, issuedAt);
            }
            if (keepOld) {
                // its attributes retired (KeyAttributes.retiredUntil): named previous, not primary, its scopes kept, expiring then
                try (PreparedStatement update = connection.prepareStatement(
                        "UPDATE latchkey_key SET name = ?, is_primary = FALSE, expires_at = ? WHERE key_id = ?")) {
                    update.setString(1, KeyName.PREVIOUS.value());
                    update.setObject(2, Timestamps.toDatabase(previousKeyUntil.get()));
                    update.setString(3, old.get().value());
                    update.executeUpdate();
                }
            }
            if (sameKey) {
                // the same key hashed again (its row was read under the account's lock): rewritten in place, it
                // keeps its recorded use, which a deleted row would take with it (latchkey_key_usage)
                rewriteKey(connection, newKeyId, newSecretHash, issuedAt, KeyAttributes.primaryKey());
            }
            else {
                if (old.isPresent() && !keepOld) {
                    deleteKeyRow(connection, old.get());
                }
                // a key id in use by any other key violates the primary key: ALREADY_EXISTS
                insertKey(connection, newKeyId, newSecretHash, accountId, userId, issuedAt, KeyAttributes.primaryKey());
            }
            List<KeyId> affected = new ArrayList<>();
            old.ifPresent(affected::add);
            affected.add(newKeyId);
            transaction.append(ChangeType.KEY_REPLACED, accountId, Optional.of(userId), ExpiredKeys.named(affected, ended));
            return before;
        });
    }

    @Override
    public void addKey(Origin origin, NewKey newKey)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(newKey, "newKey is null");
        write(origin, transaction -> {
            Connection connection = transaction.connection();
            lockAccount(connection, newKey.accountId());
            lockUser(connection, newKey.accountId(), newKey.userId());
            List<KeyId> ended = deleteExpiredKeys(connection, newKey.accountId(), newKey.userId(), newKey.createdAt());
            requireRoomForKey(connection, newKey.accountId(), newKey.userId(), newKey.keyId(), newKey.createdAt());
            // a key id in use by any other key violates the primary key: ALREADY_EXISTS
            insertKey(connection, newKey.keyId(), newKey.secretHash(), newKey.accountId(), newKey.userId(), newKey.createdAt(), newKey.attributes());
            transaction.append(ChangeType.KEY_ADDED, newKey.accountId(), Optional.of(newKey.userId()), ExpiredKeys.named(List.of(newKey.keyId()), ended));
            return null;
        });
    }

    @Override
    public KeySummary deleteKey(Origin origin, AccountId accountId, UserId userId, KeyId keyId, Instant now)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(keyId, "keyId is null");
        requireNonNull(now, "now is null");
        return write(origin, transaction -> {
            Connection connection = transaction.connection();
            lockAccount(connection, accountId);
            lockedUser(connection, accountId, userId);
            KeySummary deleted;
            try (PreparedStatement statement = connection.prepareStatement("""
                    SELECT created_at, name, is_primary, scopes, expires_at
                    FROM latchkey_key
                    WHERE key_id = ? AND account_id = ? AND user_id = ? AND (expires_at IS NULL OR expires_at > ?)""")) {
                statement.setString(1, keyId.value());
                statement.setString(2, accountId.value());
                statement.setString(3, userId.value());
                statement.setObject(4, Timestamps.toDatabase(now));
                try (ResultSet row = statement.executeQuery()) {
                    if (!row.next()) {
                        throw StoreErrors.keyNotFound(accountId, userId);
                    }
                    deleted = new KeySummary(keyId, Timestamps.read(row, 1), readAttributes(row, 2));
                }
            }
            // the primary key goes like any other: the user then has none
            deleteKeyRow(connection, keyId);
            transaction.append(ChangeType.KEY_DELETED, accountId, Optional.of(userId), List.of(keyId));
            return deleted;
        });
    }

    @Override
    public UserChange setRole(Origin origin, AccountId accountId, UserId userId, Role role)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(role, "role is null");
        if (role == Role.ROOT) {
            throw new IllegalArgumentException("an account user cannot have role ROOT");
        }
        return write(origin, transaction -> {
            Connection connection = transaction.connection();
            boolean adminRequired = lockAccount(connection, accountId);
            User before = lockedUser(connection, accountId, userId);
            if (before.role() == role) {
                return new UserChange(before, List.of());
            }
            if (before.role() == Role.ADMIN && adminRequired) {
                requireAnotherAdmin(connection, before, "demote");
            }
            // every key of the user resolves to its user's role (findKey joins them)
            List<KeyId> affected = keysOf(connection, accountId, userId);
            try (PreparedStatement update = connection.prepareStatement("UPDATE latchkey_user SET role = ? WHERE account_id = ? AND user_id = ?")) {
                update.setString(1, role.name());
                update.setString(2, accountId.value());
                update.setString(3, userId.value());
                update.executeUpdate();
            }
            transaction.append(ChangeType.ROLE_CHANGED, accountId, Optional.of(userId), affected);
            return new UserChange(before, affected);
        });
    }

    @Override
    public UserChange removeUser(Origin origin, AccountId accountId, UserId userId)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        return write(origin, transaction -> {
            Connection connection = transaction.connection();
            boolean adminRequired = lockAccount(connection, accountId);
            User before = lockedUser(connection, accountId, userId);
            if (before.role() == Role.ADMIN && adminRequired) {
                requireAnotherAdmin(connection, before, "remove");
            }
            List<KeyId> affected = keysOf(connection, accountId, userId);
            // the keys go with their user (ON DELETE CASCADE)
            try (PreparedStatement delete = connection.prepareStatement("DELETE FROM latchkey_user WHERE account_id = ? AND user_id = ?")) {
                delete.setString(1, accountId.value());
                delete.setString(2, userId.value());
                delete.executeUpdate();
            }
            transaction.append(ChangeType.USER_REMOVED, accountId, Optional.of(userId), affected);
            return new UserChange(before, affected);
        });
    }

    @Override
    public void deleteAccount(Origin origin, AccountId accountId)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(accountId, "accountId is null");
        write(origin, transaction -> {
            Connection connection = transaction.connection();
            lockAccount(connection, accountId);
            // users and keys go with the account (ON DELETE CASCADE), in this one transaction
            try (PreparedStatement delete = connection.prepareStatement("DELETE FROM latchkey_account WHERE account_id = ?")) {
                delete.setString(1, accountId.value());
                delete.executeUpdate();
            }
            transaction.append(ChangeType.ACCOUNT_DELETED, accountId, Optional.empty(), List.of());
            return null;
        });
    }

    // --- the change feed

    @Override
    public FeedBatch changesAfter(FeedPosition position, int limit)
    {
        requireNonNull(position, "position is null");
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be positive");
        }
        // one statement, so the floor and the changes come from one snapshot: if the floor is at or before the
        // position, no change after the position had been compacted away when the changes were read
        return read(connection -> {
            try (PreparedStatement statement = connection.prepareStatement("""
                    SELECT h.feed_position, f.feed_position,
                        c.feed_position, c.change_type, c.account_id, c.user_id, c.key_ids, c.committed_at
                    FROM latchkey_feed_head h
                    CROSS JOIN latchkey_feed_floor f
                    LEFT JOIN (
                        SELECT feed_position, change_type, account_id, user_id, key_ids, committed_at
                        FROM latchkey_feed WHERE feed_position > ? ORDER BY feed_position LIMIT ?
                    ) c ON 1 = 1
                    WHERE h.id = 1 AND f.id = 1
                    ORDER BY c.feed_position""")) {
                statement.setLong(1, position.value());
                statement.setInt(2, Math.min(limit, MAX_FEED_BATCH));
                try (ResultSet row = statement.executeQuery()) {
                    if (!row.next()) {
                        throw new SQLException("the feed head or floor row is missing", "55000");
                    }
                    long head = row.getLong(1);
                    long floor = row.getLong(2);
                    if (position.value() < floor) {
                        return new FeedBatch.Reset(FeedPosition.of(head));
                    }
                    List<Change> changes = new ArrayList<>();
                    long expected = position.value() + 1;
                    do {
                        if (row.getObject(3) == null) {
                            break;
                        }
                        Change change = FeedRow.read(row, 3);
                        if (change.position().value() != expected) {
                            // never step over a hole: the change there is not visible yet (see the class comment)
                            break;
                        }
                        changes.add(change);
                        expected++;
                    }
                    while (row.next());
                    return new FeedBatch.Changes(changes, changes.isEmpty() ? position : changes.get(changes.size() - 1).position());
                }
            }
        });
    }

    @Override
    public FeedPosition headPosition()
    {
        return read(connection -> {
            try (PreparedStatement statement = connection.prepareStatement("SELECT feed_position FROM latchkey_feed_head WHERE id = 1");
                    ResultSet row = statement.executeQuery()) {
                if (!row.next()) {
                    throw new SQLException("the feed head row is missing", "55000");
                }
                return FeedPosition.of(row.getLong(1));
            }
        });
    }

    // --- the audit trail and last-used times

    @Override
    public AuditPage listAudit(AuditQuery query)
    {
        requireNonNull(query, "query is null");
        StringBuilder sql = new StringBuilder("SELECT " + AuditRow.COLUMNS + " FROM latchkey_audit WHERE committed_at >= ?");
        if (query.accountId().isPresent()) {
            sql.append(" AND account_id = ?");
        }
        if (query.before().isPresent()) {
            sql.append(" AND feed_position < ?");
        }
        sql.append(" ORDER BY feed_position DESC LIMIT ?");
        return read(connection -> {
            try (PreparedStatement statement = connection.prepareStatement(sql.toString())) {
                int index = 1;
                statement.setObject(index++, Timestamps.toDatabase(horizon(query.notBefore())));
                if (query.accountId().isPresent()) {
                    statement.setString(index++, query.accountId().get().value());
                }
                if (query.before().isPresent()) {
                    statement.setLong(index++, query.before().get().value());
                }
                // one more than the page, to know whether more follow
                statement.setInt(index, query.limit() + 1);
                try (ResultSet row = statement.executeQuery()) {
                    List<AuditRecord> records = new ArrayList<>();
                    while (row.next()) {
                        records.add(AuditRow.read(row, 1));
                    }
                    // AuditPage.of cuts the page at the limit and sets the cursor from the same rows
                    return AuditPage.of(query, records);
                }
            }
        });
    }

    /**
     * Deletes in chunks of {@value #PURGE_CHUNK} rows, each its own short statement, so that a purge of a long
     * retention never runs into the query timeout; a failure half-way leaves the rest for the next purge.
     */
    @Override
    public void purgeAudit(Instant before)
    {
        requireNonNull(before, "before is null");
        Instant horizon = horizon(before);
        int deleted;
        do {
            deleted = autocommit(connection -> {
                try (PreparedStatement delete = connection.prepareStatement(dialect.purgeAuditChunk())) {
                    delete.setObject(1, Timestamps.toDatabase(horizon));
                    delete.setInt(2, PURGE_CHUNK);
                    return delete.executeUpdate();
                }
            });
        }
        // until a chunk finds nothing: a purge running at once on another instance may take some of a chunk's rows
        while (deleted > 0);
    }

    /**
     * One statement, whatever the number of keys: the batch goes as two arrays (ids and instants, in key order) into
     * one upsert of {@code latchkey_key_usage}. Ids of keys that no longer exist are skipped. The instance id is not
     * stored: the table keeps the latest use across all instances.
     */
    @Override
    public void recordUsage(String instanceId, Map<KeyId, Instant> lastUsed)
    {
        Origin.requireValidInstanceId(requireNonNull(instanceId, "instanceId is null"));
        requireNonNull(lastUsed, "lastUsed is null");
        if (lastUsed.isEmpty()) {
            return;
        }
        List<Map.Entry<KeyId, Instant>> batch = lastUsed.entrySet().stream()
                .map(entry -> Map.entry(requireNonNull(entry.getKey(), "key id is null"), requireNonNull(entry.getValue(), "instant is null")))
                .sorted(Map.Entry.comparingByKey(Comparator.comparing(KeyId::value)))
                .toList();
        List<KeyId> keyIds = batch.stream().map(Map.Entry::getKey).toList();
        List<Instant> instants = batch.stream().map(Map.Entry::getValue).toList();
        autocommit(connection -> {
            dialect.mergeUsage(connection, keyIds, instants);
            return null;
        });
    }

    @Override
    public Map<KeyId, Instant> lastUsed(Collection<KeyId> keyIds)
    {
        requireNonNull(keyIds, "keyIds is null");
        List<KeyId> distinct = keyIds.stream().map(keyId -> requireNonNull(keyId, "key id is null")).distinct().toList();
        if (distinct.isEmpty()) {
            return Map.of();
        }
        return read(connection -> {
            Map<KeyId, Instant> found = new HashMap<>();
            try (PreparedStatement statement = connection.prepareStatement(
                    "SELECT key_id, last_used_at FROM latchkey_key_usage WHERE key_id = ANY (?)")) {
                for (int from = 0; from < distinct.size(); from += LAST_USED_CHUNK) {
                    List<KeyId> chunk = distinct.subList(from, Math.min(distinct.size(), from + LAST_USED_CHUNK));
                    statement.setArray(1, connection.createArrayOf("varchar", chunk.stream().map(KeyId::value).toArray()));
                    try (ResultSet row = statement.executeQuery()) {
                        while (row.next()) {
                            found.put(KeyId.of(row.getString(1)), Timestamps.read(row, 2));
                        }
                    }
                }
            }
            return found;
        });
    }

    /**
     * An instant of a query as the database compares it: truncated to the microsecond like every stored instant,
     * rounded up when that drops a fraction, so that "before" and "not before" keep their meaning.
     */
    private static Instant horizon(Instant instant)
    {
        Instant truncated = instant.truncatedTo(ChronoUnit.MICROS);
        return truncated.equals(instant) ? instant : truncated.plus(1, ChronoUnit.MICROS);
    }

    /**
     * Forgets the feed entries up to and including {@code position} (at most the head) now, instead of waiting for
     * automatic compaction. A reader behind it then gets {@link FeedBatch.Reset}.
     */
    public void compactThrough(FeedPosition position)
    {
        requireNonNull(position, "position is null");
        transaction(connection -> {
            try (PreparedStatement floor = connection.prepareStatement("""
                    UPDATE latchkey_feed_floor
                    SET feed_position = (SELECT LEAST(?, h.feed_position) FROM latchkey_feed_head h WHERE h.id = 1)
                    WHERE id = 1 AND feed_position < ?""")) {
                floor.setLong(1, position.value());
                floor.setLong(2, position.value());
                floor.executeUpdate();
            }
            try (PreparedStatement delete = connection.prepareStatement(
                    "DELETE FROM latchkey_feed WHERE feed_position <= (SELECT feed_position FROM latchkey_feed_floor WHERE id = 1)")) {
                delete.executeUpdate();
            }
            return null;
        });
    }

    /**
     * Calls {@code onCommit} (on a thread of its own) soon after any instance commits a change, and once each time
     * the listener (re)connects, in case it missed some: wire it to the resolver's {@code wakeUp}. On PostgreSQL
     * this holds one dedicated connection, outside the pool, that LISTENs and reconnects after failures. Polling
     * stays the safety net: a notification can be lost with its connection. H2 sends no notifications, so there
     * this returns a listener that never calls.
     */
    public CommitListener listenForCommits(Runnable onCommit)
    {
        requireNonNull(onCommit, "onCommit is null");
        if (!dialect.notifiesCommits()) {
            return CommitListener.silent();
        }
        Properties properties = new Properties();
        dialect.driverProperties(config).forEach(properties::setProperty);
        config.user().ifPresent(user -> properties.setProperty("user", user));
        config.password().ifPresent(password -> properties.setProperty("password", password));
        CommitListener listener = CommitListener.postgresql(config.url(), properties, SqlDialect.NOTIFY_CHANNEL, onCommit, config.connectTimeout());
        listeners.add(listener);
        return listener;
    }

    /**
     * Stops the commit listeners and closes every connection.
     */
    @Override
    public void close()
    {
        listeners.forEach(CommitListener::close);
        dataSource.close();
    }

    // --- the instance registry

    /**
     * One upsert of the instance's row, outside any transaction: the heartbeat is stored in whole milliseconds,
     * rounded up.
     */
    @Override
    public void publishInstance(InstanceRecord record)
    {
        requireNonNull(record, "record is null");
        autocommit(connection -> {
            try (PreparedStatement upsert = connection.prepareStatement(dialect.publishInstance())) {
                upsert.setString(1, record.instanceId());
                upsert.setString(2, record.url());
                upsert.setString(3, record.version());
                upsert.setObject(4, Timestamps.toDatabase(record.startedAt()));
                upsert.setLong(5, record.appliedPosition().value());
                upsert.setObject(6, Timestamps.toDatabase(record.feedReadAt()));
                upsert.setObject(7, Timestamps.toDatabase(record.publishedAt()));
                upsert.setLong(8, heartbeatMillis(record.heartbeat()));
                return upsert.executeUpdate();
            }
        });
    }

    @Override
    public void removeInstance(String instanceId)
    {
        Origin.requireValidInstanceId(requireNonNull(instanceId, "instanceId is null"));
        autocommit(connection -> {
            try (PreparedStatement delete = connection.prepareStatement("DELETE FROM latchkey_instances WHERE instance_id = ?")) {
                delete.setString(1, instanceId);
                return delete.executeUpdate();
            }
        });
    }

    @Override
    public List<InstanceRecord> listInstances()
    {
        return read(connection -> {
            try (PreparedStatement statement = connection.prepareStatement(
                    "SELECT " + SqlDialect.INSTANCE_COLUMNS + " FROM latchkey_instances ORDER BY instance_id");
                    ResultSet row = statement.executeQuery()) {
                List<InstanceRecord> instances = new ArrayList<>();
                while (row.next()) {
                    instances.add(new InstanceRecord(row.getString(1), row.getString(2), row.getString(3), Timestamps.read(row, 4),
                            FeedPosition.of(row.getLong(5)), Timestamps.read(row, 6), Timestamps.read(row, 7), Duration.ofMillis(row.getLong(8))));
                }
                return instances;
            }
        });
    }

    /**
     * A heartbeat as {@code latchkey_instances} keeps it: whole milliseconds, a fraction rounded up (so at least one).
     */
    static long heartbeatMillis(Duration heartbeat)
    {
        long millis = heartbeat.toMillis();
        return Duration.ofMillis(millis).equals(heartbeat) ? millis : millis + 1;
    }

    // --- helpers

    /**
     * Locks the account row until the transaction ends.
     *
     * @return whether the account requires an admin
     * @throws LatchkeyException NOT_FOUND when there is no such account
     */
    private static boolean lockAccount(Connection connection, AccountId accountId)
            throws SQLException
    {
        try (PreparedStatement statement = connection.prepareStatement(
                "SELECT admin_required FROM latchkey_account WHERE account_id = ? FOR UPDATE")) {
            statement.setString(1, accountId.value());
            try (ResultSet row = statement.executeQuery()) {
                if (!row.next()) {
                    throw StoreErrors.accountNotFound(accountId);
                }
                return row.getBoolean(1);
            }
        }
    }

    private static Optional<User> selectUser(Connection connection, AccountId accountId, UserId userId)
            throws SQLException
    {
        try (PreparedStatement statement = connection.prepareStatement("""
                SELECT u.role, k.key_id, u.created_at
                FROM latchkey_user u LEFT JOIN latchkey_key k ON k.account_id = u.account_id AND k.user_id = u.user_id AND k.is_primary
                WHERE u.account_id = ? AND u.user_id = ?""")) {
            statement.setString(1, accountId.value());
            statement.setString(2, userId.value());
            try (ResultSet row = statement.executeQuery()) {
                if (!row.next()) {
                    return Optional.empty();
                }
                return Optional.of(new User(accountId, userId, Role.valueOf(row.getString(1)), Optional.ofNullable(row.getString(2)).map(KeyId::of),
                        Timestamps.read(row, 3)));
            }
        }
    }

    /**
     * The user, read under its account's lock.
     */
    private static User lockedUser(Connection connection, AccountId accountId, UserId userId)
            throws SQLException
    {
        return selectUser(connection, accountId, userId)
                .orElseThrow(() -> StoreErrors.userNotFound(accountId, userId));
    }

    /**
     * Locks the user row until the transaction ends, so that the user's live keys can be counted and one added as
     * one step, whatever else writes to the store.
     *
     * @throws LatchkeyException NOT_FOUND when there is no such user
     */
    private static void lockUser(Connection connection, AccountId accountId, UserId userId)
            throws SQLException
    {
        try (PreparedStatement statement = connection.prepareStatement(
                "SELECT 1 FROM latchkey_user WHERE account_id = ? AND user_id = ? FOR UPDATE")) {
            statement.setString(1, accountId.value());
            statement.setString(2, userId.value());
            try (ResultSet row = statement.executeQuery()) {
                if (!row.next()) {
                    throw StoreErrors.userNotFound(accountId, userId);
                }
            }
        }
    }

    /**
     * The key limit, under the user's lock: the user may take one more key live at {@code at}. A key id already in
     * use is reported first, as ALREADY_EXISTS (as the reference store does); it is looked up only when the limit
     * refuses, since otherwise the insert's primary key settles it.
     *
     * @throws LatchkeyException FAILED_PRECONDITION when the user already holds {@link NewKey#MAX_LIVE_KEYS} live
     *         keys
     */
    private static void requireRoomForKey(Connection connection, AccountId accountId, UserId userId, KeyId keyId, Instant at)
            throws SQLException
    {
        long liveKeys;
        try (PreparedStatement statement = connection.prepareStatement("""
                SELECT COUNT(*) FROM latchkey_key
                WHERE account_id = ? AND user_id = ? AND (expires_at IS NULL OR expires_at > ?)""")) {
            statement.setString(1, accountId.value());
            statement.setString(2, userId.value());
            statement.setObject(3, Timestamps.toDatabase(at));
            try (ResultSet row = statement.executeQuery()) {
                row.next();
                liveKeys = row.getLong(1);
            }
        }
        if (liveKeys + 1 > NewKey.MAX_LIVE_KEYS) {
            try (PreparedStatement statement = connection.prepareStatement("SELECT 1 FROM latchkey_key WHERE key_id = ?")) {
                statement.setString(1, keyId.value());
                try (ResultSet row = statement.executeQuery()) {
                    if (row.next()) {
                        throw StoreErrors.keyIdInUse();
                    }
                }
            }
        }
        StoreErrors.requireRoomForKeys(liveKeys, 1, accountId, userId);
    }

    /**
     * Every key of the user, expired ones included, read under its account's lock.
     */
    private static List<KeyId> keysOf(Connection connection, AccountId accountId, UserId userId)
            throws SQLException
    {
        try (PreparedStatement statement = connection.prepareStatement(
                "SELECT key_id FROM latchkey_key WHERE account_id = ? AND user_id = ? ORDER BY created_at, key_id")) {
            statement.setString(1, accountId.value());
            statement.setString(2, userId.value());
            try (ResultSet row = statement.executeQuery()) {
                List<KeyId> keys = new ArrayList<>();
                while (row.next()) {
                    keys.add(KeyId.of(row.getString(1)));
                }
                return keys;
            }
        }
    }

    private static void insertUser(Connection connection, NewUser newUser)
            throws SQLException
    {
        User user = newUser.user();
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO latchkey_user (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)")) {
            insert.setString(1, user.accountId().value());
            insert.setString(2, user.id().value());
            insert.setString(3, user.role().name());
            insert.setObject(4, Timestamps.toDatabase(user.createdAt()));
            insert.executeUpdate();
        }
        insertKey(connection, newUser.keyId(), newUser.secretHash(), user.accountId(), user.id(), user.createdAt(), KeyAttributes.primaryKey());
    }

    private static void insertKey(Connection connection, KeyId keyId, SecretHash secretHash, AccountId accountId, UserId userId, Instant createdAt,
            KeyAttributes attributes)
            throws SQLException
    {
        try (PreparedStatement insert = connection.prepareStatement("""
                INSERT INTO latchkey_key (key_id, secret_hash, account_id, user_id, created_at, name, is_primary, scopes, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""")) {
            insert.setString(1, keyId.value());
            insert.setBytes(2, secretHash.bytes());
            insert.setString(3, accountId.value());
            insert.setString(4, userId.value());
            insert.setObject(5, Timestamps.toDatabase(createdAt));
            if (attributes.name().isPresent()) {
                insert.setString(6, attributes.name().get().value());
            }
            else {
                insert.setNull(6, Types.VARCHAR);
            }
            insert.setBoolean(7, attributes.primary());
            insert.setString(8, attributes.scopes().joined());
            if (attributes.expiresAt().isPresent()) {
                insert.setObject(9, Timestamps.toDatabase(attributes.expiresAt().get()));
            }
            else {
                insert.setNull(9, Types.TIMESTAMP_WITH_TIMEZONE);
            }
            insert.executeUpdate();
        }
    }

    /**
     * Rewrites a key's row in place (its id, account and user unchanged): its hash, creation time and attributes.
     */
    private static void rewriteKey(Connection connection, KeyId keyId, SecretHash secretHash, Instant createdAt, KeyAttributes attributes)
            throws SQLException
    {
        try (PreparedStatement update = connection.prepareStatement(
                "UPDATE latchkey_key SET secret_hash = ?, created_at = ?, name = ?, is_primary = ?, scopes = ?, expires_at = ? WHERE key_id = ?")) {
            update.setBytes(1, secretHash.bytes());
            update.setObject(2, Timestamps.toDatabase(createdAt));
            if (attributes.name().isPresent()) {
                update.setString(3, attributes.name().get().value());
            }
            else {
                update.setNull(3, Types.VARCHAR);
            }
            update.setBoolean(4, attributes.primary());
            update.setString(5, attributes.scopes().joined());
            if (attributes.expiresAt().isPresent()) {
                update.setObject(6, Timestamps.toDatabase(attributes.expiresAt().get()));
            }
            else {
                update.setNull(6, Types.TIMESTAMP_WITH_TIMEZONE);
            }
            update.setString(7, keyId.value());
            update.executeUpdate();
        }
    }

    /**
     * Removes the user's keys expired at {@code at}, in the write that adds or replaces one of its keys (under the
     * account's lock), and returns their ids for the change ({@link ExpiredKeys}).
     */
    private static List<KeyId> deleteExpiredKeys(Connection connection, AccountId accountId, UserId userId, Instant at)
            throws SQLException
    {
        List<KeyId> expired = new ArrayList<>();
        try (PreparedStatement select = connection.prepareStatement(
                "SELECT key_id FROM latchkey_key WHERE account_id = ? AND user_id = ? AND expires_at <= ?")) {
            select.setString(1, accountId.value());
            select.setString(2, userId.value());
            select.setObject(3, Timestamps.toDatabase(at));
            try (ResultSet row = select.executeQuery()) {
                while (row.next()) {
                    expired.add(KeyId.of(row.getString(1)));
                }
            }
        }
        if (!expired.isEmpty()) {
            try (PreparedStatement delete = connection.prepareStatement(
                    "DELETE FROM latchkey_key WHERE account_id = ? AND user_id = ? AND expires_at <= ?")) {
                delete.setString(1, accountId.value());
                delete.setString(2, userId.value());
                delete.setObject(3, Timestamps.toDatabase(at));
                delete.executeUpdate();
            }
        }
        return expired;
    }

    private static void deleteKeyRow(Connection connection, KeyId keyId)
            throws SQLException
    {
        try (PreparedStatement delete = connection.prepareStatement("DELETE FROM latchkey_key WHERE key_id = ?")) {
            delete.setString(1, keyId.value());
            delete.executeUpdate();
        }
    }

    /**
     * The attributes in the current row, whose columns from {@code first} on are name, is_primary, scopes (joined by
     * single spaces) and expires_at.
     */
    private static KeyAttributes readAttributes(ResultSet row, int first)
            throws SQLException
    {
        return new KeyAttributes(
                Optional.ofNullable(row.getString(first)).map(KeyName::of),
                row.getBoolean(first + 1),
                new Scopes(Arrays.asList(row.getString(first + 2).split(" "))),
                Timestamps.readOptional(row, first + 3));
    }

    /**
     * The last-admin guard, under the account's lock: no concurrent write to the account can change its admins
     * until this transaction ends.
     */
    private static void requireAnotherAdmin(Connection connection, User admin, String action)
            throws SQLException
    {
        try (PreparedStatement statement = connection.prepareStatement(
                "SELECT 1 FROM latchkey_user WHERE account_id = ? AND role = 'ADMIN' AND user_id <> ? LIMIT 1")) {
            statement.setString(1, admin.accountId().value());
            statement.setString(2, admin.id().value());
            try (ResultSet row = statement.executeQuery()) {
                StoreErrors.requireAnotherAdmin(true, row.next(), admin.accountId(), admin.id(), action);
            }
        }
    }

    /**
     * A test hook: runs in a writing transaction between the append of its change and its commit.
     */
    @FunctionalInterface
    interface BeforeCommit
    {
        BeforeCommit NONE = position -> {};

        void run(long position);
    }

    @FunctionalInterface
    private interface Work<T>
    {
        T run(Connection connection)
                throws SQLException;
    }

    @FunctionalInterface
    private interface Mutation<T>
    {
        T run(Transaction transaction)
                throws SQLException;
    }

    /**
     * A writing transaction: at most one change is appended, as its last statement, with its audit record.
     */
    private final class Transaction
    {
        private final Connection connection;
        private final Origin origin;
        private long appended;

        Transaction(Connection connection, Origin origin)
        {
            this.connection = connection;
            this.origin = origin;
        }

        Connection connection()
        {
            return connection;
        }

        void append(ChangeType type, AccountId accountId, Optional<UserId> userId, List<KeyId> keyIds)
                throws SQLException
        {
            if (appended != 0) {
                throw new IllegalStateException("a transaction appends one change");
            }
            appended = dialect.appendChange(connection, new FeedRow(type, accountId, userId, keyIds, clock.instant()), origin);
        }
    }

    /**
     * Runs one write of a single statement outside any transaction, again when it lost a race the database
     * detected (a deadlock, or a concurrent insert of the same row).
     */
    private <T> T autocommit(Work<T> work)
    {
        for (int attempt = 1; ; attempt++) {
            try (Connection connection = dataSource.getConnection()) {
                return work.run(connection);
            }
            catch (SQLException e) {
                if (attempt < ATTEMPTS && (SqlErrors.retryable(e) || SqlErrors.lostInsertRace(e))) {
                    continue;
                }
                throw SqlErrors.translate(e);
            }
        }
    }

    private <T> T read(Work<T> work)
    {
        try (Connection connection = dataSource.getConnection()) {
            return work.run(connection);
        }
        catch (SQLException e) {
            throw SqlErrors.translate(e);
        }
    }

    private <T> T write(Origin origin, Mutation<T> mutation)
    {
        long[] appended = new long[1];
        T result = transaction(connection -> {
            Transaction transaction = new Transaction(connection, origin);
            T value = mutation.run(transaction);
            appended[0] = transaction.appended;
            if (appended[0] != 0) {
                beforeCommit.run(appended[0]);
            }
            return value;
        });
        if (appended[0] > feedRetention && appended[0] % compactionInterval == 0) {
            compactAfterCommit(appended[0] - feedRetention);
        }
        return result;
    }

    /**
     * The write has committed: a failed compaction must not fail it (the next one catches up).
     */
    private void compactAfterCommit(long through)
    {
        try {
            compactThrough(FeedPosition.of(through));
        }
        catch (LatchkeyException e) {
            LOG.log(Level.WARNING, "compacting the change feed failed; the next compaction retries: {0}", e.getMessage());
        }
    }

    /**
     * Runs the work in one transaction, again when the database detected a deadlock or a serialization failure.
     */
    private <T> T transaction(Work<T> work)
    {
        for (int attempt = 1; ; attempt++) {
            try (Connection connection = dataSource.getConnection()) {
                connection.setAutoCommit(false);
                try {
                    T result = work.run(connection);
                    connection.commit();
                    return result;
                }
                catch (SQLException | RuntimeException e) {
                    rollbackQuietly(connection);
                    throw e;
                }
            }
            catch (SQLException e) {
                if (attempt < ATTEMPTS && SqlErrors.retryable(e)) {
                    continue;
                }
                throw SqlErrors.translate(e);
            }
        }
    }

    private static void rollbackQuietly(Connection connection)
    {
        try {
            connection.rollback();
        }
        catch (SQLException e) {
            // the connection is broken; the pool discards it and the database rolls the transaction back
            LOG.log(Level.DEBUG, "rollback failed: {0}", e.getMessage());
        }
    }
}

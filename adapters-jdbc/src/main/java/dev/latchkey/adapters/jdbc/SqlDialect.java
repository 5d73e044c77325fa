package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.store.Origin;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * What differs between the databases the store runs on: where the migrations are, how a connection is set up, how a
 * change is appended to the feed (with its audit record), how last-used times are merged in, and how an instance's
 * record is created or replaced.
 */
enum SqlDialect
{
    /**
     * PostgreSQL: one round trip appends a change, takes its position, inserts its audit record and queues a NOTIFY
     * that PostgreSQL delivers at commit; one more merges a whole batch of last-used times, passed as two arrays; an
     * instance's record is one {@code INSERT ... ON CONFLICT}.
     */
    POSTGRESQL("postgresql")
    {
        private static final String APPEND = """
                WITH head AS (
                    UPDATE latchkey_feed_head SET feed_position = feed_position + 1 WHERE id = 1 RETURNING feed_position
                ), appended AS (
                    INSERT INTO latchkey_feed (feed_position, change_type, account_id, user_id, key_ids, committed_at)
                    SELECT feed_position, ?, ?, ?, ?, ? FROM head
                    RETURNING feed_position, change_type, account_id, user_id, key_ids, committed_at
                ), audited AS (
                    INSERT INTO latchkey_audit (%s)
                    SELECT feed_position, change_type, account_id, user_id, key_ids, committed_at, ?, ?, ?, ?, ?, ? FROM appended
                    RETURNING feed_position
                )
                SELECT feed_position, pg_notify('%s', CAST(feed_position AS TEXT)) FROM audited
                """.formatted(AuditRow.COLUMNS, NOTIFY_CHANNEL);

        /**
         * Only keys that exist (the row references its key); in key order, so that concurrent batches lock shared
         * rows in one order; a stored later instant is kept.
         */
        private static final String MERGE_USAGE = """
                INSERT INTO latchkey_key_usage (key_id, last_used_at)
                SELECT u.key_id, u.last_used_at
                FROM unnest(CAST(? AS VARCHAR[]), CAST(? AS TIMESTAMPTZ[])) AS u (key_id, last_used_at)
                JOIN latchkey_key k ON k.key_id = u.key_id
                ORDER BY u.key_id
                ON CONFLICT (key_id) DO UPDATE SET last_used_at = EXCLUDED.last_used_at
                WHERE latchkey_key_usage.last_used_at < EXCLUDED.last_used_at""";

        private static final String PUBLISH_INSTANCE = """
                INSERT INTO latchkey_instances (%s)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (instance_id) DO UPDATE SET
                    url = EXCLUDED.url, version = EXCLUDED.version, started_at = EXCLUDED.started_at,
                    applied_position = EXCLUDED.applied_position, feed_read_at = EXCLUDED.feed_read_at,
                    published_at = EXCLUDED.published_at, heartbeat_millis = EXCLUDED.heartbeat_millis""".formatted(INSTANCE_COLUMNS);

        @Override
        String connectionInitSql(Duration queryTimeout)
        {
            return "SET statement_timeout = " + queryTimeout.toMillis();
        }

        @Override
        Map<String, String> driverProperties(JdbcStoreConfig config)
        {
            String connectSeconds = Long.toString(wholeSeconds(config.connectTimeout()));
            return Map.of(
                    "connectTimeout", connectSeconds,
                    "loginTimeout", connectSeconds,
                    "socketTimeout", Long.toString(wholeSeconds(config.queryTimeout())),
                    "tcpKeepAlive", "true",
                    "ApplicationName", "latchkey");
        }

        @Override
        long appendChange(Connection connection, FeedRow row, Origin origin)
                throws SQLException
        {
            try (PreparedStatement statement = connection.prepareStatement(APPEND)) {
                row.bindAfterPosition(statement, 1);
                AuditRow.bindOrigin(statement, 6, origin);
                try (ResultSet result = statement.executeQuery()) {
                    if (!result.next()) {
                        throw new SQLException("the feed head row is missing", "55000");
                    }
                    return result.getLong(1);
                }
            }
        }

        @Override
        void mergeUsage(Connection connection, List<KeyId> keyIds, List<Instant> lastUsed)
                throws SQLException
        {
            Object[] instants = lastUsed.stream().map(Timestamps::toText).toArray();
            try (PreparedStatement statement = connection.prepareStatement(MERGE_USAGE)) {
                statement.setArray(1, connection.createArrayOf("varchar", keyIds.stream().map(KeyId::value).toArray()));
                statement.setArray(2, connection.createArrayOf("varchar", instants));
                statement.executeUpdate();
            }
        }

        @Override
        String purgeAuditChunk()
        {
            // the positions as an array, so that the delete walks the primary key (an IN (subquery) would hash-join
            // against a scan of the whole table for every chunk)
            return """
                    DELETE FROM latchkey_audit WHERE feed_position = ANY (ARRAY(
                        SELECT feed_position FROM latchkey_audit WHERE committed_at < ? LIMIT ?
                    ))""";
        }

        @Override
        String publishInstance()
        {
            return PUBLISH_INSTANCE;
        }

        @Override
        boolean notifiesCommits()
        {
            return true;
        }
    },

    /**
     * H2: the same steps in four statements (in-process, so cheap); one MERGE for a batch of last-used times, and one
     * {@code MERGE ... KEY} for an instance's record; no notifications.
     */
    H2("h2")
    {
        private static final String MERGE_USAGE = """
                MERGE INTO latchkey_key_usage u USING (
                    SELECT s.key_id, s.last_used_at
                    FROM UNNEST(CAST(? AS VARCHAR(16) ARRAY), CAST(? AS TIMESTAMP WITH TIME ZONE ARRAY)) AS s (key_id, last_used_at)
                    JOIN latchkey_key k ON k.key_id = s.key_id
                ) s ON u.key_id = s.key_id
                WHEN MATCHED AND u.last_used_at < s.last_used_at THEN UPDATE SET last_used_at = s.last_used_at
                WHEN NOT MATCHED THEN INSERT (key_id, last_used_at) VALUES (s.key_id, s.last_used_at)""";

        private static final String LOCK_KEYS =
                "SELECT key_id FROM latchkey_key WHERE key_id IN (SELECT * FROM UNNEST(CAST(? AS VARCHAR(16) ARRAY))) ORDER BY key_id FOR UPDATE";

        private static final String PUBLISH_INSTANCE =
                "MERGE INTO latchkey_instances (" + INSTANCE_COLUMNS + ") KEY (instance_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

        @Override
        String connectionInitSql(Duration queryTimeout)
        {
            return "SET LOCK_TIMEOUT " + queryTimeout.toMillis();
        }

        @Override
        Map<String, String> driverProperties(JdbcStoreConfig config)
        {
            return Map.of();
        }

        @Override
        long appendChange(Connection connection, FeedRow row, Origin origin)
                throws SQLException
        {
            try (PreparedStatement increment = connection.prepareStatement("UPDATE latchkey_feed_head SET feed_position = feed_position + 1 WHERE id = 1")) {
                if (increment.executeUpdate() != 1) {
                    throw new SQLException("the feed head row is missing", "55000");
                }
            }
            long position;
            try (PreparedStatement head = connection.prepareStatement("SELECT feed_position FROM latchkey_feed_head WHERE id = 1");
                    ResultSet result = head.executeQuery()) {
                result.next();
                position = result.getLong(1);
            }
            try (PreparedStatement insert = connection.prepareStatement(
                    "INSERT INTO latchkey_feed (feed_position, change_type, account_id, user_id, key_ids, committed_at) VALUES (?, ?, ?, ?, ?, ?)")) {
                insert.setLong(1, position);
                row.bindAfterPosition(insert, 2);
                insert.executeUpdate();
            }
            try (PreparedStatement insert = connection.prepareStatement(
                    "INSERT INTO latchkey_audit (" + AuditRow.COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                insert.setLong(1, position);
                row.bindAfterPosition(insert, 2);
                AuditRow.bindOrigin(insert, 7, origin);
                insert.executeUpdate();
            }
            return position;
        }

        /**
         * H2 checks the foreign key of an inserted usage row without waiting for a concurrent, uncommitted deletion
         * of its key (PostgreSQL's check waits for it): a row inserted then would outlive its key. So the keys are
         * locked first ({@code FOR UPDATE}, in key order, which waits for such a deletion and then skips the key),
         * and the MERGE runs in the same transaction.
         */
        @Override
        void mergeUsage(Connection connection, List<KeyId> keyIds, List<Instant> lastUsed)
                throws SQLException
        {
            boolean autoCommit = connection.getAutoCommit();
            connection.setAutoCommit(false);
            try {
                Object[] ids = keyIds.stream().map(KeyId::value).toArray();
                try (PreparedStatement lock = connection.prepareStatement(LOCK_KEYS)) {
                    lock.setArray(1, connection.createArrayOf("VARCHAR", ids));
                    try (ResultSet locked = lock.executeQuery()) {
                        while (locked.next()) {
                            // locking is the point
                        }
                    }
                }
                try (PreparedStatement statement = connection.prepareStatement(MERGE_USAGE)) {
                    statement.setArray(1, connection.createArrayOf("VARCHAR", ids));
                    statement.setArray(2, connection.createArrayOf("TIMESTAMP WITH TIME ZONE", lastUsed.stream().map(Timestamps::toDatabase).toArray()));
                    statement.executeUpdate();
                }
                connection.commit();
            }
            catch (SQLException | RuntimeException e) {
                connection.rollback();
                throw e;
            }
            finally {
                connection.setAutoCommit(autoCommit);
            }
        }

        @Override
        String purgeAuditChunk()
        {
            // H2 deletes a bounded number of rows by itself (it would run an IN (subquery) once per row)
            return "DELETE FROM latchkey_audit WHERE committed_at < ? FETCH FIRST ? ROWS ONLY";
        }

        @Override
        String publishInstance()
        {
            return PUBLISH_INSTANCE;
        }

        @Override
        boolean notifiesCommits()
        {
            return false;
        }
    };

    /** The PostgreSQL NOTIFY channel on which every commit that appends a change is announced. */
    static final String NOTIFY_CHANNEL = "latchkey_feed";

    /** The columns of {@code latchkey_instances}, in the order {@link #publishInstance} binds and a listing reads them. */
    static final String INSTANCE_COLUMNS = "instance_id, url, version, started_at, applied_position, feed_read_at, published_at, heartbeat_millis";

    private final String migrationFolder;

    SqlDialect(String migrationFolder)
    {
        this.migrationFolder = migrationFolder;
    }

    /**
     * @throws IllegalArgumentException for a URL of any other database
     */
    static SqlDialect of(String url)
    {
        if (url.startsWith("jdbc:postgresql:")) {
            return POSTGRESQL;
        }
        if (url.startsWith("jdbc:h2:")) {
            return H2;
        }
        throw new IllegalArgumentException("the JDBC store runs on PostgreSQL (jdbc:postgresql:...) or H2 (jdbc:h2:...)");
    }

    /**
     * The Flyway location of this database's migrations, inside the jar.
     */
    String migrationLocation()
    {
        return "classpath:dev/latchkey/adapters/jdbc/migration/" + migrationFolder;
    }

    /**
     * Run once on every new connection: the server-side bound on one statement (lock waits included).
     */
    abstract String connectionInitSql(Duration queryTimeout);

    /**
     * Driver settings that bound connecting and reading.
     */
    abstract Map<String, String> driverProperties(JdbcStoreConfig config);

    /**
     * Takes the next feed position (holding the feed head's row lock until the transaction ends), appends the
     * change at it and inserts its audit record (the same change, with its origin) at the same position. Call as the
     * last statement of a writing transaction, so the lock is held for the commit only.
     *
     * @return the position
     */
    abstract long appendChange(Connection connection, FeedRow row, Origin origin)
            throws SQLException;

    /**
     * In one statement, for each key that exists: its stored last-used instant becomes the later of the stored one
     * and the given one (ids of keys that do not exist are skipped).
     *
     * @param keyIds distinct, in key order
     * @param lastUsed the instant of each key, in the same order
     */
    abstract void mergeUsage(Connection connection, List<KeyId> keyIds, List<Instant> lastUsed)
            throws SQLException;

    /**
     * One statement that deletes at most a given number of audit records committed before an instant: parameters
     * the instant, then the number.
     */
    abstract String purgeAuditChunk();

    /**
     * One statement that creates or replaces an instance's row of {@code latchkey_instances}: parameters the
     * {@link #INSTANCE_COLUMNS}, in order.
     */
    abstract String publishInstance();

    /**
     * Whether commits are announced with NOTIFY.
     */
    abstract boolean notifiesCommits();

    private static long wholeSeconds(Duration duration)
    {
        return Math.max(1, (duration.toMillis() + 999) / 1000);
    }
}

package dev.latchkey.adapters.jdbc;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;

/**
 * What differs between the databases the store runs on: where the migrations are, how a connection is set up, and
 * how a change is appended to the feed.
 */
enum SqlDialect
{
    /**
     * PostgreSQL: one round trip appends a change, takes its position and queues a NOTIFY that PostgreSQL delivers at
     * commit.
     */
    POSTGRESQL("postgresql")
    {
        private static final String APPEND = """
                WITH head AS (
                    UPDATE latchkey_feed_head SET feed_position = feed_position + 1 WHERE id = 1 RETURNING feed_position
                ), appended AS (
                    INSERT INTO latchkey_feed (feed_position, change_type, account_id, user_id, key_ids, committed_at)
                    SELECT feed_position, ?, ?, ?, ?, ? FROM head
                    RETURNING feed_position
                )
                SELECT feed_position, pg_notify('%s', CAST(feed_position AS TEXT)) FROM appended
                """.formatted(NOTIFY_CHANNEL);

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
        long appendChange(Connection connection, FeedRow row)
                throws SQLException
        {
            try (PreparedStatement statement = connection.prepareStatement(APPEND)) {
                row.bindAfterPosition(statement, 1);
                try (ResultSet result = statement.executeQuery()) {
                    if (!result.next()) {
                        throw new SQLException("the feed head row is missing", "55000");
                    }
                    return result.getLong(1);
                }
            }
        }

        @Override
        boolean notifiesCommits()
        {
            return true;
        }
    },

    /**
     * H2: the same steps in three statements (in-process, so cheap); no notifications.
     */
    H2("h2")
    {
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
        long appendChange(Connection connection, FeedRow row)
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
            return position;
        }

        @Override
        boolean notifiesCommits()
        {
            return false;
        }
    };

    /** The PostgreSQL NOTIFY channel on which every commit that appends a change is announced. */
    static final String NOTIFY_CHANNEL = "latchkey_feed";

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
     * Takes the next feed position (holding the feed head's row lock until the transaction ends) and appends the
     * change at it. Call as the last statement of a writing transaction, so the lock is held for the commit only.
     *
     * @return the position
     */
    abstract long appendChange(Connection connection, FeedRow row)
            throws SQLException;

    /**
     * Whether commits are announced with NOTIFY.
     */
    abstract boolean notifiesCommits();

    private static long wholeSeconds(Duration duration)
    {
        return Math.max(1, (duration.toMillis() + 999) / 1000);
    }
}

package dev.latchkey.adapters.jdbc;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * The change feed's ordering on a real PostgreSQL server.
 */
class TestPostgresChangeFeed
        extends AbstractTestJdbcChangeFeed
{
    @Override
    protected JdbcStoreConfig freshDatabase()
    {
        return TestingJdbcStores.postgresConfig(TestingPostgres.shared().createDatabase());
    }

    @Override
    protected int sessionsWaitingForLocks(Connection connection)
            throws SQLException
    {
        try (Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")) {
            row.next();
            return row.getInt(1);
        }
    }
}

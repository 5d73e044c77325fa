package dev.latchkey.adapters.jdbc;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The change feed's ordering on H2.
 */
class TestH2ChangeFeed
        extends AbstractTestJdbcChangeFeed
{
    private static final AtomicInteger DATABASES = new AtomicInteger();

    @Override
    protected JdbcStoreConfig freshDatabase()
    {
        return TestingJdbcStores.h2Config("feed-" + DATABASES.incrementAndGet());
    }

    @Override
    protected int sessionsWaitingForLocks(Connection connection)
            throws SQLException
    {
        try (Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("SELECT COUNT(*) FROM INFORMATION_SCHEMA.SESSIONS WHERE BLOCKER_ID IS NOT NULL")) {
            row.next();
            return row.getInt(1);
        }
    }
}

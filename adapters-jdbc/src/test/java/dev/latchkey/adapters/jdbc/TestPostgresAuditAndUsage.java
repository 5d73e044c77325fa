package dev.latchkey.adapters.jdbc;

/**
 * The audit trail and last-used times on a real PostgreSQL server.
 */
class TestPostgresAuditAndUsage
        extends AbstractTestJdbcAuditAndUsage
{
    @Override
    protected JdbcStoreConfig freshDatabase()
    {
        return TestingJdbcStores.postgresConfig(TestingPostgres.shared().createDatabase());
    }
}

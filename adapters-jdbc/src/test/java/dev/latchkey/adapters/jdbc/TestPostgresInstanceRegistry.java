package dev.latchkey.adapters.jdbc;

/**
 * The instance registry on a real PostgreSQL server.
 */
class TestPostgresInstanceRegistry
        extends AbstractTestJdbcInstanceRegistry
{
    @Override
    protected JdbcStoreConfig freshDatabase()
    {
        return TestingJdbcStores.postgresConfig(TestingPostgres.shared().createDatabase());
    }
}

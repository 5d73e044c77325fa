package dev.latchkey.adapters.jdbc;

/**
 * A store of schema version 1 migrated on a real PostgreSQL server.
 */
class TestPostgresSchemaUpgrade
        extends AbstractTestJdbcSchemaUpgrade
{
    @Override
    protected JdbcStoreConfig freshDatabase()
    {
        return TestingJdbcStores.postgresConfig(TestingPostgres.shared().createDatabase());
    }
}

package dev.latchkey.adapters.jdbc;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A store of schema version 1 migrated on H2.
 */
class TestH2SchemaUpgrade
        extends AbstractTestJdbcSchemaUpgrade
{
    private static final AtomicInteger DATABASES = new AtomicInteger();

    @Override
    protected JdbcStoreConfig freshDatabase()
    {
        return TestingJdbcStores.h2Config("upgrade-" + DATABASES.incrementAndGet());
    }
}

package dev.latchkey.adapters.jdbc;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * The instance registry on H2.
 */
class TestH2InstanceRegistry
        extends AbstractTestJdbcInstanceRegistry
{
    private static final AtomicInteger DATABASES = new AtomicInteger();

    @Override
    protected JdbcStoreConfig freshDatabase()
    {
        return TestingJdbcStores.h2Config("instances-" + DATABASES.incrementAndGet());
    }
}

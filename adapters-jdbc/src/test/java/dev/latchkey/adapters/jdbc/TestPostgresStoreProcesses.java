package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.store.AbstractTestStoreProcesses;

/**
 * The multi-process scenarios on one PostgreSQL database: two writer JVMs racing, writers killed with SIGKILL
 * mid-burst.
 */
class TestPostgresStoreProcesses
        extends AbstractTestStoreProcesses
{
    TestPostgresStoreProcesses()
    {
        super("postgres", new JdbcProcessStores());
    }
}

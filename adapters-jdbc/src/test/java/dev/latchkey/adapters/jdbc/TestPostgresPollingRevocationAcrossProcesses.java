package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.store.AbstractTestResolverAcrossProcesses;

/**
 * The resolver over PostgreSQL in two JVMs (G1, G2), polling only (every 250 ms, no LISTEN/NOTIFY): the bound is
 * the poll interval plus one read. Its figures are in docs/performance.md.
 */
class TestPostgresPollingRevocationAcrossProcesses
        extends AbstractTestResolverAcrossProcesses
{
    TestPostgresPollingRevocationAcrossProcesses()
    {
        super("postgres-polling", new JdbcProcessStores());
    }
}

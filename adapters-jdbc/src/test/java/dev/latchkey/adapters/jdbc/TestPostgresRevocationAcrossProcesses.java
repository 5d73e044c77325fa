package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.store.AbstractTestResolverAcrossProcesses;

import java.time.Duration;

/**
 * The resolver over PostgreSQL in two JVMs (G1, G2), woken by LISTEN/NOTIFY: revocations reach the other process
 * within milliseconds instead of up to a poll interval. Its figures are in docs/performance.md.
 */
class TestPostgresRevocationAcrossProcesses
        extends AbstractTestResolverAcrossProcesses
{
    TestPostgresRevocationAcrossProcesses()
    {
        super("postgres", new JdbcProcessStores.Notifying());
    }

    /**
     * Well under the 250 ms poll interval.
     */
    @Override
    protected Duration medianRevocationBound()
    {
        return Duration.ofMillis(100);
    }
}

package dev.latchkey.adapters.jdbc;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * The audit trail and last-used times on H2.
 */
class TestH2AuditAndUsage
        extends AbstractTestJdbcAuditAndUsage
{
    private static final AtomicInteger DATABASES = new AtomicInteger();

    @Override
    protected JdbcStoreConfig freshDatabase()
    {
        return TestingJdbcStores.h2Config("audit-" + DATABASES.incrementAndGet());
    }
}

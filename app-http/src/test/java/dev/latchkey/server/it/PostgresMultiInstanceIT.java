package dev.latchkey.server.it;

import dev.latchkey.adapters.jdbc.TestingPostgres;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * {@link AbstractMultiInstanceIT} on PostgreSQL ({@code LATCHKEY_STORE=jdbc}): A and B share one database on a real
 * PostgreSQL server ({@link TestingPostgres}), which G5 stops (fast shutdown: clients are disconnected) and restarts
 * on the same port with the same data. Changes reach the other instance by LISTEN/NOTIFY, typically within
 * milliseconds; the bound asserted is the revocation bound of every store.
 */
class PostgresMultiInstanceIT
        extends AbstractMultiInstanceIT
{
    private static final Duration PATIENCE = Duration.ofSeconds(15);
    /** G2 with LISTEN/NOTIFY: a change on A wakes B, which re-reads at once; the poll is only the fallback. */
    private static final Duration NOTIFY_REVOCATION_BOUND = Duration.ofSeconds(1);

    private TestingPostgres postgres;
    private String databaseUrl;

    PostgresMultiInstanceIT()
    {
        super("postgres", PATIENCE);
    }

    @Override
    protected AutoCloseable startStore(Path temporaryDirectory)
    {
        postgres = TestingPostgres.start(false);
        databaseUrl = postgres.createDatabase();
        System.out.printf("PostgreSQL database %s%n", databaseUrl);
        return postgres;
    }

    @Override
    protected Map<String, String> storeSettings()
    {
        return Map.of(
                "LATCHKEY_STORE", "jdbc",
                "LATCHKEY_JDBC_URL", databaseUrl,
                "LATCHKEY_JDBC_USER", TestingPostgres.SUPERUSER);
    }

    @Override
    protected Optional<StoreOutage> outage()
    {
        return Optional.of(new StoreOutage(postgres::stop, postgres::restart));
    }

    @Override
    protected Duration revocationBound()
    {
        return NOTIFY_REVOCATION_BOUND;
    }
}

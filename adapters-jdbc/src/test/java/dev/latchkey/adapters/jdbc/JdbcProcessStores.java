package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.testing.ProcessStores;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * The JDBC store on PostgreSQL for the multi-process suites: a fresh database of the shared test server; the
 * location is its URL. Resolvers poll only; {@link Notifying} wakes them by LISTEN/NOTIFY as well.
 */
public class JdbcProcessStores
        implements ProcessStores
{
    private static final Duration LISTENER_TIMEOUT = Duration.ofSeconds(30);

    @Override
    public String createStore(Path temporaryDirectory)
    {
        return TestingPostgres.shared().createDatabase();
    }

    /**
     * Migrates (the first handle creates the schema, the others find nothing to do), which also connects the pool
     * at once: a pool left to connect at the first call could time that call out on a cold JVM under load.
     */
    @Override
    public IdentityStore open(String location)
    {
        return JdbcIdentityStore.open(TestingJdbcStores.postgresConfig(location), Clock.systemUTC());
    }


    /**
     * Resolvers woken by LISTEN/NOTIFY at every commit (the default on PostgreSQL), once the listener is connected.
     */
    public static final class Notifying
            extends JdbcProcessStores
    {
        @Override
        public AutoCloseable startWakeUps(IdentityStore store, Runnable wakeUp)
        {
            CommitListener listener = ((JdbcIdentityStore) store).listenForCommits(wakeUp);
            long deadline = System.nanoTime() + LISTENER_TIMEOUT.toNanos();
            while (!listener.connected()) {
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException("the listener did not connect");
                }
                LockSupport.parkNanos(Duration.ofMillis(5).toNanos());
            }
            return listener::close;
        }
    }
}

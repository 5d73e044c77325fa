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
    private static final Duration PROCESS_TIMEOUT = Duration.ofSeconds(5);

    @Override
    public String createStore(Path temporaryDirectory)
    {
        return TestingPostgres.shared().createDatabase();
    }

    /**
     * Migrates (the first handle creates the schema, the others find nothing to do), which also connects the pool
     * at once: a pool left to connect at the first call could time that call out on a cold JVM under load. The
     * timeouts are longer than the store's defaults (1 s): these suites check what the instances answer, not how
     * fast a database shared with a full build answers, and a first lookup of a new key in a cold child JVM, with
     * PostgreSQL and a build on the same two cores, was seen to take more than a second (once in several full
     * builds: UNAVAILABLE where the test expects the key).
     */
    @Override
    public IdentityStore open(String location)
    {
        return JdbcIdentityStore.open(TestingJdbcStores.postgresConfig(location).withTimeouts(PROCESS_TIMEOUT, PROCESS_TIMEOUT), Clock.systemUTC());
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

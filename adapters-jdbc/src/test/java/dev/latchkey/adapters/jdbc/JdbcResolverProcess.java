package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.testing.ResolverProcessLoop;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * A second Latchkey instance for the multi-process tests: an identity resolver over the JDBC store at a URL,
 * polling the feed at the default interval, and woken by LISTEN/NOTIFY when the second argument is {@code notify}
 * (polling only when it is {@code poll}). Reads {@code RESOLVE <key>} lines and answers each with
 * {@code RESULT <outcome> <role>}.
 */
public final class JdbcResolverProcess
{
    private JdbcResolverProcess() {}

    public static void main(String[] args)
            throws Exception
    {
        JdbcIdentityStore store = JdbcIdentityStore.open(TestingJdbcStores.postgresConfig(args[0]).withMigrate(false), Clock.systemUTC());
        try (ResolverProcessLoop loop = ResolverProcessLoop.start(store)) {
            CommitListener listener = args[1].equals("notify") ? store.listenForCommits(loop.resolver()::wakeUp) : null;
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (listener != null && !listener.connected()) {
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException("the listener did not connect");
                }
                LockSupport.parkNanos(Duration.ofMillis(5).toNanos());
            }
            loop.serve();
            if (listener != null) {
                listener.close();
            }
        }
        store.close();
    }
}

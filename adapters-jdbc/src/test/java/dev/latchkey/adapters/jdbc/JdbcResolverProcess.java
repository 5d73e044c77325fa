package dev.latchkey.adapters.jdbc;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.core.resolver.ResolverConfig;
import dev.latchkey.core.resolver.ResolverStats;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
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
        ExecutorService lookups = Executors.newFixedThreadPool(4);
        ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor();
        IdentityResolver resolver = new IdentityResolver(store, SecretHasher.sha256(), Optional.empty(), ResolverConfig.defaults(),
                ResolverStats.NONE, lookups, Ticker.systemTicker(), Clock.systemUTC());
        resolver.start(poller);
        CommitListener listener = args[1].equals("notify") ? store.listenForCommits(resolver::wakeUp) : null;
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (listener != null && !listener.connected()) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("the listener did not connect");
            }
            LockSupport.parkNanos(Duration.ofMillis(5).toNanos());
        }
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        out.println("READY");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            var resolution = resolver.resolve(line.substring("RESOLVE ".length()));
            out.println("RESULT " + resolution.outcome() + " " + resolution.identity().map(identity -> identity.role().name()).orElse("-"));
        }
        if (listener != null) {
            listener.close();
        }
        resolver.close();
        poller.shutdownNow();
        lookups.shutdownNow();
        store.close();
    }
}

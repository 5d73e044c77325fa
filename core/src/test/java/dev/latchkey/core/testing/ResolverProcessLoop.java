package dev.latchkey.core.testing;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.core.resolver.Resolution;
import dev.latchkey.core.resolver.ResolverConfig;
import dev.latchkey.core.resolver.ResolverStats;
import dev.latchkey.core.store.IdentityStore;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The body of the adapters' resolver programs (a second Latchkey instance for the multi-process tests, run by
 * {@link TestingProcess}): an identity resolver over a store, polling its feed at the default interval in real
 * time, that reads {@code RESOLVE <key>} lines on standard input and answers each with
 * {@code RESULT <outcome> <role>} after printing {@code READY} (once it has read the feed). Closing it stops the
 * resolver, not the store.
 */
public final class ResolverProcessLoop
        implements AutoCloseable
{
    private final ExecutorService lookups = Executors.newFixedThreadPool(4);
    private final ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor();
    private final IdentityResolver resolver;

    private ResolverProcessLoop(IdentityStore store)
    {
        resolver = new IdentityResolver(store, SecretHasher.sha256(), Optional.empty(), ResolverConfig.defaults(),
                ResolverStats.NONE, lookups, Ticker.systemTicker(), Clock.systemUTC());
        // read the feed once before answering, as a server does before it reports ready: until then every lookup is
        // UNAVAILABLE, and a cold JVM's first read can take longer than the test's next write
        resolver.pollFeed();
        resolver.start(poller);
    }

    /**
     * A resolver over the store, polling its feed from now on.
     */
    public static ResolverProcessLoop start(IdentityStore store)
    {
        return new ResolverProcessLoop(store);
    }

    public IdentityResolver resolver()
    {
        return resolver;
    }

    /**
     * Prints {@code READY}, then answers {@code RESOLVE} lines until standard input ends.
     */
    public void serve()
            throws IOException
    {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        out.println("READY");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            Resolution resolution = resolver.resolve(line.substring("RESOLVE ".length()));
            out.println("RESULT " + resolution.outcome() + " " + resolution.identity().map(identity -> identity.role().name()).orElse("-"));
        }
    }

    @Override
    public void close()
    {
        resolver.close();
        poller.shutdownNow();
        lookups.shutdownNow();
    }
}

package dev.latchkey.adapters.s3;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.core.resolver.Resolution;
import dev.latchkey.core.resolver.ResolverConfig;
import dev.latchkey.core.resolver.ResolverStats;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * A second Latchkey instance for the multi-process tests: an identity resolver over the S3 store at an endpoint and
 * prefix (of the shared test bucket), polling the feed at the default interval. Reads {@code RESOLVE <key>} lines
 * and answers each with {@code RESULT <outcome> <role>}.
 */
public final class S3ResolverProcess
{
    private S3ResolverProcess() {}

    /**
     * {@code <endpoint> <prefix>}.
     */
    public static void main(String[] args)
            throws Exception
    {
        S3IdentityStore store = S3IdentityStore.open(TestingS3Stores.config(URI.create(args[0]), args[1]), TestingS3Stores.credentials(), Clock.systemUTC());
        ExecutorService lookups = Executors.newFixedThreadPool(4);
        ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor();
        IdentityResolver resolver = new IdentityResolver(store, SecretHasher.sha256(), Optional.empty(), ResolverConfig.defaults(),
                ResolverStats.NONE, lookups, Ticker.systemTicker(), Clock.systemUTC());
        resolver.start(poller);
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        out.println("READY");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            Resolution resolution = resolver.resolve(line.substring("RESOLVE ".length()));
            out.println("RESULT " + resolution.outcome() + " " + resolution.identity().map(identity -> identity.role().name()).orElse("-"));
        }
        resolver.close();
        poller.shutdownNow();
        lookups.shutdownNow();
        store.close();
    }
}

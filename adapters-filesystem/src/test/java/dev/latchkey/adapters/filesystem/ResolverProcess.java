package dev.latchkey.adapters.filesystem;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.core.resolver.ResolverConfig;
import dev.latchkey.core.resolver.ResolverStats;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * A second Latchkey instance for the multi-process tests: an identity resolver over the filesystem store in a
 * directory, polling the feed at the default interval in real time. Reads {@code RESOLVE <key>} lines and answers
 * each with {@code RESULT <outcome> <role>}.
 */
public final class ResolverProcess
{
    private ResolverProcess() {}

    public static void main(String[] args)
            throws Exception
    {
        FileSystemIdentityStore store = FileSystemIdentityStore.open(Path.of(args[0]), Clock.systemUTC());
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
            var resolution = resolver.resolve(line.substring("RESOLVE ".length()));
            out.println("RESULT " + resolution.outcome() + " " + resolution.identity().map(identity -> identity.role().name()).orElse("-"));
        }
        resolver.close();
        poller.shutdownNow();
        lookups.shutdownNow();
    }
}

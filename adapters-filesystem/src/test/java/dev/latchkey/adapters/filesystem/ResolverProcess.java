package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.testing.ResolverProcessLoop;

import java.nio.file.Path;
import java.time.Clock;

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
        try (ResolverProcessLoop loop = ResolverProcessLoop.start(store)) {
            loop.serve();
        }
    }
}

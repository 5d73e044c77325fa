package dev.latchkey.adapters.s3;

import dev.latchkey.core.testing.ResolverProcessLoop;

import java.net.URI;
import java.time.Clock;

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
        try (ResolverProcessLoop loop = ResolverProcessLoop.start(store)) {
            loop.serve();
        }
        store.close();
    }
}

package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.testing.ProcessStores;

import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;

/**
 * The S3 store for the multi-process suites: a fresh prefix of the shared test bucket, reached through the proxy
 * that gives S3Mock S3's per-object atomicity of conditional writes (every process goes through the one proxy of
 * the test's JVM). The location is the endpoint and the prefix, separated by a space.
 */
public final class S3ProcessStores
        implements ProcessStores
{
    public static String location(URI endpoint, String prefix)
    {
        return endpoint + " " + prefix;
    }

    @Override
    public String createStore(Path temporaryDirectory)
    {
        return location(TestingS3.shared().serializingProxy().endpoint(), TestingS3.uniquePrefix("processes"));
    }

    @Override
    public IdentityStore open(String location)
    {
        String[] endpointAndPrefix = location.split(" ", 2);
        return S3IdentityStore.open(TestingS3Stores.config(URI.create(endpointAndPrefix[0]), endpointAndPrefix[1]), TestingS3Stores.credentials(), Clock.systemUTC());
    }

}

package dev.latchkey.adapters.s3;

import dev.latchkey.core.store.AbstractTestResolverAcrossProcesses;

/**
 * The resolver over the S3 store in two JVMs (G1, G2), through the serializing proxy, polling the feed every
 * 250 ms (the default): the S3 store has no push channel.
 */
class TestS3RevocationAcrossProcesses
        extends AbstractTestResolverAcrossProcesses
{
    TestS3RevocationAcrossProcesses()
    {
        super("s3", new S3ProcessStores());
    }
}

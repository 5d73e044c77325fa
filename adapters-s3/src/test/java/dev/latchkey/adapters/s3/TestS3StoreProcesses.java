package dev.latchkey.adapters.s3;

import dev.latchkey.core.store.AbstractTestStoreProcesses;

import java.time.Duration;

/**
 * The multi-process scenarios on one prefix of the S3 store (two writer JVMs racing, writers killed with SIGKILL
 * mid-burst), on S3Mock behind the serializing proxy: fewer rounds and longer timeouts, since every write takes a
 * dozen requests.
 */
class TestS3StoreProcesses
        extends AbstractTestStoreProcesses
{
    TestS3StoreProcesses()
    {
        super("s3", new S3ProcessStores());
    }

    @Override
    protected Duration timeout()
    {
        return Duration.ofSeconds(180);
    }

    @Override
    protected int rounds()
    {
        return 12;
    }

    @Override
    protected Duration maxPauseBeforeKill()
    {
        return Duration.ofMillis(40);
    }
}

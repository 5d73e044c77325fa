package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.core.store.AbstractIdentityStoreContractTest;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import org.junit.jupiter.api.AfterEach;

import java.time.Clock;

/**
 * The store contract against a real S3-compatible server (S3Mock), through the proxy that gives it S3's
 * per-object atomicity of conditional writes (see {@link dev.latchkey.adapters.s3.testing.SerializingS3Proxy}).
 */
class TestS3IdentityStore
        extends AbstractIdentityStoreContractTest
{
    private final TestingS3Stores stores = new TestingS3Stores();
    private Clock clock;

    @Override
    protected IdentityStore createStore(Clock clock)
    {
        this.clock = clock;
        return stores.open(TestingS3.shared().serializingProxy().endpoint(), clock);
    }

    @Override
    protected IdentityStore openAnotherHandle(IdentityStore store)
    {
        return stores.openAnother((S3IdentityStore) store, clock);
    }

    @Override
    protected void compactFeedThrough(IdentityStore store, FeedPosition position)
    {
        ((S3IdentityStore) store).compactThrough(position);
    }

    @AfterEach
    void closeStores()
    {
        stores.closeAll();
    }
}

package dev.latchkey.core.store.memory;

import dev.latchkey.core.store.AbstractIdentityStoreContractTest;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;

import java.time.Clock;

public class TestInMemoryIdentityStore
        extends AbstractIdentityStoreContractTest
{
    @Override
    protected IdentityStore createStore(Clock clock)
    {
        return new InMemoryIdentityStore(clock);
    }

    @Override
    protected void compactFeedThrough(IdentityStore store, FeedPosition position)
    {
        ((InMemoryIdentityStore) store).compactThrough(position);
    }

    /**
     * Writes in memory take well under a microsecond, so races need many rounds to overlap at all.
     */
    @Override
    protected int concurrencyRounds()
    {
        return 100;
    }
}

package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.store.AbstractIdentityStoreContractTest;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import org.junit.jupiter.api.AfterEach;

import java.time.Clock;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The whole store contract on H2 (in memory, one database per test), with a second connection pool on the same
 * database standing in for a second handle.
 */
class TestH2IdentityStore
        extends AbstractIdentityStoreContractTest
{
    private static final AtomicInteger DATABASES = new AtomicInteger();

    private final TestingJdbcStores stores = new TestingJdbcStores();

    @Override
    protected IdentityStore createStore(Clock clock)
    {
        return stores.open(TestingJdbcStores.h2Config("contract-" + DATABASES.incrementAndGet()), clock);
    }

    @Override
    protected IdentityStore openAnotherHandle(IdentityStore store)
    {
        return stores.openAnother(store);
    }

    @Override
    protected void compactFeedThrough(IdentityStore store, FeedPosition position)
    {
        ((JdbcIdentityStore) store).compactThrough(position);
    }

    @AfterEach
    void closeStores()
    {
        stores.closeAll();
    }
}

package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.store.AbstractIdentityStoreContractTest;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import org.junit.jupiter.api.AfterEach;

import java.time.Clock;

/**
 * The whole store contract on a real PostgreSQL server ({@link TestingPostgres}), a fresh database per test, with a
 * second connection pool on the same database standing in for a second instance.
 */
class TestPostgresIdentityStore
        extends AbstractIdentityStoreContractTest
{
    private final TestingJdbcStores stores = new TestingJdbcStores();

    @Override
    protected IdentityStore createStore(Clock clock)
    {
        return stores.open(TestingJdbcStores.postgresConfig(TestingPostgres.shared().createDatabase()), clock);
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

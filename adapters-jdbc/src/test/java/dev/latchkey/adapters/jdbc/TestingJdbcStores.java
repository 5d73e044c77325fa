package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.store.IdentityStore;

import java.time.Clock;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Opens JDBC stores for tests, remembers how, and closes them all at the end of each test.
 */
final class TestingJdbcStores
{
    private final List<JdbcIdentityStore> opened = new ArrayList<>();
    private final Map<IdentityStore, JdbcStoreConfig> configs = new IdentityHashMap<>();
    private final Map<IdentityStore, Clock> clocks = new IdentityHashMap<>();

    static JdbcStoreConfig postgresConfig(String url)
    {
        return JdbcStoreConfig.of(url, Optional.of(TestingPostgres.SUPERUSER), Optional.empty());
    }

    static JdbcStoreConfig h2Config(String name)
    {
        return JdbcStoreConfig.of("jdbc:h2:mem:" + name + ";DB_CLOSE_DELAY=-1", Optional.empty(), Optional.empty());
    }

    synchronized JdbcIdentityStore open(JdbcStoreConfig config, Clock clock)
    {
        JdbcIdentityStore store = JdbcIdentityStore.open(config, clock);
        opened.add(store);
        configs.put(store, config);
        clocks.put(store, clock);
        return store;
    }

    /**
     * Another handle on the same database, as a second instance would open it (it migrates too: nothing to do).
     */
    synchronized JdbcIdentityStore openAnother(IdentityStore store)
    {
        return open(configs.get(store), clocks.get(store));
    }

    synchronized void closeAll()
    {
        opened.forEach(JdbcIdentityStore::close);
        opened.clear();
        configs.clear();
        clocks.clear();
    }
}

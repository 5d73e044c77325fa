package dev.latchkey.server.store;

import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.latchkey.adapters.jdbc.CommitListener;
import dev.latchkey.adapters.jdbc.JdbcIdentityStore;
import dev.latchkey.adapters.jdbc.JdbcStoreConfig;
import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.server.Closer;
import dev.latchkey.server.config.ConfigException;
import dev.latchkey.server.config.ServerConfig;
import dev.latchkey.server.config.Settings;

import java.time.Clock;
import java.util.List;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The JDBC store (PostgreSQL, or H2 for embedded use) at {@code LATCHKEY_JDBC_URL}. It keeps no root key: start-up
 * fails unless {@code LATCHKEY_ROOT_KEY} is set. On PostgreSQL, commits on any instance wake this instance's feed
 * poller through LISTEN/NOTIFY; polling stays the safety net. See docs/storage-jdbc.md.
 */
public final class JdbcStoreModule
        extends StoreModule
{
    public static final String URL = "LATCHKEY_JDBC_URL";
    public static final String USER = "LATCHKEY_JDBC_USER";
    public static final String PASSWORD = "LATCHKEY_JDBC_PASSWORD";
    public static final String MIGRATE = "LATCHKEY_JDBC_MIGRATE";
    public static final String POOL_SIZE = "LATCHKEY_JDBC_POOL_SIZE";
    public static final String CONNECT_TIMEOUT = "LATCHKEY_JDBC_CONNECT_TIMEOUT";
    public static final String QUERY_TIMEOUT = "LATCHKEY_JDBC_QUERY_TIMEOUT";
    static final List<String> SETTINGS = List.of(URL, USER, PASSWORD, MIGRATE, POOL_SIZE, CONNECT_TIMEOUT, QUERY_TIMEOUT);

    private final JdbcStoreConfig config;

    JdbcStoreModule(JdbcStoreConfig config)
    {
        this.config = requireNonNull(config, "config is null");
    }

    static JdbcStoreModule from(Settings settings)
    {
        String url = settings.optional(URL).orElseThrow(() -> new ConfigException(URL + " is required with " + ServerConfig.STORE + "=jdbc"));
        String migrate = settings.string(MIGRATE, "true");
        if (!migrate.equals("true") && !migrate.equals("false")) {
            throw new ConfigException(MIGRATE + " must be true or false, not '" + migrate + "'");
        }
        try {
            return new JdbcStoreModule(JdbcStoreConfig.of(url, settings.optional(USER), settings.optional(PASSWORD))
                    .withMigrate(Boolean.parseBoolean(migrate))
                    .withPoolSize(settings.integer(POOL_SIZE, JdbcStoreConfig.DEFAULT_POOL_SIZE, 1, 1000))
                    .withTimeouts(
                            settings.duration(CONNECT_TIMEOUT, JdbcStoreConfig.DEFAULT_CONNECT_TIMEOUT),
                            settings.duration(QUERY_TIMEOUT, JdbcStoreConfig.DEFAULT_QUERY_TIMEOUT)));
        }
        catch (IllegalArgumentException e) {
            throw new ConfigException("the JDBC store settings are invalid: " + e.getMessage());
        }
    }

    @Override
    protected void configure() {}

    @Provides
    @Singleton
    JdbcIdentityStore jdbcStore(Clock clock, Closer closer)
    {
        // closing it also stops its commit listeners
        return closer.register("store", JdbcIdentityStore.open(config, clock));
    }

    @Override
    public IdentityStore open(Clock clock)
    {
        return JdbcIdentityStore.open(config, clock);
    }

    @Provides
    @Singleton
    IdentityStore store(JdbcIdentityStore store)
    {
        return store;
    }

    /**
     * Created eagerly with the injector (production stage): wakes the resolver's feed poller on every commit.
     */
    @Provides
    @Singleton
    CommitListener commitListener(JdbcIdentityStore store, IdentityResolver resolver)
    {
        return store.listenForCommits(resolver::wakeUp);
    }

    @Override
    public String kind()
    {
        return "jdbc";
    }

    /**
     * The URL without its parameters (which may hold a password).
     */
    @Override
    public String location()
    {
        int parameters = config.url().indexOf('?');
        int h2Settings = config.url().startsWith("jdbc:h2:") ? config.url().indexOf(';') : -1;
        int end = Math.min(parameters < 0 ? config.url().length() : parameters, h2Settings < 0 ? config.url().length() : h2Settings);
        return config.url().substring(0, end);
    }

    @Override
    public Optional<String> generatedRootKey()
    {
        return Optional.empty();
    }
}

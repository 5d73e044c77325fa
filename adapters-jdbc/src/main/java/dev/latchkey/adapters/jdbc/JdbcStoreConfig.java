package dev.latchkey.adapters.jdbc;

import java.time.Duration;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * How to reach the database and how patient to be with it.
 *
 * @param url a PostgreSQL ({@code jdbc:postgresql:...}) or H2 ({@code jdbc:h2:...}) JDBC URL
 * @param migrate whether {@link JdbcIdentityStore#open} applies the schema migrations shipped in the jar (false when
 *         a DBA applies them, see docs/storage-jdbc.md)
 * @param poolSize the most connections the pool opens (PostgreSQL also gets one more, for LISTEN)
 * @param connectTimeout how long a call waits for a connection: from the pool, or a new one to the database
 * @param queryTimeout how long one statement may run (lock waits included): the server cancels it, and the client
 *         gives up on a connection that stays silent as long (rounded up to whole seconds), so an unreachable
 *         database fails a call within about this bound
 * @param feedRetention how many of the newest change-feed entries are kept; older ones are compacted away
 */
public record JdbcStoreConfig(
        String url,
        Optional<String> user,
        Optional<String> password,
        boolean migrate,
        int poolSize,
        Duration connectTimeout,
        Duration queryTimeout,
        int feedRetention)
{
    public static final int DEFAULT_POOL_SIZE = 10;
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(1);
    public static final Duration DEFAULT_QUERY_TIMEOUT = Duration.ofSeconds(1);
    public static final int DEFAULT_FEED_RETENTION = 100_000;
    private static final Duration MIN_TIMEOUT = Duration.ofMillis(250);

    public JdbcStoreConfig
    {
        requireNonNull(url, "url is null");
        requireNonNull(user, "user is null");
        requireNonNull(password, "password is null");
        requireNonNull(connectTimeout, "connectTimeout is null");
        requireNonNull(queryTimeout, "queryTimeout is null");
        SqlDialect.of(url);
        if (poolSize < 1) {
            throw new IllegalArgumentException("poolSize must be positive");
        }
        if (connectTimeout.compareTo(MIN_TIMEOUT) < 0 || queryTimeout.compareTo(MIN_TIMEOUT) < 0) {
            throw new IllegalArgumentException("timeouts must be at least " + MIN_TIMEOUT.toMillis() + "ms");
        }
        if (feedRetention < 1) {
            throw new IllegalArgumentException("feedRetention must be positive");
        }
    }

    /**
     * The defaults for everything but the URL and the credentials.
     */
    public static JdbcStoreConfig of(String url, Optional<String> user, Optional<String> password)
    {
        return new JdbcStoreConfig(url, user, password, true, DEFAULT_POOL_SIZE, DEFAULT_CONNECT_TIMEOUT, DEFAULT_QUERY_TIMEOUT, DEFAULT_FEED_RETENTION);
    }

    public JdbcStoreConfig withMigrate(boolean value)
    {
        return new JdbcStoreConfig(url, user, password, value, poolSize, connectTimeout, queryTimeout, feedRetention);
    }

    public JdbcStoreConfig withPoolSize(int value)
    {
        return new JdbcStoreConfig(url, user, password, migrate, value, connectTimeout, queryTimeout, feedRetention);
    }

    public JdbcStoreConfig withTimeouts(Duration connect, Duration query)
    {
        return new JdbcStoreConfig(url, user, password, migrate, poolSize, connect, query, feedRetention);
    }

    public JdbcStoreConfig withFeedRetention(int value)
    {
        return new JdbcStoreConfig(url, user, password, migrate, poolSize, connectTimeout, queryTimeout, value);
    }

    /**
     * Never shows the password.
     */
    @Override
    public String toString()
    {
        return "JdbcStoreConfig[url=" + url + ", user=" + user.orElse("") + ", password=" + (password.isPresent() ? "***" : "")
                + ", migrate=" + migrate + ", poolSize=" + poolSize + ", connectTimeout=" + connectTimeout
                + ", queryTimeout=" + queryTimeout + ", feedRetention=" + feedRetention + "]";
    }
}

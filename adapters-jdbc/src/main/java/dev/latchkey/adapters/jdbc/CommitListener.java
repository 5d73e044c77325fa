package dev.latchkey.adapters.jdbc;

import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

import java.lang.System.Logger.Level;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * Tells a callback that some instance committed a change: on PostgreSQL, a thread that holds one connection
 * LISTENing on the feed's channel (see {@link JdbcIdentityStore#listenForCommits}).
 *
 * <p>While connected it waits for notifications in short slices and checks the connection with a trivial query
 * when none came for a while, so a database that went silent is noticed within a few seconds. After any failure it
 * reconnects every second until {@link #close()}; once LISTEN is in place again it calls back at once, because
 * notifications sent while it was away are lost.
 */
public abstract class CommitListener
        implements AutoCloseable
{
    private static final CommitListener SILENT = new CommitListener()
    {
        @Override
        public boolean connected()
        {
            return false;
        }

        @Override
        public void close() {}
    };

    CommitListener() {}

    static CommitListener silent()
    {
        return SILENT;
    }

    static CommitListener postgresql(String url, Properties properties, String channel, Runnable onCommit, Duration connectTimeout)
    {
        PostgresListener listener = new PostgresListener(url, properties, channel, onCommit, connectTimeout);
        listener.start();
        return listener;
    }

    /**
     * Whether the listener holds a live LISTEN connection right now.
     */
    public abstract boolean connected();

    /**
     * Stops listening and closes the connection; waits briefly for the thread to end.
     */
    @Override
    public abstract void close();

    private static final class PostgresListener
            extends CommitListener
    {
        private static final System.Logger LOG = System.getLogger(CommitListener.class.getName());
        private static final int WAIT_SLICE_MILLIS = 250;
        private static final Duration CHECK_AFTER = Duration.ofSeconds(2);
        private static final Duration RECONNECT_DELAY = Duration.ofSeconds(1);

        private final String url;
        private final Properties properties;
        private final String channel;
        private final Runnable onCommit;
        private final Duration connectTimeout;
        private final Thread thread;
        private final CountDownLatch closed = new CountDownLatch(1);
        private volatile Connection connection;
        private volatile boolean connected;

        PostgresListener(String url, Properties properties, String channel, Runnable onCommit, Duration connectTimeout)
        {
            this.url = requireNonNull(url, "url is null");
            this.properties = requireNonNull(properties, "properties is null");
            this.channel = requireNonNull(channel, "channel is null");
            this.onCommit = requireNonNull(onCommit, "onCommit is null");
            this.connectTimeout = requireNonNull(connectTimeout, "connectTimeout is null");
            this.thread = new Thread(this::run, "latchkey-listen");
            thread.setDaemon(true);
        }

        void start()
        {
            thread.start();
        }

        @Override
        public boolean connected()
        {
            return connected;
        }

        private void run()
        {
            boolean failing = false;
            while (closed.getCount() > 0) {
                try (Connection listening = DriverManager.getConnection(url, properties)) {
                    connection = listening;
                    try (Statement statement = listening.createStatement()) {
                        statement.execute("LISTEN " + channel);
                    }
                    connected = true;
                    if (failing) {
                        LOG.log(Level.INFO, "listening for commits again");
                        failing = false;
                    }
                    notifyCommit();
                    listen(listening);
                }
                catch (SQLException | RuntimeException e) {
                    if (closed.getCount() == 0) {
                        break;
                    }
                    if (!failing) {
                        LOG.log(Level.WARNING, "listening for commits failed, reconnecting every {0} s (polling goes on): {1}",
                                RECONNECT_DELAY.toSeconds(), e.getMessage());
                        failing = true;
                    }
                }
                finally {
                    connected = false;
                    connection = null;
                }
                awaitClose(RECONNECT_DELAY);
            }
        }

        private void listen(Connection listening)
                throws SQLException
        {
            PGConnection postgres = listening.unwrap(PGConnection.class);
            long quietSince = System.nanoTime();
            while (closed.getCount() > 0) {
                PGNotification[] notifications = postgres.getNotifications(WAIT_SLICE_MILLIS);
                if (notifications != null && notifications.length > 0) {
                    notifyCommit();
                    quietSince = System.nanoTime();
                }
                else if (System.nanoTime() - quietSince > CHECK_AFTER.toNanos()) {
                    // a paused or unreachable server sends nothing: ask it something (bounded by the socket timeout)
                    if (!listening.isValid((int) Math.max(1, connectTimeout.toSeconds()))) {
                        throw new SQLException("the LISTEN connection stopped answering", "08006");
                    }
                    quietSince = System.nanoTime();
                }
            }
        }

        private void notifyCommit()
        {
            try {
                onCommit.run();
            }
            catch (RuntimeException e) {
                LOG.log(Level.WARNING, "the commit callback failed: {0}", e.getMessage());
            }
        }

        private void awaitClose(Duration timeout)
        {
            try {
                closed.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
            }
            catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                closed.countDown();
            }
        }

        @Override
        public void close()
        {
            closed.countDown();
            Connection current = connection;
            if (current != null) {
                try {
                    current.close();
                }
                catch (SQLException e) {
                    LOG.log(Level.DEBUG, "closing the LISTEN connection failed: {0}", e.getMessage());
                }
            }
            try {
                thread.join(Duration.ofSeconds(2).toMillis());
            }
            catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

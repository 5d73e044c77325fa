package dev.latchkey.server;

import dev.latchkey.server.config.ConfigException;
import dev.latchkey.server.config.Settings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * After a server stops, or fails to start, no thread it started is left: the HTTP server's, the resolver's lookup
 * and feed threads, the store's (the JDBC pool's).
 */
public class TestServerThreads
{
    private static final String ROOT_KEY = "server-threads-test-root-key-0123456789abcdefghij";
    private static final Duration DEADLINE = Duration.ofSeconds(10);
    /**
     * Threads that belong to the process, not to a server: the JDK's own (CompletableFuture's timeout scheduler
     * among them), the test's HTTP client's, and the logging system's access-log writer, each started once by its
     * first user and kept for the life of the JVM.
     */
    private static final Pattern NOT_OURS = Pattern.compile("ForkJoinPool\\.commonPool-worker-\\d+|HttpClient-\\d+-.*|Keep-Alive-.*|process reaper|Common-Cleaner"
            + "|Attach Listener|CompletableFutureDelayScheduler|AsyncAppender-Worker-ACCESS|surefire-.*");

    @Test
    public void testNoThreadIsLeftAfterStopOnTheFileSystemStore(@TempDir Path directory)
    {
        Set<Thread> before = liveThreads();
        try (TestingLatchkeyServer server = TestingLatchkeyServer.start(directory)) {
            server.assertKeyWorks(server.createAccount("acme", "alice"));
            assertThat(newThreads(before)).as("threads while serving").isNotEmpty();
        }

        assertThat(awaitNoNewThreads(before)).isEmpty();
    }

    @Test
    public void testNoThreadIsLeftAfterStopOnTheJdbcStore()
    {
        Set<Thread> before = liveThreads();
        Map<String, String> settings = Map.of(
                "LATCHKEY_STORE", "jdbc",
                "LATCHKEY_JDBC_URL", "jdbc:h2:mem:threads-" + System.nanoTime() + ";DB_CLOSE_DELAY=-1",
                // this test is about threads, not timeouts: a busy machine must not fail its migration
                "LATCHKEY_JDBC_CONNECT_TIMEOUT", "10s",
                "LATCHKEY_JDBC_QUERY_TIMEOUT", "10s",
                "LATCHKEY_ROOT_KEY", ROOT_KEY,
                "LATCHKEY_HTTP_PORT", "0");
        try (LatchkeyServer server = LatchkeyServer.start(Settings.of(settings))) {
            assertThat(server.port()).isPositive();
            assertThat(newThreads(before)).as("threads while serving").isNotEmpty();
        }

        assertThat(awaitNoNewThreads(before)).isEmpty();
    }

    @Test
    public void testNoThreadIsLeftAfterAFailedStart(@TempDir Path directory)
    {
        Map<String, String> values = new HashMap<>(TestingLatchkeyServer.settings(directory.resolve("first"), Map.of()));
        try (LatchkeyServer first = LatchkeyServer.start(Settings.of(values))) {
            Set<Thread> before = liveThreads();
            values.put("LATCHKEY_HTTP_PORT", String.valueOf(first.port()));
            values.put("LATCHKEY_FS_DIR", directory.resolve("second").toString());

            assertThatThrownBy(() -> LatchkeyServer.start(Settings.of(values)).close()).isInstanceOf(ConfigException.class);
            assertThat(awaitNoNewThreads(before)).as("threads of the server that could not listen").isEmpty();
        }
    }

    private static Set<String> awaitNoNewThreads(Set<Thread> before)
    {
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        Set<String> left = newThreads(before);
        while (!left.isEmpty() && System.nanoTime() - deadline < 0) {
            LockSupport.parkNanos(Duration.ofMillis(20).toNanos());
            left = newThreads(before);
        }
        return left;
    }

    private static Set<String> newThreads(Set<Thread> before)
    {
        return liveThreads().stream()
                .filter(thread -> !before.contains(thread))
                .map(Thread::getName)
                .filter(name -> !NOT_OURS.matcher(name).matches())
                .collect(Collectors.toSet());
    }

    private static Set<Thread> liveThreads()
    {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).collect(Collectors.toSet());
    }
}

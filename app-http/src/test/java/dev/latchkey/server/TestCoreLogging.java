package dev.latchkey.server;

import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.resolver.IdentityResolver;
import dev.latchkey.core.resolver.ResolverConfig;
import dev.latchkey.core.resolver.ResolverStats;
import dev.latchkey.core.store.memory.InMemoryIdentityStore;
import dev.latchkey.core.testing.TestingClock;
import dev.latchkey.core.testing.TestingIdentityStore;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Core logs through {@code System.Logger}; in the server those lines reach Logback (and so the configured log
 * format). An outage of the change feed is logged once when it starts and once when it ends, not at every poll.
 */
public class TestCoreLogging
{
    private static final String LOGGER = "dev.latchkey.core.resolver.FeedFollower";

    @Test
    public void testAFeedOutageIsLoggedOnceWhenItStartsAndOnceWhenItEnds()
    {
        TestingClock clock = new TestingClock();
        TestingIdentityStore store = new TestingIdentityStore(new InMemoryIdentityStore(clock));
        try (TestingLogCapture log = TestingLogCapture.start();
                IdentityResolver resolver = new IdentityResolver(store, SecretHasher.sha256(), Optional.empty(), ResolverConfig.defaults(), ResolverStats.NONE,
                        Runnable::run, clock, clock)) {
            store.setUnavailable(true);
            for (int poll = 0; poll < 5; poll++) {
                clock.advance(Duration.ofMillis(250));
                resolver.pollFeed();
            }
            store.setUnavailable(false);
            resolver.pollFeed();
            resolver.pollFeed();

            List<String> lines = log.lines().stream().filter(line -> line.contains(LOGGER)).toList();
            assertThat(lines).containsExactly(
                    "WARN " + LOGGER + " - reading the change feed failed: testing store: unavailable",
                    "INFO " + LOGGER + " - the change feed is read again");
        }
    }
}

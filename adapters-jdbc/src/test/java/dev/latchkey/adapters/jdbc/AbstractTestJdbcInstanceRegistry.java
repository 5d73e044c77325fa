package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.InstanceRecord;
import dev.latchkey.core.testing.TestingClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The instance registry as the JDBC store keeps it (latchkey_instances): what the shared contract cannot see from
 * outside, such as ordinal id order, values at the edges of their columns, the heartbeat kept to the millisecond, a
 * stale row deleted by hand, and first publishes of one id racing from two handles.
 */
abstract class AbstractTestJdbcInstanceRegistry
{
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final TestingClock clock = new TestingClock();
    private final List<JdbcIdentityStore> opened = new ArrayList<>();

    /**
     * The configuration of a fresh, empty database.
     */
    protected abstract JdbcStoreConfig freshDatabase();

    @AfterEach
    void closeStores()
    {
        opened.forEach(JdbcIdentityStore::close);
        opened.clear();
    }

    @Test
    void everyRecordRoundTripsInOrdinalIdOrderOutsideTheFeedAndTheAuditTrail()
            throws SQLException
    {
        JdbcStoreConfig config = freshDatabase();
        JdbcIdentityStore store = open(config);
        // to the microsecond, as every instant of the store; the longest id; an unreachable instance (empty URL)
        Instant now = clock.instant().truncatedTo(ChronoUnit.MICROS).plusNanos(123_000);
        List<InstanceRecord> records = List.of(
                record("instance-b", "http://instance-b:8080", 7, now),
                record("Instance-C", "", 0, now),
                record("instance-a", "http://" + "a".repeat(3_000) + ":8080", Long.MAX_VALUE, now),
                record("host-1.example:8080", "http://host-1.example:8080", 1, now),
                record("x".repeat(128), "http://x:1", 2, now),
                record("a_b.c-d", "http://a-b-c-d:8080", 3, now));
        for (InstanceRecord record : records) {
            store.publishInstance(record);
        }

        List<InstanceRecord> sorted = records.stream().sorted(Comparator.comparing(InstanceRecord::instanceId)).toList();
        assertThat(store.listInstances()).containsExactlyElementsOf(sorted);
        assertThat(open(config).listInstances()).containsExactlyElementsOf(sorted);
        assertThat(rows(config, "latchkey_instances")).isEqualTo(records.size());
        assertThat(store.headPosition()).isEqualTo(FeedPosition.START);
        assertThat(rows(config, "latchkey_feed")).isZero();
        assertThat(rows(config, "latchkey_audit")).isZero();
    }

    @Test
    void theHeartbeatIsKeptToTheMillisecondAFinerOneRoundedUp()
    {
        JdbcStoreConfig config = freshDatabase();
        JdbcIdentityStore store = open(config);
        Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS);
        InstanceRecord whole = new InstanceRecord("instance-a", "http://instance-a:8080", "1.2.3", now, FeedPosition.START, now, now, Duration.ofMillis(2_500));
        InstanceRecord fine = new InstanceRecord("instance-b", "http://instance-b:8080", "1.2.3", now, FeedPosition.START, now, now, Duration.ofMillis(2_500).plusNanos(1));
        InstanceRecord tiny = new InstanceRecord("instance-c", "http://instance-c:8080", "1.2.3", now, FeedPosition.START, now, now, Duration.ofNanos(1));
        store.publishInstance(whole);
        store.publishInstance(fine);
        store.publishInstance(tiny);

        assertThat(store.listInstances()).extracting(InstanceRecord::heartbeat)
                .containsExactly(Duration.ofMillis(2_500), Duration.ofMillis(2_501), Duration.ofMillis(1));
        assertThat(JdbcIdentityStore.heartbeatMillis(Duration.ofSeconds(10))).isEqualTo(10_000);
        assertThat(JdbcIdentityStore.heartbeatMillis(Duration.ofMillis(10).plusNanos(999_999))).isEqualTo(11);
    }

    @Test
    void aStaleRowDeletedByHandIsGoneUntilItsInstancePublishesAgain()
            throws SQLException
    {
        JdbcStoreConfig config = freshDatabase();
        JdbcIdentityStore store = open(config);
        Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS);
        InstanceRecord a = record("instance-a", "http://instance-a:8080", 3, now);
        InstanceRecord b = record("instance-b", "http://instance-b:8080", 3, now.minus(Duration.ofMinutes(5)));
        store.publishInstance(a);
        store.publishInstance(b);
        assertThat(b.isLiveAt(now)).isFalse();

        // what an operator does about an instance that was killed: its row goes, nothing else does
        try (Connection connection = connect(config);
                PreparedStatement delete = connection.prepareStatement("DELETE FROM latchkey_instances WHERE instance_id = ?")) {
            delete.setString(1, "instance-b");
            assertThat(delete.executeUpdate()).isEqualTo(1);
        }
        assertThat(store.listInstances()).containsExactly(a);
        store.removeInstance("instance-b");
        assertThat(store.listInstances()).containsExactly(a);

        // an instance that was not gone after all writes its row again at its next heartbeat
        InstanceRecord back = b.publishedAgain(FeedPosition.of(4), now, now);
        store.publishInstance(back);
        assertThat(store.listInstances()).containsExactly(a, back);
    }

    @Test
    void firstPublishesOfOneIdRacingFromTwoHandlesLeaveOneRowOfEither()
            throws Exception
    {
        JdbcStoreConfig config = freshDatabase();
        JdbcIdentityStore store = open(config);
        JdbcIdentityStore other = open(config);
        Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS);
        int rounds = 50;

        ExecutorService executor = Executors.newFixedThreadPool(2);
        try {
            List<Future<?>> publishers = new ArrayList<>();
            for (JdbcIdentityStore handle : List.of(store, other)) {
                long applied = handle == store ? 1 : 2;
                publishers.add(executor.submit(() -> {
                    for (int round = 0; round < rounds; round++) {
                        handle.publishInstance(record(instanceId(round), "http://" + instanceId(round) + ":8080", applied, now));
                    }
                    return null;
                }));
            }
            for (Future<?> publisher : publishers) {
                publisher.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            }
        }
        finally {
            executor.shutdownNow();
            assertThat(executor.awaitTermination(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        }

        List<InstanceRecord> listed = other.listInstances();
        assertThat(listed).extracting(InstanceRecord::instanceId)
                .containsExactlyElementsOf(IntStream.range(0, rounds).mapToObj(AbstractTestJdbcInstanceRegistry::instanceId).sorted().toList());
        assertThat(listed).extracting(record -> record.appliedPosition().value()).isSubsetOf(1L, 2L);
        assertThat(rows(config, "latchkey_instances")).isEqualTo(rounds);
    }

    // helpers

    private JdbcIdentityStore open(JdbcStoreConfig config)
    {
        JdbcIdentityStore store = JdbcIdentityStore.open(config, clock);
        opened.add(store);
        return store;
    }

    private static String instanceId(int round)
    {
        return "instance-" + round;
    }

    private static InstanceRecord record(String instanceId, String url, long applied, Instant publishedAt)
    {
        return new InstanceRecord(instanceId, url, "1.2.3-" + instanceId.length(), publishedAt.minus(Duration.ofHours(1)), FeedPosition.of(applied),
                publishedAt.minusMillis(250), publishedAt, Duration.ofSeconds(10));
    }

    private static Connection connect(JdbcStoreConfig config)
            throws SQLException
    {
        return DriverManager.getConnection(config.url(), config.user().orElse(null), config.password().orElse(null));
    }

    private static long rows(JdbcStoreConfig config, String table)
            throws SQLException
    {
        try (Connection connection = connect(config);
                PreparedStatement statement = connection.prepareStatement("SELECT COUNT(*) FROM " + table);
                ResultSet row = statement.executeQuery()) {
            row.next();
            return row.getLong(1);
        }
    }
}

package dev.latchkey.core.store;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TestInstanceRecord
{
    private static final Instant PUBLISHED = Instant.parse("2026-12-03T10:00:00Z");

    private static InstanceRecord record(String instanceId, Duration heartbeat)
    {
        return new InstanceRecord(instanceId, "http://10.0.0.1:8080", "1.0", PUBLISHED.minusSeconds(600), FeedPosition.of(7), PUBLISHED.minusSeconds(1), PUBLISHED,
                heartbeat);
    }

    @Test
    void anInstanceIsLiveUntilItHasMissedThreeHeartbeats()
    {
        InstanceRecord record = record("a:8080", Duration.ofSeconds(10));
        assertThat(record.isLiveAt(PUBLISHED)).isTrue();
        assertThat(record.isLiveAt(PUBLISHED.plusSeconds(29))).isTrue();
        assertThat(record.isLiveAt(PUBLISHED.plusSeconds(30))).isFalse();
        // a record published "later" than the reader's clock (a small skew) is live
        assertThat(record.isLiveAt(PUBLISHED.minusSeconds(5))).isTrue();
    }

    @Test
    void publishingAgainKeepsTheIdentityAndMovesThePositionAndTimes()
    {
        InstanceRecord record = record("a:8080", Duration.ofSeconds(10));
        InstanceRecord again = record.publishedAgain(FeedPosition.of(9), PUBLISHED.plusSeconds(4), PUBLISHED.plusSeconds(5));
        assertThat(again).isEqualTo(new InstanceRecord("a:8080", "http://10.0.0.1:8080", "1.0", PUBLISHED.minusSeconds(600), FeedPosition.of(9),
                PUBLISHED.plusSeconds(4), PUBLISHED.plusSeconds(5), Duration.ofSeconds(10)));
        assertThat(again.isLiveAt(PUBLISHED.plusSeconds(34))).isTrue();
    }

    @Test
    void badValuesAreRefused()
    {
        assertThatThrownBy(() -> record("has space", Duration.ofSeconds(10))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> record("a:8080", Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
    }
}

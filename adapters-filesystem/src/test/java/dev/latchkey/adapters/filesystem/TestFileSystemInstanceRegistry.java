package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.InstanceRecord;
import dev.latchkey.core.testing.TestingClock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The instance registry on disk: one private, readable file per instance, apart from the feed, that a listing reads
 * exactly back and never fails on because of one bad file.
 */
class TestFileSystemInstanceRegistry
{
    private static final Instant AT = Instant.parse("2026-01-02T03:04:05.123456789Z");

    private final TestingClock clock = new TestingClock();

    @TempDir
    Path temporaryDirectory;

    @Test
    void eachInstanceHasItsOwnFileOutsideTheFeed()
            throws IOException
    {
        Path directory = temporaryDirectory.resolve("store");
        FileSystemIdentityStore store = FileSystemIdentityStore.open(directory, clock);
        new StoreFixtures(clock).createAccount(store, AccountId.of("acme"), UserId.of("admin"), new ApiKeyGenerator(new SecureRandom()).random());
        List<Path> feedBefore = list(directory.resolve("feed"));
        // nanoseconds and an odd heartbeat read back exactly
        InstanceRecord node = new InstanceRecord("Node-1", "http://node-1:8080", "1.2.3", AT.minusSeconds(60), FeedPosition.of(7), AT.minusNanos(1), AT,
                Duration.ofMillis(10_500).plusNanos(1));

        store.publishInstance(node);

        Path file = directory.resolve("instances/node-1~1.json");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(Files.readString(file, StandardCharsets.UTF_8))
                .contains("\"instance_id\" : \"Node-1\"")
                .contains("\"applied_position\" : 7")
                .contains("\"published_at\" : \"2026-01-02T03:04:05.123456789Z\"")
                .contains("\"heartbeat\" : \"PT10.500000001S\"");
        assertThat(list(directory.resolve("feed"))).isEqualTo(feedBefore);
        assertThat(FileSystemIdentityStore.open(directory, clock).listInstances()).containsExactly(node);

        store.removeInstance("Node-1");
        assertThat(file).doesNotExist();
        assertThat(store.listInstances()).isEmpty();
    }

    @Test
    void aFileThatHoldsNoValidRecordIsSkipped()
            throws IOException
    {
        Path directory = temporaryDirectory.resolve("store");
        FileSystemIdentityStore store = FileSystemIdentityStore.open(directory, clock);
        InstanceRecord valid = new InstanceRecord("node-2", "", "1.2.3", AT, FeedPosition.START, AT, AT, Duration.ofSeconds(10));
        store.publishInstance(valid);
        store.publishInstance(new InstanceRecord("node-9", "", "1.2.3", AT, FeedPosition.START, AT, AT, Duration.ofSeconds(10)));
        Path instances = directory.resolve("instances");
        String validJson = Files.readString(instances.resolve("node-2.json"), StandardCharsets.UTF_8);
        Files.writeString(instances.resolve("garbage.json"), "{ not json");
        Files.writeString(instances.resolve("empty.json"), "");
        Files.writeString(instances.resolve("fields-missing.json"), "{\"instance_id\": \"fields-missing\"}");
        Files.writeString(instances.resolve("bad-instant.json"), validJson.replace("node-2", "bad-instant").replace(AT.toString(), "yesterday"));
        Files.writeString(instances.resolve("bad-heartbeat.json"), validJson.replace("node-2", "bad-heartbeat").replace("PT10S", "-PT10S"));
        Files.writeString(instances.resolve("renamed.json"), validJson);
        Files.writeString(instances.resolve("node-9.json"), validJson.replace("node-2", "not an id/"));
        Files.writeString(instances.resolve("notes.txt"), "not a record");

        assertThat(store.listInstances()).containsExactly(valid);
    }

    @Test
    void aFailureOfTheDirectoryIsUnavailable()
            throws IOException
    {
        Path directory = temporaryDirectory.resolve("store");
        FileSystemIdentityStore store = FileSystemIdentityStore.open(directory, clock);
        InstanceRecord node = new InstanceRecord("node-1", "", "1.2.3", AT, FeedPosition.START, AT, AT, Duration.ofSeconds(10));
        Files.delete(directory.resolve("instances"));
        Files.writeString(directory.resolve("instances"), "a file where the directory should be");

        assertThatThrownBy(store::listInstances)
                .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
        assertThatThrownBy(() -> store.publishInstance(node))
                .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
    }

    private static List<Path> list(Path directory)
            throws IOException
    {
        try (Stream<Path> files = Files.list(directory)) {
            return files.sorted().toList();
        }
    }
}

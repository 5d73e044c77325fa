package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.InstanceRecord;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The instance registry, one file per instance, apart from the accounts, the feed and every lock.
 *
 * <h2>Layout</h2>
 * <pre>
 * instances/&lt;instance&gt;.json   {"instance_id": "...", "url": "http://host:port", "version": "...",
 *                             "started_at": "&lt;instant&gt;", "applied_position": 42, "feed_read_at": "&lt;instant&gt;",
 *                             "published_at": "&lt;instant&gt;", "heartbeat": "PT10S"}
 * </pre>
 * The instance's name is encoded like every id ({@link FileNames}); instants are ISO-8601 text, the heartbeat an
 * ISO-8601 duration, so both read back exactly.
 *
 * <p>Each instance writes only its own file, every heartbeat, atomically (temporary file, rename), and deletes it
 * at a clean stop; so no lock is taken. A listing reads every file: one that vanished meanwhile, or that holds no
 * valid record, or whose name is not its instance's, is skipped (the latter two logged at DEBUG) rather than
 * failing the listing.
 */
final class InstanceFiles
{
    private static final System.Logger LOG = System.getLogger(InstanceFiles.class.getName());
    private static final String JSON = ".json";

    private final Path directory;
    private final StoreFiles files;

    InstanceFiles(Path directory, StoreFiles files)
            throws IOException
    {
        this.directory = requireNonNull(directory, "directory is null");
        this.files = requireNonNull(files, "files is null");
        files.createDirectories(directory);
    }

    void publish(InstanceRecord record)
            throws IOException
    {
        files.write(file(record.instanceId()), InstanceFile.of(record));
    }

    void remove(String instanceId)
            throws IOException
    {
        files.delete(file(instanceId));
    }

    /**
     * Every valid record, in instance id order.
     */
    List<InstanceRecord> list()
            throws IOException
    {
        List<InstanceRecord> records = new ArrayList<>();
        for (String name : files.list(directory)) {
            if (!name.endsWith(JSON)) {
                continue;
            }
            Optional<InstanceFile> found;
            try {
                // empty when the file vanished since the listing: its instance stopped
                found = files.read(directory.resolve(name), InstanceFile.class);
            }
            catch (StoreFiles.CorruptFileException e) {
                skip(name, e.getCause());
                continue;
            }
            found.flatMap(file -> valid(name, file)).ifPresent(records::add);
        }
        records.sort(Comparator.comparing(InstanceRecord::instanceId));
        return records;
    }

    /**
     * The record a file holds, when it is a valid one and the file is named for its instance.
     */
    private static Optional<InstanceRecord> valid(String name, InstanceFile file)
    {
        InstanceRecord record;
        try {
            record = file.toRecord();
        }
        catch (IllegalArgumentException | NullPointerException | DateTimeException e) {
            skip(name, e);
            return Optional.empty();
        }
        if (!name.equals(fileName(record.instanceId()))) {
            skip(name, new IllegalArgumentException("the file is named for another instance than " + record.instanceId()));
            return Optional.empty();
        }
        return Optional.of(record);
    }

    private static void skip(String name, Throwable reason)
    {
        LOG.log(Level.DEBUG, "skipping the invalid instance file {0}: {1}", name, reason.getMessage());
    }

    private Path file(String instanceId)
    {
        return directory.resolve(fileName(instanceId));
    }

    private static String fileName(String instanceId)
    {
        return FileNames.encode(instanceId) + JSON;
    }

    /**
     * {@code instances/<instance>.json}: an {@link InstanceRecord} as its instance last published it.
     *
     * @param appliedPosition the feed position the instance has applied through
     * @param heartbeat how often the instance rewrites the file, as an ISO-8601 duration ({@link Duration#toString})
     */
    record InstanceFile(String instanceId, String url, String version, Instant startedAt, Long appliedPosition, Instant feedReadAt, Instant publishedAt,
                        String heartbeat)
    {
        static InstanceFile of(InstanceRecord record)
        {
            return new InstanceFile(record.instanceId(), record.url(), record.version(), record.startedAt(), record.appliedPosition().value(),
                    record.feedReadAt(), record.publishedAt(), record.heartbeat().toString());
        }

        /**
         * The record this file holds. Throws {@link IllegalArgumentException}, {@link NullPointerException} or
         * {@link DateTimeException} when it holds no valid one (a field missing or out of range).
         */
        InstanceRecord toRecord()
        {
            return new InstanceRecord(instanceId, url, version, startedAt, FeedPosition.of(requireNonNull(appliedPosition, "appliedPosition is null")), feedReadAt,
                    publishedAt, Duration.parse(requireNonNull(heartbeat, "heartbeat is null")));
        }
    }
}

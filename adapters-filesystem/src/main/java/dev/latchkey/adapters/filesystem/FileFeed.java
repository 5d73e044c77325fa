package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The change feed: one immutable file per change, {@code feed/<position>.json}, positions 1, 2, 3, ... with no gaps.
 *
 * <p>Why no change is ever skipped: entries are appended only under the store lock, each at the first free position
 * after the head hint (probing past entries that a killed writer left without updating the hint), and each entry
 * appears atomically (rename) after everything its change did is on disk. So entry n+1 can exist only after entry
 * n does, and a reader that follows entries in order until the first missing one sees every committed change.
 *
 * <p>{@code feed/head} holds a hint of the newest position (never ahead of it); {@code feed/floor} holds the oldest
 * position still kept. Compaction raises the floor first and then deletes the entries below it, so a reader whose
 * next entry is missing can tell "nothing new" (the floor is not past it) from "compacted away" (it is). An idle
 * read costs two small file reads, whatever the size of the store.
 *
 * <p>Each entry is also its write's audit record (its {@link FeedEntryFile#origin()}). Before compaction raises the
 * floor it archives the audit records of the entries it is about to forget into an audit segment
 * ({@link FileAuditTrail#archive}), so the audit trail outlives the feed: an entry is deleted only once its record
 * is in a segment. A compaction stopped half-way is retried by the next one, which archives from where the newest
 * segment ends.
 */
final class FileFeed
{
    private static final int POSITION_DIGITS = 19;

    private final Path directory;
    private final Path headFile;
    private final Path floorFile;
    private final StoreFiles files;
    private final FileAuditTrail audit;

    FileFeed(Path directory, StoreFiles files, FileAuditTrail audit)
            throws IOException
    {
        this.directory = requireNonNull(directory, "directory is null");
        this.headFile = directory.resolve("head");
        this.floorFile = directory.resolve("floor");
        this.files = requireNonNull(files, "files is null");
        this.audit = requireNonNull(audit, "audit is null");
        files.createDirectories(directory);
    }

    /**
     * Appends a change with its audit record. Call only while holding the store lock.
     *
     * @param origin where the write came from; null for a write decided before the store recorded audits
     * @return the position it was given
     */
    long append(String operationId, ChangeType changeType, String accountId, String userId, List<String> keyIds, Instant committedAt, OriginFile origin)
            throws IOException
    {
        long position = Math.max(readNumber(headFile), readNumber(floorFile) - 1) + 1;
        while (Files.exists(entryFile(position))) {
            position++;
        }
        files.write(entryFile(position), new FeedEntryFile(position, operationId, changeType, accountId, userId, keyIds, committedAt, origin));
        files.write(headFile, position);
        return position;
    }

    /**
     * Whether an entry after {@code after} carries this operation id. Call only while holding the store lock.
     */
    boolean contains(String operationId, long after)
            throws IOException
    {
        for (long position = after + 1; ; position++) {
            Optional<FeedEntryFile> entry = files.read(entryFile(position), FeedEntryFile.class);
            if (entry.isEmpty()) {
                return false;
            }
            if (entry.get().operationId().equals(operationId)) {
                return true;
            }
        }
    }

    FeedBatch changesAfter(FeedPosition after, int limit)
            throws IOException
    {
        List<Change> changes = new ArrayList<>();
        long position = after.value();
        while (changes.size() < limit) {
            Optional<FeedEntryFile> entry = files.read(entryFile(position + 1), FeedEntryFile.class);
            if (entry.isEmpty()) {
                break;
            }
            changes.add(entry.get().toChange());
            position++;
        }
        if (changes.isEmpty() && readNumber(floorFile) > after.value() + 1) {
            return new FeedBatch.Reset(head());
        }
        return new FeedBatch.Changes(changes, FeedPosition.of(position));
    }

    FeedPosition head()
            throws IOException
    {
        long position = Math.max(readNumber(headFile), readNumber(floorFile) - 1);
        while (Files.exists(entryFile(position + 1))) {
            position++;
        }
        return FeedPosition.of(position);
    }

    /**
     * The entry at this position; empty when there is none (beyond the head, or compacted away).
     */
    Optional<FeedEntryFile> entry(long position)
            throws IOException
    {
        if (position < 1) {
            return Optional.empty();
        }
        return files.read(entryFile(position), FeedEntryFile.class);
    }

    /**
     * Forgets the entries up to and including {@code through}, once their audit records are archived. Call only while
     * holding the store lock.
     */
    void compactThrough(long through)
            throws IOException
    {
        long oldFloor = Math.max(readNumber(floorFile), 1);
        long newFloor = Math.min(through, head().value()) + 1;
        if (newFloor <= oldFloor) {
            return;
        }
        // a compaction stopped after archiving and before raising the floor archived part of this range already
        long from = Math.max(oldFloor, audit.archivedThrough() + 1);
        for (long first = from; first < newFloor; first += FileAuditTrail.MAX_SEGMENT_POSITIONS) {
            long last = Math.min(first + FileAuditTrail.MAX_SEGMENT_POSITIONS, newFloor) - 1;
            List<FeedEntryFile> entries = new ArrayList<>();
            for (long position = first; position <= last; position++) {
                entry(position).ifPresent(entries::add);
            }
            audit.archive(first, last, entries);
        }
        files.write(floorFile, newFloor);
        for (long position = oldFloor; position < newFloor; position++) {
            files.delete(entryFile(position));
        }
    }

    private Path entryFile(long position)
    {
        return directory.resolve(String.format("%0" + POSITION_DIGITS + "d.json", position));
    }

    private long readNumber(Path file)
            throws IOException
    {
        return files.read(file, Long.class).orElse(0L);
    }
}

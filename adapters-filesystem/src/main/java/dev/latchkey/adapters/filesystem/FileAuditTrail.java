package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.store.AuditPage;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.AuditRecord;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The audit trail: the newest records are the feed entries themselves ({@link FeedEntryFile#origin()}, written in
 * the same atomic rename as the change), the older ones are in audit segments that feed compaction writes before it
 * deletes entries.
 *
 * <h2>Layout</h2>
 * <pre>
 * audit/&lt;first&gt;-&lt;last&gt;.jsonl   a segment: the audit records of the feed positions first to last (19 digits each),
 *                             one feed entry a line, oldest first; entries without an origin (written before the
 *                             store recorded audits) and records older than the horizon are left out
 * audit/horizon               the instant set by the latest {@link #purge}: no record committed before it is listed
 * </pre>
 *
 * <h2>Why a record is never lost nor listed twice</h2>
 * Compaction runs under the store lock and writes a segment (atomically: temporary file, rename) before it raises
 * the feed's floor and deletes the entries it covers; a compaction stopped at any step is retried by the next one,
 * which starts after the newest segment ({@link #archivedThrough()}). A listing takes no lock: it reads the feed
 * newest first until the first missing entry (compacted away), and only then lists the segments, taking from them
 * only positions below the lowest entry it read: an entry it found missing was deleted after its segment was written,
 * so the segment is there, and a segment that also covers entries still in the feed (a stopped compaction) does not
 * repeat them.
 *
 * <h2>Retention</h2>
 * {@link #purge} raises the horizon (so that no handle lists an older record from then on) and then deletes the
 * segments, oldest first, whose every record is older than it. Feed entries are never touched: entries older than the
 * horizon stay in the feed until compaction, are left out of listings, and are not archived.
 */
final class FileAuditTrail
{
    /** The most positions one segment covers (a compaction of more writes several). */
    static final int MAX_SEGMENT_POSITIONS = 1000;

    private static final int POSITION_DIGITS = 19;
    private static final String SEGMENT_SUFFIX = ".jsonl";

    private final Path directory;
    private final Path horizonFile;
    private final StoreFiles files;

    FileAuditTrail(Path directory, StoreFiles files)
            throws IOException
    {
        this.directory = requireNonNull(directory, "directory is null");
        this.horizonFile = directory.resolve("horizon");
        this.files = requireNonNull(files, "files is null");
        files.createDirectories(directory);
    }

    /**
     * The last position the newest segment covers; 0 when there is none.
     */
    long archivedThrough()
            throws IOException
    {
        return segments().stream().mapToLong(Segment::last).max().orElse(0);
    }

    /**
     * Writes the segment of positions {@code first} to {@code last} from their feed entries (those with an origin,
     * committed at or after the horizon); writes nothing when none is left. Call only while holding the store lock,
     * before the entries are deleted. Writing it again writes the same records.
     */
    void archive(long first, long last, List<FeedEntryFile> entries)
            throws IOException
    {
        Instant horizon = horizon();
        List<FeedEntryFile> records = entries.stream()
                .filter(FeedEntryFile::audited)
                .filter(entry -> entry.position() >= first && entry.position() <= last)
                .filter(entry -> !entry.committedAt().isBefore(horizon))
                .sorted(Comparator.comparingLong(FeedEntryFile::position))
                .toList();
        if (!records.isEmpty()) {
            files.writeLines(new Segment(first, last).file(directory), records);
        }
    }

    /**
     * The page of the audit trail that a query asks for, newest first, read from the feed's entries and then the
     * segments until the page is full. Takes no lock.
     */
    AuditPage list(AuditQuery query, FileFeed feed)
            throws IOException
    {
        Instant horizon = horizon();
        AuditQuery effective = horizon.isAfter(query.notBefore()) ? new AuditQuery(query.accountId(), query.before(), horizon, query.limit()) : query;
        // one more than the limit tells AuditPage that more may follow
        int wanted = effective.limit() + 1;
        List<AuditRecord> candidates = new ArrayList<>();
        long position = feed.head().value();
        if (effective.before().isPresent()) {
            position = Math.min(position, effective.before().get().value() - 1);
        }
        while (position >= 1 && candidates.size() < wanted) {
            Optional<FeedEntryFile> entry = feed.entry(position);
            if (entry.isEmpty()) {
                // compacted away: this one and every older record is in the segments
                break;
            }
            addIfMatching(entry.get(), effective, candidates);
            position--;
        }
        if (position >= 1 && candidates.size() < wanted) {
            long below = position + 1;
            List<Segment> segments = new ArrayList<>(segments());
            segments.sort(Comparator.comparingLong(Segment::last).reversed());
            for (Segment segment : segments) {
                if (candidates.size() >= wanted) {
                    break;
                }
                if (segment.first() >= below) {
                    continue;
                }
                // purged since it was listed: its records are older than the horizon anyway
                List<FeedEntryFile> records = files.readLines(segment.file(directory), FeedEntryFile.class).orElse(List.of());
                for (int i = records.size() - 1; i >= 0 && candidates.size() < wanted; i--) {
                    FeedEntryFile record = records.get(i);
                    if (record.position() < below) {
                        addIfMatching(record, effective, candidates);
                    }
                }
                below = Math.min(below, segment.first());
            }
        }
        return AuditPage.of(effective, candidates);
    }

    /**
     * Stops listing every record committed before {@code before}, from every handle, and deletes the segments that
     * hold only such records. Call only while holding the store lock.
     */
    void purge(Instant before)
            throws IOException
    {
        Instant horizon = horizon();
        if (before.isAfter(horizon)) {
            files.write(horizonFile, before);
            horizon = before;
        }
        List<Segment> segments = new ArrayList<>(segments());
        segments.sort(Comparator.comparingLong(Segment::first));
        for (Segment segment : segments) {
            Path file = segment.file(directory);
            List<FeedEntryFile> records = files.readLines(file, FeedEntryFile.class).orElse(List.of());
            Instant cutoff = horizon;
            if (records.stream().anyMatch(record -> !record.committedAt().isBefore(cutoff))) {
                // segments are in commit order: the newer ones hold newer records
                break;
            }
            files.delete(file);
        }
    }

    /**
     * The instant before which no record is listed; the start of time until the first purge.
     */
    Instant horizon()
            throws IOException
    {
        return files.read(horizonFile, Instant.class).orElse(Instant.EPOCH);
    }

    private static void addIfMatching(FeedEntryFile entry, AuditQuery query, List<AuditRecord> candidates)
            throws IOException
    {
        if (!entry.audited()) {
            // written before the store recorded audits
            return;
        }
        AuditRecord record = entry.toAuditRecord();
        if (query.matches(record)) {
            candidates.add(record);
        }
    }

    private List<Segment> segments()
            throws IOException
    {
        List<Segment> segments = new ArrayList<>();
        for (String name : files.list(directory)) {
            Segment.parse(name).ifPresent(segments::add);
        }
        return segments;
    }

    private record Segment(long first, long last)
    {
        static Optional<Segment> parse(String name)
        {
            if (!name.endsWith(SEGMENT_SUFFIX)) {
                return Optional.empty();
            }
            String range = name.substring(0, name.length() - SEGMENT_SUFFIX.length());
            int dash = range.indexOf('-');
            if (dash != POSITION_DIGITS || range.length() != 2 * POSITION_DIGITS + 1) {
                return Optional.empty();
            }
            try {
                return Optional.of(new Segment(Long.parseLong(range.substring(0, dash)), Long.parseLong(range.substring(dash + 1))));
            }
            catch (NumberFormatException e) {
                return Optional.empty();
            }
        }

        Path file(Path directory)
        {
            return directory.resolve(String.format("%0" + POSITION_DIGITS + "d-%0" + POSITION_DIGITS + "d" + SEGMENT_SUFFIX, first, last));
        }
    }
}

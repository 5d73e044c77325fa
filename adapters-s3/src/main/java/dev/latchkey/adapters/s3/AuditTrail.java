package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.AuditHorizon;
import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.Documents.Head;
import dev.latchkey.adapters.s3.S3Objects.Versioned;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.store.AuditPage;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.FeedPosition;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static dev.latchkey.adapters.s3.ObjectLayout.AUDIT_HORIZON;
import static dev.latchkey.adapters.s3.ObjectLayout.FEED;
import static dev.latchkey.adapters.s3.ObjectLayout.PAGE_SIZE;
import static dev.latchkey.adapters.s3.ObjectLayout.page;
import static dev.latchkey.adapters.s3.ObjectLayout.pageStart;
import static java.util.Objects.requireNonNull;

/**
 * The audit trail, which is the change feed itself: each committed entry carries the {@link dev.latchkey.core.store.Origin}
 * of its write (so the record commits with the write, in the same conditional PUT of the head, and exists if and only
 * if the write does), and the feed's pages are kept past its compaction, until the audit's retention deletes them.
 * <p>
 * A listing reads the head's entries, newest first, then the pages below them, downwards, until it has one record more
 * than asked (or it has read {@value #MAX_PAGES_PER_LISTING} pages: it then answers what it found, fewer records than
 * asked perhaps, with a cursor to go on from). It ends at a page that is absent (deleted by the retention, or by the
 * compaction of a version before this one) or wholly older than the horizon. Entries without an origin (written before
 * writes were audited) are not listed.
 * <p>
 * The retention: {@code audit-horizon.json} holds the instant before which nothing is listed (it only moves forward);
 * a purge raises it first, then deletes the oldest pages wholly older than it, which the feed has compacted away.
 */
final class AuditTrail
{
    /** At most this many feed pages read per listing (about 2,000 entries), however selective its query. */
    static final int MAX_PAGES_PER_LISTING = 64;
    /** At most this many feed pages deleted per purge; the next purge goes on. */
    static final int MAX_PAGES_PER_PURGE = 256;
    private static final int MAX_PARALLEL_PAGES = 8;
    private static final int HORIZON_ATTEMPTS = 5;

    private final S3Objects objects;
    private final Feed feed;
    private final ParallelReads parallel;
    private final ConditionalWriteProbe probe;
    private final int maxPagesPerListing;

    /**
     * @param probe checked before the horizon is first raised: on an endpoint that ignored the condition, a purge
     *         with an older retention could lower it
     * @param maxPagesPerListing {@link #MAX_PAGES_PER_LISTING}, or fewer for tests
     */
    AuditTrail(S3Objects objects, Feed feed, ParallelReads parallel, ConditionalWriteProbe probe, int maxPagesPerListing)
    {
        this.objects = requireNonNull(objects, "objects is null");
        this.feed = requireNonNull(feed, "feed is null");
        this.parallel = requireNonNull(parallel, "parallel is null");
        this.probe = requireNonNull(probe, "probe is null");
        if (maxPagesPerListing < 1) {
            throw new IllegalArgumentException("maxPagesPerListing must be positive");
        }
        this.maxPagesPerListing = maxPagesPerListing;
    }

    AuditPage list(AuditQuery query)
    {
        Instant horizon = readHorizon().map(read -> read.horizon().before()).orElse(Instant.EPOCH);
        AuditQuery effective = horizon.isAfter(query.notBefore()) ? new AuditQuery(query.accountId(), query.before(), horizon, query.limit()) : query;
        Head head = feed.readHead().head();
        // every position from `below` up has been looked at
        long below = Math.min(head.position(), query.before().map(cursor -> cursor.value() - 1).orElse(Long.MAX_VALUE)) + 1;
        List<AuditRecord> found = new ArrayList<>();
        collect(head.entries(), below, effective, found);
        below = Math.min(below, head.spilledThrough() + 1);

        int pagesRead = 0;
        int round = 1;
        while (found.size() <= query.limit() && below > 1) {
            if (pagesRead == maxPagesPerListing) {
                // as far as one listing reads: what it found, and where the next one goes on
                return new AuditPage(AuditPage.of(effective, found).records(), Optional.of(FeedPosition.of(below)));
            }
            List<Long> starts = new ArrayList<>();
            for (long start = pageStart(below - 1); start >= 1 && starts.size() < Math.min(round, maxPagesPerListing - pagesRead); start -= PAGE_SIZE) {
                starts.add(start);
            }
            List<Optional<List<Entry>>> pages = parallel.map(starts, feed::pageIfPresent);
            pagesRead += starts.size();
            round = Math.min(2 * round, MAX_PARALLEL_PAGES);
            for (int i = 0; i < starts.size(); i++) {
                if (pages.get(i).isEmpty()) {
                    // deleted by the retention (or by an older version's compaction): nothing older is kept
                    return AuditPage.of(effective, found);
                }
                List<Entry> entries = pages.get(i).get();
                collect(entries, below, effective, found);
                below = starts.get(i);
                if (newest(entries).isBefore(effective.notBefore())) {
                    // wholly older than the horizon, and so is every page below it
                    return AuditPage.of(effective, found);
                }
            }
        }
        return AuditPage.of(effective, found);
    }

    /**
     * Raises the horizon to {@code before} (if it is not there yet), then deletes the oldest pages whose every entry
     * is older than the horizon and that the feed has compacted away, up to {@value #MAX_PAGES_PER_PURGE} of them.
     */
    void purge(Instant before)
    {
        probe.requireHonoured();
        Instant horizon = raiseHorizon(before);
        Head head = feed.readHead().head();
        long purgeable = Math.min(head.compactedThrough(), head.spilledThrough());
        int deleted = 0;
        while (deleted < MAX_PAGES_PER_PURGE) {
            // the oldest pages left (those an older version's compaction deleted are simply not there)
            List<Long> starts = objects.listFirst(FEED, PAGE_SIZE).stream()
                    .flatMap(name -> ObjectLayout.pageOfListedName(name).stream())
                    .sorted()
                    .toList();
            if (starts.isEmpty()) {
                return;
            }
            for (long start : starts) {
                if (start + PAGE_SIZE - 1 > purgeable) {
                    return;
                }
                Optional<List<Entry>> entries = feed.pageIfPresent(start);
                if (entries.isPresent()) {
                    if (!newest(entries.get()).isBefore(horizon)) {
                        return;
                    }
                    objects.delete(page(start));
                }
                deleted++;
                if (deleted == MAX_PAGES_PER_PURGE) {
                    return;
                }
            }
        }
    }

    /**
     * The horizon as stored, raised to {@code before} when it is older (conditionally, so that of concurrent purges
     * the latest horizon stays).
     *
     * @return the horizon now
     */
    private Instant raiseHorizon(Instant before)
    {
        for (int attempt = 0; attempt < HORIZON_ATTEMPTS; attempt++) {
            Optional<HorizonRead> stored = readHorizon();
            if (stored.isPresent() && !stored.get().horizon().before().isBefore(before)) {
                return stored.get().horizon().before();
            }
            byte[] raised = Documents.write(new AuditHorizon(before));
            if (objects.putIfUnchanged(AUDIT_HORIZON, raised, stored.map(HorizonRead::etag).orElse(null)).isPresent()) {
                return before;
            }
        }
        throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 store's audit horizon kept changing while it was raised");
    }

    private record HorizonRead(AuditHorizon horizon, String etag) {}

    private Optional<HorizonRead> readHorizon()
    {
        Optional<Versioned> read = objects.get(AUDIT_HORIZON);
        return read.map(found -> new HorizonRead(Documents.read(found.bytes(), AuditHorizon.class), found.etag()));
    }

    /**
     * Adds the audit records of the entries below position {@code below} that the query matches.
     */
    private static void collect(List<Entry> entries, long below, AuditQuery query, List<AuditRecord> found)
    {
        for (Entry entry : entries) {
            if (entry.position() < below) {
                entry.auditRecord().filter(query::matches).ifPresent(found::add);
            }
        }
    }

    /**
     * The latest commit time of a page's entries (writers' clocks differ a little: not necessarily its last entry's).
     */
    private static Instant newest(List<Entry> entries)
    {
        Instant newest = Instant.MIN;
        for (Entry entry : entries) {
            if (entry.committedAt() != null && entry.committedAt().isAfter(newest)) {
                newest = entry.committedAt();
            }
        }
        return newest;
    }
}

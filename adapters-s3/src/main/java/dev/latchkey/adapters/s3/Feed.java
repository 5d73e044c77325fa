package dev.latchkey.adapters.s3;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.Documents.Head;
import dev.latchkey.adapters.s3.Documents.Page;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.LongPredicate;

import static dev.latchkey.adapters.s3.ObjectLayout.HEAD;
import static dev.latchkey.adapters.s3.ObjectLayout.PAGE_SIZE;
import static dev.latchkey.adapters.s3.ObjectLayout.page;
import static dev.latchkey.adapters.s3.ObjectLayout.pageStart;
import static java.util.Objects.requireNonNull;

/**
 * The change feed: the head (the commit point, with the newest entries) and the pages of older entries. Appending
 * to it is the commit of every write: the head replaced conditionally on the version read, so that positions are
 * consecutive and one writer wins each. Nothing read is trusted without asking S3: the entity tag of the newest head
 * read is only sent back, so that an unchanged head costs a 304.
 * <p>
 * A page holds committed entries only, and never changes once written (the audit's retention may delete it): the
 * pages read or written here are kept, a bounded number of them, so that folding in entries that left the head costs
 * no request, as a rule.
 * <p>
 * Compaction only raises the head's {@code compactedThrough} (a reader behind it is reset): the pages stay, as the
 * archive of the audit trail, which each entry's origin makes of the feed ({@link AuditTrail}), until the audit's
 * retention deletes them.
 */
final class Feed
{
    /** How many pages are kept in memory (of 32 entries each), the least used dropped first. */
    private static final int KEPT_PAGES = 256;

    private final S3Objects objects;
    private final int retention;
    private final AtomicReference<HeadRead> lastHead = new AtomicReference<>();
    private final Cache<Long, List<Entry>> pages = Caffeine.newBuilder().maximumSize(KEPT_PAGES).build();

    Feed(S3Objects objects, int retention)
    {
        this.objects = requireNonNull(objects, "objects is null");
        this.retention = retention;
    }

    /**
     * A head and the entity tag it had (null for a store with no head yet).
     */
    record HeadRead(Head head, String etag) {}

    HeadRead readHead()
    {
        HeadRead last = lastHead.get();
        HeadRead read;
        if (last == null || last.etag() == null) {
            read = objects.get(HEAD)
                    .map(found -> new HeadRead(Documents.read(found.bytes(), Head.class), found.etag()))
                    .orElse(new HeadRead(Head.EMPTY, null));
        }
        else {
            // S3 answers 304 when the head is still the version we hold: one request, no body
            read = objects.getIfChanged(HEAD, last.etag())
                    .map(found -> found.bytes() == null ? new HeadRead(Head.EMPTY, null) : new HeadRead(Documents.read(found.bytes(), Head.class), found.etag()))
                    .orElse(last);
        }
        remember(read);
        return read;
    }

    /**
     * Keeps the newer of this head and the one kept: a read that went out before a commit of this handle may answer
     * after it, and must not make the handle forget its commit.
     */
    private void remember(HeadRead read)
    {
        lastHead.accumulateAndGet(read, (kept, next) -> kept == null || next.head().position() > kept.head().position()
                || (next.head().position() == kept.head().position() && next.head().compactedThrough() >= kept.head().compactedThrough()) ? next : kept);
    }

    /**
     * The newest head this handle committed or read, without a request (the head, read, when there is none yet).
     */
    Head lastKnownHead()
    {
        HeadRead last = lastHead.get();
        return last == null ? readHead().head() : last.head();
    }

    /**
     * The committed entries at some positions (those up to the head's position that are not compacted away), in
     * position order; each feed page needed is read once.
     */
    List<Entry> committedAt(Head head, Collection<Long> positions)
    {
        return committedAt(head, positions, objects);
    }

    /**
     * As {@link #committedAt(Head, Collection)}, reading pages through {@code reads} (a page's content is the same
     * whoever wrote it, so any earlier read of it will do).
     */
    List<Entry> committedAt(Head head, Collection<Long> positions, Reads reads)
    {
        Map<Long, List<Entry>> read = new HashMap<>();
        TreeMap<Long, Entry> found = new TreeMap<>();
        for (long position : positions) {
            if (position < 1 || position > head.position()) {
                continue;
            }
            List<Entry> entries = position > head.spilledThrough() ? head.entries() : read.computeIfAbsent(pageStart(position), start -> readPage(start, reads));
            for (Entry entry : entries) {
                if (entry.position() == position) {
                    found.put(position, entry);
                }
            }
        }
        return List.copyOf(found.values());
    }

    Optional<Entry> committedAt(Head head, long position)
    {
        return committedAt(head, List.of(position)).stream().findFirst();
    }

    FeedBatch changesAfter(FeedPosition position, int limit)
    {
        Head head = readHead().head();
        if (position.value() >= head.position()) {
            return new FeedBatch.Changes(List.of(), position);
        }
        if (position.value() < head.compactedThrough()) {
            return new FeedBatch.Reset(FeedPosition.of(head.position()));
        }
        long last = Math.min(head.position(), position.value() + Math.min(limit, head.position()));
        List<Change> changes = new ArrayList<>();
        long next = position.value() + 1;
        while (next <= last) {
            List<Entry> entries = next > head.spilledThrough() ? head.entries() : readPage(pageStart(next), objects);
            if (entries.isEmpty()) {
                // compacted while we read
                return new FeedBatch.Reset(FeedPosition.of(head.position()));
            }
            for (Entry entry : entries) {
                if (entry.position() == next && next <= last) {
                    changes.add(entry.toChange());
                    next++;
                }
            }
        }
        return new FeedBatch.Changes(changes, FeedPosition.of(last));
    }

    /**
     * The commit: the head, replaced conditionally on the version read, with the entries appended (their positions
     * follow the head's) and listed as unapplied to their accounts. Entries beyond two pages move to a page object
     * first (same content whoever writes it, so an unconditional PUT).
     *
     * @param appliedThrough for some accounts, a position their account object is known to count as applied (it
     *         only ever moves forward): the head stops listing their entries up to it as unapplied
     * @param writtenHere whether this handle wrote the users and keys of the entry at a position: the head stops
     *         listing it as unwritten
     * @return the new head; empty when the head changed since it was read (or this PUT's answer was lost and its
     *         retry failed the condition: see {@link #holds})
     */
    Optional<HeadRead> append(HeadRead read, List<Entry> entries, Map<String, Long> appliedThrough, LongPredicate writtenHere)
    {
        Head head = read.head();
        List<Entry> newest = new ArrayList<>(head.entries());
        newest.addAll(entries);
        long spilledThrough = head.spilledThrough();
        while (newest.size() > 2 * PAGE_SIZE) {
            List<Entry> spilled = List.copyOf(newest.subList(0, PAGE_SIZE));
            objects.put(page(spilledThrough + 1), Documents.write(new Page(spilled)));
            // committed entries only: a batch is at most a page (Committer.MAX_BATCH), so the head holds more than a
            // page of committed entries before any spills; kept as it is
            pages.put(spilledThrough + 1, spilled);
            newest.subList(0, PAGE_SIZE).clear();
            spilledThrough += PAGE_SIZE;
        }
        Map<String, List<Long>> unapplied = unapplied(head, entries, appliedThrough);
        Head next = new Head(head.position() + entries.size(), head.compactedThrough(), spilledThrough, newest, unapplied,
                unwritten(head, entries, unapplied, writtenHere));
        Optional<HeadRead> committed = objects.putIfUnchanged(HEAD, Documents.write(next), read.etag()).map(etag -> new HeadRead(next, etag));
        committed.ifPresent(this::remember);
        return committed;
    }

    /**
     * What a head appending {@code entries} lists as unapplied: what {@code head} lists, but for the positions
     * known applied, and the new entries.
     */
    static Map<String, List<Long>> unapplied(Head head, List<Entry> entries, Map<String, Long> appliedThrough)
    {
        Map<String, List<Long>> unapplied = new HashMap<>();
        head.unapplied().forEach((account, positions) -> {
            long applied = appliedThrough.getOrDefault(account, 0L);
            List<Long> left = positions.stream().filter(position -> position > applied).toList();
            if (!left.isEmpty()) {
                unapplied.put(account, new ArrayList<>(left));
            }
        });
        for (Entry entry : entries) {
            unapplied.computeIfAbsent(entry.accountId(), account -> new ArrayList<>()).add(entry.position());
        }
        return unapplied;
    }

    /**
     * What a head appending {@code entries}, and listing {@code unapplied}, lists as unwritten: what {@code head} may
     * not have written, but for the positions written here and those no longer listed as unapplied (an account object
     * counts them: they were written first), and the new entries that write users or keys.
     */
    static List<Long> unwritten(Head head, List<Entry> entries, Map<String, List<Long>> unapplied, LongPredicate writtenHere)
    {
        Set<Long> listed = new HashSet<>();
        unapplied.values().forEach(listed::addAll);
        List<Long> unwritten = new ArrayList<>();
        for (long position : head.maybeUnwritten()) {
            if (listed.contains(position) && !writtenHere.test(position)) {
                unwritten.add(position);
            }
        }
        for (Entry entry : entries) {
            if (entry.writesObjects()) {
                unwritten.add(entry.position());
            }
        }
        return unwritten;
    }

    /**
     * Every committed entry after {@code after}, oldest first, from the pages (kept here, or read) and the head; empty
     * when a page is missing (deleted by the audit's retention), or when more than {@code maxPageReads} pages are not
     * kept here.
     */
    Optional<List<Entry>> entriesAfter(Head head, long after, Reads reads, int maxPageReads)
    {
        int toRead = 0;
        for (long start = pageStart(after + 1); start <= head.spilledThrough(); start += PAGE_SIZE) {
            if (pages.getIfPresent(start) == null) {
                toRead++;
            }
        }
        if (toRead > maxPageReads) {
            return Optional.empty();
        }
        List<Entry> found = new ArrayList<>();
        long next = after + 1;
        while (next <= head.spilledThrough()) {
            long start = pageStart(next);
            List<Entry> page = readPage(start, reads);
            if (page.isEmpty()) {
                return Optional.empty();
            }
            for (Entry entry : page) {
                if (entry.position() >= next) {
                    found.add(entry);
                }
            }
            next = start + PAGE_SIZE;
        }
        for (Entry entry : head.entries()) {
            if (entry.position() >= next) {
                found.add(entry);
            }
        }
        return Optional.of(List.copyOf(found));
    }

    /**
     * After a lost condition on the head: whether these entries were committed after all (a retried request whose
     * first attempt succeeded). They were appended together, so the first one tells.
     */
    boolean holds(List<Entry> entries)
    {
        Entry first = entries.get(0);
        return committedAt(readHead().head(), first.position()).map(found -> found.txn().equals(first.txn())).orElse(false);
    }

    /**
     * Forgets the oldest page's entries, for readers of the feed, once {@code retention} newer entries exist, after
     * finishing any write of it still pending on its account (through {@code finishAccount}). The page object stays,
     * for the audit trail.
     */
    void compactIfDue(HeadRead read, Consumer<AccountId> finishAccount)
    {
        Head head = read.head();
        long pageStart = pageStart(head.compactedThrough() + 1);
        long pageEnd = pageStart + PAGE_SIZE - 1;
        if (pageEnd > head.spilledThrough() || head.position() - pageEnd < retention) {
            return;
        }
        Set<String> accounts = new LinkedHashSet<>();
        readPage(pageStart, objects).forEach(entry -> accounts.add(entry.accountId()));
        accounts.forEach(account -> finishAccount.accept(AccountId.of(account)));
        objects.putIfUnchanged(HEAD, Documents.write(head.compactedThrough(pageEnd)), read.etag());
    }

    /**
     * Forgets the entries up to and including {@code through}, for readers of the feed: what compaction does to the
     * oldest pages (which stay, for the audit trail), for tests of readers that fall behind.
     */
    void compactThrough(FeedPosition through)
    {
        while (true) {
            HeadRead read = readHead();
            Head head = read.head();
            long floor = Math.min(through.value(), head.position());
            if (floor <= head.compactedThrough()) {
                return;
            }
            if (objects.putIfUnchanged(HEAD, Documents.write(head.compactedThrough(floor)), read.etag()).isPresent()) {
                return;
            }
        }
    }

    /**
     * The entries of the page starting at {@code start}; empty when the page object is absent (never written, or
     * deleted by the audit's retention or by an older version's compaction).
     */
    Optional<List<Entry>> pageIfPresent(long start)
    {
        return objects.get(page(start)).map(found -> Documents.read(found.bytes(), Page.class).entries());
    }

    private List<Entry> readPage(long start, Reads reads)
    {
        List<Entry> kept = pages.getIfPresent(start);
        if (kept != null) {
            return kept;
        }
        List<Entry> entries = reads.get(page(start))
                .map(found -> Documents.read(found.bytes(), Page.class).entries())
                .orElse(List.of());
        if (!entries.isEmpty()) {
            pages.put(start, entries);
        }
        return entries;
    }
}

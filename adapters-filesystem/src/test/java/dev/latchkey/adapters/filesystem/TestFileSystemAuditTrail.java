package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.AuditPage;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.Origin;
import dev.latchkey.core.testing.TestingClock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The audit trail and the last-used times in the directory: records kept in the feed entries and archived into
 * segments by compaction (also one stopped at any step), the retention horizon, and one usage file per instance.
 */
class TestFileSystemAuditTrail
{
    private static final AccountId ACME = AccountId.of("acme");
    private static final Duration LOCK_TIMEOUT = Duration.ofSeconds(5);

    private final TestingClock clock = new TestingClock();
    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final StoreFixtures fixtures = new StoreFixtures(clock);
    private final KeyId actingKey = keys.random().keyId();

    @TempDir
    Path temporaryDirectory;

    @Test
    void compactionKeepsTheAuditTrailListable()
            throws IOException
    {
        Path directory = temporaryDirectory.resolve("store");
        FileSystemIdentityStore store = FileSystemIdentityStore.open(directory, new FileSystemStoreOptions(LOCK_TIMEOUT, 20), clock);
        List<String> requests = writeUsers(store, 100);

        assertThat(store.changesAfter(FeedPosition.START, 10)).as("the feed was compacted").isInstanceOf(FeedBatch.Reset.class);
        assertThat(segments(directory)).isNotEmpty();
        for (IdentityStore handle : List.of(store, FileSystemIdentityStore.open(directory, clock))) {
            List<AuditRecord> trail = pagedTrail(handle, 7);
            assertThat(trail).extracting(record -> record.origin().requestId()).containsExactlyElementsOf(reversed(requests));
            assertThat(trail).extracting(record -> record.change().position().value())
                    .containsExactlyElementsOf(reversed(Stream.iterate(1L, position -> position + 1).limit(101).toList()));
            assertThat(trail.get(0).origin()).isEqualTo(origin(requests.get(requests.size() - 1)));
        }
        List<AuditRecord> before = pagedTrail(store, 1000);

        store.compactThrough(store.headPosition());
        assertThat(feedEntries(directory)).isZero();
        assertThat(pagedTrail(store, 1000)).isEqualTo(before);
        assertThat(pagedTrail(store, 3)).isEqualTo(before);

        AuditPage newest = store.listAudit(new AuditQuery(Optional.of(ACME), Optional.of(FeedPosition.of(51)), Instant.EPOCH, 5));
        assertThat(newest.records()).extracting(record -> record.change().position().value()).containsExactly(50L, 49L, 48L, 47L, 46L);
        assertThat(newest.next()).contains(FeedPosition.of(46));
    }

    @Test
    void aCompactionStoppedAtAnyStepLosesNoRecordAndRepeatsNone()
            throws IOException
    {
        Path prepared = temporaryDirectory.resolve("prepared");
        writeUsers(FileSystemIdentityStore.open(prepared, clock), 30);
        AtomicInteger steps = new AtomicInteger();
        Path counted = copy(prepared, "counted");
        FileSystemIdentityStore.open(counted, FileSystemStoreOptions.defaults(), clock, file -> steps.incrementAndGet()).compactThrough(FeedPosition.of(25));
        assertThat(steps.get()).as("the floor, the entries, and the segment").isGreaterThan(20);
        // each directory has keys and commit times of its own: compared without them
        List<AuditRecord> expected = pagedTrail(FileSystemIdentityStore.open(counted, clock), 1000);
        assertThat(expected).hasSize(31);

        for (int stopAt = 0; stopAt < steps.get(); stopAt++) {
            Path directory = copy(prepared, "stopped-" + stopAt);
            int stop = stopAt;
            AtomicInteger step = new AtomicInteger();
            FileSystemIdentityStore stopping = FileSystemIdentityStore.open(directory, FileSystemStoreOptions.defaults(), clock, file -> {
                if (step.getAndIncrement() == stop) {
                    throw new IOException("compaction stopped");
                }
            });
            assertThatThrownBy(() -> stopping.compactThrough(FeedPosition.of(25)))
                    .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));

            FileSystemIdentityStore fresh = FileSystemIdentityStore.open(directory, clock);
            assertThat(pagedTrail(fresh, 1000)).as("stopped at step %s", stopAt).isEqualTo(expected);
            assertThat(pagedTrail(fresh, 4)).as("stopped at step %s, in pages", stopAt).isEqualTo(expected);

            // the next compaction finishes the job, and goes further
            fresh.compactThrough(FeedPosition.of(28));
            assertThat(pagedTrail(fresh, 1000)).as("stopped at step %s, compacted again", stopAt).isEqualTo(expected);
            assertThat(pagedTrail(fresh, 4)).isEqualTo(expected);
        }
    }

    @Test
    void purgingDeletesWholeSegmentsAndHidesOlderRecordsFromEveryHandle()
            throws IOException
    {
        Path directory = temporaryDirectory.resolve("store");
        FileSystemIdentityStore store = FileSystemIdentityStore.open(directory, clock);
        Instant start = clock.instant();
        fixtures.createAccount(store, ACME, UserId.of("admin"), keys.random());
        for (int day = 0; day < 4; day++) {
            clock.advance(Duration.ofDays(1));
            for (int i = 0; i < 3; i++) {
                store.addUser(origin("day-" + day + "-" + i), fixtures.newUser(ACME, UserId.of("user-" + day + "-" + i), Role.USER, keys.random()));
            }
            store.compactThrough(store.headPosition());
        }
        clock.advance(Duration.ofDays(1));
        store.addUser(origin("in-the-feed"), fixtures.newUser(ACME, UserId.of("in-the-feed"), Role.USER, keys.random()));
        assertThat(segments(directory)).hasSize(4);
        assertThat(pagedTrail(store, 1000)).hasSize(14);

        // days 0 and 1 are older than the cutoff; day 2 starts at it
        Instant cutoff = start.plus(Duration.ofDays(3));
        store.purgeAudit(cutoff);
        assertThat(segments(directory)).as("the two segments older than the cutoff").hasSize(2);
        assertThat(Files.readString(directory.resolve("audit/horizon"), StandardCharsets.UTF_8)).contains(cutoff.toString());
        for (IdentityStore handle : List.of(store, FileSystemIdentityStore.open(directory, clock))) {
            assertThat(pagedTrail(handle, 2)).extracting(record -> record.origin().requestId())
                    .containsExactly("in-the-feed", "day-3-2", "day-3-1", "day-3-0", "day-2-2", "day-2-1", "day-2-0");
        }

        // a purge to an earlier instant lowers nothing; purging again changes nothing
        store.purgeAudit(start);
        store.purgeAudit(cutoff);
        assertThat(pagedTrail(store, 1000)).hasSize(7);

        // a horizon past records still in the feed hides them too, and keeps them out of later segments
        store.purgeAudit(clock.instant().plusSeconds(1));
        assertThat(pagedTrail(store, 1000)).isEmpty();
        assertThat(segments(directory)).isEmpty();
        store.compactThrough(store.headPosition());
        assertThat(segments(directory)).isEmpty();
        store.addUser(origin("after-the-purge"), fixtures.newUser(ACME, UserId.of("after-the-purge"), Role.USER, keys.random()));
        assertThat(pagedTrail(store, 1000)).isEmpty();
        clock.advance(Duration.ofSeconds(2));
        store.addUser(origin("after-the-horizon"), fixtures.newUser(ACME, UserId.of("after-the-horizon"), Role.USER, keys.random()));
        assertThat(pagedTrail(store, 1000)).extracting(record -> record.origin().requestId()).containsExactly("after-the-horizon");
    }

    @Test
    void aWriteFinishedAfterItsWriterStoppedIsAuditedWithItsOwnOrigin()
    {
        Path directory = temporaryDirectory.resolve("store");
        FileSystemIdentityStore store = FileSystemIdentityStore.open(directory, clock);
        fixtures.createAccount(store, ACME, UserId.of("admin"), keys.random());
        FileSystemIdentityStore stopping = FileSystemIdentityStore.open(directory, FileSystemStoreOptions.defaults(), clock, file -> {
            if (file.getParent().getFileName().toString().equals("feed")) {
                throw new IOException("writer stopped after its decision");
            }
        });
        Origin origin = origin("stopped-writer");
        assertThatThrownBy(() -> stopping.addUser(origin, fixtures.newUser(ACME, UserId.of("bob"), Role.USER, keys.random())))
                .isInstanceOf(LatchkeyException.class);
        assertThat(store.listAudit(all()).records()).hasSize(1);

        // a later write to the account rolls the stopped one forward first
        store.addUser(origin("next-writer"), fixtures.newUser(ACME, UserId.of("carol"), Role.USER, keys.random()));
        List<AuditRecord> trail = store.listAudit(all()).records();
        assertThat(trail).extracting(record -> record.origin().requestId()).containsExactly("next-writer", "stopped-writer", trail.get(2).origin().requestId());
        assertThat(trail.get(1).origin()).isEqualTo(origin);
        assertThat(trail.get(1).change().userId()).contains(UserId.of("bob"));
    }

    @Test
    void usageIsOneFilePerInstanceWrittenOncePerFlush()
            throws IOException
    {
        Path directory = temporaryDirectory.resolve("store");
        FileSystemIdentityStore store = FileSystemIdentityStore.open(directory, clock);
        ApiKey alice = keys.random();
        ApiKey bob = keys.random();
        fixtures.createAccount(store, ACME, UserId.of("alice"), alice);
        store.addUser(fixtures.newUser(ACME, UserId.of("bob"), Role.USER, bob));
        FeedPosition head = store.headPosition();
        Instant early = clock.instant();
        Instant late = early.plusSeconds(30);

        List<Path> mutated = new ArrayList<>();
        FileSystemIdentityStore counting = FileSystemIdentityStore.open(directory, FileSystemStoreOptions.defaults(), clock, mutated::add);
        counting.recordUsage("Host-A:1", Map.of(alice.keyId(), early, bob.keyId(), late));
        assertThat(mutated).containsExactly(directory.resolve("usage/host-a:1~21.json"));
        mutated.clear();
        counting.recordUsage("Host-A:1", Map.of(alice.keyId(), late));
        assertThat(mutated).containsExactly(directory.resolve("usage/host-a:1~21.json"));
        mutated.clear();
        counting.recordUsage("Host-A:1", Map.of(alice.keyId(), early));
        assertThat(mutated).as("an older report changes nothing").isEmpty();
        store.recordUsage("host-b", Map.of(bob.keyId(), late.plusSeconds(1)));

        assertThat(store.lastUsed(List.of(alice.keyId(), bob.keyId()))).isEqualTo(Map.of(alice.keyId(), late, bob.keyId(), late.plusSeconds(1)));
        try (Stream<Path> files = Files.list(directory.resolve("usage"))) {
            assertThat(files.map(file -> file.getFileName().toString()).sorted().toList())
                    .containsExactly("host-a:1~21.json", "host-a:1~21.lock", "host-b.json", "host-b.lock");
        }
        String usage = Files.readString(directory.resolve("usage/host-a:1~21.json"), StandardCharsets.UTF_8);
        assertThat(usage).contains("\"instance_id\" : \"Host-A:1\"").contains("\"" + alice.keyId().value() + "\" : \"" + late + "\"")
                .doesNotContain(alice.secret()).doesNotContain(bob.secret());
        assertThat(store.headPosition()).as("usage is not in the feed").isEqualTo(head);
        assertThat(store.listAudit(all()).records()).hasSize(2);
        assertThatThrownBy(() -> store.recordUsage("not/an/instance", Map.of(alice.keyId(), early))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void handlesReportingAsTheSameInstanceLoseNoUpdate()
            throws InterruptedException
    {
        Path directory = temporaryDirectory.resolve("store");
        List<FileSystemIdentityStore> handles = List.of(FileSystemIdentityStore.open(directory, clock), FileSystemIdentityStore.open(directory, clock));
        List<KeyId> used = Stream.generate(() -> keys.random().keyId()).limit(80).toList();
        Instant at = clock.instant();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            FileSystemIdentityStore handle = handles.get(t % 2);
            List<KeyId> mine = used.subList(t * 20, (t + 1) * 20);
            threads.add(new Thread(() -> mine.forEach(keyId -> handle.recordUsage("instance-a", Map.of(keyId, at)))));
        }
        threads.forEach(Thread::start);
        for (Thread thread : threads) {
            thread.join(Duration.ofSeconds(30).toMillis());
        }
        assertThat(handles.get(0).lastUsed(used)).hasSize(used.size());
    }

    private List<String> writeUsers(FileSystemIdentityStore store, int users)
    {
        List<String> requests = new ArrayList<>();
        requests.add("create");
        store.createAccount(origin("create"), new Account(ACME, clock.instant(), true),
                Optional.of(fixtures.newUser(ACME, UserId.of("admin"), Role.ADMIN, keys.random())));
        for (int i = 0; i < users; i++) {
            String request = "add-" + i;
            store.addUser(origin(request), fixtures.newUser(ACME, UserId.of("user-" + i), Role.USER, keys.random()));
            requests.add(request);
            clock.advance(Duration.ofSeconds(1));
        }
        return requests;
    }

    private Path copy(Path prepared, String name)
            throws IOException
    {
        Path directory = temporaryDirectory.resolve(name);
        try (Stream<Path> paths = Files.walk(prepared)) {
            for (Path path : paths.toList()) {
                Path target = directory.resolve(prepared.relativize(path).toString());
                if (Files.isDirectory(path)) {
                    Files.createDirectories(target);
                }
                else {
                    Files.copy(path, target);
                }
            }
        }
        return directory;
    }

    private Origin origin(String requestId)
    {
        return new Origin(Actor.user(ACME, UserId.of("admin"), Role.ADMIN, Optional.of(actingKey)), "instance-a:7", requestId);
    }

    private static AuditQuery all()
    {
        return new AuditQuery(Optional.empty(), Optional.empty(), Instant.EPOCH, AuditQuery.MAX_LIMIT);
    }

    /**
     * The whole audit trail, newest first, read in pages of this size.
     */
    private static List<AuditRecord> pagedTrail(IdentityStore store, int pageSize)
    {
        List<AuditRecord> trail = new ArrayList<>();
        Optional<FeedPosition> cursor = Optional.empty();
        do {
            AuditPage page = store.listAudit(new AuditQuery(Optional.empty(), cursor, Instant.EPOCH, pageSize));
            assertThat(page.records().size()).isLessThanOrEqualTo(pageSize);
            trail.addAll(page.records());
            cursor = page.next();
        }
        while (cursor.isPresent());
        List<Long> positions = trail.stream().map(AuditRecord::change).map(Change::position).map(FeedPosition::value).toList();
        assertThat(positions).as("newest first, each once").isSortedAccordingTo((a, b) -> Long.compare(b, a)).doesNotHaveDuplicates();
        return trail;
    }

    private static List<String> segments(Path directory)
            throws IOException
    {
        try (Stream<Path> files = Files.list(directory.resolve("audit"))) {
            return files.map(file -> file.getFileName().toString()).filter(name -> name.endsWith(".jsonl")).sorted().toList();
        }
    }

    private static long feedEntries(Path directory)
            throws IOException
    {
        try (Stream<Path> files = Files.list(directory.resolve("feed"))) {
            return files.filter(file -> file.getFileName().toString().endsWith(".json")).count();
        }
    }

    private static <T> List<T> reversed(List<T> list)
    {
        List<T> copy = new ArrayList<>(list);
        Collections.reverse(copy);
        return copy;
    }
}

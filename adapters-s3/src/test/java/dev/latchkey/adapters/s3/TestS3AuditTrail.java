package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.testing.SerializingS3Proxy;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.Operation;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.RequestCounter;
import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.AuditPage;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.Origin;
import dev.latchkey.core.testing.TestingClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The audit trail and last-used times on S3, beyond the store contract: the trail outlives the feed's compaction
 * (the pages stay, and are listed), the retention deletes whole pages from the oldest up and hides the rest, a
 * listing reads a bounded number of pages, and the requests each usage flush and read costs.
 */
class TestS3AuditTrail
{
    private static final AccountId ACME = AccountId.of("acme");
    private static final UserId ADMIN = UserId.of("admin");
    /** Small, so that a hundred writes compact two pages of the feed. */
    private static final int FEED_RETENTION = 16;

    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final SecretHasher hasher = SecretHasher.sha256();
    private final TestingClock clock = new TestingClock(Instant.parse("2026-12-01T00:00:00Z"));
    private final TestingS3Stores stores = new TestingS3Stores();
    private final SerializingS3Proxy proxy = TestingS3.shared().serializingProxy();

    @AfterEach
    void closeStores()
    {
        stores.closeAll();
    }

    @Test
    void theFeedsCompactionKeepsItsPagesAndTheAuditTrailListsThemAll()
    {
        String prefix = TestingS3.uniquePrefix("audit-compaction");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix).withFeedRetention(FEED_RETENTION), clock);
        Instant early = clock.instant();
        try (RequestCounter deletes = proxy.countRequests(request -> request.operation() == Operation.DELETE_OBJECT && request.isUnder(prefix + "feed/"))) {
            store.createAccount(origin(1), new Account(ACME, clock.instant(), true), Optional.of(newUser(ADMIN, Role.ADMIN)));
            addUsers(store, 2, 40);
            clock.advance(Duration.ofDays(10));
            addUsers(store, 41, 100);
            assertThat(deletes.total()).as("compaction deletes no page").isZero();
        }
        Instant late = clock.instant();

        // the feed is compacted (a reader from the start is reset) ...
        assertThat(store.changesAfter(FeedPosition.START, 10)).isInstanceOf(FeedBatch.Reset.class);
        assertThat(store.changesAfter(FeedPosition.of(63), 10)).isInstanceOf(FeedBatch.Reset.class);
        assertThat(store.changesAfter(FeedPosition.of(64), 10)).isInstanceOf(FeedBatch.Changes.class);
        assertThat(pages(prefix)).containsExactly(1L, 33L);

        // ... and the audit trail still lists every write, from any handle, newest first
        for (S3IdentityStore handle : List.of(store, stores.openAnother(store, clock))) {
            AuditPage all = handle.listAudit(query(Optional.empty(), Instant.EPOCH, AuditQuery.MAX_LIMIT));
            assertThat(all.next()).isEmpty();
            assertThat(all.records()).extracting(record -> record.change().position().value())
                    .containsExactlyElementsOf(LongStream.iterate(100, position -> position - 1).limit(100).boxed().toList());
            assertThat(all.records()).extracting(record -> record.origin().requestId())
                    .containsExactlyElementsOf(LongStream.iterate(100, position -> position - 1).limit(100).mapToObj(position -> "request-" + position).toList());
            assertThat(all.records().get(99).change().committedAt()).isEqualTo(early);
            assertThat(all.records().get(0).change().committedAt()).isEqualTo(late);
        }

        // paged with cursors, across the head and both pages
        List<Long> paged = new ArrayList<>();
        Optional<FeedPosition> cursor = Optional.empty();
        do {
            AuditPage page = store.listAudit(new AuditQuery(Optional.empty(), cursor, Instant.EPOCH, 7));
            assertThat(page.records()).hasSizeBetween(1, 7);
            page.records().forEach(record -> paged.add(record.change().position().value()));
            cursor = page.next();
        }
        while (cursor.isPresent());
        assertThat(paged).containsExactlyElementsOf(LongStream.iterate(100, position -> position - 1).limit(100).boxed().toList());

        // a horizon in the query leaves out what is older (the walk ends at the first page wholly older)
        assertThat(store.listAudit(query(Optional.empty(), early.plus(Duration.ofDays(5)), AuditQuery.MAX_LIMIT)).records()).hasSize(60);
        assertThat(store.listAudit(query(Optional.of(AccountId.of("other")), Instant.EPOCH, 10)).records()).isEmpty();

        // a trail that reads at most one page per listing answers what it found, with a cursor to go on from
        S3StoreConfig config = TestingS3Stores.config(proxy.endpoint(), prefix);
        try (S3Client client = S3ClientFactory.create(config, TestingS3Stores.credentials()); ParallelReads parallel = new ParallelReads(2, "test-audit")) {
            S3Objects objects = new S3Objects(client, config.bucket(), config.prefix());
            AuditTrail trail = new AuditTrail(objects, new Feed(objects, FEED_RETENTION), parallel, new ConditionalWriteProbe(objects), 1);
            AuditQuery first = query(Optional.of(ACME), Instant.EPOCH, AuditQuery.MAX_LIMIT);

            AuditPage page = trail.list(first);
            assertThat(page.records()).as("the head's 36 entries and one page's 32").hasSize(68);
            assertThat(page.next()).contains(FeedPosition.of(33));
            page = trail.list(new AuditQuery(first.accountId(), page.next(), first.notBefore(), first.limit()));
            assertThat(page.records()).extracting(record -> record.change().position().value())
                    .containsExactlyElementsOf(LongStream.iterate(32, position -> position - 1).limit(32).boxed().toList());
            assertThat(page.next()).isEmpty();
        }
    }

    @Test
    void theRetentionDeletesTheOldestCompactedPagesAndHidesEveryOlderRecordFromEveryHandle()
    {
        String prefix = TestingS3.uniquePrefix("audit-purge");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix).withFeedRetention(FEED_RETENTION), clock);
        Instant early = clock.instant();
        store.createAccount(origin(1), new Account(ACME, clock.instant(), true), Optional.of(newUser(ADMIN, Role.ADMIN)));
        addUsers(store, 2, 40);
        clock.advance(Duration.ofDays(10));
        addUsers(store, 41, 100);
        FeedPosition head = store.headPosition();
        S3IdentityStore other = stores.openAnother(store, clock);

        Instant retention = early.plus(Duration.ofDays(5));
        store.purgeAudit(retention);

        // the first page is wholly older and compacted: deleted; the second holds newer records: kept, whole
        assertThat(pages(prefix)).containsExactly(33L);
        for (S3IdentityStore handle : List.of(store, other)) {
            List<AuditRecord> records = handle.listAudit(query(Optional.empty(), Instant.EPOCH, AuditQuery.MAX_LIMIT)).records();
            assertThat(records).hasSize(60);
            assertThat(records).allSatisfy(record -> assertThat(record.change().committedAt()).isAfterOrEqualTo(retention));
            assertThat(handle.listAudit(new AuditQuery(Optional.empty(), Optional.of(FeedPosition.of(41)), Instant.EPOCH, 100)).records())
                    .as("below the horizon, even from a cursor")
                    .isEmpty();
        }
        // a purge with an older retention lowers nothing; the feed itself is untouched
        other.purgeAudit(early);
        assertThat(store.listAudit(query(Optional.empty(), Instant.EPOCH, AuditQuery.MAX_LIMIT)).records()).hasSize(60);
        assertThat(store.headPosition()).isEqualTo(head);
        assertThat(store.changesAfter(FeedPosition.of(64), 100)).isInstanceOfSatisfying(FeedBatch.Changes.class,
                changes -> assertThat(changes.changes()).hasSize(36));

        // a purge past everything: the page with the newer records is compacted, so it goes too
        clock.advance(Duration.ofDays(10));
        other.purgeAudit(clock.instant());
        assertThat(pages(prefix)).isEmpty();
        assertThat(store.listAudit(query(Optional.empty(), Instant.EPOCH, AuditQuery.MAX_LIMIT)).records()).isEmpty();
        store.addUser(origin(101), newUser(UserId.of("user-101"), Role.USER));
        assertThat(store.listAudit(query(Optional.empty(), Instant.EPOCH, AuditQuery.MAX_LIMIT)).records())
                .extracting(record -> record.origin().requestId())
                .containsExactly("request-101");
    }

    /**
     * Writes made at once from many threads, which the handle commits in batches (a batch held on purpose:
     * {@link TestS3StoreFaults#writesQueuedWhileACommitIsInFlightCommitTogetherCheckedAgainstEachOther}).
     */
    @Test
    void writesMadeAtOnceEachCommitTheirOwnOrigin()
            throws Exception
    {
        String prefix = TestingS3.uniquePrefix("audit-batch");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        store.createAccount(origin(1), new Account(ACME, clock.instant(), true), Optional.of(newUser(ADMIN, Role.ADMIN)));
        List<Thread> writers = new ArrayList<>();
        for (int i = 2; i <= 17; i++) {
            int request = i;
            Thread writer = new Thread(() -> store.addUser(origin(request), newUser(UserId.of("user-" + request), Role.USER)));
            writer.start();
            writers.add(writer);
        }
        for (Thread writer : writers) {
            writer.join(Duration.ofSeconds(30).toMillis());
        }
        List<AuditRecord> records = store.listAudit(query(Optional.empty(), Instant.EPOCH, 100)).records();
        assertThat(records).hasSize(17);
        // each record's origin is the one of the write that added its user, wherever it fell in a batch
        assertThat(records).allSatisfy(record -> assertThat(record.origin().requestId())
                .isEqualTo(record.change().userId().map(user -> user.value().equals("admin") ? "request-1" : user.value().replace("user-", "request-")).orElseThrow()));
    }

    @Test
    void aUsageFlushIsOnePutAfterTheFirstAndAReadIsAListAndAGetPerInstance()
    {
        String prefix = TestingS3.uniquePrefix("usage");
        S3IdentityStore store = stores.open(TestingS3Stores.config(proxy.endpoint(), prefix), clock);
        S3IdentityStore restarted = stores.openAnother(store, clock);
        Instant t0 = clock.instant();
        KeyId a = keys.random().keyId();
        KeyId b = keys.random().keyId();
        KeyId c = keys.random().keyId();

        assertThat(requests(prefix, () -> store.recordUsage("instance-a", Map.of(a, t0))))
                .as("the first flush of a handle: its object read, then written")
                .isEqualTo(Map.of(Operation.GET_OBJECT, 1L, Operation.PUT_OBJECT, 1L));
        Map<KeyId, Instant> many = new HashMap<>();
        for (int i = 0; i < 500; i++) {
            many.put(keys.random().keyId(), t0.plusSeconds(i));
        }
        assertThat(requests(prefix, () -> store.recordUsage("instance-a", many))).as("500 keys").isEqualTo(Map.of(Operation.PUT_OBJECT, 1L));
        assertThat(requests(prefix, () -> store.recordUsage("instance-a", Map.of(a, t0.plusSeconds(60))))).isEqualTo(Map.of(Operation.PUT_OBJECT, 1L));

        // another handle of the same instance (a restart) reads and writes it; this handle's next flush finds its
        // condition failed, reads the object again and merges
        assertThat(requests(prefix, () -> restarted.recordUsage("instance-a", Map.of(a, t0, b, t0.plusSeconds(5)))))
                .isEqualTo(Map.of(Operation.GET_OBJECT, 1L, Operation.PUT_OBJECT, 1L));
        assertThat(requests(prefix, () -> store.recordUsage("instance-a", Map.of(c, t0.plusSeconds(7)))))
                .isEqualTo(Map.of(Operation.PUT_OBJECT, 2L, Operation.GET_OBJECT, 1L));
        restarted.recordUsage("instance-b", Map.of(b, t0.plusSeconds(90)));

        Map<KeyId, Instant> expected = Map.of(a, t0.plusSeconds(60), b, t0.plusSeconds(90), c, t0.plusSeconds(7));
        Map<KeyId, Instant> read = new HashMap<>();
        assertThat(requests(prefix, () -> read.putAll(store.lastUsed(List.of(a, b, c, keys.random().keyId())))))
                .as("a LIST of usage/, and a GET of each instance's object")
                .isEqualTo(Map.of(Operation.LIST_OBJECTS, 1L, Operation.GET_OBJECT, 2L));
        assertThat(read).isEqualTo(expected);
        assertThat(requests(prefix, () -> store.lastUsed(List.of()))).as("nothing asked, nothing read").isEmpty();
        assertThat(requests(prefix, () -> store.recordUsage("instance-a", Map.of()))).as("nothing used, nothing written").isEmpty();
        assertThat(store.headPosition()).as("usage is not a change").isEqualTo(FeedPosition.START);
    }

    private Map<Operation, Long> requests(String prefix, Runnable call)
    {
        try (RequestCounter counter = proxy.countRequests(request -> request.isUnder(prefix))) {
            call.run();
            Map<Operation, Long> made = new HashMap<>();
            counter.counts().forEach((operation, count) -> {
                if (count > 0) {
                    made.put(operation, count);
                }
            });
            return made;
        }
    }

    private void addUsers(S3IdentityStore store, int first, int last)
    {
        for (int i = first; i <= last; i++) {
            store.addUser(origin(i), newUser(UserId.of("user-" + i), Role.USER));
        }
    }

    /**
     * The first position of every feed page in the bucket.
     */
    private static List<Long> pages(String prefix)
    {
        try (S3Client client = TestingS3.shared().newClient()) {
            return client.listObjectsV2Paginator(list -> list.bucket(TestingS3.SHARED_BUCKET).prefix(prefix + "feed/")).contents().stream()
                    .map(S3Object::key)
                    .map(key -> Long.parseLong(key.substring((prefix + "feed/").length(), key.length() - ".json".length())))
                    .toList();
        }
    }

    private static AuditQuery query(Optional<AccountId> accountId, Instant notBefore, int limit)
    {
        return new AuditQuery(accountId, Optional.empty(), notBefore, limit);
    }

    private static Origin origin(int request)
    {
        return new Origin(Actor.user(ACME, ADMIN, Role.ADMIN, Optional.empty()), "instance-a", "request-" + request);
    }

    private NewUser newUser(UserId user, Role role)
    {
        return newUser(ACME, user, role);
    }

    private NewUser newUser(AccountId account, UserId user, Role role)
    {
        ApiKey key = keys.random();
        return new NewUser(new User(account, user, role, key.keyId(), clock.instant()), hasher.hash(key.secret()));
    }
}

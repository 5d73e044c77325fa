package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyName;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.SecretHash;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.Origin;
import dev.latchkey.core.store.UserQuery;
import dev.latchkey.core.testing.TestingClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A store written before users held several keys opens as it was, and takes the writes of several keys per user.
 *
 * <p>The fixture, {@code src/test/resources/legacy-s3-store-v1/} (object key relative to the store's prefix → file), is
 * a store written by the code of commit {@code e99f95bd79712b12b70e1029c382511de8aec005} (one key per user), built in a
 * separate git worktree of that commit: a throwaway test there opened a store on S3Mock with a fixed clock at
 * 2026-11-30T10:00:00Z and, one write after the other, created account {@code acme} with admin {@code alice} (key
 * {@code AAAA…}, hash {@code a1…}), added {@code bob} (key {@code BBBB…}, at +1 s) and replaced his key with
 * {@code CCCC…} (hash {@code c1…}, at +2 s), added {@code carol} (key {@code DDDD…}, at +3 s) and made her admin, added
 * {@code dave} (key {@code EEEE…}, at +4 s) and removed him, created account {@code gone} with admin {@code erin} (key
 * {@code FFFF…}) and deleted it; then waited until every write was applied and downloaded every object under the prefix.
 * Each key id is its letter 16 times; each hash is its two hex digits repeated.
 */
class TestS3LegacyLayout
{
    private static final Path FIXTURE = fixture();
    private static final Instant T0 = Instant.parse("2026-11-30T10:00:00Z");
    private static final AccountId ACME = AccountId.of("acme");
    private static final UserId ALICE = UserId.of("alice");
    private static final UserId BOB = UserId.of("bob");
    private static final UserId CAROL = UserId.of("carol");

    private final TestingS3Stores stores = new TestingS3Stores();
    private final TestingClock clock = new TestingClock(T0.plus(Duration.ofDays(1)));
    private S3IdentityStore store;

    @BeforeEach
    void uploadTheFixture()
            throws IOException
    {
        String prefix = TestingS3.uniquePrefix("legacy");
        try (S3Client client = TestingS3.shared().newClient(); Stream<Path> files = Files.walk(FIXTURE)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                String key = prefix + FIXTURE.relativize(file).toString().replace('\\', '/');
                client.putObject(PutObjectRequest.builder().bucket(TestingS3.SHARED_BUCKET).key(key).build(), RequestBody.fromBytes(Files.readAllBytes(file)));
            }
        }
        store = stores.open(TestingS3Stores.config(TestingS3.shared().serializingProxy().endpoint(), prefix), clock);
    }

    @AfterEach
    void closeStores()
    {
        stores.closeAll();
    }

    @Test
    void everyKeyResolvesAsAPrimaryKeyWithEveryScopeAndNoExpiry()
    {
        assertThat(store.findKey(key('A'))).contains(new KeyRecord(key('A'), hash("a1"), ACME, ALICE, Role.ADMIN, T0));
        assertThat(store.findKey(key('C'))).contains(new KeyRecord(key('C'), hash("c1"), ACME, BOB, Role.USER, T0.plusSeconds(2)));
        assertThat(store.findKey(key('D'))).contains(new KeyRecord(key('D'), hash("d1"), ACME, CAROL, Role.ADMIN, T0.plusSeconds(3)));
        assertThat(store.findKey(key('C')).orElseThrow().attributes()).isEqualTo(new KeyAttributes(Optional.empty(), true, Scopes.all(), Optional.empty()));
        for (char ended : List.of('B', 'E', 'F')) {
            assertThat(store.findKey(key(ended))).as("key %s", ended).isEmpty();
        }
    }

    @Test
    void usersListWithTheirPrimaryKeyAndListKeysShowsTheOneKey()
    {
        assertThat(store.listAccounts()).containsExactly(new AccountSummary(ACME, T0, 3));
        assertThat(store.listUsers(ACME, UserQuery.all()).users()).containsExactly(
                new User(ACME, ALICE, Role.ADMIN, key('A'), T0),
                new User(ACME, BOB, Role.USER, key('C'), T0.plusSeconds(1)),
                new User(ACME, CAROL, Role.ADMIN, key('D'), T0.plusSeconds(3)));
        assertThat(store.listKeys(ACME, BOB, clock.instant())).containsExactly(new KeySummary(key('C'), T0.plusSeconds(2), KeyAttributes.primaryKey()));
        assertThat(store.listKeys(ACME, CAROL, clock.instant())).extracting(KeySummary::keyId).containsExactly(key('D'));
    }

    @Test
    void theFeedWrittenBeforeReadsWithTheKeysEachChangeNamed()
    {
        FeedBatch batch = store.changesAfter(FeedPosition.START, 100);
        assertThat(batch).isInstanceOfSatisfying(FeedBatch.Changes.class, changes -> {
            assertThat(changes.changes()).extracting(Change::type).containsExactly(ChangeType.ACCOUNT_CREATED, ChangeType.USER_ADDED, ChangeType.KEY_REPLACED,
                    ChangeType.USER_ADDED, ChangeType.ROLE_CHANGED, ChangeType.USER_ADDED, ChangeType.USER_REMOVED, ChangeType.ACCOUNT_CREATED,
                    ChangeType.ACCOUNT_DELETED);
            assertThat(changes.changes()).extracting(Change::keyIds).containsExactly(List.of(key('A')), List.of(key('B')), List.of(key('B'), key('C')),
                    List.of(key('D')), List.of(key('D')), List.of(key('E')), List.of(key('E')), List.of(key('F')), List.of());
        });
    }

    @Test
    void entriesWrittenBeforeWritesWereAuditedAreNotListedAndTheNextWriteIs()
    {
        AuditQuery all = new AuditQuery(Optional.empty(), Optional.empty(), Instant.EPOCH, AuditQuery.MAX_LIMIT);
        assertThat(store.listAudit(all).records()).as("nine entries without an origin").isEmpty();
        assertThat(store.listAudit(all).next()).isEmpty();

        Origin origin = new Origin(Actor.user(ACME, ALICE, Role.ADMIN, Optional.of(key('A'))), "instance-a", "request-1");
        store.setRole(origin, ACME, BOB, Role.ADMIN);
        FeedBatch.Changes changes = (FeedBatch.Changes) store.changesAfter(FeedPosition.of(9), 100);
        for (S3IdentityStore handle : List.of(store, stores.openAnother(store, clock))) {
            assertThat(handle.listAudit(all).records()).containsExactly(new AuditRecord(changes.changes().get(0), origin));
        }
        // the old entries still read as they were, for the feed and for the lookups
        assertThat(store.changesAfter(FeedPosition.START, 100)).isInstanceOfSatisfying(FeedBatch.Changes.class,
                batch -> assertThat(batch.changes()).hasSize(10));
        assertThat(store.findKey(key('C'))).hasValueSatisfying(record -> assertThat(record.role()).isEqualTo(Role.ADMIN));
    }

    @Test
    void itsUsersTakeAddedKeysDeletionsAndGracePeriods()
    {
        NewKey ci = new NewKey(ACME, BOB, key('G'), hash("07"), clock.instant(),
                KeyAttributes.extra(Optional.of(KeyName.of("ci")), Scopes.of("docs:read"), Optional.of(clock.instant().plus(Duration.ofDays(7)))));
        store.addKey(ci);
        assertThat(store.findKey(ci.keyId())).contains(ci.keyRecord(Role.USER));
        assertThat(store.listKeys(ACME, BOB, clock.instant())).extracting(KeySummary::keyId).containsExactly(key('C'), key('G'));

        assertThat(store.deleteKey(ACME, BOB, key('C'), clock.instant()).keyId()).isEqualTo(key('C'));
        assertThat(store.findKey(key('C'))).isEmpty();
        assertThat(store.findUser(ACME, BOB)).contains(new User(ACME, BOB, Role.USER, Optional.empty(), T0.plusSeconds(1)));
        assertThat(store.listKeys(ACME, BOB, clock.instant())).extracting(KeySummary::keyId).containsExactly(key('G'));

        Instant until = clock.instant().plus(Duration.ofHours(1));
        User before = store.replaceKey(ACME, ALICE, key('H'), hash("08"), clock.instant(), Optional.of(until));
        assertThat(before.primaryKeyId()).contains(key('A'));
        assertThat(store.findKey(key('A'))).hasValueSatisfying(retired -> {
            assertThat(retired.attributes()).isEqualTo(KeyAttributes.primaryKey().retiredUntil(until));
            assertThat(retired.secretHash()).isEqualTo(hash("a1"));
        });
        assertThat(store.findKey(key('H'))).contains(new KeyRecord(key('H'), hash("08"), ACME, ALICE, Role.ADMIN, clock.instant()));
        assertThat(store.listKeys(ACME, ALICE, clock.instant())).extracting(KeySummary::keyId).containsExactly(key('A'), key('H'));

        // a role change and a removal reach every key, the ones written before included
        assertThat(store.setRole(ACME, BOB, Role.ADMIN).keyIds()).containsExactly(key('G'));
        assertThat(store.setRole(ACME, CAROL, Role.USER).keyIds()).containsExactly(key('D'));
        assertThat(store.findKey(key('D'))).hasValueSatisfying(record -> assertThat(record.role()).isEqualTo(Role.USER));
        assertThat(store.removeUser(ACME, ALICE).keyIds()).containsExactlyInAnyOrder(key('A'), key('H'));
        assertThat(store.findKey(key('A'))).isEmpty();
        assertThat(store.findKey(key('H'))).isEmpty();

        S3IdentityStore another = stores.openAnother(store, clock);
        assertThat(another.findKey(ci.keyId())).contains(ci.keyRecord(Role.ADMIN));
        assertThat(another.listUsers(ACME, UserQuery.all()).users()).extracting(User::id).containsExactly(BOB, CAROL);
    }

    private static KeyId key(char letter)
    {
        return KeyId.of(String.valueOf(letter).repeat(KeyId.LENGTH));
    }

    private static SecretHash hash(String twoHexDigits)
    {
        return SecretHash.ofHex(twoHexDigits.repeat(SecretHash.LENGTH));
    }

    private static Path fixture()
    {
        try {
            return Path.of(TestS3LegacyLayout.class.getResource("/legacy-s3-store-v1/head.json").toURI()).getParent();
        }
        catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}

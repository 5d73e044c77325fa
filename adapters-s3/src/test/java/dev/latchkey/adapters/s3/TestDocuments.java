package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyName;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.SecretHash;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.Origin;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The store's documents: the entry each change type makes, how an account folds entries in, and the JSON they are
 * stored as (including what the store wrote before writes were batched).
 */
class TestDocuments
{
    private static final AccountId ACME = AccountId.of("acme");
    private static final Instant CREATED = Instant.parse("2026-11-30T10:15:30.123Z");
    private static final Instant LATER = Instant.parse("2026-12-01T08:00:00Z");
    private static final SecretHash HASH = SecretHash.ofHex("ab".repeat(SecretHash.LENGTH));
    private static final Origin ORIGIN = Origin.system("instance-a");
    private static final SecretHash OTHER_HASH = SecretHash.ofHex("cd".repeat(SecretHash.LENGTH));
    private static final KeyId KEY = KeyId.of("0123456789abcdefghijklmn".substring(0, KeyId.LENGTH));
    private static final KeyId NEW_KEY = KeyId.of("nmlkjihgfedcba9876543210".substring(0, KeyId.LENGTH));

    @Test
    void eachChangeTypeHasItsFactoryAndReportsTheKeysItChanges()
    {
        User bob = new User(ACME, UserId.of("bob"), Role.USER, KEY, CREATED);
        List<Entry> entries = List.of(
                Entry.accountCreated(new Account(ACME, CREATED, true), "inc-1", Optional.of(new NewUser(bob.withRole(Role.ADMIN), HASH))),
                Entry.userAdded("inc-1", new NewUser(bob, HASH)),
                Entry.keyReplaced("inc-1", bob.withKey(NEW_KEY), List.of(NEW_KEY), Optional.of(KEY), OTHER_HASH, LATER, Optional.empty(), List.of()),
                Entry.roleChanged("inc-1", bob.withKey(NEW_KEY).withRole(Role.ADMIN), Role.USER, List.of(NEW_KEY)),
                Entry.userRemoved("inc-1", bob.withKey(NEW_KEY).withRole(Role.ADMIN), List.of(NEW_KEY)),
                Entry.accountDeleted(ACME, "inc-1"));
        List<Change> changes = entries.stream().map(entry -> entry.committed(7, "txn", LATER, ORIGIN).toChange()).toList();

        assertThat(changes).extracting(Change::type).containsExactly(ChangeType.ACCOUNT_CREATED, ChangeType.USER_ADDED, ChangeType.KEY_REPLACED,
                ChangeType.ROLE_CHANGED, ChangeType.USER_REMOVED, ChangeType.ACCOUNT_DELETED);
        assertThat(changes).extracting(Change::keyIds).containsExactly(List.of(KEY), List.of(KEY), List.of(KEY, NEW_KEY), List.of(NEW_KEY), List.of(NEW_KEY), List.of());
        assertThat(changes).allSatisfy(change -> {
            assertThat(change.position()).isEqualTo(FeedPosition.of(7));
            assertThat(change.accountId()).isEqualTo(ACME);
            assertThat(change.committedAt()).isEqualTo(LATER);
        });
        assertThat(entries).extracting(Entry::issuesKey).containsExactly(true, true, true, false, false, false);
        assertThat(entries.get(2).userAfter()).contains(bob.withKey(NEW_KEY));
        assertThat(entries.get(3).userAfter()).contains(bob.withKey(NEW_KEY).withRole(Role.ADMIN));
        assertThat(entries.get(4).userAfter()).isEmpty();
    }

    @Test
    void anAccountFoldsEntriesInAndForgetsThePositionsItApplied()
    {
        User admin = new User(ACME, UserId.of("admin"), Role.ADMIN, KEY, CREATED);
        User bob = new User(ACME, UserId.of("bob"), Role.USER, NEW_KEY, CREATED);
        // marked by an older version, which marked positions on the account before committing them
        Documents.Account marked = new Documents.Account(ACME.value(), Instant.EPOCH, false, "", false, 0, 0, 0, List.of(1L, 2L, 5L));

        Documents.Account created = marked.after(Entry.accountCreated(new Account(ACME, CREATED, true), "inc-1", Optional.of(new NewUser(admin, HASH))).committed(1, "t1", LATER, ORIGIN));
        assertThat(created.exists()).isTrue();
        assertThat(created.incarnation()).isEqualTo("inc-1");
        assertThat(created.createdAt()).isEqualTo(CREATED);
        assertThat(created.adminRequired()).isTrue();
        assertThat(List.of(created.userCount(), created.adminCount())).containsExactly(1, 1);
        assertThat(created.applied()).isEqualTo(1);
        assertThat(created.pending()).containsExactly(2L, 5L);

        Documents.Account added = created.after(Entry.userAdded("inc-1", new NewUser(bob, HASH)).committed(2, "t2", LATER, ORIGIN));
        Documents.Account promoted = added.after(Entry.roleChanged("inc-1", bob.withRole(Role.ADMIN), Role.USER, List.of(NEW_KEY)).committed(5, "t5", LATER, ORIGIN));
        assertThat(List.of(added.userCount(), added.adminCount())).containsExactly(2, 1);
        assertThat(List.of(promoted.userCount(), promoted.adminCount())).containsExactly(2, 2);
        assertThat(promoted.pending()).isEmpty();

        Documents.Account deleted = promoted.after(Entry.accountDeleted(ACME, "inc-1").committed(9, "t9", LATER, ORIGIN));
        assertThat(deleted.exists()).isFalse();
        assertThat(List.of(deleted.userCount(), deleted.adminCount())).containsExactly(0, 0);
        assertThat(deleted.incarnation()).as("the deleted incarnation, whose users the cleanup removes").isEqualTo("inc-1");
    }

    @Test
    void anOlderVersionsMarkAtOrBeforeTheAppliedPositionMeansNothing()
    {
        Documents.Account account = new Documents.Account("acme", CREATED, false, "inc", true, 1, 1, 10, List.of(4L, 12L));
        assertThat(account.pending()).containsExactly(12L);
    }

    @Test
    void theHeadListsUnappliedPositionsInOrderByAccountAndReadsAHeadWrittenBeforeAsListingNone()
    {
        Documents.Head head = new Documents.Head(9, 0, 0, List.of(), java.util.Map.of("zeta", List.of(9L, 7L, 7L), "acme", List.of(3L), "empty", List.of()));
        assertThat(head.unapplied()).containsOnlyKeys("acme", "zeta");
        assertThat(head.unappliedOf("zeta")).containsExactly(7L, 9L);
        assertThat(head.unappliedOf("other")).isEmpty();
        assertThat(new String(Documents.write(head), StandardCharsets.UTF_8)).endsWith("\"unapplied\":{\"acme\":[3],\"zeta\":[7,9]}}");
        assertThat(Documents.read(Documents.write(head), Documents.Head.class)).isEqualTo(head);
        assertThat(head.compactedThrough(4).unapplied()).isEqualTo(head.unapplied());

        String before = """
                {"position":3,"compactedThrough":0,"spilledThrough":0,"entries":[]}""";
        assertThat(Documents.read(before.getBytes(StandardCharsets.UTF_8), Documents.Head.class).unapplied()).isEmpty();
    }

    @Test
    void documentsAreStoredWithTypedFieldsAsTextAndReadBack()
    {
        User bob = new User(ACME, UserId.of("bob"), Role.ADMIN, KEY, CREATED);
        Entry entry = Entry.userAdded("inc-1", new NewUser(bob, HASH)).committed(3, "txn-3", LATER, ORIGIN);
        String json = new String(Documents.write(entry), StandardCharsets.UTF_8);

        assertThat(json).contains("\"type\":\"USER_ADDED\"", "\"role\":\"admin\"", "\"committedAt\":\"2026-12-01T08:00:00Z\"",
                "\"userCreatedAt\":\"2026-11-30T10:15:30.123Z\"", "\"secretHash\":\"" + HASH.toHex() + "\"");
        assertThat(json).as("fields that do not apply are left out").doesNotContain("oldRole", "oldKeyId", "accountCreatedAt", "null");
        assertThat(Documents.read(Documents.write(entry), Entry.class)).isEqualTo(entry);
    }

    @Test
    void aCommittedEntryCarriesItsOriginAsItsAuditRecord()
    {
        User bob = new User(ACME, UserId.of("bob"), Role.USER, KEY, CREATED);
        Origin origin = new Origin(Actor.user(ACME, UserId.of("alice"), Role.ADMIN, Optional.of(NEW_KEY)), "host-1:8080", "req-42");
        Entry entry = Entry.userAdded("inc-1", new NewUser(bob, HASH)).committed(3, "txn-3", LATER, origin);
        String json = new String(Documents.write(entry), StandardCharsets.UTF_8);

        assertThat(json).contains("\"origin\":{\"actor\":\"admin\",\"accountId\":\"acme\",\"userId\":\"alice\",\"keyId\":\"" + NEW_KEY.value()
                + "\",\"instanceId\":\"host-1:8080\",\"requestId\":\"req-42\"}");
        Entry read = Documents.read(Documents.write(entry), Entry.class);
        assertThat(read).isEqualTo(entry);
        assertThat(read.auditRecord()).contains(new AuditRecord(entry.toChange(), origin));

        Entry byRoot = Entry.accountDeleted(ACME, "inc-1").committed(4, "txn-4", LATER, new Origin(Actor.root(), "host-1:8080", "req-43"));
        assertThat(new String(Documents.write(byRoot), StandardCharsets.UTF_8)).contains("\"origin\":{\"actor\":\"root\",\"instanceId\"");
        assertThat(Documents.read(Documents.write(byRoot), Entry.class).auditRecord().orElseThrow().origin().actor()).isEqualTo(Actor.root());
    }

    @Test
    void anEntryWrittenBeforeWritesWereAuditedReadsWithoutAnAuditRecord()
    {
        String before = """
                {"position":2,"txn":"t2","type":"USER_ADDED","accountId":"acme","incarnation":"inc-1","committedAt":"2026-12-01T08:00:00Z",
                 "userId":"bob","role":"user","userCreatedAt":"2026-11-30T10:15:30.123Z","keyId":"%s","secretHash":"%s",
                 "keyCreatedAt":"2026-11-30T10:15:30.123Z","keyIds":["%s"],"primaryKeyId":"%s"}""".formatted(KEY.value(), HASH.toHex(), KEY.value(), KEY.value());
        Entry entry = Documents.read(before.getBytes(StandardCharsets.UTF_8), Entry.class);

        assertThat(entry.origin()).isNull();
        assertThat(entry.auditRecord()).isEmpty();
        assertThat(entry.toChange().keyIds()).containsExactly(KEY);
        assertThat(entry.issuedKey()).isEqualTo(new KeyRecord(KEY, HASH, ACME, UserId.of("bob"), Role.USER, CREATED));
        assertThat(new String(Documents.write(entry), StandardCharsets.UTF_8)).as("written back as it was").doesNotContain("origin");
    }

    @Test
    void anUnreadableOriginIsAnOutageNotAnotherActor()
    {
        String future = """
                {"position":2,"txn":"t2","type":"ACCOUNT_DELETED","accountId":"acme","incarnation":"inc-1","committedAt":"2026-12-01T08:00:00Z",
                 "origin":{"actor":"robot","instanceId":"host-1","requestId":"r1"}}""";
        Entry entry = Documents.read(future.getBytes(StandardCharsets.UTF_8), Entry.class);
        assertThatThrownBy(entry::auditRecord).isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
    }

    @Test
    void theHorizonAndTheUsageOfAnInstanceAreStoredAsText()
    {
        Documents.AuditHorizon horizon = new Documents.AuditHorizon(LATER);
        assertThat(new String(Documents.write(horizon), StandardCharsets.UTF_8)).isEqualTo("{\"before\":\"2026-12-01T08:00:00Z\"}");
        assertThat(Documents.read(Documents.write(horizon), Documents.AuditHorizon.class)).isEqualTo(horizon);

        Documents.Usage usage = new Documents.Usage("host-1:8080", java.util.Map.of(NEW_KEY.value(), LATER, KEY.value(), CREATED));
        assertThat(new String(Documents.write(usage), StandardCharsets.UTF_8)).isEqualTo("{\"instanceId\":\"host-1:8080\",\"lastUsed\":{\""
                + KEY.value() + "\":\"2026-11-30T10:15:30.123Z\",\"" + NEW_KEY.value() + "\":\"2026-12-01T08:00:00Z\"}}");
        assertThat(Documents.read(Documents.write(usage), Documents.Usage.class)).isEqualTo(usage);
    }

    @Test
    void anAccountWrittenBeforeWritesWereBatchedReadsWithItsOnePendingPosition()
    {
        String before = """
                {"accountId":"acme","createdAt":"2026-11-30T10:15:30.123Z","adminRequired":true,"incarnation":"inc-1","exists":true,
                 "userCount":2,"adminCount":1,"applied":6,"pending":7}""";
        Documents.Account account = Documents.read(before.getBytes(StandardCharsets.UTF_8), Documents.Account.class);
        assertThat(account.pending()).containsExactly(7L);
        assertThat(account.createdAt()).isEqualTo(CREATED);

        String settled = before.replace("\"pending\":7", "\"pending\":0");
        assertThat(Documents.read(settled.getBytes(StandardCharsets.UTF_8), Documents.Account.class).pending()).isEmpty();

        String key = """
                {"keyId":"k","secretHash":"ab","accountId":"acme","incarnation":"inc-1","userId":"bob","role":"user",
                 "createdAt":"2026-11-30T10:15:30.123Z","position":6,"revoked":false}""";
        Documents.Key read = Documents.read(key.getBytes(StandardCharsets.UTF_8), Documents.Key.class);
        assertThat(read.role()).isEqualTo(Role.USER);
        assertThat(read.stagedBy()).isNull();
    }

    @Test
    void entriesUsersAndKeysWrittenBeforeUsersHeldSeveralKeysReadAsOneKeyEach()
    {
        String roleChanged = """
                {"position":5,"txn":"t5","type":"ROLE_CHANGED","accountId":"acme","incarnation":"inc-1","committedAt":"2026-12-01T08:00:00Z",
                 "userId":"bob","role":"admin","oldRole":"user","userCreatedAt":"2026-11-30T10:15:30.123Z","keyId":"%s",
                 "secretHash":"%s","keyCreatedAt":"2026-11-30T10:15:30.123Z"}""".formatted(KEY.value(), HASH.toHex());
        Entry entry = Documents.read(roleChanged.getBytes(StandardCharsets.UTF_8), Entry.class);
        assertThat(entry.writtenWithOneKeyPerUser()).isTrue();
        assertThat(entry.toChange().keyIds()).containsExactly(KEY);
        assertThat(entry.userAfter()).contains(new User(ACME, UserId.of("bob"), Role.ADMIN, KEY, CREATED));

        String removed = """
                {"position":6,"txn":"t6","type":"USER_REMOVED","accountId":"acme","incarnation":"inc-1","committedAt":"2026-12-01T08:00:00Z",
                 "userId":"bob","role":"admin","userCreatedAt":"2026-11-30T10:15:30.123Z","oldKeyId":"%s"}""".formatted(KEY.value());
        Entry removal = Documents.read(removed.getBytes(StandardCharsets.UTF_8), Entry.class);
        assertThat(removal.toChange().keyIds()).containsExactly(KEY);
        assertThat(removal.userKeyIds()).containsExactly(KEY.value());

        String user = """
                {"userId":"bob","role":"user","keyId":"%s","createdAt":"2026-11-30T10:15:30.123Z","position":3,"removed":false}""".formatted(KEY.value());
        Documents.User document = Documents.read(user.getBytes(StandardCharsets.UTF_8), Documents.User.class);
        assertThat(document.heldKeyIds()).containsExactly(KEY.value());
        assertThat(document.toUser(ACME)).isEqualTo(new User(ACME, UserId.of("bob"), Role.USER, KEY, CREATED));

        String key = """
                {"keyId":"%s","secretHash":"%s","accountId":"acme","incarnation":"inc-1","userId":"bob","role":"user",
                 "createdAt":"2026-11-30T10:15:30.123Z","position":6,"revoked":false}""".formatted(KEY.value(), HASH.toHex());
        assertThat(Documents.read(key.getBytes(StandardCharsets.UTF_8), Documents.Key.class).toRecord())
                .isEqualTo(new KeyRecord(KEY, HASH, ACME, UserId.of("bob"), Role.USER, CREATED));
    }

    @Test
    void anAddedKeyCarriesItsAttributesAndAPrimaryKeyIsStoredAsBefore()
    {
        User bob = new User(ACME, UserId.of("bob"), Role.USER, KEY, CREATED);
        KeyAttributes attributes = KeyAttributes.extra(Optional.of(KeyName.of("ci")), Scopes.of("docs:read"), Optional.of(LATER));
        NewKey ci = new NewKey(ACME, bob.id(), NEW_KEY, OTHER_HASH, CREATED, attributes);
        Entry added = Entry.keyAdded("inc-1", bob, List.of(KEY, NEW_KEY), ci, List.of()).committed(4, "t4", LATER, ORIGIN);
        Entry read = Documents.read(Documents.write(added), Entry.class);

        assertThat(read).isEqualTo(added);
        assertThat(read.issuesKey()).isTrue();
        assertThat(read.issuedKey()).isEqualTo(ci.keyRecord(Role.USER));
        assertThat(read.toChange().keyIds()).containsExactly(NEW_KEY);
        assertThat(read.userAfter()).contains(bob);
        assertThat(Documents.Key.writtenBy(read).toRecord()).isEqualTo(ci.keyRecord(Role.USER));
        assertThat(Documents.User.writtenBy(read).heldKeyIds()).containsExactly(KEY.value(), NEW_KEY.value());

        Entry userAdded = Entry.userAdded("inc-1", new NewUser(bob, HASH)).committed(3, "t3", LATER, ORIGIN);
        String key = new String(Documents.write(Documents.Key.writtenBy(userAdded)), StandardCharsets.UTF_8);
        assertThat(key).as("a primary key has no attribute fields").doesNotContain("name", "primary", "scopes", "expiresAt");
        assertThat(new String(Documents.write(added), StandardCharsets.UTF_8)).as("an entry that removes no expired key").doesNotContain("ended");

        // a write that removes expired keys names them after its own, and the new key may take the id of one
        KeyId expired = KeyId.of("zyxwvutsrqponmlkjihgfedc".substring(0, KeyId.LENGTH));
        Entry purging = Entry.keyAdded("inc-1", bob, List.of(KEY, NEW_KEY), ci, List.of(expired, NEW_KEY)).committed(6, "t6", LATER, ORIGIN);
        assertThat(Documents.read(Documents.write(purging), Entry.class)).isEqualTo(purging);
        assertThat(purging.endedKeys()).containsExactly(expired.value(), NEW_KEY.value());
        assertThat(purging.toChange().keyIds()).containsExactly(NEW_KEY, expired);

        Entry deleted = Entry.keyDeleted("inc-1", bob.withoutPrimaryKey(), List.of(NEW_KEY), KEY).committed(5, "t5", LATER, ORIGIN);
        assertThat(deleted.toChange().keyIds()).containsExactly(KEY);
        assertThat(deleted.userAfter()).contains(bob.withoutPrimaryKey());
        assertThat(Documents.read(Documents.write(Documents.User.writtenBy(deleted)), Documents.User.class).toUser(ACME)).isEqualTo(bob.withoutPrimaryKey());
    }
}

package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.SecretHash;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.Origin;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Which unapplied entries of other writers a writer applies before its own: those its own build on, and no others.
 */
class TestApplierPrerequisites
{
    private static final AccountId ACME = AccountId.of("acme");
    private static final Instant NOW = Instant.parse("2026-12-07T10:00:00Z");
    private static final SecretHash HASH = SecretHash.ofHex("ab".repeat(SecretHash.LENGTH));
    private static final Origin ORIGIN = Origin.system("instance-a");

    @Test
    void anEntryAboutAUserIsAppliedAfterTheEarlierEntriesAboutThatUserOnly()
    {
        Entry aliceAdded = added(1, "alice", "aaaaaaaaaaaaaaaaaaaaaaaa");
        Entry bobAdded = added(2, "bob", "bbbbbbbbbbbbbbbbbbbbbbbb");
        Entry alicePromoted = promoted(3, "alice", "aaaaaaaaaaaaaaaaaaaaaaaa");
        Entry carolAdded = added(4, "carol", "cccccccccccccccccccccccc");

        List<Entry> pending = List.of(aliceAdded, bobAdded, alicePromoted, carolAdded);

        assertThat(Applier.withPrerequisites(pending, List.of(alicePromoted)))
                .as("alice's earlier entry is applied first; bob's and carol's are left to their writers")
                .containsExactly(aliceAdded, alicePromoted);
        assertThat(Applier.withPrerequisites(pending, List.of(bobAdded))).containsExactly(bobAdded);
    }

    @Test
    void anAccountDeletionIsAppliedAfterEveryEarlierEntry()
    {
        Entry aliceAdded = added(1, "alice", "aaaaaaaaaaaaaaaaaaaaaaaa");
        Entry bobAdded = added(2, "bob", "bbbbbbbbbbbbbbbbbbbbbbbb");
        Entry deleted = Entry.accountDeleted(ACME, "inc-1").committed(3, "t3", NOW, ORIGIN);

        assertThat(Applier.withPrerequisites(List.of(aliceAdded, bobAdded, deleted), List.of(deleted))).containsExactly(aliceAdded, bobAdded, deleted);
    }

    @Test
    void theWritersOwnEntriesAreKeptEvenWhenPendingDoesNotListThem()
    {
        Entry aliceAdded = added(5, "alice", "aaaaaaaaaaaaaaaaaaaaaaaa");

        assertThat(Applier.withPrerequisites(List.of(), List.of(aliceAdded))).containsExactly(aliceAdded);
    }

    private static Entry added(long position, String user, String keyId)
    {
        User added = new User(ACME, UserId.of(user), Role.USER, KeyId.of(keyId.substring(0, KeyId.LENGTH)), NOW);
        return Entry.userAdded("inc-1", new NewUser(added, HASH)).committed(position, "t" + position, NOW, ORIGIN);
    }

    private static Entry promoted(long position, String user, String keyId)
    {
        KeyId key = KeyId.of(keyId.substring(0, KeyId.LENGTH));
        User after = new User(ACME, UserId.of(user), Role.ADMIN, key, NOW);
        return Entry.roleChanged("inc-1", after, Role.USER, List.of(key)).committed(position, "t" + position, NOW, ORIGIN);
    }
}

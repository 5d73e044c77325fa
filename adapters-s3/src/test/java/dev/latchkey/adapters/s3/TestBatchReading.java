package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.Documents.Head;
import dev.latchkey.adapters.s3.Feed.HeadRead;
import dev.latchkey.adapters.s3.LiveViews.AccountView;
import dev.latchkey.adapters.s3.S3Objects.Versioned;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.SecretHash;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.Origin;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a batch that lost the head keeps for its next attempt: the entries that won, folded into its accounts, unless
 * one of them touches what its checks looked up, or they are no longer all in the head.
 */
class TestBatchReading
{
    private static final AccountId ACME = AccountId.of("acme");
    private static final AccountId OTHER = AccountId.of("other");
    private static final Instant NOW = Instant.parse("2026-12-02T10:00:00Z");
    private static final SecretHash HASH = SecretHash.ofHex("ab".repeat(SecretHash.LENGTH));
    private static final Origin ORIGIN = Origin.system("instance-a");

    private final Reads.Remembering reads = Reads.remembering(new CountingReads());

    @Test
    void entriesCommittedSinceAreFoldedIntoTheAccountsOfTheBatch()
    {
        BatchReading reading = new BatchReading(head(2, 0, created(1, ACME), created(2, OTHER)), reads, Map.of(ACME, view(ACME, 1)), new HashSet<>());
        Entry bob = added(3, ACME, "bob", "bobkey0000000001");
        Entry carol = added(4, OTHER, "carol", "carolkey00000001");

        BatchReading advanced = reading.advancedTo(head(4, 0, created(1, ACME), created(2, OTHER), bob, carol));

        assertThat(advanced).isNotNull();
        assertThat(advanced.head().head().position()).isEqualTo(4);
        AccountView acme = advanced.base().get(ACME);
        assertThat(acme.pending()).containsExactly(bob);
        assertThat(acme.account().userCount()).as("the admin and bob").isEqualTo(2);
        assertThat(acme.latestAbout(UserId.of("bob"))).contains(bob);
        assertThat(advanced.base()).as("only the batch's accounts").containsOnlyKeys(ACME);
        assertThat(advanced.reads()).as("the same reads").isSameAs(reads);
    }

    @Test
    void anEntryNamingAKeyOrAnAccountTheChecksLookedUpMeansReadingAgain()
    {
        Entry bob = added(3, OTHER, "bob", "bobkey0000000001");
        Head newer = head(3, 0, created(1, ACME), created(2, OTHER), bob).head();

        Set<String> key = new HashSet<>(Set.of(BatchReading.key("bobkey0000000001")));
        assertThat(new BatchReading(head(2, 0, created(1, ACME), created(2, OTHER)), reads, Map.of(ACME, view(ACME, 1)), key).advancedTo(read(newer))).isNull();

        Set<String> account = new HashSet<>(Set.of(BatchReading.account("other")));
        assertThat(new BatchReading(head(2, 0, created(1, ACME), created(2, OTHER)), reads, Map.of(ACME, view(ACME, 1)), account).advancedTo(read(newer))).isNull();

        Set<String> unrelated = new HashSet<>(Set.of(BatchReading.key("someoneelse00001"), BatchReading.account("third")));
        assertThat(new BatchReading(head(2, 0, created(1, ACME), created(2, OTHER)), reads, Map.of(ACME, view(ACME, 1)), unrelated).advancedTo(read(newer))).isNotNull();
    }

    @Test
    void entriesNoLongerAllInTheHeadMeanReadingAgain()
    {
        BatchReading reading = new BatchReading(head(2, 0, created(1, ACME), created(2, OTHER)), reads, Map.of(ACME, view(ACME, 1)), new HashSet<>());

        // positions 3 to 40 committed since, the oldest of them spilled to a feed page
        List<Entry> newest = new ArrayList<>();
        for (int position = 33; position <= 40; position++) {
            newest.add(added(position, OTHER, "user" + position, String.format("key%013d", position)));
        }
        assertThat(reading.advancedTo(read(new Head(40, 0, 32, newest, Map.of())))).isNull();
    }

    @Test
    void aNewerHeadNoLongerListingAnUnappliedEntryOfAnAccountTheChecksReadMeansReadingAgain()
    {
        Entry added = added(2, OTHER, "bob", String.format("key%013d", 2));
        HeadRead listing = read(new Head(2, 0, 0, List.of(created(1, ACME), added), Map.of("other", List.of(2L))));
        // position 3 committed since, by a commit that knew other's object counts position 2
        HeadRead pruned = read(new Head(3, 0, 0, List.of(created(1, ACME), added, created(3, AccountId.of("third"))), Map.of("third", List.of(3L))));

        Set<String> checkedOther = new HashSet<>(Set.of(BatchReading.account(OTHER.value())));
        assertThat(new BatchReading(listing, reads, Map.of(ACME, view(ACME, 1)), checkedOther).advancedTo(pruned))
                .as("other's object as read may not count position 2, and the newer head no longer says so").isNull();
        assertThat(new BatchReading(listing, reads, Map.of(ACME, view(ACME, 1)), new HashSet<>()).advancedTo(pruned))
                .as("an account the checks did not read").isNotNull();
        HeadRead stillListing = read(new Head(3, 0, 0, List.of(created(1, ACME), added, created(3, AccountId.of("third"))),
                Map.of("other", List.of(2L), "third", List.of(3L))));
        assertThat(new BatchReading(listing, reads, Map.of(ACME, view(ACME, 1)), checkedOther).advancedTo(stillListing)).isNotNull();
    }

    @Test
    void rememberedReadsAnswerWithTheFirstAnswerOrWhatWasWritten()
    {
        CountingReads s3 = new CountingReads();
        Reads.Remembering remembering = Reads.remembering(s3);
        assertThat(remembering.knows("keys/k.json")).isFalse();
        assertThat(remembering.get("keys/k.json")).isEmpty();
        assertThat(remembering.get("keys/k.json")).isEmpty();
        assertThat(s3.gets).as("one request for two reads").isEqualTo(1);
        assertThat(remembering.knows("keys/k.json")).isTrue();

        Versioned written = new Versioned("{}".getBytes(StandardCharsets.UTF_8), "\"etag\"");
        remembering.remember("keys/k.json", written);
        assertThat(remembering.get("keys/k.json")).contains(written);
        assertThat(s3.gets).isEqualTo(1);
    }

    private static HeadRead head(long position, long spilledThrough, Entry... entries)
    {
        return read(new Head(position, 0, spilledThrough, List.of(entries), Map.of()));
    }

    private static HeadRead read(Head head)
    {
        return new HeadRead(head, "\"" + head.position() + "\"");
    }

    private static AccountView view(AccountId account, long createdAt)
    {
        return new AccountView(Documents.Account.absent(account).after(created(createdAt, account)), List.of());
    }

    private static Entry created(long position, AccountId account)
    {
        User admin = new User(account, UserId.of("admin"), Role.ADMIN, KeyId.of(String.format("admin%011d", position)), NOW);
        return Entry.accountCreated(new Account(account, NOW, true), "inc-" + account.value(), Optional.of(new NewUser(admin, HASH))).committed(position, "t" + position, NOW, ORIGIN);
    }

    private static Entry added(long position, AccountId account, String user, String keyId)
    {
        return Entry.userAdded("inc-" + account.value(), new NewUser(new User(account, UserId.of(user), Role.USER, KeyId.of(keyId), NOW), HASH))
                .committed(position, "t" + position, NOW, ORIGIN);
    }

    /**
     * S3 with nothing in it, counting the reads asked of it.
     */
    private static final class CountingReads
            implements Reads
    {
        int gets;

        @Override
        public Optional<Versioned> get(String key)
        {
            gets++;
            return Optional.empty();
        }

        @Override
        public Optional<Versioned> getIfChanged(String key, String etag)
        {
            return Optional.of(new Versioned(null, null));
        }

        @Override
        public List<String> list(String directory)
        {
            return List.of();
        }
    }
}

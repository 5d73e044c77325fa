package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.Documents.Head;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.store.Origin;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a commit lists as unapplied: what the head it replaces listed, less the positions known applied, and its own
 * entries; and, among those, as unwritten: its own entries that write objects, and what the head listed, less what
 * was written here.
 */
class TestFeedUnapplied
{
    private static final Instant NOW = Instant.parse("2026-12-07T10:00:00Z");

    @Test
    void aCommitListsItsEntriesAndDropsOnlyWhatIsKnownApplied()
    {
        Head head = new Head(7, 0, 0, List.of(), Map.of("acme", List.of(3L, 5L), "other", List.of(4L), "third", List.of(6L, 7L)));

        Map<String, List<Long>> next = Feed.unapplied(head, List.of(created(8, "acme"), created(9, "new")), Map.of("acme", 4L, "other", 4L, "unknown", 99L));

        assertThat(next).containsOnlyKeys("acme", "third", "new");
        assertThat(next.get("acme")).as("5 is past what acme is known to count, 8 is new").containsExactly(5L, 8L);
        assertThat(next.get("third")).as("nothing known of it: kept").containsExactly(6L, 7L);
        assertThat(next.get("new")).containsExactly(9L);
    }

    @Test
    void aHeadWrittenByAnOlderVersionListsNothingAndACommitStartsTheList()
    {
        Head head = new Head(2, 0, 0, List.of(), null);

        assertThat(Feed.unapplied(head, List.of(created(3, "acme")), Map.of())).isEqualTo(Map.of("acme", List.of(3L)));
    }

    @Test
    void aCommitListsItsEntriesThatWriteObjectsAsUnwrittenAndDropsThoseWrittenHereOrCounted()
    {
        Head head = new Head(7, 0, 0, List.of(), Map.of("acme", List.of(3L, 5L), "third", List.of(6L, 7L)), List.of(3L, 5L, 6L));
        List<Entry> entries = List.of(deleted(8, "acme"), created(9, "new"));
        Map<String, List<Long>> unapplied = Feed.unapplied(head, entries, Map.of("acme", 4L));

        List<Long> unwritten = Feed.unwritten(head, entries, unapplied, position -> position == 5L);

        // 3: counted on acme, so written; 5: written here; 6: kept; 7: said written before; 8: new; 9: writes no object
        assertThat(unwritten).containsExactly(6L, 8L);
    }

    @Test
    void aHeadThatDoesNotSayWhatIsWrittenTakesEveryListedPositionAsUnwritten()
    {
        Head head = new Head(7, 0, 0, List.of(), Map.of("acme", List.of(3L, 5L)));

        assertThat(head.unwritten()).isNull();
        assertThat(head.maybeUnwritten()).containsExactly(3L, 5L);
        assertThat(head.knownWritten("acme", 3L)).isFalse();
        assertThat(Feed.unwritten(head, List.of(), head.unapplied(), position -> position == 3L)).containsExactly(5L);
    }

    @Test
    void aPositionIsKnownWrittenWhenListedAsUnappliedAndNotAsUnwritten()
    {
        Head head = new Head(7, 0, 0, List.of(), Map.of("acme", List.of(3L, 5L)), List.of(5L));

        assertThat(head.knownWritten("acme", 3L)).isTrue();
        assertThat(head.knownWritten("acme", 5L)).as("listed as unwritten").isFalse();
        assertThat(head.knownWritten("acme", 4L)).as("not listed for acme").isFalse();
        assertThat(head.knownWritten("other", 3L)).as("listed for another account").isFalse();
    }

    @Test
    void whatIsUnwrittenIsStoredInTheHeadAndAnOlderHeadReadsAsNotSaying()
    {
        Head head = new Head(7, 0, 0, List.of(), Map.of("acme", List.of(3L, 5L)), List.of(5L));

        assertThat(Documents.read(Documents.write(head), Head.class)).isEqualTo(head);
        String older = "{\"position\":7,\"compactedThrough\":0,\"spilledThrough\":0,\"entries\":[],\"unapplied\":{\"acme\":[3,5]}}";
        assertThat(Documents.read(older.getBytes(StandardCharsets.UTF_8), Head.class).unwritten()).isNull();
    }

    private static Entry deleted(long position, String account)
    {
        return Entry.accountDeleted(AccountId.of(account), "inc-" + account).committed(position, "t" + position, NOW, Origin.system("instance-a"));
    }

    private static Entry created(long position, String account)
    {
        return Entry.accountCreated(new Account(AccountId.of(account), NOW, false), "inc-" + account, Optional.empty())
                .committed(position, "t" + position, NOW, Origin.system("instance-a"));
    }
}

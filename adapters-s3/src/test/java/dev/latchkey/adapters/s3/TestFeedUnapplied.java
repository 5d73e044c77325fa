package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.Documents.Head;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.store.Origin;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a commit lists as unapplied: what the head it replaces listed, less the positions known applied, and its own
 * entries.
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

    private static Entry created(long position, String account)
    {
        return Entry.accountCreated(new Account(AccountId.of(account), NOW, false), "inc-" + account, Optional.empty())
                .committed(position, "t" + position, NOW, Origin.system("instance-a"));
    }
}

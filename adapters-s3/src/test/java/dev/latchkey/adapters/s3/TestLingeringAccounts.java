package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Head;
import dev.latchkey.core.domain.AccountId;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The accounts a commit reads besides its batch's: those the head has listed as unapplied for long (since more than
 * {@link BatchCommit#LINGERING_LAG} entries), a few at a time, so that one that cannot be finished does not keep the others waiting.
 */
class TestLingeringAccounts
{
    @Test
    void aFewOfTheLongListedAccountsOtherThanTheBatchsAreReadAndEveryOneOfThemInTurn()
    {
        // entries at 10 or before were committed LINGERING_LAG entries ago, or more
        Head head = new Head(10 + BatchCommit.LINGERING_LAG, 0, BatchCommit.LINGERING_LAG, List.of(), Map.of(
                "a1", List.of(2L), "a2", List.of(3L, 15L), "a3", List.of(4L), "a4", List.of(5L), "a5", List.of(6L),
                "batch", List.of(7L), "recent", List.of(11L)));
        List<AccountId> batchAccounts = List.of(AccountId.of("batch"));

        Set<String> seen = new HashSet<>();
        for (int commit = 0; commit < 200; commit++) {
            List<AccountId> lingering = BatchCommit.lingering(head, batchAccounts);
            assertThat(lingering).hasSize(BatchCommit.LINGERING_READS).doesNotHaveDuplicates();
            lingering.forEach(account -> seen.add(account.value()));
        }

        assertThat(seen).as("every long-listed account but the batch's, in turn; not the recently listed one")
                .containsExactlyInAnyOrder("a1", "a2", "a3", "a4", "a5");
    }

    @Test
    void nothingListedLongReadsNothing()
    {
        Head head = new Head(10 + BatchCommit.LINGERING_LAG, 0, BatchCommit.LINGERING_LAG, List.of(), Map.of("recent", List.of(11L), "batch", List.of(3L)));

        assertThat(BatchCommit.lingering(head, List.of(AccountId.of("batch")))).isEmpty();
    }
}

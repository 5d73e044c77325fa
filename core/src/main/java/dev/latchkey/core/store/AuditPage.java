package dev.latchkey.core.store;

import java.util.List;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * One page of the audit trail, newest first.
 *
 * @param records at most the query's limit; possibly fewer, even none, while more follow: a store may stop a listing
 *         early to bound its reads (a rarely matching account filter over a long trail), and then says where it stopped
 * @param next the cursor for the next page when more records may follow: the position of this page's last record, or
 *         the position below which the store has not looked yet; empty when the listing is complete
 */
public record AuditPage(List<AuditRecord> records, Optional<FeedPosition> next)
{
    public AuditPage
    {
        records = List.copyOf(requireNonNull(records, "records is null"));
        requireNonNull(next, "next is null");
    }

    /**
     * The page of a query from candidate records in any order: the matching ones, newest first, cut to the limit.
     */
    public static AuditPage of(AuditQuery query, List<AuditRecord> candidates)
    {
        List<AuditRecord> matching = candidates.stream()
                .filter(query::matches)
                .sorted((a, b) -> Long.compare(b.change().position().value(), a.change().position().value()))
                .toList();
        if (matching.size() <= query.limit()) {
            return new AuditPage(matching, Optional.empty());
        }
        List<AuditRecord> page = matching.subList(0, query.limit());
        return new AuditPage(page, Optional.of(page.get(page.size() - 1).change().position()));
    }
}

package dev.latchkey.server.transfer;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.store.AuditPage;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.UserPage;
import dev.latchkey.core.store.UserQuery;
import dev.latchkey.server.transfer.ExportFormat.AccountLine;
import dev.latchkey.server.transfer.ExportFormat.AuditLine;
import dev.latchkey.server.transfer.ExportFormat.End;
import dev.latchkey.server.transfer.ExportFormat.Header;
import dev.latchkey.server.transfer.ExportFormat.KeyLine;
import dev.latchkey.server.transfer.ExportFormat.Line;
import dev.latchkey.server.transfer.ExportFormat.UserLine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Writes a whole store to an export file ({@link ExportFormat}), streaming: it holds one page of users at a time,
 * whatever the size of the store. Keys expired at the start of the export are left out (they work nowhere). The
 * export reads the store as it is while it runs: writes made meanwhile may or may not be in it, so stop the admin
 * writes (or accept that) while it runs.
 */
public final class StoreExport
{
    private static final int PAGE = UserQuery.MAX_LIMIT;

    private final IdentityStore store;
    private final Clock clock;

    public StoreExport(IdentityStore store, Clock clock)
    {
        this.store = requireNonNull(store, "store is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    /**
     * What an export wrote.
     */
    public record Counts(long accounts, long users, long keys, long auditRecords) {}

    /**
     * @param source the kind and location of the store, for the header (never a secret)
     */
    Counts export(String source, Writer out, Progress progress)
    {
        Instant now = clock.instant();
        write(out, new Header(ExportFormat.FORMAT, ExportFormat.VERSION, now, source));
        long accounts = 0;
        long users = 0;
        long keys = 0;
        for (AccountSummary summary : store.listAccounts()) {
            Optional<Account> account = store.findAccount(summary.id());
            if (account.isEmpty()) {
                // deleted since it was listed
                continue;
            }
            write(out, AccountLine.of(account.get()));
            accounts++;
            Optional<UserId> after = Optional.empty();
            while (true) {
                UserPage page = store.listUsers(summary.id(), new UserQuery(PAGE, Optional.empty(), Optional.empty(), after));
                for (User user : page.users()) {
                    Optional<List<KeyRecord>> held = keysOf(user, now);
                    if (held.isEmpty()) {
                        // removed since the page was read
                        continue;
                    }
                    write(out, UserLine.of(user));
                    users++;
                    for (KeyRecord key : held.get()) {
                        write(out, KeyLine.of(key));
                        keys++;
                    }
                    progress.keys(keys, users, accounts);
                }
                if (page.next().isEmpty()) {
                    break;
                }
                after = page.next();
            }
        }
        long audited = exportAudit(out);
        write(out, new End(accounts, users, keys));
        try {
            out.flush();
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        progress.done(keys, users, accounts);
        return new Counts(accounts, users, keys, audited);
    }

    /**
     * The whole audit trail the store keeps, newest first, a page at a time.
     */
    private long exportAudit(Writer out)
    {
        long records = 0;
        Optional<FeedPosition> before = Optional.empty();
        do {
            AuditPage page = store.listAudit(new AuditQuery(Optional.empty(), before, Instant.EPOCH, AuditQuery.MAX_LIMIT));
            for (AuditRecord record : page.records()) {
                write(out, AuditLine.of(record));
                records++;
            }
            before = page.next();
        }
        while (before.isPresent());
        return records;
    }

    /**
     * The user's live keys, whole (with their hashes); empty when the user is gone.
     */
    private Optional<List<KeyRecord>> keysOf(User user, Instant now)
    {
        List<KeySummary> summaries;
        try {
            summaries = store.listKeys(user.accountId(), user.id(), now);
        }
        catch (LatchkeyException e) {
            if (e.code() == ErrorCode.NOT_FOUND) {
                return Optional.empty();
            }
            throw e;
        }
        List<KeyRecord> keys = new ArrayList<>();
        for (KeySummary key : summaries) {
            // a key deleted since the listing is left out, as after that deletion
            store.findKey(key.keyId())
                    .filter(record -> record.userId().equals(user.id()) && record.accountId().equals(user.accountId()))
                    .ifPresent(keys::add);
        }
        return Optional.of(keys);
    }

    private static void write(Writer out, Line line)
    {
        try {
            out.write(ExportFormat.write(line));
            out.write('\n');
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

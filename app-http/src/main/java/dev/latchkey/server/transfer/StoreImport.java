package dev.latchkey.server.transfer;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.Origin;
import dev.latchkey.core.store.UserQuery;
import dev.latchkey.server.transfer.ExportFormat.AccountLine;
import dev.latchkey.server.transfer.ExportFormat.AuditLine;
import dev.latchkey.server.transfer.ExportFormat.End;
import dev.latchkey.server.transfer.ExportFormat.Header;
import dev.latchkey.server.transfer.ExportFormat.KeyLine;
import dev.latchkey.server.transfer.ExportFormat.Line;
import dev.latchkey.server.transfer.ExportFormat.UserLine;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import static java.util.Objects.requireNonNull;

/**
 * Writes an export file ({@link ExportFormat}) into a store, keeping every key id, hash, role, scope and expiry, so
 * that every key keeps working (on servers with the same pepper). Reads the file twice, streaming: first to check it
 * whole (a file cut short is refused before anything is written) and to note each account's first admin; then to
 * write, users side by side on {@code threads} threads, with a bounded number in flight.
 *
 * <p>The store must be empty, or hold only what an earlier import of the same file wrote, and empty accounts (such as
 * the {@code default} account a server creates at its first start): each record already there and equal is skipped,
 * so a second run after a crash finishes the first, and an empty account of the file's name is taken as it is.
 * Anything else already there (an account with users that is not in the file, or a record that differs) is refused
 * (FAILED_PRECONDITION or ALREADY_EXISTS) before or when it is met, naming it.
 */
public final class StoreImport
{
    private final IdentityStore store;
    private final Clock clock;
    private final int threads;
    private final SecretHasher throwawayHasher = SecretHasher.sha256();
    private final ApiKeyGenerator throwawayKeys = new ApiKeyGenerator(new SecureRandom());
    /** Every write of this import, in the new store's audit trail: the server itself, one request id per run. */
    private final Origin origin = new Origin(Actor.system(), "latchkey-import", "import-" + Origin.newRequestId());

    public StoreImport(IdentityStore store, Clock clock, int threads)
    {
        this.store = requireNonNull(store, "store is null");
        this.clock = requireNonNull(clock, "clock is null");
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1");
        }
        this.threads = threads;
    }

    /**
     * What an import holds once done: every account, user and key of the file (written now or by an earlier run).
     */
    public record Counts(long accounts, long users, long keys) {}

    /**
     * What the first reading of the file found.
     */
    private record Plan(Map<String, AccountPlan> accounts, End end) {}

    /**
     * An account of the file and the admin to create it with: the first admin with a primary key, else the first
     * admin (created with a key deleted at once), else none.
     */
    private record AccountPlan(AccountLine account, Optional<UserLine> firstAdmin, Optional<KeyLine> firstAdminKey) {}

    /** A user of the file with its keys. */
    private record UserBlock(UserLine user, List<KeyLine> keys) {}

    Counts importFrom(Path file, Progress progress)
    {
        Plan plan = plan(file);
        List<String> foreign = store.listAccounts().stream()
                .filter(account -> account.userCount() > 0)
                .map(AccountSummary::id)
                .map(AccountId::value)
                .filter(account -> !plan.accounts().containsKey(account))
                .toList();
        if (!foreign.isEmpty()) {
            throw new LatchkeyException(ErrorCode.FAILED_PRECONDITION, "the store is not empty: it holds " + foreign.size() + " account(s) with users that are not in " + file
                    + " (" + String.join(", ", foreign.subList(0, Math.min(5, foreign.size()))) + (foreign.size() > 5 ? ", ..." : "")
                    + "); import into an empty store, or into the store an earlier import of this file began");
        }

        AtomicLong users = new AtomicLong();
        AtomicLong keys = new AtomicLong();
        AtomicLong accounts = new AtomicLong();
        AtomicReference<RuntimeException> failure = new AtomicReference<>();
        Semaphore inFlight = new Semaphore(threads * 4);
        ExecutorService workers = Executors.newFixedThreadPool(threads, runnable -> {
            Thread thread = new Thread(runnable, "latchkey-import");
            thread.setDaemon(true);
            return thread;
        });
        try {
            Consumer<UserBlock> submit = block -> {
                acquire(inFlight);
                workers.execute(() -> {
                    try {
                        if (failure.get() == null) {
                            keys.addAndGet(writeUser(block));
                            progress.keys(keys.get(), users.incrementAndGet(), accounts.get());
                        }
                    }
                    catch (RuntimeException e) {
                        failure.compareAndSet(null, e);
                    }
                    finally {
                        inFlight.release();
                    }
                });
            };
            read(file, new Reader()
            {
                private UserBlock block;

                @Override
                public void account(AccountLine account)
                {
                    flush();
                    throwIfFailed(failure);
                    ensureAccount(requireNonNull(plan.accounts().get(account.accountId()), "an account the plan read"));
                    accounts.incrementAndGet();
                }

                @Override
                public void user(UserLine user)
                {
                    flush();
                    block = new UserBlock(user, new ArrayList<>());
                }

                @Override
                public void key(KeyLine key)
                {
                    requireNonNull(block, "a key follows its user").keys().add(key);
                }

                @Override
                public void end(End end)
                {
                    flush();
                }

                private void flush()
                {
                    if (block != null) {
                        submit.accept(block);
                        block = null;
                    }
                }
            });
        }
        finally {
            workers.shutdown();
            awaitTermination(workers);
        }
        throwIfFailed(failure);
        progress.done(keys.get(), users.get(), accounts.get());
        return new Counts(accounts.get(), users.get(), keys.get());
    }

    // --- the first reading: check the file whole, note the first admins

    private Plan plan(Path file)
    {
        Map<String, AccountPlan> accounts = new LinkedHashMap<>();
        End[] end = new End[1];
        read(file, new Reader()
        {
            private String account;
            private UserLine admin;

            @Override
            public void account(AccountLine line)
            {
                if (accounts.containsKey(line.accountId())) {
                    throw ExportFormat.badFile("account " + line.accountId() + " appears twice");
                }
                account = line.accountId();
                accounts.put(account, new AccountPlan(line, Optional.empty(), Optional.empty()));
                admin = null;
            }

            @Override
            public void user(UserLine line)
            {
                AccountPlan current = accounts.get(account);
                admin = null;
                if (line.userRole() == Role.ADMIN && current.firstAdminKey().isEmpty()) {
                    admin = line;
                    if (current.firstAdmin().isEmpty()) {
                        accounts.put(account, new AccountPlan(current.account(), Optional.of(line), Optional.empty()));
                    }
                }
            }

            @Override
            public void key(KeyLine line)
            {
                if (admin != null && line.primary() && line.keyId().equals(admin.primaryKeyId())) {
                    AccountPlan current = accounts.get(account);
                    accounts.put(account, new AccountPlan(current.account(), Optional.of(admin), Optional.of(line)));
                }
            }

            @Override
            public void end(End line)
            {
                end[0] = line;
            }
        });
        return new Plan(accounts, requireNonNull(end[0], "the reader checks the end"));
    }

    /**
     * What a reading of the file is told, record by record, once each is checked against the ones before it.
     */
    private interface Reader
    {
        void account(AccountLine account);

        void user(UserLine user);

        void key(KeyLine key);

        void end(End end);
    }

    /**
     * Reads the file line by line: a header of this format first, each user after an account and in it, each key
     * after its user, and last an end whose counts are the records read.
     */
    private static void read(Path file, Reader reader)
    {
        try (BufferedReader lines = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            long number = 0;
            long accounts = 0;
            long users = 0;
            long keys = 0;
            String account = null;
            UserLine user = null;
            End end = null;
            for (String text = lines.readLine(); text != null; text = lines.readLine()) {
                number++;
                if (text.isBlank()) {
                    continue;
                }
                Line line = ExportFormat.read(text, number);
                if (end != null) {
                    throw ExportFormat.badFile("line " + number + " follows the end record");
                }
                if (number == 1) {
                    if (!(line instanceof Header header) || !ExportFormat.FORMAT.equals(header.format())) {
                        throw ExportFormat.badFile(file + " is not a Latchkey export (its first line is not a header of format " + ExportFormat.FORMAT + ")");
                    }
                    if (header.version() > ExportFormat.VERSION) {
                        throw ExportFormat.badFile(file + " is of export version " + header.version() + "; this version of Latchkey reads up to " + ExportFormat.VERSION);
                    }
                    continue;
                }
                if (line instanceof Header) {
                    throw ExportFormat.badFile("line " + number + " is a second header");
                }
                if (line instanceof AccountLine accountLine) {
                    account = accountLine.accountId();
                    user = null;
                    accounts++;
                    reader.account(accountLine);
                }
                else if (line instanceof UserLine userLine) {
                    if (account == null || !account.equals(userLine.accountId())) {
                        throw ExportFormat.badFile("line " + number + ": user " + userLine.userId() + " is not after its account " + userLine.accountId());
                    }
                    user = userLine;
                    users++;
                    reader.user(userLine);
                }
                else if (line instanceof AuditLine) {
                    // the old store's trail stays in the file; the new store's starts with this import's writes
                    continue;
                }
                else if (line instanceof KeyLine keyLine) {
                    if (user == null || !user.accountId().equals(keyLine.accountId()) || !user.userId().equals(keyLine.userId())) {
                        throw ExportFormat.badFile("line " + number + ": key " + keyLine.keyId() + " is not after its user " + keyLine.userId());
                    }
                    keys++;
                    reader.key(keyLine);
                }
                else {
                    End endLine = (End) line;
                    if (endLine.accounts() != accounts || endLine.users() != users || endLine.keys() != keys) {
                        throw ExportFormat.badFile("the end record counts " + endLine.accounts() + " accounts, " + endLine.users() + " users and " + endLine.keys()
                                + " keys, but the file holds " + accounts + ", " + users + " and " + keys);
                    }
                    end = endLine;
                    reader.end(endLine);
                }
            }
            if (number == 0) {
                throw ExportFormat.badFile(file + " is empty");
            }
            if (end == null) {
                throw ExportFormat.badFile(file + " ends before its end record: it was cut short (export it again)");
            }
        }
        catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    // --- the second reading: write

    private void ensureAccount(AccountPlan plan)
    {
        Account account = plan.account().toAccount();
        Optional<Account> existing = store.findAccount(account.id());
        if (existing.isPresent()) {
            boolean emptyAsInFile = existing.get().adminRequired() == account.adminRequired()
                    && store.listUsers(account.id(), new UserQuery(1, Optional.empty(), Optional.empty(), Optional.empty())).users().isEmpty();
            if (!existing.get().equals(account) && !emptyAsInFile) {
                throw new LatchkeyException(ErrorCode.ALREADY_EXISTS, "account " + account.id() + " is in the store already, and differs from the file's: " + existing.get()
                        + " against " + account);
            }
            return;
        }
        if (plan.firstAdmin().isEmpty()) {
            store.createAccount(origin, account, Optional.empty());
            return;
        }
        User admin = plan.firstAdmin().get().toUser();
        if (plan.firstAdminKey().isPresent()) {
            store.createAccount(origin, account, Optional.of(new NewUser(admin, plan.firstAdminKey().get().hash())));
            return;
        }
        // an admin without a primary key: created with one that goes at once
        ApiKey throwaway = throwawayKeys.random();
        store.createAccount(origin, account, Optional.of(new NewUser(admin.withKey(throwaway.keyId()), throwawayHasher.hash(throwaway.secret()))));
        store.deleteKey(origin, account.id(), admin.id(), throwaway.keyId(), clock.instant());
    }

    /**
     * @return how many keys of the user the store holds now
     */
    private long writeUser(UserBlock block)
    {
        User user = block.user().toUser();
        Optional<KeyLine> primary = block.keys().stream()
                .filter(key -> key.primary() && user.primaryKeyId().equals(Optional.of(key.id())))
                .findFirst();
        Optional<User> existing = store.findUser(user.accountId(), user.id());
        if (existing.isPresent()) {
            if (existing.get().role() != user.role()) {
                throw conflict("user " + user.id() + " of account " + user.accountId() + " is in the store already, with role " + existing.get().role().wireName()
                        + " and not " + user.role().wireName());
            }
        }
        else if (primary.isPresent()) {
            store.addUser(origin, new NewUser(user, primary.get().hash()));
        }
        else {
            ApiKey throwaway = throwawayKeys.random();
            store.addUser(origin, new NewUser(user.withKey(throwaway.keyId()), throwawayHasher.hash(throwaway.secret())));
            store.deleteKey(origin, user.accountId(), user.id(), throwaway.keyId(), clock.instant());
        }
        long held = 0;
        for (KeyLine key : block.keys()) {
            Optional<KeyRecord> current = store.findKey(key.id());
            if (current.isPresent()) {
                KeyRecord record = current.get();
                if (!record.accountId().equals(user.accountId()) || !record.userId().equals(user.id()) || !record.secretHash().matches(key.hash())) {
                    throw conflict("key " + key.keyId() + " is in the store already, and not as the file has it (another user's, or another secret)");
                }
                if (key.primary() && !record.createdAt().equals(key.createdAt())) {
                    // a user's first key is issued when the user is: a primary key issued later gets its own time back
                    store.replaceKey(origin, user.accountId(), user.id(), key.id(), key.hash(), key.createdAt(), Optional.empty());
                }
                held++;
            }
            else if (!key.primary() && key.attributes().isLiveAt(clock.instant())) {
                store.addKey(origin, new NewKey(user.accountId(), user.id(), key.id(), key.hash(), key.createdAt(), key.attributes()));
                held++;
            }
        }
        return held;
    }

    private static LatchkeyException conflict(String message)
    {
        return new LatchkeyException(ErrorCode.ALREADY_EXISTS, message);
    }

    private static void throwIfFailed(AtomicReference<RuntimeException> failure)
    {
        RuntimeException failed = failure.get();
        if (failed != null) {
            throw failed;
        }
    }

    private static void acquire(Semaphore semaphore)
    {
        try {
            semaphore.acquire();
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "interrupted during the import");
        }
    }

    private static void awaitTermination(ExecutorService workers)
    {
        try {
            while (!workers.awaitTermination(1, TimeUnit.MINUTES)) {
                // the store's own timeouts bound each write
            }
        }
        catch (InterruptedException e) {
            workers.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}

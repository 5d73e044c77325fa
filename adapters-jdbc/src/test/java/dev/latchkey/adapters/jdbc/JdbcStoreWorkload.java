package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.NewUser;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * A writer process for the multi-process tests: opens the JDBC store at a URL and writes to it, printing one line
 * per outcome to standard output (flushed at once, so that a killed process has reported every write it had
 * acknowledged). Lines: {@code READY}, {@code BEGIN <what>}, {@code ACK <what> [key]}, {@code LOST <what> <code>},
 * {@code FEED <position> <type> <account> <user>}.
 */
public final class JdbcStoreWorkload
{
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final Duration POLL = Duration.ofMillis(2);

    private final JdbcIdentityStore store;
    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final SecretHasher hasher = SecretHasher.sha256();
    private final Clock clock = Clock.systemUTC();
    private final PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);

    private JdbcStoreWorkload(String url)
    {
        this.store = JdbcIdentityStore.open(TestingJdbcStores.postgresConfig(url), clock);
    }

    /**
     * {@code race <url> <name> <rounds> <go-file> <done-directory> <peers>}, or {@code burst <url> <prefix> <account>}.
     */
    public static void main(String[] args)
            throws Exception
    {
        JdbcStoreWorkload workload = new JdbcStoreWorkload(args[1]);
        switch (args[0]) {
            case "race" -> workload.race(args[2], Integer.parseInt(args[3]), Path.of(args[4]), Path.of(args[5]), Integer.parseInt(args[6]));
            case "burst" -> workload.burst(args[2], AccountId.of(args[3]));
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
        workload.store.close();
    }

    /**
     * Conflicting and non-conflicting writes, started together with the other racers, then the whole feed as this
     * process reads it once every racer is done.
     */
    private void race(String name, int rounds, Path go, Path doneDirectory, int peers)
            throws Exception
    {
        out.println("READY");
        awaitFile(go);
        AccountId shared = AccountId.of("shared");
        for (int i = 0; i < rounds; i++) {
            AccountId race = AccountId.of("race-" + i);
            attempt("CREATE " + race, () -> {
                store.createAccount(new Account(race, clock.instant(), true), Optional.of(newUser(race, UserId.of("admin"), Role.ADMIN)));
                return null;
            });
            UserId own = UserId.of(name + "-" + i);
            attempt("ADD " + shared + "/" + own, () -> {
                store.addUser(newUser(shared, own, Role.USER));
                return null;
            });
            UserId both = UserId.of("both-" + i);
            attempt("ADD " + shared + "/" + both, () -> {
                store.addUser(newUser(shared, both, Role.USER));
                return null;
            });
            AccountId duo = AccountId.of("duo-" + i);
            UserId admin = UserId.of(name.equals("p1") ? "a" : "b");
            attempt("REMOVE " + duo + "/" + admin, () -> store.removeUser(duo, admin));
        }
        Files.createFile(doneDirectory.resolve(name));
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (Files.list(doneDirectory).count() < peers) {
            checkDeadline(deadline, "the other racers");
            LockSupport.parkNanos(POLL.toNanos());
        }
        FeedPosition position = FeedPosition.START;
        while (true) {
            FeedBatch.Changes batch = (FeedBatch.Changes) store.changesAfter(position, 500);
            if (batch.changes().isEmpty()) {
                break;
            }
            for (Change change : batch.changes()) {
                out.println("FEED " + change.position() + " " + change.type() + " " + change.accountId() + " " + change.userId().map(UserId::value).orElse("-"));
            }
            position = batch.next();
        }
    }

    /**
     * Writes until killed: adds users, replaces some of their keys, removes some of them.
     */
    private void burst(String prefix, AccountId account)
    {
        for (int i = 0; i < 100_000; i++) {
            UserId added = UserId.of(prefix + "-" + i);
            ApiKey key = keys.random();
            out.println("BEGIN ADD " + added);
            store.addUser(new NewUser(new User(account, added, Role.USER, key.keyId(), clock.instant()), hasher.hash(key.secret())));
            out.println("ACK ADD " + added + " " + key.value());
            if (i % 3 == 2) {
                UserId replaced = UserId.of(prefix + "-" + (i - 1));
                ApiKey newKey = keys.random();
                out.println("BEGIN REPLACE " + replaced);
                store.replaceKey(account, replaced, newKey.keyId(), hasher.hash(newKey.secret()), clock.instant());
                out.println("ACK REPLACE " + replaced + " " + newKey.value());
            }
            if (i % 5 == 4) {
                UserId removed = UserId.of(prefix + "-" + (i - 2));
                out.println("BEGIN REMOVE " + removed);
                store.removeUser(account, removed);
                out.println("ACK REMOVE " + removed);
            }
        }
    }

    private void attempt(String what, Supplier<?> write)
    {
        try {
            write.get();
            out.println("ACK " + what);
        }
        catch (LatchkeyException e) {
            out.println("LOST " + what + " " + e.code());
        }
    }

    private NewUser newUser(AccountId account, UserId user, Role role)
    {
        ApiKey key = keys.random();
        return new NewUser(new User(account, user, role, key.keyId(), clock.instant()), hasher.hash(key.secret()));
    }

    private static void awaitFile(Path file)
    {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!Files.exists(file)) {
            checkDeadline(deadline, file.getFileName().toString());
            LockSupport.parkNanos(POLL.toNanos());
        }
    }

    private static void checkDeadline(long deadline, String what)
    {
        if (System.nanoTime() - deadline > 0) {
            throw new IllegalStateException("gave up waiting for " + what);
        }
    }
}

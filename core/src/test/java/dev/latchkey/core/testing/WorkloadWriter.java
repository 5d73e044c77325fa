package dev.latchkey.core.testing;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.NewUser;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

import static java.util.Objects.requireNonNull;

/**
 * The writes of the adapters' workload programs (run by {@link TestingProcess} in writer JVMs), and the lines they
 * print on standard output for the test to read: {@code KEY <account>/<user> <key>}, {@code BEGIN <what>},
 * {@code ACK <what>}, {@code LOST <what> <code>}, {@code FEED <position> <type> <account> <user>}.
 */
public final class WorkloadWriter
{
    private static final Duration POLL = Duration.ofMillis(2);

    private final IdentityStore store;
    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final SecretHasher hasher = SecretHasher.sha256();
    private final Clock clock = Clock.systemUTC();
    private final PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);

    public WorkloadWriter(IdentityStore store)
    {
        this.store = requireNonNull(store, "store is null");
    }

    public PrintStream out()
    {
        return out;
    }

    /**
     * Writes until killed: adds users, replaces some of their keys, removes some of them.
     */
    public void burst(String prefix, AccountId account)
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

    /**
     * Makes a write and prints whether it was acknowledged or lost (with the failure's code).
     */
    public void attempt(String what, Supplier<?> write)
    {
        try {
            write.get();
            out.println("ACK " + what);
        }
        catch (LatchkeyException e) {
            out.println("LOST " + what + " " + e.code());
        }
    }

    /**
     * A new user with a new key, whose key it prints first.
     */
    public NewUser newUser(AccountId account, UserId user, Role role)
    {
        ApiKey key = keys.random();
        out.println("KEY " + account + "/" + user + " " + key.value());
        return new NewUser(new User(account, user, role, key.keyId(), clock.instant()), hasher.hash(key.secret()));
    }

    public void printFeedEntry(Change change)
    {
        out.println("FEED " + change.position() + " " + change.type() + " " + change.accountId() + " " + change.userId().map(UserId::value).orElse("-"));
    }

    /**
     * Waits until {@code file} exists, for at most {@code wait}.
     */
    public static void awaitFile(Path file, Duration wait)
    {
        long deadline = System.nanoTime() + wait.toNanos();
        while (!Files.exists(file)) {
            checkDeadline(deadline, file.getFileName().toString());
            LockSupport.parkNanos(POLL.toNanos());
        }
    }

    /**
     * @throws IllegalStateException naming {@code what} when the deadline ({@link System#nanoTime()}) has passed
     */
    public static void checkDeadline(long deadline, String what)
    {
        if (System.nanoTime() - deadline > 0) {
            throw new IllegalStateException("gave up waiting for " + what);
        }
    }
}

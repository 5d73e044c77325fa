package dev.latchkey.core.testing;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.NewUser;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

import static dev.latchkey.core.testing.WorkloadWriter.awaitFile;
import static dev.latchkey.core.testing.WorkloadWriter.checkDeadline;
import static java.util.Objects.requireNonNull;

/**
 * The child program of the multi-process suites, for any store: opens the store at a location through a
 * {@link ProcessStores} named by its class, then writes to it as one of two racers ({@code race}), writes until
 * killed ({@code burst}, see {@link WorkloadWriter#burst}), or answers as a second instance ({@code resolve}, see
 * {@link ResolverProcessLoop}). A writer prints one line per outcome to standard output, flushed at once so that a
 * killed process has reported every write it had acknowledged: {@code READY}, {@code KEY <account>/<user> <key>}
 * (before a write that would issue the key), {@code BEGIN <what>}, {@code ACK <what> [key]},
 * {@code LOST <what> <code>}, {@code FEED <position> <type> <account> <user>}.
 */
public final class StoreWorkload
{
    private static final Duration POLL = Duration.ofMillis(2);
    private static final int DELETION_JITTER_MILLIS = 150;

    private final IdentityStore store;
    private final Clock clock = Clock.systemUTC();
    private final WorkloadWriter writer;

    private StoreWorkload(IdentityStore store)
    {
        this.store = requireNonNull(store, "store is null");
        this.writer = new WorkloadWriter(store);
    }

    /**
     * {@code <stores-class> <location> race <p1|p2> <rounds> <go-file> <barrier-directory> <wait-seconds>},
     * {@code <stores-class> <location> burst <user-prefix> <account>}, or {@code <stores-class> <location> resolve}.
     */
    public static void main(String[] args)
            throws Exception
    {
        ProcessStores stores = (ProcessStores) Class.forName(args[0]).getConstructor().newInstance();
        IdentityStore store = stores.open(args[1]);
        switch (args[2]) {
            case "race" -> new StoreWorkload(store).race(args[3], Integer.parseInt(args[4]), Path.of(args[5]), Path.of(args[6]), Duration.ofSeconds(Long.parseLong(args[7])));
            case "burst" -> new WorkloadWriter(store).burst(args[3], AccountId.of(args[4]));
            case "resolve" -> {
                try (ResolverProcessLoop loop = ResolverProcessLoop.start(store)) {
                    AutoCloseable wakeUps = stores.startWakeUps(store, loop.resolver()::wakeUp);
                    loop.serve();
                    wakeUps.close();
                }
            }
            default -> throw new IllegalArgumentException("unknown mode " + args[2]);
        }
        store.close();
    }

    /**
     * Conflicting and non-conflicting writes, started together with the other racer, then the whole feed as this
     * process reads it once both are done. Per round: the same account created by both, a user of its own and the
     * same user added by both to account {@code shared}, one of the last two admins of {@code duo-<round>} removed
     * by each, and account {@code doomed-<round>} deleted by both while they add users to it (one, after a random
     * pause, deletes and then adds; the other adds and then deletes).
     */
    private void race(String name, int rounds, Path go, Path barrierDirectory, Duration wait)
            throws Exception
    {
        writer.out().println("READY");
        awaitFile(go, wait);
        AccountId shared = AccountId.of("shared");
        for (int i = 0; i < rounds; i++) {
            AccountId race = AccountId.of("race-" + i);
            NewUser raceAdmin = writer.newUser(race, UserId.of("admin"), Role.ADMIN);
            writer.attempt("CREATE " + race, () -> {
                store.createAccount(new Account(race, clock.instant(), true), Optional.of(raceAdmin));
                return null;
            });
            add(shared, UserId.of(name + "-" + i));
            add(shared, UserId.of("both-" + i));
            AccountId duo = AccountId.of("duo-" + i);
            UserId admin = UserId.of(name.equals("p1") ? "a" : "b");
            writer.attempt("REMOVE " + duo + "/" + admin, () -> store.removeUser(duo, admin));

            // both at once: the deleter (p1 in even rounds, p2 in odd ones) after a random pause of up to the time of a
            // write or two, so that either of the deletion and the other's addition may commit first
            AccountId doomed = AccountId.of("doomed-" + i);
            NewUser late = writer.newUser(doomed, UserId.of(name + "-late"), Role.USER);
            awaitPeer(barrierDirectory.resolve("doomed-" + i), name, wait);
            if (name.equals(i % 2 == 0 ? "p1" : "p2")) {
                LockSupport.parkNanos(Duration.ofMillis(ThreadLocalRandom.current().nextInt(DELETION_JITTER_MILLIS)).toNanos());
                delete(doomed);
                add(late);
            }
            else {
                add(late);
                delete(doomed);
            }
        }
        awaitPeer(barrierDirectory.resolve("done"), name, wait);
        for (Change change : StoreConsistency.allChanges(store)) {
            writer.printFeedEntry(change);
        }
    }

    private void add(AccountId account, UserId user)
    {
        add(writer.newUser(account, user, Role.USER));
    }

    private void add(NewUser user)
    {
        writer.attempt("ADD " + user.user().accountId() + "/" + user.user().id(), () -> {
            store.addUser(user);
            return null;
        });
    }

    private void delete(AccountId account)
    {
        writer.attempt("DELETE " + account, () -> {
            store.deleteAccount(account);
            return null;
        });
    }

    /**
     * Waits until both racers have reached this point (two files in the directory, one of them this one's).
     */
    private static void awaitPeer(Path directory, String name, Duration wait)
            throws IOException
    {
        Files.createDirectories(directory);
        Files.createFile(directory.resolve(name));
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            try (Stream<Path> files = Files.list(directory)) {
                if (files.count() >= 2) {
                    return;
                }
            }
            checkDeadline(deadline, "the other racer at " + directory.getFileName());
            LockSupport.parkNanos(POLL.toNanos());
        }
    }
}

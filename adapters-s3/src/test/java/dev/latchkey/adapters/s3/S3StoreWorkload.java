package dev.latchkey.adapters.s3;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.testing.WorkloadWriter;

import java.io.IOException;
import java.net.URI;
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

/**
 * A writer process for the multi-process tests: opens the S3 store at an endpoint and prefix (of the shared test
 * bucket) and writes to it, printing one line per outcome to standard output (flushed at once, so that a killed
 * process has reported every write it had acknowledged). Lines: {@code READY}, {@code KEY <account>/<user> <key>}
 * (before a write that would issue the key), {@code BEGIN <what>}, {@code ACK <what> [key]},
 * {@code LOST <what> <code>}, {@code FEED <position> <type> <account> <user>}.
 */
public final class S3StoreWorkload
{
    private static final Duration WAIT = Duration.ofSeconds(120);
    private static final Duration POLL = Duration.ofMillis(2);
    private static final int DELETION_JITTER_MILLIS = 150;

    private final S3IdentityStore store;
    private final Clock clock = Clock.systemUTC();
    private final WorkloadWriter writer;

    private S3StoreWorkload(URI endpoint, String prefix)
    {
        this.store = S3IdentityStore.open(TestingS3Stores.config(endpoint, prefix), TestingS3Stores.credentials(), clock);
        this.writer = new WorkloadWriter(store);
    }

    /**
     * {@code race <endpoint> <prefix> <name> <rounds> <go-file> <barrier-directory> <peers>}, or
     * {@code burst <endpoint> <prefix> <user-prefix> <account>}.
     */
    public static void main(String[] args)
            throws Exception
    {
        S3StoreWorkload workload = new S3StoreWorkload(URI.create(args[1]), args[2]);
        switch (args[0]) {
            case "race" -> workload.race(args[3], Integer.parseInt(args[4]), Path.of(args[5]), Path.of(args[6]), Integer.parseInt(args[7]));
            case "burst" -> workload.writer.burst(args[3], AccountId.of(args[4]));
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
        workload.store.close();
    }

    /**
     * Conflicting and non-conflicting writes, started together with the other racers, then the whole feed as this
     * process reads it once every racer is done. Per round: the same account created by every racer, a user of its
     * own and the same user added by every racer to account {@code shared}, one of the last two admins of
     * {@code duo-<round>} removed by each of two racers ({@code p1} and {@code p2}), and account
     * {@code doomed-<round>} deleted by every racer while they add users to it (one racer, after a random pause,
     * deletes and then adds; the others add and then delete).
     */
    private void race(String name, int rounds, Path go, Path barrierDirectory, int peers)
            throws Exception
    {
        writer.out().println("READY");
        awaitFile(go, WAIT);
        AccountId shared = AccountId.of("shared");
        for (int i = 0; i < rounds; i++) {
            AccountId race = AccountId.of("race-" + i);
            NewUser raceAdmin = writer.newUser(race, UserId.of("admin"), Role.ADMIN);
            writer.attempt("CREATE " + race, () -> {
                store.createAccount(new Account(race, clock.instant(), true), Optional.of(raceAdmin));
                return null;
            });
            UserId own = UserId.of(name + "-" + i);
            NewUser ownUser = writer.newUser(shared, own, Role.USER);
            writer.attempt("ADD " + shared + "/" + own, () -> {
                store.addUser(ownUser);
                return null;
            });
            UserId both = UserId.of("both-" + i);
            NewUser bothUser = writer.newUser(shared, both, Role.USER);
            writer.attempt("ADD " + shared + "/" + both, () -> {
                store.addUser(bothUser);
                return null;
            });
            AccountId duo = AccountId.of("duo-" + i);
            UserId admin = UserId.of(name.equals("p1") ? "a" : "b");
            if (name.equals("p1") || name.equals("p2")) {
                writer.attempt("REMOVE " + duo + "/" + admin, () -> store.removeUser(duo, admin));
            }
            AccountId doomed = AccountId.of("doomed-" + i);
            UserId late = UserId.of(name + "-late");
            NewUser lateUser = writer.newUser(doomed, late, Role.USER);
            Runnable delete = () -> writer.attempt("DELETE " + doomed, () -> {
                store.deleteAccount(doomed);
                return null;
            });
            Runnable add = () -> writer.attempt("ADD " + doomed + "/" + late, () -> {
                store.addUser(lateUser);
                return null;
            });
            // both at once: the deleter (p1 in even rounds, p2 in odd ones) after a random pause of up to the time of a
            // write or two, so that either of the deletion and the other's addition may commit first
            awaitPeers(barrierDirectory.resolve("doomed-" + i), name, peers);
            if (name.equals(i % 2 == 0 ? "p1" : "p2")) {
                LockSupport.parkNanos(Duration.ofMillis(ThreadLocalRandom.current().nextInt(DELETION_JITTER_MILLIS)).toNanos());
                delete.run();
                add.run();
            }
            else {
                add.run();
                delete.run();
            }
        }
        awaitPeers(barrierDirectory.resolve("done"), name, peers);
        FeedPosition position = FeedPosition.START;
        while (true) {
            FeedBatch.Changes batch = (FeedBatch.Changes) store.changesAfter(position, 500);
            if (batch.changes().isEmpty()) {
                break;
            }
            for (Change change : batch.changes()) {
                writer.printFeedEntry(change);
            }
            position = batch.next();
        }
    }

    /**
     * Waits until every racer has reached this point ({@code peers} files in the directory, one of them this one's).
     */
    private static void awaitPeers(Path directory, String name, int peers)
            throws IOException
    {
        Files.createDirectories(directory);
        Files.createFile(directory.resolve(name));
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            try (Stream<Path> files = Files.list(directory)) {
                if (files.count() >= peers) {
                    return;
                }
            }
            checkDeadline(deadline, "the other racers at " + directory.getFileName());
            LockSupport.parkNanos(POLL.toNanos());
        }
    }
}

package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.testing.WorkloadWriter;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;

import static dev.latchkey.core.testing.WorkloadWriter.awaitFile;
import static dev.latchkey.core.testing.WorkloadWriter.checkDeadline;

/**
 * A writer process for the multi-process tests: opens the JDBC store at a URL and writes to it, printing one line
 * per outcome to standard output (flushed at once, so that a killed process has reported every write it had
 * acknowledged). Lines: {@code READY}, {@code KEY <account>/<user> <key>}, {@code BEGIN <what>},
 * {@code ACK <what> [key]}, {@code LOST <what> <code>}, {@code FEED <position> <type> <account> <user>}.
 */
public final class JdbcStoreWorkload
{
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final Duration POLL = Duration.ofMillis(2);

    private final JdbcIdentityStore store;
    private final Clock clock = Clock.systemUTC();
    private final WorkloadWriter writer;

    private JdbcStoreWorkload(String url)
    {
        this.store = JdbcIdentityStore.open(TestingJdbcStores.postgresConfig(url), clock);
        this.writer = new WorkloadWriter(store);
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
            case "burst" -> workload.writer.burst(args[2], AccountId.of(args[3]));
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
        writer.out().println("READY");
        awaitFile(go, WAIT);
        AccountId shared = AccountId.of("shared");
        for (int i = 0; i < rounds; i++) {
            AccountId race = AccountId.of("race-" + i);
            writer.attempt("CREATE " + race, () -> {
                store.createAccount(new Account(race, clock.instant(), true), Optional.of(writer.newUser(race, UserId.of("admin"), Role.ADMIN)));
                return null;
            });
            UserId own = UserId.of(name + "-" + i);
            writer.attempt("ADD " + shared + "/" + own, () -> {
                store.addUser(writer.newUser(shared, own, Role.USER));
                return null;
            });
            UserId both = UserId.of("both-" + i);
            writer.attempt("ADD " + shared + "/" + both, () -> {
                store.addUser(writer.newUser(shared, both, Role.USER));
                return null;
            });
            AccountId duo = AccountId.of("duo-" + i);
            UserId admin = UserId.of(name.equals("p1") ? "a" : "b");
            writer.attempt("REMOVE " + duo + "/" + admin, () -> store.removeUser(duo, admin));
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
                writer.printFeedEntry(change);
            }
            position = batch.next();
        }
    }
}

package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyName;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.Origin;
import dev.latchkey.core.testing.StoreConsistency;
import dev.latchkey.core.testing.TestingClock;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Stops a writer at every single file mutation of every kind of write, as a crash would, and checks what a fresh
 * handle then sees: exactly the state before the write or exactly the state after it, never a mix, both in key
 * lookups (before any roll-forward) and in the records (after it); and once a step yields the state after, every
 * later step does too (the decision is one atomic record). The audit trail follows the feed: one record of each
 * change, and the write's own record, with its origin, exactly when the write was decided (also when a later reader
 * finished it).
 */
class TestFileSystemStoreCrashSteps
{
    private static final ApiKeyGenerator KEYS = new ApiKeyGenerator(new SecureRandom());
    private static final SecretHasher HASHER = SecretHasher.sha256();
    private static final AccountId ACME = AccountId.of("acme");
    private static final AccountId BETA = AccountId.of("beta");
    private static final UserId ALICE = UserId.of("alice");
    private static final UserId BOB = UserId.of("bob");
    private static final UserId CAROL = UserId.of("carol");
    private static final UserId DAVE = UserId.of("dave");
    private static final UserId EVE = UserId.of("eve");
    private static final Origin ORIGIN = new Origin(Actor.user(ACME, ALICE, Role.ADMIN, Optional.empty()), "instance-a:1", "the-write");
    private static final AuditQuery ALL = new AuditQuery(Optional.empty(), Optional.empty(), Instant.EPOCH, AuditQuery.MAX_LIMIT);

    private final TestingClock clock = new TestingClock();
    private final Map<String, ApiKey> keys = new LinkedHashMap<>();

    @TempDir
    Path temporaryDirectory;

    private final AtomicInteger directories = new AtomicInteger();

    enum Write
    {
        CREATE_ACCOUNT(ChangeType.ACCOUNT_CREATED),
        ADD_USER(ChangeType.USER_ADDED),
        REPLACE_KEY(ChangeType.KEY_REPLACED),
        REPLACE_KEY_KEEPING_THE_OLD_ONE(ChangeType.KEY_REPLACED),
        SET_ROLE(ChangeType.ROLE_CHANGED),
        REMOVE_USER(ChangeType.USER_REMOVED),
        DELETE_ACCOUNT(ChangeType.ACCOUNT_DELETED),
        ADD_KEY(ChangeType.KEY_ADDED),
        DELETE_KEY(ChangeType.KEY_DELETED),
        DELETE_PRIMARY_KEY(ChangeType.KEY_DELETED);

        private final ChangeType change;

        Write(ChangeType change)
        {
            this.change = change;
        }
    }

    @ParameterizedTest
    @EnumSource(Write.class)
    void aWriterStoppedAtAnyStepLeavesTheStateBeforeOrAfterTheWrite(Write write)
    {
        for (String name : List.of("A", "B", "C", "B2", "D", "E", "BX", "CX", "F")) {
            keys.put(name, KEYS.random());
        }
        Consumer<IdentityStore> operation = operation(write);

        Path beforeDirectory = preparedDirectory();
        Snapshot before = snapshot(store(beforeDirectory));

        Path afterDirectory = preparedDirectory();
        AtomicInteger steps = new AtomicInteger();
        operation.accept(FileSystemIdentityStore.open(afterDirectory, FileSystemStoreOptions.defaults(), clock, file -> steps.incrementAndGet()));
        Snapshot after = snapshot(store(afterDirectory));
        assertThat(after).isNotEqualTo(before);
        assertThat(steps.get()).isGreaterThan(1);

        boolean decided = false;
        for (int stopAt = 0; stopAt < steps.get(); stopAt++) {
            Path directory = preparedDirectory();
            int stop = stopAt;
            AtomicInteger step = new AtomicInteger();
            IdentityStore stopping = FileSystemIdentityStore.open(directory, FileSystemStoreOptions.defaults(), clock, file -> {
                if (step.getAndIncrement() == stop) {
                    throw new IOException("writer stopped");
                }
            });
            assertThatThrownBy(() -> operation.accept(stopping))
                    .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));

            FileSystemIdentityStore fresh = store(directory);
            Snapshot seen = snapshot(fresh);
            assertThat(seen).as("state after stopping at step %s of %s", stopAt, steps.get()).isIn(before, after);
            if (decided) {
                assertThat(seen).as("a decided write stays decided (step %s)", stopAt).isEqualTo(after);
            }
            decided = seen.equals(after);
            StoreInvariants.check(directory, fresh);
            List<ChangeType> changes = StoreConsistency.allChanges(fresh).stream().map(Change::type).toList();
            long writesOfThisKind = changes.stream().filter(type -> type == write.change).count();
            long expectedBefore = StoreConsistency.allChanges(store(beforeDirectory)).stream().filter(change -> change.type() == write.change).count();
            assertThat(writesOfThisKind).as("the feed lists a finished write exactly once").isEqualTo(expectedBefore + (decided ? 1 : 0));
            List<AuditRecord> audit = fresh.listAudit(ALL).records();
            List<Change> feed = new ArrayList<>(StoreConsistency.allChanges(fresh));
            Collections.reverse(feed);
            assertThat(audit).extracting(AuditRecord::change).as("one audit record of each change, step %s", stopAt).containsExactlyElementsOf(feed);
            assertThat(audit).filteredOn(record -> record.origin().equals(ORIGIN)).as("the write's audit record, with its origin, iff it was decided")
                    .hasSize(decided ? 1 : 0);
            if (decided) {
                assertThat(audit.get(0).origin()).isEqualTo(ORIGIN);
                assertThat(audit.get(0).change().type()).isEqualTo(write.change);
            }
        }
        assertThat(decided).as("the last step happens after the decision").isTrue();
    }

    private Consumer<IdentityStore> operation(Write write)
    {
        return switch (write) {
            case CREATE_ACCOUNT -> store -> store.createAccount(ORIGIN, new Account(BETA, clock.instant(), true), Optional.of(newUser(BETA, EVE, Role.ADMIN, "E")));
            case ADD_USER -> store -> store.addUser(ORIGIN, newUser(ACME, DAVE, Role.USER, "D"));
            case REPLACE_KEY -> store -> store.replaceKey(ORIGIN, ACME, BOB, keys.get("B2").keyId(), HASHER.hash(keys.get("B2").secret()), clock.instant(), Optional.empty());
            case REPLACE_KEY_KEEPING_THE_OLD_ONE -> store -> store.replaceKey(ORIGIN, ACME, BOB, keys.get("B2").keyId(), HASHER.hash(keys.get("B2").secret()), clock.instant(),
                    Optional.of(clock.instant().plus(Duration.ofHours(1))));
            case SET_ROLE -> store -> store.setRole(ORIGIN, ACME, CAROL, Role.USER);
            case REMOVE_USER -> store -> store.removeUser(ORIGIN, ACME, BOB);
            case DELETE_ACCOUNT -> store -> store.deleteAccount(ORIGIN, ACME);
            case ADD_KEY -> store -> store.addKey(ORIGIN, newKey(ACME, ALICE, "F", KeyAttributes.extra(Optional.of(KeyName.of("ci")), Scopes.of("docs:read"), Optional.empty())));
            case DELETE_KEY -> store -> store.deleteKey(ORIGIN, ACME, BOB, keys.get("BX").keyId(), clock.instant());
            case DELETE_PRIMARY_KEY -> store -> store.deleteKey(ORIGIN, ACME, BOB, keys.get("B").keyId(), clock.instant());
        };
    }

    private Path preparedDirectory()
    {
        Path directory = temporaryDirectory.resolve("store-" + directories.incrementAndGet());
        FileSystemIdentityStore store = store(directory);
        store.createAccount(new Account(ACME, clock.instant(), true), Optional.of(newUser(ACME, ALICE, Role.ADMIN, "A")));
        store.addUser(newUser(ACME, BOB, Role.USER, "B"));
        store.addUser(newUser(ACME, CAROL, Role.ADMIN, "C"));
        store.addKey(newKey(ACME, BOB, "BX", KeyAttributes.extra(Optional.of(KeyName.of("laptop")), Scopes.of("docs:*"), Optional.empty())));
        store.addKey(newKey(ACME, CAROL, "CX", KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.of(clock.instant().plus(Duration.ofDays(1))))));
        return directory;
    }

    private FileSystemIdentityStore store(Path directory)
    {
        return FileSystemIdentityStore.open(directory, clock);
    }

    private NewUser newUser(AccountId account, UserId user, Role role, String key)
    {
        return new NewUser(new User(account, user, role, keys.get(key).keyId(), clock.instant()), HASHER.hash(keys.get(key).secret()));
    }

    private NewKey newKey(AccountId account, UserId user, String key, KeyAttributes attributes)
    {
        return new NewKey(account, user, keys.get(key).keyId(), HASHER.hash(keys.get(key).secret()), clock.instant(), attributes);
    }

    /**
     * What a reader sees of every key and record the writes touch. Key lookups are taken first, because they never
     * roll a pending write forward; the record reads that follow do.
     */
    private Snapshot snapshot(IdentityStore store)
    {
        Map<String, String> lookups = new LinkedHashMap<>();
        keys.forEach((name, key) -> lookups.put(name, store.findKey(key.keyId())
                .map(found -> found.accountId() + "/" + found.userId() + "/" + found.role() + "/" + HASHER.matches(key, found.secretHash()) + "/" + found.attributes())
                .orElse("-")));
        Map<String, String> records = new LinkedHashMap<>();
        for (AccountId account : List.of(ACME, BETA)) {
            records.put(account.value(), store.findAccount(account).map(found -> "present").orElse("-"));
            for (UserId user : List.of(ALICE, BOB, CAROL, DAVE, EVE)) {
                records.put(account + "/" + user, store.findUser(account, user)
                        .map(found -> found.role() + "/" + found.primaryKeyId().map(KeyId::value).orElse("no primary key") + "/" + keyIds(store, found))
                        .orElse("-"));
            }
        }
        return new Snapshot(lookups, records);
    }

    private List<KeyId> keyIds(IdentityStore store, User user)
    {
        return store.listKeys(user.accountId(), user.id(), clock.instant()).stream().map(KeySummary::keyId).toList();
    }

    private record Snapshot(Map<String, String> lookups, Map<String, String> records) {}
}

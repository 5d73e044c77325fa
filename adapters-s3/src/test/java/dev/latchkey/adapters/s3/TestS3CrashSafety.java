package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.S3IdentityStore.WriteStep;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy;
import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyName;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.UserChange;
import dev.latchkey.core.store.UserQuery;
import dev.latchkey.core.testing.TestingClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

import static dev.latchkey.adapters.s3.TestingS3Stores.awaitFinished;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * G6 on the S3 store: a writer killed at each step of a write (here: its handle stops there) leaves a store in which
 * the write either happened (it committed) or did not, never half; lookups through another handle honour a committed
 * write at once, and the next write to the account finishes it.
 */
class TestS3CrashSafety
{
    private static final AccountId ACME = AccountId.of("acme");
    private static final UserId ALICE = UserId.of("alice");
    private static final UserId BOB = UserId.of("bob");

    private final TestingS3Stores stores = new TestingS3Stores();
    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final SecretHasher hasher = SecretHasher.sha256();
    private final TestingClock clock = new TestingClock();
    private S3StoreConfig config;
    private S3IdentityStore survivor;
    /** How many writes a handle of {@link #killedAt} has stopped. */
    private final AtomicInteger kills = new AtomicInteger();

    @BeforeEach
    void setUp()
    {
        config = TestingS3Stores.config(TestingS3.shared().endpoint(), TestingS3.uniquePrefix("crash"));
        survivor = stores.open(config, clock);
    }

    @AfterEach
    void closeStores()
    {
        stores.closeAll();
    }

    @ParameterizedTest
    @EnumSource(WriteStep.class)
    void addUserKilledAtEachStepIsAllOrNothing(WriteStep step)
    {
        NewUser alice = createAccountWithAdmin();
        NewUser bob = newUser(BOB, Role.USER);

        assertThatThrownBy(() -> killedAt(step).addUser(bob)).isInstanceOf(Killed.class);

        boolean committed = step != WriteStep.STAGED;
        assertThat(survivor.findKey(bob.keyId()).isPresent()).isEqualTo(committed);
        assertThat(survivor.findUser(ACME, BOB).isPresent()).isEqualTo(committed);
        assertThat(survivor.listUsers(ACME, UserQuery.all()).users()).extracting(User::id)
                .containsExactlyElementsOf(committed ? List.of(ALICE, BOB) : List.of(ALICE));
        assertThat(survivor.listAccounts().get(0).userCount()).isEqualTo(committed ? 2 : 1);
        assertThat(feedTypes()).containsExactlyElementsOf(committed ? List.of(ChangeType.ACCOUNT_CREATED, ChangeType.USER_ADDED) : List.of(ChangeType.ACCOUNT_CREATED));
        assertThat(survivor.findKey(alice.keyId())).isPresent();

        // the next write to the account finishes the killed one, or does it again when it never committed
        if (committed) {
            assertThatThrownBy(() -> survivor.addUser(bob)).hasMessageContaining("already exists");
        }
        else {
            survivor.addUser(bob);
        }
        survivor.addUser(newUser(UserId.of("carol"), Role.USER));
        assertThat(survivor.findKey(bob.keyId())).isPresent();
        assertThat(survivor.listAccounts().get(0).userCount()).isEqualTo(3);
    }

    @ParameterizedTest
    @EnumSource(WriteStep.class)
    void addKeyKilledAtEachStepIsAllOrNothing(WriteStep step)
    {
        NewUser alice = createAccountWithAdmin();
        NewKey ci = newKey(ALICE, KeyAttributes.extra(Optional.of(KeyName.of("ci")), Scopes.of("docs:read"), Optional.of(clock.instant().plusSeconds(3600))));

        assertThatThrownBy(() -> killedAt(step).addKey(ci)).isInstanceOf(Killed.class);

        boolean committed = step != WriteStep.STAGED;
        assertThat(survivor.findKey(ci.keyId())).isEqualTo(committed ? Optional.of(ci.keyRecord(Role.ADMIN)) : Optional.empty());
        assertThat(survivor.listKeys(ACME, ALICE, clock.instant())).extracting(KeySummary::keyId)
                .containsExactlyInAnyOrderElementsOf(committed ? List.of(alice.keyId(), ci.keyId()) : List.of(alice.keyId()));

        // the next write to the account finishes the killed one, or does it again when it never committed
        if (committed) {
            assertThatThrownBy(() -> survivor.addKey(ci)).hasMessageContaining("already in use");
        }
        else {
            survivor.addKey(ci);
        }
        survivor.addUser(newUser(BOB, Role.ADMIN));
        UserChange demoted = survivor.setRole(ACME, ALICE, Role.USER);
        assertThat(demoted.keyIds()).containsExactlyInAnyOrder(alice.keyId(), ci.keyId());
        assertThat(survivor.findKey(ci.keyId())).contains(ci.keyRecord(Role.USER));
        assertThat(stores.openAnother(survivor, clock).findKey(alice.keyId())).hasValueSatisfying(key -> assertThat(key.role()).isEqualTo(Role.USER));
    }

    @ParameterizedTest
    @EnumSource(WriteStep.class)
    void deleteKeyKilledAtEachStepIsAllOrNothing(WriteStep step)
    {
        NewUser alice = createAccountWithAdmin();
        NewKey extra = newKey(ALICE, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty()));
        survivor.addKey(extra);

        assertThatThrownBy(() -> killedAt(step).deleteKey(ACME, ALICE, alice.keyId(), clock.instant())).isInstanceOf(Killed.class);

        boolean committed = step != WriteStep.STAGED;
        assertThat(survivor.findKey(alice.keyId()).isPresent()).isEqualTo(!committed);
        assertThat(survivor.findKey(extra.keyId())).contains(extra.keyRecord(Role.ADMIN));
        assertThat(survivor.findUser(ACME, ALICE).flatMap(User::primaryKeyId)).isEqualTo(committed ? Optional.empty() : Optional.of(alice.keyId()));

        // finished by the next write to the account
        ApiKey fresh = keys.random();
        survivor.replaceKey(ACME, ALICE, fresh.keyId(), hasher.hash(fresh), clock.instant());
        assertThat(survivor.listKeys(ACME, ALICE, clock.instant())).extracting(KeySummary::keyId)
                .containsExactlyInAnyOrder(extra.keyId(), fresh.keyId());
        assertThat(survivor.findKey(alice.keyId())).isEmpty();
    }

    @ParameterizedTest
    @EnumSource(WriteStep.class)
    void replaceKeyWithAGracePeriodKilledAtEachStepKeepsTheOldKeyRetiredOrAsItWas(WriteStep step)
    {
        NewUser alice = createAccountWithAdmin();
        ApiKey fresh = keys.random();
        Instant until = clock.instant().plusSeconds(600);

        assertThatThrownBy(() -> killedAt(step).replaceKey(ACME, ALICE, fresh.keyId(), hasher.hash(fresh), clock.instant(), Optional.of(until)))
                .isInstanceOf(Killed.class);

        boolean committed = step != WriteStep.STAGED;
        assertThat(survivor.findKey(alice.keyId())).hasValueSatisfying(key -> assertThat(key.attributes())
                .isEqualTo(committed ? KeyAttributes.primaryKey().retiredUntil(until) : KeyAttributes.primaryKey()));
        assertThat(survivor.findKey(fresh.keyId()).isPresent()).isEqualTo(committed);

        // finished by the next write to the account: the retired key keeps its attributes and takes the new role
        survivor.addUser(newUser(BOB, Role.ADMIN));
        survivor.setRole(ACME, ALICE, Role.USER);
        assertThat(survivor.findKey(alice.keyId())).hasValueSatisfying(key -> {
            assertThat(key.role()).isEqualTo(Role.USER);
            assertThat(key.attributes().primary()).isEqualTo(!committed);
        });
    }

    @ParameterizedTest
    @EnumSource(WriteStep.class)
    void replaceKeyKilledAtEachStepNeverLeavesBothKeysOrNeither(WriteStep step)
    {
        createAccountWithAdmin();
        NewUser bob = newUser(BOB, Role.USER);
        survivor.addUser(bob);
        ApiKey newKey = keys.random();

        assertThatThrownBy(() -> killedAt(step).replaceKey(ACME, BOB, newKey.keyId(), hasher.hash(newKey), clock.instant())).isInstanceOf(Killed.class);

        boolean committed = step != WriteStep.STAGED;
        assertThat(survivor.findKey(bob.keyId()).isPresent()).isEqualTo(!committed);
        assertThat(survivor.findKey(newKey.keyId()).isPresent()).isEqualTo(committed);
        assertThat(survivor.findUser(ACME, BOB).flatMap(User::primaryKeyId)).contains(committed ? newKey.keyId() : bob.keyId());

        // finished by the next write to the account: still exactly one key
        survivor.setRole(ACME, BOB, Role.ADMIN);
        KeyId live = committed ? newKey.keyId() : bob.keyId();
        KeyId dead = committed ? bob.keyId() : newKey.keyId();
        assertThat(survivor.findKey(live)).hasValueSatisfying(key -> assertThat(key.role()).isEqualTo(Role.ADMIN));
        assertThat(survivor.findKey(dead)).isEmpty();
    }

    @ParameterizedTest
    @EnumSource(WriteStep.class)
    void removeUserKilledAtEachStep(WriteStep step)
    {
        createAccountWithAdmin();
        NewUser bob = newUser(BOB, Role.USER);
        survivor.addUser(bob);

        assertThatThrownBy(() -> killedAt(step).removeUser(ACME, BOB)).isInstanceOf(Killed.class);

        boolean committed = step != WriteStep.STAGED;
        assertThat(survivor.findKey(bob.keyId()).isPresent()).isEqualTo(!committed);
        assertThat(survivor.findUser(ACME, BOB).isPresent()).isEqualTo(!committed);
        assertThat(survivor.listAccounts().get(0).userCount()).isEqualTo(committed ? 1 : 2);
    }

    @ParameterizedTest
    @EnumSource(WriteStep.class)
    void deletedAccountKilledAtEachStepLeavesNoKeyWorkingOnceCommitted(WriteStep step)
            throws InterruptedException
    {
        NewUser alice = createAccountWithAdmin();
        NewUser bob = newUser(BOB, Role.USER);
        survivor.addUser(bob);

        S3IdentityStore killed = killedAt(step);
        if (step == WriteStep.OBJECTS_WRITTEN) {
            // a committed deletion answers first, and its cleanup runs after: the kill stops the cleanup
            killed.deleteAccount(ACME);
            killed.awaitFinished(Duration.ofSeconds(30));
            assertThat(kills.get()).isEqualTo(1);
        }
        else {
            assertThatThrownBy(() -> killed.deleteAccount(ACME)).isInstanceOf(Killed.class);
        }

        boolean committed = step != WriteStep.STAGED;
        assertThat(survivor.findKey(alice.keyId()).isPresent()).isEqualTo(!committed);
        assertThat(survivor.findKey(bob.keyId()).isPresent()).isEqualTo(!committed);
        assertThat(survivor.findAccount(ACME).isPresent()).isEqualTo(!committed);
        assertThat(survivor.listAccounts()).hasSize(committed ? 0 : 1);

        if (committed) {
            // re-creating the account finishes the deletion first: the old keys stay dead, the old users gone
            NewUser newAlice = newUser(ALICE, Role.ADMIN);
            survivor.createAccount(account(), Optional.of(newAlice));
            assertThat(survivor.findKey(alice.keyId())).isEmpty();
            assertThat(survivor.findKey(bob.keyId())).isEmpty();
            assertThat(survivor.findKey(newAlice.keyId())).isPresent();
            assertThat(survivor.listUsers(ACME, UserQuery.all()).users()).extracting(User::id).containsExactly(ALICE);
        }
    }

    @Test
    void createAccountKilledAfterCommitIsVisibleEverywhere()
    {
        NewUser alice = newUser(ALICE, Role.ADMIN);

        assertThatThrownBy(() -> killedAt(WriteStep.COMMITTED).createAccount(account(), Optional.of(alice))).isInstanceOf(Killed.class);

        assertThat(survivor.findAccount(ACME)).isPresent();
        assertThat(survivor.findKey(alice.keyId())).isPresent();
        // no account object is written before the commit: the head alone lists the account
        assertThat(survivor.listAccounts()).extracting(AccountSummary::id).containsExactly(ACME);
        assertThatThrownBy(() -> survivor.createAccount(account(), Optional.of(newUser(ALICE, Role.ADMIN)))).hasMessageContaining("already exists");
    }

    @Test
    void aWriteKilledAfterItsCommitIsFinishedByAnotherHandleOnceItsEntryHasBeenListedForLong()
            throws Exception
    {
        createAccountWithAdmin();
        NewUser bob = newUser(BOB, Role.USER);
        assertThatThrownBy(() -> killedAt(WriteStep.COMMITTED).addUser(bob)).isInstanceOf(Killed.class);
        long bobsEntry = survivor.readHead().position();
        assertThat(survivor.readHead().unappliedOf(ACME.value())).contains(bobsEntry);

        // writes to another account only (none reads acme), until bob's entry has been listed for long
        AccountId other = AccountId.of("other");
        survivor.createAccount(new Account(other, clock.instant(), false), Optional.empty());
        ExecutorService writers = Executors.newFixedThreadPool(16);
        try {
            for (int round = 0; BatchCommit.lingeringThrough(survivor.readHead()) < bobsEntry; round++) {
                assertThat(round).as("rounds of writes before bob's entry lingers").isLessThan(BatchCommit.LINGERING_LAG / 16 + 4);
                List<Future<?>> writes = new ArrayList<>();
                for (int i = 0; i < 16; i++) {
                    ApiKey key = keys.random();
                    NewUser user = new NewUser(new User(other, UserId.of("u" + round + "-" + i), Role.USER, key.keyId(), clock.instant()), hasher.hash(key));
                    writes.add(writers.submit(() -> survivor.addUser(user)));
                }
                for (Future<?> write : writes) {
                    write.get(30, TimeUnit.SECONDS);
                }
            }
        }
        finally {
            writers.shutdownNow();
        }
        assertThat(survivor.readHead().unappliedOf(ACME.value())).as("nobody applied bob's entry yet").contains(bobsEntry);

        // the next commit finds acme listed that long and finishes it; the one after stops listing it
        survivor.addUser(new NewUser(new User(other, UserId.of("after-1"), Role.USER, keys.random().keyId(), clock.instant()), hasher.hash(keys.random())));
        awaitFinished(survivor);
        survivor.addUser(new NewUser(new User(other, UserId.of("after-2"), Role.USER, keys.random().keyId(), clock.instant()), hasher.hash(keys.random())));
        assertThat(survivor.readHead().unappliedOf(ACME.value())).isEmpty();
        assertThat(survivor.findUser(ACME, BOB)).isPresent();
        assertThat(survivor.findKey(bob.keyId())).isPresent();
        assertThat(survivor.listAccounts()).filteredOn(summary -> summary.id().equals(ACME)).singleElement()
                .satisfies(summary -> assertThat(summary.userCount()).isEqualTo(2));
    }

    @Test
    void stagedKeyOfAWriteThatNeverCommittedDoesNotBlockItsId()
    {
        createAccountWithAdmin();
        NewUser bob = newUser(BOB, Role.USER);

        assertThatThrownBy(() -> killedAt(WriteStep.STAGED).addUser(bob)).isInstanceOf(Killed.class);

        // the same key id (a seeded key, say) can be issued by the next write
        survivor.addUser(new NewUser(new User(ACME, UserId.of("carol"), Role.USER, bob.keyId(), clock.instant()), bob.secretHash()));
        assertThat(survivor.findKey(bob.keyId())).hasValueSatisfying(key -> assertThat(key.userId()).isEqualTo(UserId.of("carol")));
    }

    @Test
    void lookupThatReadTheKeyBeforeAWriteAndTheHeadAfterItSeesTheWrite()
    {
        // The reader goes through the proxy; the writer straight to S3Mock, in the gap between the reader's read of
        // the key and its read of the head (which comes before its read of the account).
        SerializingS3Proxy proxy = TestingS3.shared().serializingProxy();
        S3IdentityStore reader = stores.open(TestingS3Stores.config(proxy.endpoint(), config.prefix()), clock);
        createAccountWithAdmin();
        NewUser bob = newUser(BOB, Role.USER);
        survivor.addUser(bob);
        String head = config.prefix() + "head.json";
        Predicate<SerializingS3Proxy.ProxiedRequest> headRead = request -> request.method().equals("GET") && request.key().equals(Optional.of(head));

        // the promotion settled on the account, and a later commit no longer listing it as unapplied: a reader that
        // read the account before the head would find it in neither
        SerializingS3Proxy.Fault promotion = proxy.beforeNext(headRead, () -> {
            survivor.setRole(ACME, BOB, Role.ADMIN);
            awaitFinished(survivor);
            survivor.addUser(newUser(UserId.of("carol"), Role.USER));
            assertThat(survivor.readHead().unappliedOf(ACME.value())).as("the head lists only carol's entry").hasSize(1);
        });
        assertThat(reader.findKey(bob.keyId())).hasValueSatisfying(key -> assertThat(key.role()).isEqualTo(Role.ADMIN));
        assertThat(promotion.fired()).isTrue();
        assertThat(promotion.failure()).isEmpty();

        ApiKey newKey = keys.random();
        SerializingS3Proxy.Fault replacement = proxy.beforeNext(headRead,
                () -> survivor.replaceKey(ACME, BOB, newKey.keyId(), hasher.hash(newKey), clock.instant()));
        assertThat(reader.findKey(bob.keyId())).as("the replaced key").isEmpty();
        assertThat(replacement.fired()).isTrue();
        assertThat(replacement.failure()).isEmpty();

        SerializingS3Proxy.Fault removal = proxy.beforeNext(headRead, () -> survivor.removeUser(ACME, BOB));
        assertThat(reader.findKey(newKey.keyId())).as("the removed user's key").isEmpty();
        assertThat(removal.fired()).isTrue();
        assertThat(removal.failure()).isEmpty();
    }

    private S3IdentityStore killedAt(WriteStep killStep)
    {
        return stores.open(config, clock, step -> {
            if (step == killStep) {
                kills.incrementAndGet();
                throw new Killed();
            }
        });
    }

    private List<ChangeType> feedTypes()
    {
        FeedBatch batch = survivor.changesAfter(FeedPosition.START, 100);
        assertThat(batch).isInstanceOf(FeedBatch.Changes.class);
        return ((FeedBatch.Changes) batch).changes().stream().map(change -> change.type()).toList();
    }

    private NewUser createAccountWithAdmin()
    {
        NewUser alice = newUser(ALICE, Role.ADMIN);
        survivor.createAccount(account(), Optional.of(alice));
        return alice;
    }

    private Account account()
    {
        return new Account(ACME, clock.instant(), true);
    }


    private NewUser newUser(UserId userId, Role role)
    {
        ApiKey key = keys.random();
        return new NewUser(new User(ACME, userId, role, key.keyId(), clock.instant()), hasher.hash(key));
    }

    private NewKey newKey(UserId userId, KeyAttributes attributes)
    {
        ApiKey key = keys.random();
        return new NewKey(ACME, userId, key.keyId(), hasher.hash(key), clock.instant(), attributes);
    }

    private static final class Killed
            extends RuntimeException
    {
        Killed()
        {
            super("killed", null, false, false);
        }
    }
}

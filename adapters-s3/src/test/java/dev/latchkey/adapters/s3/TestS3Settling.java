package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.ProxiedRequest;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.RequestCounter;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.store.NewUser;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.s3.S3Client;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static dev.latchkey.adapters.s3.TestingS3Stores.awaitFinished;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Settling an account object (counting the entries applied to it) once for many writes, by whichever instance gets
 * to it: another writer's entry is counted as it is once the head says its users and keys are written, waited for
 * until then, and written by the settler only when its writer has stayed silent too long. And a batch starts from the
 * account object it knows, folding in the entries since from the feed, without reading the object again.
 */
class TestS3Settling
        extends ProxiedS3StoreTest
{
    private static final AccountId ACME = AccountId.of("acme");

    TestS3Settling()
    {
        super("settling");
    }

    @Test
    void anotherWritersEntryIsCountedWithoutTouchingItsObjectsOnceItsWriterSaysTheyAreWritten()
    {
        S3IdentityStore first = stores.open(config, clock);
        S3IdentityStore second = stores.open(config, clock);
        first.createAccount(new Account(ACME, clock.instant(), false), Optional.of(newUser(ACME, "alice", Role.ADMIN)));
        awaitFinished(first);

        NewUser bob = newUser(ACME, "bob", Role.USER);
        second.addUser(bob);
        long bobsEntry = first.readHead().position();
        // the second writer's next commit (to another account) says that bob's user and key are written
        AccountId beta = AccountId.of("beta");
        second.createAccount(new Account(beta, clock.instant(), false), Optional.empty());
        assertThat(first.readHead().knownWritten(ACME.value(), bobsEntry)).isTrue();
        // stopped before settling acme itself
        second.close();

        first.addUser(newUser(ACME, "carol", Role.USER));
        long carolsEntry = first.readHead().position();
        try (RequestCounter bobsObjects = proxy.countRequests(objectsOf(bob))) {
            awaitFinished(first);

            assertThat(bobsObjects.total()).as("requests for bob's user and key").isZero();
        }
        assertThat(accountObject().applied()).isEqualTo(carolsEntry);
        assertThat(accountObject().userCount()).isEqualTo(3);
        first.addUser(newUser(beta, "dave", Role.USER));
        assertThat(first.readHead().unappliedOf(ACME.value())).as("counted: no longer listed").isEmpty();
    }

    @Test
    void anotherWritersEntryNotSaidWrittenHoldsTheSettleUpUntilItsWriterIsTakenAsStopped()
    {
        S3IdentityStore first = stores.open(config, clock);
        S3IdentityStore second = stores.open(config, clock);
        first.createAccount(new Account(ACME, clock.instant(), false), Optional.of(newUser(ACME, "alice", Role.ADMIN)));
        awaitFinished(first);
        long created = first.readHead().position();

        NewUser bob = newUser(ACME, "bob", Role.USER);
        second.addUser(bob);
        long bobsEntry = first.readHead().position();
        // stopped before any later commit of it says that bob's objects are written
        second.close();
        assertThat(first.readHead().knownWritten(ACME.value(), bobsEntry)).isFalse();

        first.addUser(newUser(ACME, "carol", Role.USER));
        long carolsEntry = first.readHead().position();
        try (RequestCounter bobsObjects = proxy.countRequests(objectsOf(bob))) {
            awaitFinished(first);

            assertThat(bobsObjects.total()).as("requests for bob's user and key").isZero();
        }
        assertThat(accountObject().applied()).as("nothing counted past bob's entry, carol's neither").isEqualTo(created);
        assertThat(first.findUser(ACME, UserId.of("bob"))).as("readers fold the entries in all the same").isPresent();
        assertThat(first.findKey(bob.keyId())).isPresent();

        // each settle taken again waits once more, and the last one writes bob's objects and counts everything
        try (RequestCounter bobsObjects = proxy.countRequests(objectsOf(bob))) {
            for (int settle = 0; settle < 8 && accountObject().applied() < carolsEntry; settle++) {
                awaitFinished(first);
            }

            assertThat(bobsObjects.total()).as("bob's objects checked by the settler").isPositive();
        }
        assertThat(accountObject().applied()).isEqualTo(carolsEntry);
        assertThat(accountObject().userCount()).isEqualTo(3);
    }

    @Test
    void aBatchStartsFromTheAccountObjectItKnowsAndFoldsInTheEntriesSinceFromTheFeed()
            throws Exception
    {
        S3IdentityStore store = stores.open(config, clock);
        store.createAccount(new Account(ACME, clock.instant(), false), Optional.of(newUser(ACME, "alice", Role.ADMIN)));
        store.addUser(newUser(ACME, "bob", Role.USER));
        awaitFinished(store);

        // writes to another account until acme's entries are in feed pages, far behind the head
        AccountId other = AccountId.of("other");
        store.createAccount(new Account(other, clock.instant(), false), Optional.empty());
        ExecutorService writers = Executors.newFixedThreadPool(16);
        try {
            List<Future<?>> writes = new ArrayList<>();
            for (int i = 0; i < 3 * ObjectLayout.PAGE_SIZE; i++) {
                NewUser user = newUser(other, "u" + i, Role.USER);
                writes.add(writers.submit(() -> store.addUser(user)));
            }
            for (Future<?> write : writes) {
                write.get(30, TimeUnit.SECONDS);
            }
        }
        finally {
            writers.shutdownNow();
        }
        assertThat(store.readHead().spilledThrough()).isGreaterThan(accountObject().applied());

        try (RequestCounter accountReads = proxy.countRequests(request -> request.method().equals("GET") && isAccountObject(request))) {
            store.addUser(newUser(ACME, "carol", Role.USER));

            assertThat(accountReads.total()).as("reads of acme's account object").isZero();
        }
        assertThat(store.listUsers(ACME, dev.latchkey.core.store.UserQuery.all()).users()).hasSize(3);
    }

    private Predicate<ProxiedRequest> objectsOf(NewUser user)
    {
        String userObject = "/users/" + user.user().id().value() + ".json";
        String keyObject = "keys/" + user.keyId().value() + ".json";
        return request -> request.isUnder(config.prefix()) && request.key().map(key -> key.endsWith(userObject) || key.endsWith(keyObject)).orElse(false);
    }

    private boolean isAccountObject(ProxiedRequest request)
    {
        return request.key().map(key -> key.equals(config.prefix() + ObjectLayout.account(ACME.value()))).orElse(false);
    }

    private Documents.Account accountObject()
    {
        try (S3Client client = proxy.newClient()) {
            byte[] bytes = client.getObjectAsBytes(request -> request.bucket(config.bucket()).key(config.prefix() + ObjectLayout.account(ACME.value()))).asByteArray();
            return Documents.read(bytes, Documents.Account.class);
        }
    }

}

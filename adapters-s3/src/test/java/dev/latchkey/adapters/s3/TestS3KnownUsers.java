package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.LiveViews.AccountView;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.Fault;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.Operation;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.ProxiedRequest;
import dev.latchkey.adapters.s3.testing.SerializingS3Proxy.RequestCounter;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.UserQuery;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.s3.S3Client;

import java.util.Optional;
import java.util.function.Predicate;

import static dev.latchkey.adapters.s3.TestingS3Stores.awaitFinished;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A new user's id is checked free without reading its object once the account is listed ({@link KnownUsers}), and
 * a user that another instance added since is still found: through the feed, or by listing again.
 */
class TestS3KnownUsers
        extends ProxiedS3StoreTest
{
    private static final AccountId ACME = AccountId.of("acme");

    TestS3KnownUsers()
    {
        super("known-users");
    }

    @Test
    void aNewUsersIdIsCheckedFreeWithoutReadingItsObjectFromTheAccountsSecondCheckOn()
    {
        S3IdentityStore store = stores.open(config, clock);
        store.createAccount(new Account(ACME, clock.instant(), false), Optional.of(newUser("alice", Role.ADMIN)));
        try (RequestCounter bobsReads = proxy.countRequests(userObjectGet("bob"))) {
            store.addUser(newUser("bob", Role.USER));

            assertThat(bobsReads.total()).as("the account's first check reads the user").isEqualTo(1);
        }
        try (RequestCounter listings = proxy.countRequests(usersListing()); RequestCounter carolsReads = proxy.countRequests(userObjectGet("carol"))) {
            store.addUser(newUser("carol", Role.USER));

            assertThat(listings.total()).as("the second lists the account").isEqualTo(1);
            assertThat(carolsReads.total()).isZero();
        }
        try (RequestCounter listings = proxy.countRequests(usersListing()); RequestCounter userReads = proxy.countRequests(userObjectGet("dave").or(userObjectGet("erin")))) {
            store.addUser(newUser("dave", Role.USER));
            store.addUser(newUser("erin", Role.USER));

            assertThat(listings.total()).as("kept up from the feed").isZero();
            assertThat(userReads.total()).isZero();
        }
        assertThatThrownBy(() -> store.addUser(newUser("carol", Role.USER)))
                .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.ALREADY_EXISTS));
        assertThat(store.listUsers(ACME, UserQuery.all()).users()).extracting(user -> user.id().value())
                .containsExactly("alice", "bob", "carol", "dave", "erin");

        // a removed user's id is on the list: read, found removed, and free again
        store.removeUser(ACME, UserId.of("bob"));
        store.addUser(newUser("bob", Role.ADMIN));
        assertThat(store.findUser(ACME, UserId.of("bob")).map(User::role)).contains(Role.ADMIN);
        // a re-created account has users of its own: the listing of the one before does not count
        store.deleteAccount(ACME);
        store.createAccount(new Account(ACME, clock.instant(), false), Optional.of(newUser("alice", Role.ADMIN)));
        store.addUser(newUser("carol", Role.USER));
        store.addUser(newUser("frank", Role.USER));
        assertThatThrownBy(() -> store.addUser(newUser("frank", Role.USER)))
                .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.ALREADY_EXISTS));
        assertThat(store.listUsers(ACME, UserQuery.all()).users()).extracting(user -> user.id().value())
                .containsExactly("alice", "carol", "frank");
    }

    @Test
    void aUserAnotherInstanceAddedAfterTheListingIsFoundThroughTheFeedWhenTheAccountObjectCountsItAlready()
    {
        S3IdentityStore store = stores.open(config, clock);
        store.createAccount(new Account(ACME, clock.instant(), false), Optional.of(newUser("alice", Role.ADMIN)));
        awaitFinished(store);

        try (StoreParts parts = new StoreParts()) {
            KnownUsers known = new KnownUsers(parts.objects, parts.feed);
            Documents.Head before = parts.head();
            AccountView acme = parts.acme(known, before);
            known.absent(acme, UserId.of("carol"), before);
            assertThat(known.absent(acme, UserId.of("bob"), before)).as("listed").isTrue();

            // another instance adds bob, and its settle counts him on the account object
            store.addUser(newUser("bob", Role.USER));
            awaitFinished(store);
            Documents.Head after = parts.head();
            AccountView now = parts.acme(known, after);
            assertThat(now.latestAbout(UserId.of("bob"))).as("no entry about bob left to fold in").isEmpty();

            try (RequestCounter listings = proxy.countRequests(usersListing())) {
                assertThat(known.absent(now, UserId.of("bob"), after)).as("bob, from the feed").isFalse();
                assertThat(known.absent(now, UserId.of("carol"), after)).isTrue();

                assertThat(listings.total()).isZero();
            }
        }
    }

    @Test
    void anAccountIsListedAtItsSecondCheckAndNotKeptWhenItHasMoreUsersThanOneListingHolds()
    {
        S3IdentityStore store = stores.open(config, clock);
        store.createAccount(new Account(ACME, clock.instant(), false), Optional.of(newUser("alice", Role.ADMIN)));
        store.addUser(newUser("bob", Role.USER));
        awaitFinished(store);

        try (StoreParts parts = new StoreParts(); RequestCounter listings = proxy.countRequests(usersListing())) {
            KnownUsers known = new KnownUsers(parts.objects, parts.feed, 2);
            KnownUsers few = new KnownUsers(parts.objects, parts.feed, 1);
            Documents.Head head = parts.head();
            AccountView acme = parts.acme(known, head);

            assertThat(known.absent(acme, UserId.of("carol"), head)).as("first check: not known").isFalse();
            assertThat(known.absent(acme, UserId.of("carol"), head)).as("the same user checked again (a batch's next attempt)").isFalse();
            assertThat(listings.total()).isZero();
            assertThat(known.absent(acme, UserId.of("dave"), head)).as("a second user: listed").isTrue();
            assertThat(known.absent(acme, UserId.of("carol"), head)).isTrue();
            assertThat(known.absent(acme, UserId.of("bob"), head)).isFalse();
            assertThat(known.absent(acme, UserId.of("alice"), head)).isFalse();
            assertThat(listings.total()).isEqualTo(1);

            assertThat(few.absent(acme, UserId.of("carol"), head)).isFalse();
            assertThat(few.absent(acme, UserId.of("dave"), head)).as("two users, one may be kept").isFalse();
            assertThat(few.absent(acme, UserId.of("erin"), head)).isFalse();
            assertThat(listings.total()).as("listed once more, then read user by user").isEqualTo(2);
        }
    }

    @Test
    void aListingThatS3CutsShortIsNotTakenForEveryUser()
    {
        S3IdentityStore store = stores.open(config, clock);
        store.createAccount(new Account(ACME, clock.instant(), false), Optional.of(newUser("alice", Role.ADMIN)));
        store.addUser(newUser("bob", Role.USER));
        store.addUser(newUser("carol", Role.USER));
        awaitFinished(store);

        try (StoreParts parts = new StoreParts(); RequestCounter listings = proxy.countRequests(usersListing())) {
            KnownUsers known = new KnownUsers(parts.objects, parts.feed);
            Documents.Head head = parts.head();
            AccountView acme = parts.acme(known, head);
            known.absent(acme, UserId.of("dave"), head);
            Fault cut = proxy.cutNextListing(usersListing(), 1);

            assertThat(known.absent(acme, UserId.of("erin"), head)).as("a page of one user of three: not known").isFalse();
            assertThat(cut.fired()).isTrue();
            assertThat(known.absent(acme, UserId.of("carol"), head)).as("carol, past the page").isFalse();
            assertThat(known.absent(acme, UserId.of("frank"), head)).isFalse();
            assertThat(listings.total()).as("not listed again: read user by user").isEqualTo(1);
        }
    }

    @Test
    void aListingHoldsTheUsersOfCommittedEntriesWhoseObjectsAreNotWrittenYet()
    {
        S3IdentityStore store = stores.open(config, clock);
        store.createAccount(new Account(ACME, clock.instant(), false), Optional.of(newUser("alice", Role.ADMIN)));
        awaitFinished(store);
        // committed, and its writer stopped before writing bob's object
        S3IdentityStore stopped = stores.open(config, clock, step -> {
            if (step == S3IdentityStore.WriteStep.COMMITTED) {
                throw new IllegalStateException("stopped");
            }
        });
        assertThatThrownBy(() -> stopped.addUser(newUser("bob", Role.USER))).hasMessage("stopped");

        try (StoreParts parts = new StoreParts()) {
            KnownUsers known = new KnownUsers(parts.objects, parts.feed);
            Documents.Head head = parts.head();
            AccountView acme = parts.acme(known, head);
            assertThat(parts.objects.get(ObjectLayout.user(ACME.value(), acme.incarnation(), "bob"))).as("bob's object").isEmpty();
            known.absent(acme, UserId.of("carol"), head);
            assertThat(known.absent(acme, UserId.of("dave"), head)).as("listed").isTrue();

            // the live handle finishes bob's entry (after its settle turns) and counts it; a later commit stops listing it
            store.addUser(newUser("carol", Role.USER));
            for (int settle = 0; settle < 8 && parts.accountObject().applied() < head.position(); settle++) {
                awaitFinished(store);
            }
            store.addUser(newUser("dave", Role.USER));
            awaitFinished(store);
            Documents.Head later = parts.head();
            AccountView now = parts.acme(known, later);
            assertThat(now.latestAbout(UserId.of("bob"))).as("no entry about bob left to fold in").isEmpty();

            try (RequestCounter listings = proxy.countRequests(usersListing())) {
                assertThat(known.absent(now, UserId.of("bob"), later)).as("bob, pending when listed").isFalse();
                assertThat(known.absent(now, UserId.of("erin"), later)).isTrue();

                assertThat(listings.total()).isZero();
            }
        }
    }

    /**
     * The store's own parts on the test's prefix, beside its handles: to drive {@link KnownUsers} directly.
     */
    private final class StoreParts
            implements AutoCloseable
    {
        private final S3Client client = S3ClientFactory.create(config, TestingS3Stores.credentials());
        private final ParallelReads parallel = new ParallelReads(2, "test-known-users");
        final S3Objects objects = new S3Objects(client, config.bucket(), config.prefix());
        final Feed feed = new Feed(objects, config.feedRetention());

        Documents.Head head()
        {
            return feed.readHead().head();
        }

        AccountView acme(KnownUsers known, Documents.Head head)
        {
            return new LiveViews(objects, feed, parallel, known).account(ACME, head).orElseThrow();
        }

        Documents.Account accountObject()
        {
            return Documents.read(objects.get(ObjectLayout.account(ACME.value())).orElseThrow().bytes(), Documents.Account.class);
        }

        @Override
        public void close()
        {
            parallel.close();
            client.close();
        }
    }

    private Predicate<ProxiedRequest> userObjectGet(String userId)
    {
        return request -> request.method().equals("GET") && request.isUnder(config.prefix())
                && request.key().map(key -> key.endsWith("/users/" + userId + ".json")).orElse(false);
    }

    private Predicate<ProxiedRequest> usersListing()
    {
        return request -> request.operation() == Operation.LIST_OBJECTS && request.bucket().equals(config.bucket())
                && request.parameters().getOrDefault("prefix", "").startsWith(config.prefix() + ObjectLayout.ACCOUNTS + ACME.value() + "/");
    }

    private NewUser newUser(String userId, Role role)
    {
        return newUser(ACME, userId, role);
    }
}

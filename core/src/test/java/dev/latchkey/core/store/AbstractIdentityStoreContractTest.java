package dev.latchkey.core.store;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyName;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHash;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.testing.TestingClock;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import java.util.stream.LongStream;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The contract of {@link IdentityStore} (see its Javadoc), for every implementation. Subclass it with a factory
 * for a fresh, empty store: the in-memory reference store and every adapter against the real thing. An adapter
 * passes the whole contract or it is not done.
 *
 * <p>Writes go through the store's own methods only. Two handles on one store stand for two instances (processes)
 * sharing it: {@link #openAnotherHandle} opens the second one, and the concurrency tests split their threads across
 * both. Time comes from a {@link TestingClock}; nothing sleeps, and every wait has a timeout.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class AbstractIdentityStoreContractTest
{
    private static final long TIMEOUT_SECONDS = 60;
    private static final AccountId ACME = AccountId.of("acme");
    private static final AccountId ACME_UPPER = AccountId.of("Acme");
    private static final AccountId ABSENT = AccountId.of("absent");
    private static final AccountId DEFAULT = AccountId.of("default");
    private static final UserId ALICE = UserId.of("alice");
    private static final UserId BOB = UserId.of("bob");
    private static final UserId BOB_UPPER = UserId.of("Bob");
    private static final UserId CAROL = UserId.of("carol");
    private static final String SEED = "correct-horse-battery-staple";

    private final ApiKeyGenerator keyGenerator = new ApiKeyGenerator(new SecureRandom());
    private final SecretHasher hasher = SecretHasher.sha256();

    private TestingClock clock;
    private IdentityStore store;
    private Optional<IdentityStore> otherHandle;

    /**
     * A fresh, empty store (no account, feed at {@link FeedPosition#START}) that takes its time from the clock.
     * Called once before each test.
     */
    protected abstract IdentityStore createStore(Clock clock);

    /**
     * Another independent handle on the same underlying store, as a second instance would open it. The default
     * returns the same object, for stores that live in one process.
     */
    protected IdentityStore openAnotherHandle(IdentityStore store)
    {
        return store;
    }

    /**
     * Makes the store forget the feed entries up to and including {@code position}, as its compaction would.
     */
    protected abstract void compactFeedThrough(IdentityStore store, FeedPosition position);

    /**
     * How many threads the concurrency tests run at once (at least 2).
     */
    protected int concurrencyThreads()
    {
        return 8;
    }

    /**
     * How many times each concurrency test repeats its race, or how many writes each thread makes: slow stores may
     * scale it down.
     */
    protected int concurrencyRounds()
    {
        return 10;
    }

    @BeforeEach
    public final void setUpStore()
    {
        clock = new TestingClock();
        store = createStore(clock);
        otherHandle = Optional.empty();
    }

    // findKey

    @Test
    public void findKeyIsEmptyForUnknownKeyId()
    {
        assertThat(store.findKey(randomKey().keyId())).isEmpty();

        createAccountWithAdmin(ACME, ALICE);
        addUser(ACME, BOB, Role.USER);
        assertThat(store.findKey(randomKey().keyId())).isEmpty();
    }

    @Test
    public void findKeyResolvesFirstAdminOfNewAccount()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);

        KeyRecord key = store.findKey(alice.keyId()).orElseThrow();
        assertThat(key).isEqualTo(alice.keyRecord());
        assertThat(key.accountId()).isEqualTo(ACME);
        assertThat(key.userId()).isEqualTo(ALICE);
        assertThat(key.role()).isEqualTo(Role.ADMIN);
    }

    @Test
    public void findKeyResolvesAddedUser()
    {
        createAccountWithAdmin(ACME, ALICE);
        clock.advance(Duration.ofMinutes(1));
        NewUser bob = addUser(ACME, BOB, Role.USER);
        NewUser carol = addUser(ACME, CAROL, Role.ADMIN);

        assertThat(store.findKey(bob.keyId())).contains(bob.keyRecord());
        assertThat(store.findKey(carol.keyId())).contains(carol.keyRecord());
    }

    @Test
    public void findKeyCarriesTheHashOfTheSecret()
    {
        createAccountWithAdmin(ACME, ALICE);
        ApiKey key = randomKey();
        store.addUser(newUser(ACME, BOB, Role.USER, key));

        SecretHash stored = store.findKey(key.keyId()).orElseThrow().secretHash();
        assertThat(hasher.matches(key, stored)).isTrue();
        assertThat(hasher.matches(randomKey(), stored)).isFalse();
    }

    @Test
    public void findKeyFollowsReplaceKey()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        clock.advance(Duration.ofMinutes(1));
        ApiKey newKey = randomKey();
        Instant issuedAt = clock.instant().plusSeconds(42);

        store.replaceKey(ACME, BOB, newKey.keyId(), hash(newKey), issuedAt);

        assertThat(store.findKey(bob.keyId())).isEmpty();
        assertThat(store.findKey(newKey.keyId()))
                .contains(new KeyRecord(newKey.keyId(), hash(newKey), ACME, BOB, Role.USER, issuedAt));
        assertThat(store.findUser(ACME, BOB)).contains(bob.user().withKey(newKey.keyId()));
    }

    @Test
    public void replaceKeyWithTheCurrentKeyIdReplacesItsHash()
    {
        createAccountWithAdmin(ACME, ALICE);
        ApiKey seeded = ApiKeyGenerator.seeded(SEED, ACME, BOB);
        NewUser bob = newUser(ACME, BOB, Role.USER, seeded);
        store.addUser(bob);
        SecretHash rehashed = SecretHasher.hmacSha256("pepper").hash(seeded.secret());
        clock.advance(Duration.ofMinutes(1));
        FeedPosition before = store.headPosition();

        User previous = store.replaceKey(ACME, BOB, seeded.keyId(), rehashed, clock.instant());

        assertThat(previous).isEqualTo(bob.user());
        assertThat(store.findKey(seeded.keyId()))
                .contains(new KeyRecord(seeded.keyId(), rehashed, ACME, BOB, Role.USER, clock.instant()));
        assertThat(store.findUser(ACME, BOB)).contains(bob.user());
        assertSingleNewChange(before, ChangeType.KEY_REPLACED, ACME, Optional.of(BOB), List.of(seeded.keyId(), seeded.keyId()));
    }

    @Test
    public void findKeyIsEmptyAfterRemoveUser()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);

        store.removeUser(ACME, BOB);

        assertThat(store.findKey(bob.keyId())).isEmpty();
        assertThat(store.findUser(ACME, BOB)).isEmpty();
    }

    @Test
    public void findKeyIsEmptyForEveryKeyOfDeletedAccount()
    {
        List<NewUser> users = new ArrayList<>();
        users.add(createAccountWithAdmin(ACME, ALICE));
        users.add(addUser(ACME, BOB, Role.USER));
        users.add(addUser(ACME, CAROL, Role.ADMIN));
        NewUser otherAccountUser = createAccountWithAdmin(ACME_UPPER, ALICE);

        store.deleteAccount(ACME);

        for (NewUser user : users) {
            assertThat(store.findKey(user.keyId())).as("key of %s", user.user().id()).isEmpty();
        }
        assertThat(store.findKey(otherAccountUser.keyId())).contains(otherAccountUser.keyRecord());
    }

    @Test
    public void findKeyFollowsSetRole()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);

        store.setRole(ACME, BOB, Role.ADMIN);
        assertThat(store.findKey(bob.keyId())).contains(withRole(bob.keyRecord(), Role.ADMIN));
        assertThat(store.findUser(ACME, BOB)).contains(bob.user().withRole(Role.ADMIN));

        store.setRole(ACME, ALICE, Role.USER);
        assertThat(store.findKey(alice.keyId())).contains(withRole(alice.keyRecord(), Role.USER));
        assertThat(store.findUser(ACME, ALICE)).contains(alice.user().withRole(Role.USER));
    }

    // accounts

    @Test
    public void findAccountIsEmptyForAbsentAccount()
    {
        assertThat(store.findAccount(ACME)).isEmpty();

        createAccountWithAdmin(ACME, ALICE);
        assertThat(store.findAccount(ABSENT)).isEmpty();
    }

    @Test
    public void findAccountReturnsCreatedAccount()
    {
        clock.advance(Duration.ofDays(3));
        Account account = new Account(ACME, clock.instant(), true);
        store.createAccount(account, Optional.of(newUser(ACME, ALICE, Role.ADMIN)));
        clock.advance(Duration.ofMinutes(1));

        assertThat(store.findAccount(ACME)).contains(account);
    }

    @Test
    public void accountCreatedEmptyNeedsNoAdmin()
    {
        Account account = new Account(DEFAULT, clock.instant(), false);
        store.createAccount(account, Optional.empty());

        assertThat(store.findAccount(DEFAULT)).contains(account);
        assertThat(store.listAccounts()).containsExactly(new AccountSummary(DEFAULT, clock.instant(), 0));
        assertThat(store.listUsers(DEFAULT, UserQuery.all())).isEqualTo(new UserPage(List.of(), Optional.empty()));
    }

    @Test
    public void listAccountsIsEmptyOnEmptyStore()
    {
        assertThat(store.listAccounts()).isEmpty();
    }

    @Test
    public void listAccountsIsSortedByOrdinalIdWithUserCounts()
    {
        Map<String, Instant> createdAt = new HashMap<>();
        for (String id : List.of("zeta", "a_b", "Zeta", "acme", "a@b", "Acme", "9lives", "a-b", "ACME", "a.b")) {
            clock.advance(Duration.ofSeconds(1));
            createdAt.put(id, clock.instant());
            createAccountWithAdmin(AccountId.of(id), ALICE);
        }
        clock.advance(Duration.ofSeconds(1));
        createdAt.put(DEFAULT.value(), clock.instant());
        createEmptyAccount(DEFAULT);
        addUser(ACME, BOB, Role.USER);
        addUser(ACME, CAROL, Role.ADMIN);
        addUser(ACME_UPPER, BOB, Role.USER);
        Map<String, Integer> userCounts = Map.of("acme", 3, "Acme", 2, "default", 0);

        List<String> expectedOrder = List.of("9lives", "ACME", "Acme", "Zeta", "a-b", "a.b", "a@b", "a_b", "acme", "default", "zeta");
        assertThat(store.listAccounts()).containsExactlyElementsOf(expectedOrder.stream()
                .map(id -> new AccountSummary(AccountId.of(id), createdAt.get(id), userCounts.getOrDefault(id, 1)))
                .toList());
    }

    @Test
    public void listAccountsCountsFollowUserChanges()
    {
        createAccountWithAdmin(ACME, ALICE);
        addUser(ACME, BOB, Role.USER);
        addUser(ACME, CAROL, Role.USER);
        assertThat(userCount(store, ACME)).isEqualTo(3);

        store.removeUser(ACME, BOB);
        assertThat(userCount(store, ACME)).isEqualTo(2);

        store.replaceKey(ACME, CAROL, randomKey().keyId(), hash(randomKey()), clock.instant());
        store.setRole(ACME, CAROL, Role.ADMIN);
        assertThat(userCount(store, ACME)).isEqualTo(2);
    }

    @Test
    public void accountIdsDifferingOnlyInCaseAreDistinct()
    {
        NewUser lower = createAccountWithAdmin(ACME, ALICE);
        assertThat(store.findAccount(ACME_UPPER)).isEmpty();
        assertFailsWith(ErrorCode.NOT_FOUND, () -> store.addUser(newUser(ACME_UPPER, BOB, Role.USER)));
        assertFailsWith(ErrorCode.NOT_FOUND, () -> store.listUsers(ACME_UPPER, UserQuery.all()));

        NewUser upper = createAccountWithAdmin(ACME_UPPER, ALICE);
        addUser(ACME_UPPER, BOB, Role.USER);

        assertThat(store.listAccounts()).extracting(AccountSummary::id).containsExactly(ACME_UPPER, ACME);
        assertThat(store.findUser(ACME, ALICE)).contains(lower.user());
        assertThat(store.findUser(ACME_UPPER, ALICE)).contains(upper.user());
        assertThat(store.findUser(ACME, BOB)).isEmpty();
        assertThat(userIds(store, ACME)).containsExactly(ALICE);
        assertThat(userIds(store, ACME_UPPER)).containsExactly(ALICE, BOB);

        store.deleteAccount(ACME_UPPER);

        assertThat(store.findAccount(ACME)).isPresent();
        assertThat(store.findKey(lower.keyId())).contains(lower.keyRecord());
        assertThat(store.findKey(upper.keyId())).isEmpty();
    }

    // users

    @Test
    public void findUserIsEmptyForAbsentAccountOrUser()
    {
        assertThat(store.findUser(ACME, ALICE)).isEmpty();

        createAccountWithAdmin(ACME, ALICE);
        assertThat(store.findUser(ACME, BOB)).isEmpty();
        assertThat(store.findUser(ABSENT, ALICE)).isEmpty();
    }

    @Test
    public void findUserReturnsAddedUser()
    {
        createAccountWithAdmin(ACME, ALICE);
        clock.advance(Duration.ofHours(1));
        NewUser bob = addUser(ACME, BOB, Role.USER);
        clock.advance(Duration.ofHours(1));

        User found = store.findUser(ACME, BOB).orElseThrow();
        assertThat(found).isEqualTo(bob.user());
        assertThat(found.createdAt()).isEqualTo(clock.instant().minus(Duration.ofHours(1)));
    }

    @Test
    public void userIdsDifferingOnlyInCaseAreDistinct()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser lower = addUser(ACME, BOB, Role.USER);
        assertThat(store.findUser(ACME, BOB_UPPER)).isEmpty();
        assertFailsWith(ErrorCode.NOT_FOUND, () -> store.removeUser(ACME, BOB_UPPER));

        NewUser upper = addUser(ACME, BOB_UPPER, Role.ADMIN);

        assertThat(userIds(store, ACME)).containsExactly(BOB_UPPER, ALICE, BOB);
        assertThat(store.findUser(ACME, BOB)).contains(lower.user());
        assertThat(store.findUser(ACME, BOB_UPPER)).contains(upper.user());

        store.removeUser(ACME, BOB);

        assertThat(store.findUser(ACME, BOB)).isEmpty();
        assertThat(store.findKey(lower.keyId())).isEmpty();
        assertThat(store.findUser(ACME, BOB_UPPER)).contains(upper.user());
        assertThat(store.findKey(upper.keyId())).contains(upper.keyRecord());
    }

    @Test
    public void mutationsReturnTheUserAsItWasBefore()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        ApiKey newKey = randomKey();

        assertThat(store.replaceKey(ACME, BOB, newKey.keyId(), hash(newKey), clock.instant())).isEqualTo(bob.user());
        assertThat(store.setRole(ACME, BOB, Role.ADMIN)).isEqualTo(new UserChange(bob.user().withKey(newKey.keyId()), List.of(newKey.keyId())));
        assertThat(store.removeUser(ACME, BOB)).isEqualTo(new UserChange(bob.user().withKey(newKey.keyId()).withRole(Role.ADMIN), List.of(newKey.keyId())));
    }

    // listUsers

    @Test
    public void listUsersIsSortedByOrdinalId()
    {
        createAccountWithAdmin(ACME, UserId.of("mallory"));
        for (String id : List.of("zed", "Zed", "bob", "Bob", "a.b", "a-b", "a_b", "a@b", "9", "user-10", "user-2")) {
            addUser(ACME, UserId.of(id), Role.USER);
        }

        assertThat(store.listUsers(ACME, UserQuery.all()).users())
                .extracting(user -> user.id().value())
                .containsExactly("9", "Bob", "Zed", "a-b", "a.b", "a@b", "a_b", "bob", "mallory", "user-10", "user-2", "zed");
    }

    @Test
    public void listUsersReturnsFullUsers()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        clock.advance(Duration.ofMinutes(5));
        NewUser bob = addUser(ACME, BOB, Role.USER);

        assertThat(store.listUsers(ACME, UserQuery.all()))
                .isEqualTo(new UserPage(List.of(alice.user(), bob.user()), Optional.empty()));
    }

    @Test
    public void listUsersOfEmptyAccountIsEmpty()
    {
        createEmptyAccount(DEFAULT);

        assertThat(store.listUsers(DEFAULT, query(1, Optional.empty(), Optional.empty(), Optional.empty())))
                .isEqualTo(new UserPage(List.of(), Optional.empty()));
    }

    @Test
    public void listUsersFailsNotFoundForAbsentAccount()
    {
        assertFailsWith(ErrorCode.NOT_FOUND, () -> store.listUsers(ACME, UserQuery.all()));

        createAccountWithAdmin(ACME, ALICE);
        assertFailsWith(ErrorCode.NOT_FOUND, () -> store.listUsers(ABSENT, UserQuery.all()));
    }

    @Test
    public void listUsersRespectsLimitAndReturnsCursorOnlyWhenMoreFollow()
    {
        createAccountWithAdmin(ACME, ALICE);
        addUser(ACME, BOB, Role.USER);
        addUser(ACME, CAROL, Role.USER);

        UserPage first = store.listUsers(ACME, page(2, Optional.empty()));
        assertThat(first.users()).extracting(User::id).containsExactly(ALICE, BOB);
        assertThat(first.next()).contains(BOB);

        UserPage second = store.listUsers(ACME, page(2, first.next()));
        assertThat(second.users()).extracting(User::id).containsExactly(CAROL);
        assertThat(second.next()).isEmpty();

        UserPage larger = store.listUsers(ACME, page(4, Optional.empty()));
        assertThat(larger.users()).extracting(User::id).containsExactly(ALICE, BOB, CAROL);
        assertThat(larger.next()).isEmpty();

        // a page filled exactly may or may not carry a cursor; if it does, nothing follows it
        UserPage exact = store.listUsers(ACME, page(3, Optional.empty()));
        assertThat(exact.users()).extracting(User::id).containsExactly(ALICE, BOB, CAROL);
        if (exact.next().isPresent()) {
            assertThat(exact.next()).contains(CAROL);
            assertThat(store.listUsers(ACME, page(3, exact.next()))).isEqualTo(new UserPage(List.of(), Optional.empty()));
        }
    }

    @Test
    public void pagingWithCursorVisitsEveryUserExactlyOnce()
    {
        createAccountWithAdmin(ACME, ALICE);
        List<UserId> expected = new ArrayList<>(List.of(ALICE));
        for (int i = 0; i < 11; i++) {
            UserId user = UserId.of("user-" + i);
            addUser(ACME, user, i % 3 == 0 ? Role.ADMIN : Role.USER);
            expected.add(user);
        }
        Collections.sort(expected);

        List<UserId> seen = new ArrayList<>();
        Optional<UserId> cursor = Optional.empty();
        int pages = 0;
        do {
            UserPage page = store.listUsers(ACME, page(5, cursor));
            assertThat(page.users()).hasSizeLessThanOrEqualTo(5);
            page.next().ifPresent(next -> assertThat(next).isEqualTo(page.users().get(page.users().size() - 1).id()));
            page.users().forEach(user -> seen.add(user.id()));
            cursor = page.next();
            pages++;
        }
        while (cursor.isPresent() && pages <= expected.size());

        assertThat(seen).containsExactlyElementsOf(expected);
        assertThat(pages).isEqualTo(3);
    }

    @Test
    public void listUsersAfterCursorThatIsNoUser()
    {
        createAccountWithAdmin(ACME, ALICE);
        addUser(ACME, BOB, Role.USER);
        addUser(ACME, CAROL, Role.USER);

        assertThat(store.listUsers(ACME, page(10, Optional.of(UserId.of("b")))).users())
                .extracting(User::id)
                .containsExactly(BOB, CAROL);
        assertThat(store.listUsers(ACME, page(10, Optional.of(UserId.of("zzz")))).users()).isEmpty();
        assertThat(store.listUsers(ACME, page(10, Optional.of(UserId.of("Z")))).users())
                .extracting(User::id)
                .containsExactly(ALICE, BOB, CAROL);
    }

    @Test
    public void listUsersFiltersByNameGlobWithStar()
    {
        createAccountWithGlobUsers();

        assertThat(userIdsMatching("al*")).containsExactly("al", "alice", "alina");
        assertThat(userIdsMatching("*o*")).containsExactly("Bob", "bob", "carol");
        assertThat(userIdsMatching("*")).hasSize(11);
        assertThat(userIdsMatching("b*")).containsExactly("bob");
        assertThat(userIdsMatching("*l")).containsExactly("al", "carol");
        assertThat(userIdsMatching("x*")).isEmpty();
    }

    @Test
    public void listUsersFiltersByNameGlobWithQuestionMark()
    {
        createAccountWithGlobUsers();

        assertThat(userIdsMatching("al?ce")).containsExactly("alice");
        assertThat(userIdsMatching("a?c")).containsExactly("a-c", "a.c", "a_c", "abc");
        assertThat(userIdsMatching("?ob")).containsExactly("Bob", "bob");
        assertThat(userIdsMatching("al?")).isEmpty();
        assertThat(userIdsMatching("al??")).isEmpty();
        assertThat(userIdsMatching("al???")).containsExactly("alice", "alina");
    }

    @Test
    public void listUsersGlobMatchesOtherCharactersLiterally()
    {
        createAccountWithGlobUsers();

        assertThat(userIdsMatching("a.c")).containsExactly("a.c");
        assertThat(userIdsMatching("a_c")).containsExactly("a_c");
        assertThat(userIdsMatching("a-c")).containsExactly("a-c");
        assertThat(userIdsMatching("Bob")).containsExactly("Bob");
        assertThat(userIdsMatching("ALICE")).isEmpty();
        assertThat(userIdsMatching("ali")).isEmpty();
    }

    @Test
    public void listUsersFiltersByRole()
    {
        createAccountWithAdmin(ACME, ALICE);
        addUser(ACME, BOB, Role.USER);
        addUser(ACME, CAROL, Role.ADMIN);
        addUser(ACME, UserId.of("dave"), Role.USER);
        store.setRole(ACME, UserId.of("dave"), Role.ADMIN);
        store.setRole(ACME, ALICE, Role.USER);

        assertThat(store.listUsers(ACME, query(10, Optional.empty(), Optional.of(Role.ADMIN), Optional.empty())).users())
                .extracting(user -> user.id().value())
                .containsExactly("carol", "dave");
        assertThat(store.listUsers(ACME, query(10, Optional.empty(), Optional.of(Role.USER), Optional.empty())).users())
                .extracting(user -> user.id().value())
                .containsExactly("alice", "bob");
    }

    @Test
    public void listUsersCombinesFiltersWithCursor()
    {
        createAccountWithAdmin(ACME, ALICE);
        for (int i = 1; i <= 6; i++) {
            addUser(ACME, UserId.of("team-" + i), i % 2 == 0 ? Role.USER : Role.ADMIN);
        }
        addUser(ACME, BOB, Role.USER);
        Optional<String> glob = Optional.of("team-*");
        Optional<Role> users = Optional.of(Role.USER);

        UserPage first = store.listUsers(ACME, query(2, glob, users, Optional.empty()));
        assertThat(first.users()).extracting(user -> user.id().value()).containsExactly("team-2", "team-4");
        assertThat(first.next()).contains(UserId.of("team-4"));

        UserPage second = store.listUsers(ACME, query(2, glob, users, first.next()));
        assertThat(second.users()).extracting(user -> user.id().value()).containsExactly("team-6");
        assertThat(second.next()).isEmpty();

        assertThat(store.listUsers(ACME, query(10, glob, users, Optional.of(UserId.of("team-3")))).users())
                .extracting(user -> user.id().value())
                .containsExactly("team-4", "team-6");
        assertThat(store.listUsers(ACME, query(10, glob, Optional.of(Role.ADMIN), Optional.of(UserId.of("team-1")))).users())
                .extracting(user -> user.id().value())
                .containsExactly("team-3", "team-5");
    }

    // conflicts

    @Test
    public void createAccountFailsWhenAccountExists()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        clock.advance(Duration.ofMinutes(1));
        NewUser other = newUser(ACME, BOB, Role.ADMIN);

        assertRejected(ErrorCode.ALREADY_EXISTS, () -> store.createAccount(account(ACME), Optional.of(other)));
        assertRejected(ErrorCode.ALREADY_EXISTS, () -> store.createAccount(account(ACME), Optional.empty()));

        assertThat(store.findKey(other.keyId())).isEmpty();
        assertThat(store.findUser(ACME, BOB)).isEmpty();
        assertThat(store.findAccount(ACME)).contains(new Account(ACME, alice.user().createdAt(), true));
    }

    @Test
    public void createAccountFailsWhenAdminKeyIdIsInUse()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        ApiKey reused = ApiKey.of(alice.keyId(), randomKey().secret());
        NewUser admin = newUser(ACME_UPPER, BOB, Role.ADMIN, reused);

        assertRejected(ErrorCode.ALREADY_EXISTS, () -> store.createAccount(account(ACME_UPPER), Optional.of(admin)));

        assertThat(store.findAccount(ACME_UPPER)).isEmpty();
        assertThat(store.findKey(alice.keyId())).contains(alice.keyRecord());
    }

    @Test
    public void createAccountRefusesFirstUserThatIsNotAdmin()
    {
        FeedPosition before = store.headPosition();

        assertThatThrownBy(() -> store.createAccount(account(ACME), Optional.of(newUser(ACME, ALICE, Role.USER))))
                .isInstanceOf(IllegalArgumentException.class);

        assertThat(store.findAccount(ACME)).isEmpty();
        assertThat(store.headPosition()).isEqualTo(before);
    }

    @Test
    public void addUserFailsWhenUserExists()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        NewUser again = newUser(ACME, BOB, Role.ADMIN);

        assertRejected(ErrorCode.ALREADY_EXISTS, () -> store.addUser(again));

        assertThat(store.findKey(again.keyId())).isEmpty();
        assertThat(store.findUser(ACME, BOB)).contains(bob.user());
    }

    @Test
    public void addUserFailsWhenKeyIdIsInUse()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        createAccountWithAdmin(ACME_UPPER, ALICE);
        KeyId used = alice.keyId();

        assertRejected(ErrorCode.ALREADY_EXISTS,
                () -> store.addUser(newUser(ACME, BOB, Role.USER, ApiKey.of(used, randomKey().secret()))));
        assertRejected(ErrorCode.ALREADY_EXISTS,
                () -> store.addUser(newUser(ACME_UPPER, BOB, Role.USER, ApiKey.of(used, randomKey().secret()))));

        assertThat(store.findKey(used)).contains(alice.keyRecord());
        assertThat(store.findUser(ACME, BOB)).isEmpty();
        assertThat(store.findUser(ACME_UPPER, BOB)).isEmpty();
    }

    @Test
    public void replaceKeyFailsWhenKeyIdIsInUseByAnotherUser()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        NewUser other = createAccountWithAdmin(ACME_UPPER, CAROL);

        assertRejected(ErrorCode.ALREADY_EXISTS,
                () -> store.replaceKey(ACME, BOB, alice.keyId(), hash(randomKey()), clock.instant()));
        assertRejected(ErrorCode.ALREADY_EXISTS,
                () -> store.replaceKey(ACME, BOB, other.keyId(), hash(randomKey()), clock.instant()));

        assertThat(store.findKey(bob.keyId())).contains(bob.keyRecord());
        assertThat(store.findKey(alice.keyId())).contains(alice.keyRecord());
        assertThat(store.findKey(other.keyId())).contains(other.keyRecord());
    }

    @Test
    public void addUserToAbsentAccountFailsNotFound()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = newUser(ABSENT, BOB, Role.USER);

        assertRejected(ErrorCode.NOT_FOUND, () -> store.addUser(bob));

        assertThat(store.findKey(bob.keyId())).isEmpty();
        assertThat(store.findAccount(ABSENT)).isEmpty();
    }

    @Test
    public void replaceKeyInAbsentAccountFailsNotFound()
    {
        createAccountWithAdmin(ACME, ALICE);
        ApiKey key = randomKey();

        assertRejected(ErrorCode.NOT_FOUND, () -> store.replaceKey(ABSENT, ALICE, key.keyId(), hash(key), clock.instant()));

        assertThat(store.findKey(key.keyId())).isEmpty();
    }

    @Test
    public void setRoleInAbsentAccountFailsNotFound()
    {
        createAccountWithAdmin(ACME, ALICE);

        assertRejected(ErrorCode.NOT_FOUND, () -> store.setRole(ABSENT, ALICE, Role.USER));
        assertRejected(ErrorCode.NOT_FOUND, () -> store.setRole(ABSENT, ALICE, Role.ADMIN));
    }

    @Test
    public void removeUserFromAbsentAccountFailsNotFound()
    {
        createAccountWithAdmin(ACME, ALICE);

        assertRejected(ErrorCode.NOT_FOUND, () -> store.removeUser(ABSENT, ALICE));
    }

    @Test
    public void deleteAbsentAccountFailsNotFound()
    {
        assertRejected(ErrorCode.NOT_FOUND, () -> store.deleteAccount(ACME));

        createAccountWithAdmin(ACME, ALICE);
        assertRejected(ErrorCode.NOT_FOUND, () -> store.deleteAccount(ABSENT));
        store.deleteAccount(ACME);
        assertRejected(ErrorCode.NOT_FOUND, () -> store.deleteAccount(ACME));
    }

    @Test
    public void replaceKeyOfAbsentUserFailsNotFound()
    {
        createAccountWithAdmin(ACME, ALICE);
        createAccountWithAdmin(ACME_UPPER, BOB);
        ApiKey key = randomKey();

        assertRejected(ErrorCode.NOT_FOUND, () -> store.replaceKey(ACME, BOB, key.keyId(), hash(key), clock.instant()));

        assertThat(store.findKey(key.keyId())).isEmpty();
    }

    @Test
    public void setRoleOfAbsentUserFailsNotFound()
    {
        createAccountWithAdmin(ACME, ALICE);
        createAccountWithAdmin(ACME_UPPER, BOB);

        assertRejected(ErrorCode.NOT_FOUND, () -> store.setRole(ACME, BOB, Role.ADMIN));
        assertRejected(ErrorCode.NOT_FOUND, () -> store.setRole(ACME, BOB, Role.USER));
    }

    @Test
    public void removeAbsentUserFailsNotFound()
    {
        createAccountWithAdmin(ACME, ALICE);
        addUser(ACME, BOB, Role.USER);
        store.removeUser(ACME, BOB);

        assertRejected(ErrorCode.NOT_FOUND, () -> store.removeUser(ACME, BOB));
        assertRejected(ErrorCode.NOT_FOUND, () -> store.removeUser(ACME, CAROL));
    }

    @Test
    public void removingLastAdminFailsPrecondition()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        addUser(ACME, BOB, Role.USER);

        assertRejected(ErrorCode.FAILED_PRECONDITION, () -> store.removeUser(ACME, ALICE));

        assertThat(store.findUser(ACME, ALICE)).contains(alice.user());
        assertThat(store.findKey(alice.keyId())).contains(alice.keyRecord());
    }

    @Test
    public void demotingLastAdminFailsPrecondition()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        addUser(ACME, BOB, Role.USER);

        assertRejected(ErrorCode.FAILED_PRECONDITION, () -> store.setRole(ACME, ALICE, Role.USER));

        assertThat(store.findUser(ACME, ALICE)).contains(alice.user());
        assertThat(store.findKey(alice.keyId())).contains(alice.keyRecord());
    }

    @Test
    public void lastAdminRuleCountsOnlyCurrentAdmins()
    {
        createAccountWithAdmin(ACME, ALICE);
        addUser(ACME, BOB, Role.ADMIN);
        store.setRole(ACME, BOB, Role.USER);
        addUser(ACME, CAROL, Role.ADMIN);
        store.removeUser(ACME, CAROL);

        assertRejected(ErrorCode.FAILED_PRECONDITION, () -> store.removeUser(ACME, ALICE));
        assertRejected(ErrorCode.FAILED_PRECONDITION, () -> store.setRole(ACME, ALICE, Role.USER));
    }

    @Test
    public void removingAdminSucceedsWhileAnotherAdminRemains()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        addUser(ACME, BOB, Role.ADMIN);

        store.removeUser(ACME, ALICE);

        assertThat(store.findKey(alice.keyId())).isEmpty();
        assertThat(userIds(store, ACME)).containsExactly(BOB);
        assertRejected(ErrorCode.FAILED_PRECONDITION, () -> store.removeUser(ACME, BOB));
    }

    @Test
    public void demotingAdminSucceedsWhileAnotherAdminRemains()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        addUser(ACME, BOB, Role.ADMIN);

        store.setRole(ACME, ALICE, Role.USER);

        assertThat(store.findKey(alice.keyId())).contains(withRole(alice.keyRecord(), Role.USER));
        assertRejected(ErrorCode.FAILED_PRECONDITION, () -> store.setRole(ACME, BOB, Role.USER));
    }

    @Test
    public void removingOrdinaryUserIsNotGuardedByLastAdminRule()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);

        store.removeUser(ACME, BOB);

        assertThat(store.findKey(bob.keyId())).isEmpty();
        assertThat(userIds(store, ACME)).containsExactly(ALICE);
    }

    @Test
    public void accountWithoutAdminRequirementMayLoseItsOnlyAdmin()
    {
        createEmptyAccount(DEFAULT);
        NewUser alice = addUser(DEFAULT, ALICE, Role.ADMIN);
        NewUser bob = addUser(DEFAULT, BOB, Role.ADMIN);

        store.setRole(DEFAULT, ALICE, Role.USER);
        store.removeUser(DEFAULT, BOB);

        assertThat(store.findKey(alice.keyId())).contains(withRole(alice.keyRecord(), Role.USER));
        assertThat(store.findKey(bob.keyId())).isEmpty();

        store.removeUser(DEFAULT, ALICE);
        assertThat(store.listUsers(DEFAULT, UserQuery.all()).users()).isEmpty();
        assertThat(store.findAccount(DEFAULT)).isPresent();
    }

    @Test
    public void accountWithoutAdminRequirementMayHoldUsersWithoutAdmin()
    {
        createEmptyAccount(DEFAULT);
        NewUser bob = addUser(DEFAULT, BOB, Role.USER);
        NewUser carol = addUser(DEFAULT, CAROL, Role.USER);

        assertThat(store.findKey(bob.keyId())).contains(bob.keyRecord());
        assertThat(store.findKey(carol.keyId())).contains(carol.keyRecord());
        assertThat(userCount(store, DEFAULT)).isEqualTo(2);
    }

    @Test
    public void deleteAccountIsNotGuardedByLastAdminRule()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);

        store.deleteAccount(ACME);

        assertThat(store.findAccount(ACME)).isEmpty();
        assertThat(store.findKey(alice.keyId())).isEmpty();
    }

    @Test
    public void setRoleToCurrentRoleChangesNothing()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        Snapshot before = snapshot();

        assertThat(store.setRole(ACME, ALICE, Role.ADMIN)).isEqualTo(new UserChange(alice.user(), List.of()));
        assertThat(store.setRole(ACME, BOB, Role.USER)).isEqualTo(new UserChange(bob.user(), List.of()));

        assertThat(snapshot()).isEqualTo(before);
    }

    @Test
    public void setRoleRefusesRoot()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        Snapshot before = snapshot();

        assertThatThrownBy(() -> store.setRole(ACME, ALICE, Role.ROOT))
                .isInstanceOf(IllegalArgumentException.class);

        assertThat(snapshot()).isEqualTo(before);
        assertThat(store.findKey(alice.keyId())).contains(alice.keyRecord());
    }

    // deleteAccount

    @Test
    public void deleteAccountRemovesAccountUsersAndKeys()
    {
        createAccountWithAdmin(ACME, ALICE);
        addUser(ACME, BOB, Role.USER);
        NewUser other = createAccountWithAdmin(ACME_UPPER, ALICE);
        createEmptyAccount(DEFAULT);

        store.deleteAccount(ACME);

        assertThat(store.findAccount(ACME)).isEmpty();
        assertThat(store.findUser(ACME, ALICE)).isEmpty();
        assertThat(store.findUser(ACME, BOB)).isEmpty();
        assertFailsWith(ErrorCode.NOT_FOUND, () -> store.listUsers(ACME, UserQuery.all()));
        assertThat(store.listAccounts()).extracting(AccountSummary::id).containsExactly(ACME_UPPER, DEFAULT);
        assertThat(store.findUser(ACME_UPPER, ALICE)).contains(other.user());
    }

    @Test
    public void deleteEmptyAccount()
    {
        createEmptyAccount(DEFAULT);

        store.deleteAccount(DEFAULT);

        assertThat(store.findAccount(DEFAULT)).isEmpty();
        assertThat(store.listAccounts()).isEmpty();
    }

    @Test
    public void recreatedAccountStartsEmptyAndOldKeysStayDead()
    {
        NewUser oldAlice = createAccountWithAdmin(ACME, ALICE);
        NewUser oldBob = addUser(ACME, BOB, Role.USER);
        store.deleteAccount(ACME);
        clock.advance(Duration.ofHours(1));

        NewUser newAlice = createAccountWithAdmin(ACME, ALICE);

        assertThat(store.findAccount(ACME)).contains(new Account(ACME, clock.instant(), true));
        assertThat(store.listUsers(ACME, UserQuery.all()).users()).containsExactly(newAlice.user());
        assertThat(store.findUser(ACME, BOB)).isEmpty();
        assertThat(store.findKey(oldAlice.keyId())).isEmpty();
        assertThat(store.findKey(oldBob.keyId())).isEmpty();
        assertThat(store.findKey(newAlice.keyId())).contains(newAlice.keyRecord());
        assertThat(userCount(store, ACME)).isEqualTo(1);
    }

    @Test
    public void seededKeyIdCanBeReusedAfterAccountIsDeletedAndRecreated()
    {
        ApiKey adminKey = ApiKeyGenerator.seeded(SEED, ACME, ALICE);
        ApiKey userKey = ApiKeyGenerator.seeded(SEED, ACME, BOB);
        store.createAccount(account(ACME), Optional.of(newUser(ACME, ALICE, Role.ADMIN, adminKey)));
        store.addUser(newUser(ACME, BOB, Role.USER, userKey));
        store.deleteAccount(ACME);
        clock.advance(Duration.ofHours(1));

        NewUser admin = newUser(ACME, ALICE, Role.ADMIN, ApiKeyGenerator.seeded(SEED, ACME, ALICE));
        NewUser user = newUser(ACME, BOB, Role.ADMIN, ApiKeyGenerator.seeded(SEED, ACME, BOB));
        store.createAccount(account(ACME), Optional.of(admin));
        store.addUser(user);

        assertThat(admin.keyId()).isEqualTo(adminKey.keyId());
        assertThat(user.keyId()).isEqualTo(userKey.keyId());
        assertThat(store.findKey(adminKey.keyId())).contains(admin.keyRecord());
        assertThat(store.findKey(userKey.keyId())).contains(user.keyRecord());
    }

    // change feed

    @Test
    public void emptyStoreHasEmptyFeed()
    {
        assertThat(store.headPosition()).isEqualTo(FeedPosition.START);
        assertThat(store.changesAfter(FeedPosition.START, 10)).isEqualTo(new FeedBatch.Changes(List.of(), FeedPosition.START));
    }

    @Test
    public void writtenPositionIsAtOrAfterEveryWriteTheHandleAnswered()
    {
        createAccountWithAdmin(ACME, ALICE);
        assertThat(store.writtenPosition().value()).isGreaterThanOrEqualTo(1);
        createEmptyAccount(DEFAULT);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        FeedPosition written = store.writtenPosition();

        List<Change> changes = ((FeedBatch.Changes) store.changesAfter(FeedPosition.START, 10)).changes();
        Change added = changes.stream().filter(change -> change.keyIds().contains(bob.keyId())).findFirst().orElseThrow();
        assertThat(written.value()).isGreaterThanOrEqualTo(added.position().value());
        assertThat(written.value()).isLessThanOrEqualTo(store.headPosition().value());
    }

    @Test
    public void createAccountWithAdminAppendsAccountCreated()
    {
        clock.advance(Duration.ofMinutes(1));
        NewUser alice = createAccountWithAdmin(ACME, ALICE);

        assertSingleNewChange(FeedPosition.START, ChangeType.ACCOUNT_CREATED, ACME, Optional.of(ALICE), List.of(alice.keyId()));
    }

    @Test
    public void createEmptyAccountAppendsAccountCreatedWithoutKeys()
    {
        clock.advance(Duration.ofMinutes(1));
        createEmptyAccount(DEFAULT);

        assertSingleNewChange(FeedPosition.START, ChangeType.ACCOUNT_CREATED, DEFAULT, Optional.empty(), List.of());
    }

    @Test
    public void addUserAppendsUserAdded()
    {
        createAccountWithAdmin(ACME, ALICE);
        FeedPosition before = store.headPosition();
        clock.advance(Duration.ofMinutes(1));

        NewUser bob = addUser(ACME, BOB, Role.USER);

        assertSingleNewChange(before, ChangeType.USER_ADDED, ACME, Optional.of(BOB), List.of(bob.keyId()));
    }

    @Test
    public void replaceKeyAppendsKeyReplacedWithOldThenNewKey()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        FeedPosition before = store.headPosition();
        clock.advance(Duration.ofMinutes(1));
        ApiKey newKey = randomKey();

        store.replaceKey(ACME, BOB, newKey.keyId(), hash(newKey), clock.instant().minusSeconds(5));

        assertSingleNewChange(before, ChangeType.KEY_REPLACED, ACME, Optional.of(BOB), List.of(bob.keyId(), newKey.keyId()));
    }

    @Test
    public void setRoleAppendsRoleChangedWithCurrentKey()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        FeedPosition before = store.headPosition();
        clock.advance(Duration.ofMinutes(1));

        store.setRole(ACME, BOB, Role.ADMIN);

        assertSingleNewChange(before, ChangeType.ROLE_CHANGED, ACME, Optional.of(BOB), List.of(bob.keyId()));
    }

    @Test
    public void removeUserAppendsUserRemovedWithOldKey()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        FeedPosition before = store.headPosition();
        clock.advance(Duration.ofMinutes(1));

        store.removeUser(ACME, BOB);

        assertSingleNewChange(before, ChangeType.USER_REMOVED, ACME, Optional.of(BOB), List.of(bob.keyId()));
    }

    @Test
    public void deleteAccountAppendsAccountDeletedWithoutKeys()
    {
        createAccountWithAdmin(ACME, ALICE);
        addUser(ACME, BOB, Role.USER);
        FeedPosition before = store.headPosition();
        clock.advance(Duration.ofMinutes(1));

        store.deleteAccount(ACME);

        assertSingleNewChange(before, ChangeType.ACCOUNT_DELETED, ACME, Optional.empty(), List.of());
    }

    @Test
    public void feedPositionsCountFromOneWithoutGaps()
    {
        writeSixChanges();

        List<Change> changes = allChangesAfter(store, FeedPosition.START);
        assertThat(changes).extracting(change -> change.position().value()).containsExactly(1L, 2L, 3L, 4L, 5L, 6L);
        assertThat(changes).extracting(Change::type).containsExactly(
                ChangeType.ACCOUNT_CREATED,
                ChangeType.USER_ADDED,
                ChangeType.KEY_REPLACED,
                ChangeType.ROLE_CHANGED,
                ChangeType.USER_REMOVED,
                ChangeType.ACCOUNT_DELETED);
        assertThat(store.headPosition()).isEqualTo(FeedPosition.of(6));
    }

    @Test
    public void committedAtIsTheWritersClock()
    {
        List<Instant> expected = new ArrayList<>();
        clock.advance(Duration.ofSeconds(7));
        expected.add(clock.instant());
        createAccountWithAdmin(ACME, ALICE);
        clock.advance(Duration.ofSeconds(11));
        expected.add(clock.instant());
        addUser(ACME, BOB, Role.USER);
        clock.advance(Duration.ofDays(2));
        expected.add(clock.instant());
        store.deleteAccount(ACME);
        clock.advance(Duration.ofDays(2));

        assertThat(allChangesAfter(store, FeedPosition.START)).extracting(Change::committedAt).containsExactlyElementsOf(expected);
    }

    @Test
    public void headPositionIsTheLastCommittedPosition()
    {
        assertThat(store.headPosition()).isEqualTo(FeedPosition.START);
        createAccountWithAdmin(ACME, ALICE);
        assertThat(store.headPosition()).isEqualTo(FeedPosition.of(1));
        addUser(ACME, BOB, Role.USER);
        assertThat(store.headPosition()).isEqualTo(FeedPosition.of(2));
        assertFailsWith(ErrorCode.ALREADY_EXISTS, () -> store.addUser(newUser(ACME, BOB, Role.USER)));
        assertThat(store.headPosition()).isEqualTo(FeedPosition.of(2));
        store.deleteAccount(ACME);
        assertThat(store.headPosition()).isEqualTo(FeedPosition.of(3));
        assertThat(store.headPosition()).isEqualTo(lastPosition(allChangesAfter(store, FeedPosition.START)));
    }

    @Test
    public void changesAfterReturnsOnlyLaterChangesInOrder()
    {
        writeSixChanges();
        List<Change> all = allChangesAfter(store, FeedPosition.START);

        for (int position = 0; position <= 6; position++) {
            FeedBatch batch = store.changesAfter(FeedPosition.of(position), 100);
            assertThat(batch).as("changes after %s", position)
                    .isEqualTo(new FeedBatch.Changes(all.subList(position, 6), FeedPosition.of(6)));
        }
    }

    @Test
    public void changesAfterRespectsLimitAndNextPagesThroughTheFeed()
    {
        writeSixChanges();
        List<Change> all = allChangesAfter(store, FeedPosition.START);

        FeedBatch.Changes first = changes(store.changesAfter(FeedPosition.START, 4));
        assertThat(first).isEqualTo(new FeedBatch.Changes(all.subList(0, 4), FeedPosition.of(4)));
        FeedBatch.Changes second = changes(store.changesAfter(first.next(), 4));
        assertThat(second).isEqualTo(new FeedBatch.Changes(all.subList(4, 6), FeedPosition.of(6)));
        FeedBatch.Changes third = changes(store.changesAfter(second.next(), 4));
        assertThat(third).isEqualTo(new FeedBatch.Changes(List.of(), FeedPosition.of(6)));

        assertThat(changes(store.changesAfter(FeedPosition.of(2), 1)))
                .isEqualTo(new FeedBatch.Changes(all.subList(2, 3), FeedPosition.of(3)));
    }

    @Test
    public void changesAfterWithHugeLimitReturnsEveryLaterChange()
    {
        writeSixChanges();
        List<Change> all = allChangesAfter(store, FeedPosition.START);

        assertThat(store.changesAfter(FeedPosition.START, Integer.MAX_VALUE))
                .isEqualTo(new FeedBatch.Changes(all, FeedPosition.of(6)));
        assertThat(store.changesAfter(FeedPosition.of(2), Integer.MAX_VALUE))
                .isEqualTo(new FeedBatch.Changes(all.subList(2, 6), FeedPosition.of(6)));
    }

    @Test
    public void nextIsThePositionAskedWhenNothingChanged()
    {
        writeSixChanges();

        assertThat(store.changesAfter(FeedPosition.of(6), 10)).isEqualTo(new FeedBatch.Changes(List.of(), FeedPosition.of(6)));

        createAccountWithAdmin(ACME, ALICE);
        assertThat(changes(store.changesAfter(FeedPosition.of(6), 10)).next()).isEqualTo(FeedPosition.of(7));
        assertThat(store.changesAfter(FeedPosition.of(7), 10)).isEqualTo(new FeedBatch.Changes(List.of(), FeedPosition.of(7)));
    }

    @Test
    public void anotherHandleReadsTheSameFeed()
    {
        IdentityStore other = anotherHandle();
        writeSixChanges();

        assertThat(other.headPosition()).isEqualTo(store.headPosition());
        assertThat(allChangesAfter(other, FeedPosition.START)).isEqualTo(allChangesAfter(store, FeedPosition.START));
        assertThat(other.changesAfter(FeedPosition.of(3), 2)).isEqualTo(store.changesAfter(FeedPosition.of(3), 2));
    }

    @Test
    public void readerBehindCompactedFeedGetsReset()
    {
        writeSixChanges();

        compactFeedThrough(store, FeedPosition.of(4));

        for (long position = 0; position < 4; position++) {
            FeedBatch batch = store.changesAfter(FeedPosition.of(position), 100);
            assertThat(batch).as("changes after %s", position).isInstanceOf(FeedBatch.Reset.class);
            assertThat(((FeedBatch.Reset) batch).head()).isGreaterThanOrEqualTo(FeedPosition.of(6));
        }
        assertThat(store.headPosition()).isEqualTo(FeedPosition.of(6));
    }

    @Test
    public void readerAtOrAfterCompactionPointStillGetsChanges()
    {
        writeSixChanges();
        List<Change> all = allChangesAfter(store, FeedPosition.START);

        compactFeedThrough(store, FeedPosition.of(4));

        // the reader at 4 has seen every forgotten change, so it is not behind
        assertThat(store.changesAfter(FeedPosition.of(4), 100)).isEqualTo(new FeedBatch.Changes(all.subList(4, 6), FeedPosition.of(6)));
        assertThat(store.changesAfter(FeedPosition.of(5), 100)).isEqualTo(new FeedBatch.Changes(all.subList(5, 6), FeedPosition.of(6)));
        assertThat(store.changesAfter(FeedPosition.of(6), 100)).isEqualTo(new FeedBatch.Changes(List.of(), FeedPosition.of(6)));
    }

    @Test
    public void readerContinuesFromResetHead()
    {
        writeSixChanges();
        compactFeedThrough(store, FeedPosition.of(6));
        createAccountWithAdmin(ACME, ALICE);

        FeedBatch batch = store.changesAfter(FeedPosition.of(2), 100);
        assertThat(batch).isInstanceOf(FeedBatch.Reset.class);
        FeedPosition head = ((FeedBatch.Reset) batch).head();
        assertThat(head).isGreaterThanOrEqualTo(FeedPosition.of(7));

        assertThat(store.changesAfter(head, 100)).isInstanceOf(FeedBatch.Changes.class);
        addUser(ACME, BOB, Role.USER);
        assertThat(allChangesAfter(store, head)).extracting(Change::type).endsWith(ChangeType.USER_ADDED);
        assertThat(store.headPosition()).isEqualTo(FeedPosition.of(8));
    }

    @Test
    public void compactionIsSeenThroughAnotherHandle()
    {
        IdentityStore other = anotherHandle();
        writeSixChanges();
        List<Change> all = allChangesAfter(store, FeedPosition.START);

        compactFeedThrough(store, FeedPosition.of(3));

        assertThat(other.changesAfter(FeedPosition.of(1), 100)).isInstanceOf(FeedBatch.Reset.class);
        assertThat(other.changesAfter(FeedPosition.of(3), 100)).isEqualTo(new FeedBatch.Changes(all.subList(3, 6), FeedPosition.of(6)));
    }

    // read your writes

    @Test
    public void createAccountIsVisibleAtOnceThroughAnotherHandle()
    {
        IdentityStore other = anotherHandle();

        NewUser alice = createAccountWithAdmin(ACME, ALICE);

        assertThat(other.findAccount(ACME)).isEqualTo(store.findAccount(ACME)).isPresent();
        assertThat(other.findKey(alice.keyId())).contains(alice.keyRecord());
        assertThat(other.findUser(ACME, ALICE)).contains(alice.user());
        assertThat(other.listAccounts()).isEqualTo(store.listAccounts()).hasSize(1);
        assertThat(other.headPosition()).isEqualTo(FeedPosition.of(1));
    }

    @Test
    public void addUserIsVisibleAtOnceThroughAnotherHandle()
    {
        IdentityStore other = anotherHandle();
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = newUser(ACME, BOB, Role.USER);

        other.addUser(bob);

        assertThat(store.findKey(bob.keyId())).contains(bob.keyRecord());
        assertThat(store.findUser(ACME, BOB)).contains(bob.user());
        assertThat(userIds(store, ACME)).containsExactly(ALICE, BOB);
        assertThat(userCount(store, ACME)).isEqualTo(2);
    }

    @Test
    public void replaceKeyIsVisibleAtOnceThroughAnotherHandle()
    {
        IdentityStore other = anotherHandle();
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        assertThat(other.findKey(bob.keyId())).isPresent();
        ApiKey newKey = randomKey();

        store.replaceKey(ACME, BOB, newKey.keyId(), hash(newKey), clock.instant());

        assertThat(other.findKey(bob.keyId())).isEmpty();
        assertThat(other.findKey(newKey.keyId()).map(KeyRecord::secretHash)).contains(hash(newKey));
        assertThat(other.findUser(ACME, BOB).flatMap(User::primaryKeyId)).contains(newKey.keyId());
    }

    @Test
    public void setRoleIsVisibleAtOnceThroughAnotherHandle()
    {
        IdentityStore other = anotherHandle();
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        assertThat(store.findKey(bob.keyId()).map(KeyRecord::role)).contains(Role.USER);

        other.setRole(ACME, BOB, Role.ADMIN);

        assertThat(store.findKey(bob.keyId()).map(KeyRecord::role)).contains(Role.ADMIN);
        assertThat(store.findUser(ACME, BOB).map(User::role)).contains(Role.ADMIN);
    }

    @Test
    public void removeUserIsVisibleAtOnceThroughAnotherHandle()
    {
        IdentityStore other = anotherHandle();
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        assertThat(other.findKey(bob.keyId())).isPresent();

        store.removeUser(ACME, BOB);

        assertThat(other.findKey(bob.keyId())).isEmpty();
        assertThat(other.findUser(ACME, BOB)).isEmpty();
        assertThat(userIds(other, ACME)).containsExactly(ALICE);
    }

    @Test
    public void deleteAccountIsVisibleAtOnceThroughAnotherHandle()
    {
        IdentityStore other = anotherHandle();
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        assertThat(store.findKey(alice.keyId())).isPresent();

        other.deleteAccount(ACME);

        assertThat(store.findAccount(ACME)).isEmpty();
        assertThat(store.findKey(alice.keyId())).isEmpty();
        assertThat(store.listAccounts()).isEmpty();
        assertFailsWith(ErrorCode.NOT_FOUND, () -> store.addUser(newUser(ACME, BOB, Role.USER)));
    }

    @Test
    public void conflictsAreDetectedAcrossHandles()
    {
        IdentityStore other = anotherHandle();
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        addUser(ACME, BOB, Role.USER);

        assertRejected(ErrorCode.ALREADY_EXISTS, () -> other.createAccount(account(ACME), Optional.of(newUser(ACME, CAROL, Role.ADMIN))));
        assertRejected(ErrorCode.ALREADY_EXISTS, () -> other.addUser(newUser(ACME, BOB, Role.USER)));
        assertRejected(ErrorCode.ALREADY_EXISTS,
                () -> other.addUser(newUser(ACME, CAROL, Role.USER, ApiKey.of(alice.keyId(), randomKey().secret()))));
        assertRejected(ErrorCode.FAILED_PRECONDITION, () -> other.removeUser(ACME, ALICE));
    }

    // concurrency

    @Test
    public void concurrentCreationOfOneAccountHasOneWinner()
            throws Exception
    {
        for (int round = 0; round < concurrencyRounds(); round++) {
            AccountId accountId = AccountId.of("acme-" + round);
            List<NewUser> admins = IntStream.range(0, raceSize())
                    .mapToObj(i -> newUser(accountId, UserId.of("admin-" + i), Role.ADMIN))
                    .toList();
            FeedPosition before = store.headPosition();

            List<Outcome> outcomes = race(admins.size(),
                    (i, handle) -> handle.createAccount(account(accountId), Optional.of(admins.get(i))));

            int winner = singleWinner(outcomes, ErrorCode.ALREADY_EXISTS);
            NewUser admin = admins.get(winner);
            assertThat(allUsers(store, accountId)).containsExactly(admin.user());
            assertOnlyLiveKeys(admins, admin);
            assertThat(allChangesAfter(store, before)).containsExactly(new Change(
                    before.next(), ChangeType.ACCOUNT_CREATED, accountId, Optional.of(admin.user().id()), List.of(admin.keyId()), clock.instant()));
        }
    }

    @Test
    public void concurrentCreationOfEmptyAccountHasOneWinner()
            throws Exception
    {
        for (int round = 0; round < concurrencyRounds(); round++) {
            AccountId accountId = AccountId.of("default-" + round);
            FeedPosition before = store.headPosition();

            List<Outcome> outcomes = race(raceSize(),
                    (i, handle) -> handle.createAccount(new Account(accountId, clock.instant(), false), Optional.empty()));

            singleWinner(outcomes, ErrorCode.ALREADY_EXISTS);
            assertThat(store.findAccount(accountId)).contains(new Account(accountId, clock.instant(), false));
            assertThat(allChangesAfter(store, before)).extracting(Change::type).containsExactly(ChangeType.ACCOUNT_CREATED);
        }
    }

    @Test
    public void concurrentAdditionOfOneUserHasOneWinner()
            throws Exception
    {
        createAccountWithAdmin(ACME, ALICE);
        for (int round = 0; round < concurrencyRounds(); round++) {
            UserId user = UserId.of("bob-" + round);
            List<NewUser> candidates = IntStream.range(0, raceSize())
                    .mapToObj(i -> newUser(ACME, user, i % 2 == 0 ? Role.USER : Role.ADMIN))
                    .toList();

            List<Outcome> outcomes = race(candidates.size(), (i, handle) -> handle.addUser(candidates.get(i)));

            NewUser winner = candidates.get(singleWinner(outcomes, ErrorCode.ALREADY_EXISTS));
            assertThat(store.findUser(ACME, user)).contains(winner.user());
            assertOnlyLiveKeys(candidates, winner);
        }
        assertThat(userCount(store, ACME)).isEqualTo(1 + concurrencyRounds());
        assertThat(allChangesAfter(store, FeedPosition.of(1))).hasSize(concurrencyRounds());
    }

    @Test
    public void concurrentAdditionsOfDistinctUsersAreNeverLost()
            throws Exception
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        List<NewUser> users = IntStream.range(0, concurrencyThreads() * concurrencyRounds())
                .mapToObj(i -> newUser(ACME, UserId.of("user-%05d".formatted(i)), Role.USER))
                .toList();
        FeedPosition before = store.headPosition();

        List<Outcome> outcomes = race(users.size(), (i, handle) -> handle.addUser(users.get(i)));

        assertThat(outcomes).allMatch(Outcome::succeeded, "succeeded");
        List<User> expected = new ArrayList<>(List.of(alice.user()));
        users.forEach(user -> expected.add(user.user()));
        for (IdentityStore handle : List.of(store, anotherHandle())) {
            assertThat(allUsers(handle, ACME)).containsExactlyElementsOf(expected);
            assertThat(userCount(handle, ACME)).isEqualTo(expected.size());
            for (NewUser user : users) {
                assertThat(handle.findKey(user.keyId())).contains(user.keyRecord());
            }
        }
        assertThat(allChangesAfter(store, before)).hasSize(users.size());
    }

    @Test
    public void concurrentRemovalOfTwoAdminsLeavesOne()
            throws Exception
    {
        for (int round = 0; round < concurrencyRounds(); round++) {
            AccountId accountId = AccountId.of("acme-" + round);
            List<NewUser> admins = List.of(createAccountWithAdmin(accountId, ALICE), addUser(accountId, BOB, Role.ADMIN));

            List<Outcome> outcomes = race(2, (i, handle) -> handle.removeUser(accountId, admins.get(i).user().id()));

            int winner = singleWinner(outcomes, ErrorCode.FAILED_PRECONDITION);
            NewUser remaining = admins.get(1 - winner);
            assertThat(allUsers(store, accountId)).containsExactly(remaining.user());
            assertOnlyLiveKeys(admins, remaining);
        }
    }

    @Test
    public void concurrentDemotionAndRemovalOfTwoAdminsLeavesOne()
            throws Exception
    {
        for (int round = 0; round < concurrencyRounds(); round++) {
            AccountId accountId = AccountId.of("acme-" + round);
            List<NewUser> admins = List.of(createAccountWithAdmin(accountId, ALICE), addUser(accountId, BOB, Role.ADMIN));
            FeedPosition before = store.headPosition();

            List<Outcome> outcomes = race(2, (i, handle) -> {
                if (i == 0) {
                    handle.setRole(accountId, ALICE, Role.USER);
                }
                else {
                    handle.removeUser(accountId, BOB);
                }
            });

            int winner = singleWinner(outcomes, ErrorCode.FAILED_PRECONDITION);
            assertThat(allUsers(store, accountId)).filteredOn(user -> user.role() == Role.ADMIN)
                    .extracting(User::id)
                    .containsExactly(admins.get(1 - winner).user().id());
            assertThat(allChangesAfter(store, before)).extracting(Change::type)
                    .containsExactly(winner == 0 ? ChangeType.ROLE_CHANGED : ChangeType.USER_REMOVED);
        }
    }

    @Test
    public void usersAddedConcurrentlyWithAccountDeletionNeverOutliveIt()
            throws Exception
    {
        for (int round = 0; round < concurrencyRounds(); round++) {
            AccountId accountId = AccountId.of("acme-" + round);
            NewUser admin = createAccountWithAdmin(accountId, ALICE);
            int deleter = concurrencyThreads();
            List<NewUser> users = IntStream.range(0, 2 * concurrencyThreads() + 1)
                    .mapToObj(i -> newUser(accountId, UserId.of("user-" + i), Role.USER))
                    .toList();
            FeedPosition before = store.headPosition();

            List<Outcome> outcomes = race(users.size(), (i, handle) -> {
                if (i == deleter) {
                    handle.deleteAccount(accountId);
                }
                else {
                    handle.addUser(users.get(i));
                }
            });

            assertThat(outcomes.get(deleter).succeeded()).as("deletion succeeded").isTrue();
            assertThat(outcomes).filteredOn(outcome -> !outcome.succeeded())
                    .allMatch(outcome -> outcome.failure().equals(Optional.of(ErrorCode.NOT_FOUND)), "failed NOT_FOUND");
            assertThat(store.findAccount(accountId)).isEmpty();
            assertThat(store.listAccounts()).extracting(AccountSummary::id).doesNotContain(accountId);
            assertThat(store.findKey(admin.keyId())).isEmpty();
            for (NewUser user : users) {
                assertThat(store.findKey(user.keyId())).as("key of %s", user.user().id()).isEmpty();
                assertThat(store.findUser(accountId, user.user().id())).isEmpty();
            }

            // one change per acknowledged write: the additions that won, then the deletion, after which none commits
            List<Change> changes = allChangesAfter(store, before);
            assertThat(changes).hasSize((int) outcomes.stream().filter(Outcome::succeeded).count());
            assertThat(changes).last().extracting(Change::type).isEqualTo(ChangeType.ACCOUNT_DELETED);

            NewUser newAdmin = createAccountWithAdmin(accountId, BOB);
            assertThat(allUsers(store, accountId)).containsExactly(newAdmin.user());
        }
    }

    @Test
    public void concurrentKeyReplacementsKeepOnlyTheLastKey()
            throws Exception
    {
        createAccountWithAdmin(ACME, ALICE);
        for (int round = 0; round < concurrencyRounds(); round++) {
            UserId userId = UserId.of("bob-" + round);
            NewUser user = addUser(ACME, userId, Role.USER);
            List<ApiKey> keys = IntStream.range(0, raceSize()).mapToObj(i -> randomKey()).toList();
            List<SecretHash> hashes = keys.stream().map(this::hash).toList();
            List<KeyId> replaced = Collections.synchronizedList(new ArrayList<>());
            FeedPosition before = store.headPosition();

            List<Outcome> outcomes = race(keys.size(),
                    (i, handle) -> replaced.add(handle.replaceKey(ACME, userId, keys.get(i).keyId(), hashes.get(i), clock.instant()).primaryKeyId().orElseThrow()));

            assertThat(outcomes).allMatch(Outcome::succeeded, "succeeded");
            KeyId current = store.findUser(ACME, userId).orElseThrow().primaryKeyId().orElseThrow();
            int winner = keys.stream().map(ApiKey::keyId).toList().indexOf(current);
            assertThat(winner).as("final key is one of the new keys").isNotNegative();
            assertThat(store.findKey(current)).contains(new KeyRecord(current, hashes.get(winner), ACME, userId, Role.USER, clock.instant()));
            assertThat(store.findKey(user.keyId())).isEmpty();
            for (ApiKey key : keys) {
                assertThat(store.findKey(key.keyId()).isPresent()).as("key %s live", key.keyId()).isEqualTo(key.keyId().equals(current));
            }

            // every key but the final one was replaced exactly once: the replacements form one chain
            List<KeyId> expectedReplaced = new ArrayList<>(List.of(user.keyId()));
            keys.stream().map(ApiKey::keyId).filter(keyId -> !keyId.equals(current)).forEach(expectedReplaced::add);
            assertThat(replaced).containsExactlyInAnyOrderElementsOf(expectedReplaced);
            List<Change> changes = allChangesAfter(store, before);
            assertThat(changes).hasSize(keys.size()).allMatch(change -> change.type() == ChangeType.KEY_REPLACED, "KEY_REPLACED");
            KeyId chain = user.keyId();
            for (Change change : changes) {
                assertThat(change.keyIds()).hasSize(2).first().isEqualTo(chain);
                chain = change.keyIds().get(1);
            }
            assertThat(chain).isEqualTo(current);
        }
    }

    @Test
    public void feedAfterConcurrentBurstListsEveryAcknowledgedWriteOnce()
            throws Exception
    {
        createAccountWithAdmin(ACME, ALICE);
        // pairs of writes collide on one user id: exactly one of each pair is acknowledged
        List<NewUser> users = IntStream.range(0, 2 * concurrencyThreads() * concurrencyRounds())
                .mapToObj(i -> newUser(ACME, UserId.of("user-" + i / 2), Role.USER))
                .toList();
        FeedPosition before = store.headPosition();

        List<Outcome> outcomes = race(users.size(), (i, handle) -> handle.addUser(users.get(i)));

        Map<KeyId, NewUser> acknowledged = new LinkedHashMap<>();
        Set<KeyId> refused = new HashSet<>();
        for (int pair = 0; pair < users.size() / 2; pair++) {
            int winner = 2 * pair + singleWinner(outcomes.subList(2 * pair, 2 * pair + 2), ErrorCode.ALREADY_EXISTS);
            int loser = winner % 2 == 0 ? winner + 1 : winner - 1;
            acknowledged.put(users.get(winner).keyId(), users.get(winner));
            refused.add(users.get(loser).keyId());
        }

        FeedPosition head = FeedPosition.of(before.value() + acknowledged.size());
        assertThat(store.headPosition()).isEqualTo(head);
        for (IdentityStore handle : List.of(store, anotherHandle())) {
            List<Change> changes = allChangesAfter(handle, before);
            assertThat(changes).extracting(change -> change.position().value())
                    .containsExactlyElementsOf(LongStream.rangeClosed(before.value() + 1, head.value()).boxed().toList());
            assertThat(changes).flatExtracting(Change::keyIds).containsExactlyInAnyOrderElementsOf(acknowledged.keySet());
            assertThat(changes).flatExtracting(Change::keyIds).doesNotContainAnyElementsOf(refused);
            for (Change change : changes) {
                User user = acknowledged.get(change.keyIds().get(0)).user();
                assertThat(change.type()).isEqualTo(ChangeType.USER_ADDED);
                assertThat(change.accountId()).isEqualTo(ACME);
                assertThat(change.userId()).contains(user.id());
            }
        }
    }

    // several keys per user

    @Test
    public void addKeyResolvesBesideThePrimaryKeyWithItsAttributes()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        clock.advance(Duration.ofMinutes(1));
        FeedPosition before = store.headPosition();
        KeyAttributes attributes = KeyAttributes.extra(Optional.of(KeyName.of("ci job")), Scopes.of("docs:read", "docs:*"),
                Optional.of(clock.instant().plus(Duration.ofDays(30))));
        NewKey ci = newKey(ACME, ALICE, attributes);

        store.addKey(ci);

        assertSingleNewChange(before, ChangeType.KEY_ADDED, ACME, Optional.of(ALICE), List.of(ci.keyId()));
        assertThat(store.findKey(ci.keyId())).contains(ci.keyRecord(Role.ADMIN));
        assertThat(store.findKey(alice.keyId())).contains(alice.keyRecord());
        assertThat(store.findUser(ACME, ALICE)).contains(alice.user());
        assertThat(store.listKeys(ACME, ALICE, clock.instant()))
                .containsExactly(alice.keyRecord().summary(), ci.keyRecord(Role.ADMIN).summary());
        assertThat(anotherHandle().findKey(ci.keyId())).contains(ci.keyRecord(Role.ADMIN));
    }

    @Test
    public void listKeysSortsByCreationThenKeyId()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        clock.advance(Duration.ofMinutes(1));
        List<NewKey> sameInstant = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            sameInstant.add(newKey(ACME, ALICE, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty())));
        }
        sameInstant.forEach(store::addKey);

        List<KeyId> expected = new ArrayList<>();
        expected.add(alice.keyId());
        sameInstant.stream().map(NewKey::keyId).sorted(Comparator.comparing(KeyId::value)).forEach(expected::add);
        assertThat(store.listKeys(ACME, ALICE, clock.instant())).extracting(KeySummary::keyId).containsExactlyElementsOf(expected);
        assertFailsWith(ErrorCode.NOT_FOUND, () -> store.listKeys(ACME, BOB, clock.instant()));
        assertFailsWith(ErrorCode.NOT_FOUND, () -> store.listKeys(ABSENT, ALICE, clock.instant()));
    }

    @Test
    public void addKeyIsRefusedForAbsentUsersAndUsedKeyIds()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        NewKey bobsExtra = newKey(ACME, BOB, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty()));
        store.addKey(bobsExtra);

        assertRejected(ErrorCode.NOT_FOUND, () -> store.addKey(newKey(ABSENT, ALICE, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty()))));
        assertRejected(ErrorCode.NOT_FOUND, () -> store.addKey(newKey(ACME, CAROL, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty()))));
        for (KeyId used : List.of(alice.keyId(), bob.keyId(), bobsExtra.keyId())) {
            NewKey reusing = new NewKey(ACME, ALICE, used, hash(randomKey()), clock.instant(), KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty()));
            assertRejected(ErrorCode.ALREADY_EXISTS, () -> store.addKey(reusing));
        }
        NewUser carol = newUser(ACME, CAROL, Role.USER, randomKeyWithId(bobsExtra.keyId()));
        assertRejected(ErrorCode.ALREADY_EXISTS, () -> store.addUser(carol));
        assertRejected(ErrorCode.ALREADY_EXISTS, () -> store.replaceKey(ACME, ALICE, bobsExtra.keyId(), hash(randomKey()), clock.instant()));
    }

    @Test
    public void aUserHoldsAtMostTwentyLiveKeysEvenUnderConcurrentAdds()
            throws Exception
    {
        for (int round = 0; round < Math.max(1, concurrencyRounds() / 5); round++) {
            AccountId account = AccountId.of("limit-" + round);
            createAccountWithAdmin(account, ALICE);
            int racing = raceSize();
            int room = racing / 2;
            for (int i = 1; i < NewKey.MAX_LIVE_KEYS - room; i++) {
                store.addKey(newKey(account, ALICE, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty())));
            }
            List<NewKey> candidates = IntStream.range(0, racing)
                    .mapToObj(i -> newKey(account, ALICE, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty())))
                    .toList();

            List<Outcome> outcomes = race(racing, (i, handle) -> handle.addKey(candidates.get(i)));

            assertThat(outcomes).filteredOn(Outcome::succeeded).hasSize(room);
            assertThat(outcomes).filteredOn(outcome -> !outcome.succeeded())
                    .allMatch(outcome -> outcome.failure().equals(Optional.of(ErrorCode.FAILED_PRECONDITION)), "refused as over the limit");
            assertThat(store.listKeys(account, ALICE, clock.instant())).hasSize(NewKey.MAX_LIVE_KEYS);
            for (int i = 0; i < racing; i++) {
                assertThat(store.findKey(candidates.get(i).keyId()).isPresent()).as("key %s resolves as it was acknowledged", i)
                        .isEqualTo(outcomes.get(i).succeeded());
            }
            assertFailsWith(ErrorCode.FAILED_PRECONDITION,
                    () -> store.replaceKey(account, ALICE, randomKey().keyId(), hash(randomKey()), clock.instant(), Optional.of(clock.instant().plusSeconds(60))));
        }
    }

    @Test
    public void expiredKeysAreNotListedDoNotCountAndCannotBeDeleted()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewKey shortLived = newKey(ACME, ALICE, KeyAttributes.extra(Optional.of(KeyName.of("short")), Scopes.all(), Optional.of(clock.instant().plusSeconds(60))));
        store.addKey(shortLived);
        for (int i = 2; i < NewKey.MAX_LIVE_KEYS; i++) {
            store.addKey(newKey(ACME, ALICE, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty())));
        }
        assertRejected(ErrorCode.FAILED_PRECONDITION, () -> store.addKey(newKey(ACME, ALICE, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty()))));
        assertThat(store.listKeys(ACME, ALICE, clock.instant().plusSeconds(59))).extracting(KeySummary::keyId).contains(shortLived.keyId());

        clock.advance(Duration.ofSeconds(60));

        assertThat(store.listKeys(ACME, ALICE, clock.instant())).hasSize(NewKey.MAX_LIVE_KEYS - 1)
                .extracting(KeySummary::keyId).doesNotContain(shortLived.keyId());
        assertRejected(ErrorCode.NOT_FOUND, () -> store.deleteKey(ACME, ALICE, shortLived.keyId(), clock.instant()));
        store.addKey(newKey(ACME, ALICE, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty())));
        assertThat(store.listKeys(ACME, ALICE, clock.instant())).hasSize(NewKey.MAX_LIVE_KEYS);
    }

    @Test
    public void aKeyWriteToAUserRemovesItsExpiredKeysAndNamesThem()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        addUser(ACME, CAROL, Role.USER);
        Instant soon = clock.instant().plusSeconds(60);
        NewKey first = newKey(ACME, BOB, KeyAttributes.extra(Optional.of(KeyName.of("first")), Scopes.all(), Optional.of(soon)));
        NewKey second = newKey(ACME, BOB, KeyAttributes.extra(Optional.of(KeyName.of("second")), Scopes.all(), Optional.of(soon)));
        NewKey carols = newKey(ACME, CAROL, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.of(soon)));
        store.addKey(first);
        store.addKey(second);
        store.addKey(carols);
        clock.advance(Duration.ofSeconds(60));
        assertThat(store.listKeys(ACME, BOB, Instant.EPOCH)).as("expired, and still held").hasSize(3);
        FeedPosition before = store.headPosition();

        NewKey next = newKey(ACME, BOB, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty()));
        store.addKey(next);

        assertSingleNewChange(before, ChangeType.KEY_ADDED, ACME, Optional.of(BOB), ExpiredKeys.named(List.of(next.keyId()), List.of(first.keyId(), second.keyId())));
        assertThat(store.listKeys(ACME, BOB, Instant.EPOCH)).extracting(KeySummary::keyId).containsExactlyInAnyOrder(bob.keyId(), next.keyId());
        assertThat(anotherHandle().findKey(first.keyId())).isEmpty();
        assertThat(store.findKey(second.keyId())).isEmpty();
        assertThat(store.listKeys(ACME, CAROL, Instant.EPOCH)).as("another user's expired key waits for a write to that user")
                .extracting(KeySummary::keyId).contains(carols.keyId());
    }

    @Test
    public void aSeededKeyIdAnExpiredGraceKeyHeldCanBeIssuedAgain()
    {
        createAccountWithAdmin(ACME, ALICE);
        addUser(ACME, BOB, Role.USER);
        ApiKey seeded = ApiKeyGenerator.seeded(SEED, ACME, BOB);
        store.replaceKey(ACME, BOB, seeded.keyId(), hash(seeded), clock.instant());
        ApiKey rotated = randomKey();
        store.replaceKey(ACME, BOB, rotated.keyId(), hash(rotated), clock.instant(), Optional.of(clock.instant().plusSeconds(60)));
        clock.advance(Duration.ofSeconds(60));
        assertRejected(ErrorCode.ALREADY_EXISTS, () -> store.addKey(new NewKey(ACME, ALICE, seeded.keyId(), hash(seeded), clock.instant(),
                KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty()))));
        FeedPosition before = store.headPosition();

        User previous = store.replaceKey(ACME, BOB, seeded.keyId(), hash(seeded), clock.instant());

        assertThat(previous.primaryKeyId()).contains(rotated.keyId());
        assertSingleNewChange(before, ChangeType.KEY_REPLACED, ACME, Optional.of(BOB), List.of(rotated.keyId(), seeded.keyId()));
        assertThat(store.findKey(seeded.keyId())).contains(new KeyRecord(seeded.keyId(), hash(seeded), ACME, BOB, Role.USER, clock.instant()));
        assertThat(anotherHandle().findUser(ACME, BOB).orElseThrow().primaryKeyId()).contains(seeded.keyId());
        assertThat(store.listKeys(ACME, BOB, Instant.EPOCH)).extracting(KeySummary::keyId).containsExactly(seeded.keyId());
    }

    @Test
    public void deleteKeyEndsThatKeyOnlyAndNamesItInTheFeed()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        NewKey first = newKey(ACME, BOB, KeyAttributes.extra(Optional.of(KeyName.of("first")), Scopes.of("a"), Optional.empty()));
        NewKey second = newKey(ACME, BOB, KeyAttributes.extra(Optional.of(KeyName.of("second")), Scopes.of("b"), Optional.empty()));
        store.addKey(first);
        store.addKey(second);
        clock.advance(Duration.ofMinutes(1));
        FeedPosition before = store.headPosition();

        KeySummary deleted = store.deleteKey(ACME, BOB, first.keyId(), clock.instant());

        assertThat(deleted).isEqualTo(first.keyRecord(Role.USER).summary());
        assertSingleNewChange(before, ChangeType.KEY_DELETED, ACME, Optional.of(BOB), List.of(first.keyId()));
        assertThat(store.findKey(first.keyId())).isEmpty();
        assertThat(anotherHandle().findKey(first.keyId())).isEmpty();
        assertThat(store.findKey(second.keyId())).contains(second.keyRecord(Role.USER));
        assertThat(store.findKey(bob.keyId())).contains(bob.keyRecord());
        assertThat(store.findUser(ACME, BOB)).contains(bob.user());
        assertRejected(ErrorCode.NOT_FOUND, () -> store.deleteKey(ACME, BOB, first.keyId(), clock.instant()));
        assertRejected(ErrorCode.NOT_FOUND, () -> store.deleteKey(ACME, BOB, alice.keyId(), clock.instant()));
        assertRejected(ErrorCode.NOT_FOUND, () -> store.deleteKey(ACME, ALICE, second.keyId(), clock.instant()));
        assertRejected(ErrorCode.NOT_FOUND, () -> store.deleteKey(ACME, CAROL, second.keyId(), clock.instant()));
        assertRejected(ErrorCode.NOT_FOUND, () -> store.deleteKey(ABSENT, BOB, second.keyId(), clock.instant()));
    }

    @Test
    public void deletingThePrimaryKeyLeavesTheUserWithoutOneUntilANewOneIsIssued()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        NewKey extra = newKey(ACME, BOB, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty()));
        store.addKey(extra);

        store.deleteKey(ACME, BOB, bob.keyId(), clock.instant());

        assertThat(store.findKey(bob.keyId())).isEmpty();
        assertThat(store.findUser(ACME, BOB)).contains(bob.user().withoutPrimaryKey());
        assertThat(allUsers(anotherHandle(), ACME)).contains(bob.user().withoutPrimaryKey());
        assertThat(store.findKey(extra.keyId())).contains(extra.keyRecord(Role.USER));

        ApiKey fresh = randomKey();
        FeedPosition before = store.headPosition();
        User previous = store.replaceKey(ACME, BOB, fresh.keyId(), hash(fresh), clock.instant(), Optional.of(clock.instant().plusSeconds(60)));

        assertThat(previous).isEqualTo(bob.user().withoutPrimaryKey());
        assertSingleNewChange(before, ChangeType.KEY_REPLACED, ACME, Optional.of(BOB), List.of(fresh.keyId()));
        assertThat(store.findUser(ACME, BOB)).contains(bob.user().withKey(fresh.keyId()));
        assertThat(store.findKey(fresh.keyId())).contains(new KeyRecord(fresh.keyId(), hash(fresh), ACME, BOB, Role.USER, clock.instant()));
        assertThat(store.listKeys(ACME, BOB, clock.instant())).extracting(KeySummary::keyId).containsExactlyInAnyOrder(extra.keyId(), fresh.keyId());
    }

    @Test
    public void aNewPrimaryKeyForAUserWithoutOneCountsTowardsTheLimit()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        for (int i = 1; i < NewKey.MAX_LIVE_KEYS; i++) {
            store.addKey(newKey(ACME, BOB, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty())));
        }
        store.deleteKey(ACME, BOB, bob.keyId(), clock.instant());
        store.addKey(newKey(ACME, BOB, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty())));

        assertRejected(ErrorCode.FAILED_PRECONDITION, () -> store.replaceKey(ACME, BOB, randomKey().keyId(), hash(randomKey()), clock.instant()));
        assertThat(store.findUser(ACME, BOB)).contains(bob.user().withoutPrimaryKey());
    }

    @Test
    public void replaceKeyWithAGracePeriodKeepsTheOldKeyAsPreviousUntilItsInstant()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        clock.advance(Duration.ofMinutes(1));
        ApiKey fresh = randomKey();
        Instant until = clock.instant().plus(Duration.ofHours(1));
        FeedPosition before = store.headPosition();

        User previous = store.replaceKey(ACME, BOB, fresh.keyId(), hash(fresh), clock.instant(), Optional.of(until));

        assertThat(previous).isEqualTo(bob.user());
        assertSingleNewChange(before, ChangeType.KEY_REPLACED, ACME, Optional.of(BOB), List.of(bob.keyId(), fresh.keyId()));
        KeyRecord retired = store.findKey(bob.keyId()).orElseThrow();
        assertThat(retired.attributes()).isEqualTo(KeyAttributes.primaryKey().retiredUntil(until));
        assertThat(retired.secretHash()).isEqualTo(bob.secretHash());
        assertThat(retired.createdAt()).isEqualTo(bob.keyRecord().createdAt());
        assertThat(anotherHandle().findKey(bob.keyId())).contains(retired);
        assertThat(store.findUser(ACME, BOB)).contains(bob.user().withKey(fresh.keyId()));
        assertThat(store.listKeys(ACME, BOB, until.minusMillis(1))).extracting(KeySummary::keyId).containsExactly(bob.keyId(), fresh.keyId());
        assertThat(store.listKeys(ACME, BOB, until)).extracting(KeySummary::keyId).containsExactly(fresh.keyId());

        // the retired key is no longer primary: the next replacement leaves it as it is
        ApiKey third = randomKey();
        store.replaceKey(ACME, BOB, third.keyId(), hash(third), clock.instant());
        assertThat(store.findKey(bob.keyId())).contains(retired);
        assertThat(store.findKey(fresh.keyId())).isEmpty();
    }

    @Test
    public void aRoleChangeReachesEveryKeyOfTheUserAndNamesThemAll()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        NewKey scoped = newKey(ACME, BOB, KeyAttributes.extra(Optional.of(KeyName.of("scoped")), Scopes.of("docs:read"), Optional.of(clock.instant().plusSeconds(3600))));
        NewKey plain = newKey(ACME, BOB, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty()));
        store.addKey(scoped);
        store.addKey(plain);
        FeedPosition before = store.headPosition();

        UserChange change = store.setRole(ACME, BOB, Role.ADMIN);

        List<KeyId> all = List.of(bob.keyId(), scoped.keyId(), plain.keyId());
        assertThat(change.before()).isEqualTo(bob.user());
        assertThat(change.keyIds()).containsExactlyInAnyOrderElementsOf(all);
        List<Change> changes = allChangesAfter(store, before);
        assertThat(changes).hasSize(1);
        assertThat(changes.get(0).type()).isEqualTo(ChangeType.ROLE_CHANGED);
        assertThat(changes.get(0).keyIds()).containsExactlyInAnyOrderElementsOf(all);
        for (IdentityStore handle : List.of(store, anotherHandle())) {
            assertThat(handle.findKey(bob.keyId())).contains(withRole(bob.keyRecord(), Role.ADMIN));
            assertThat(handle.findKey(scoped.keyId())).contains(scoped.keyRecord(Role.ADMIN));
            assertThat(handle.findKey(plain.keyId())).contains(plain.keyRecord(Role.ADMIN));
        }
        NewKey later = newKey(ACME, BOB, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty()));
        store.addKey(later);
        assertThat(store.findKey(later.keyId())).contains(later.keyRecord(Role.ADMIN));
        assertThat(store.setRole(ACME, BOB, Role.ADMIN).keyIds()).isEmpty();
    }

    @Test
    public void removingAUserOrDeletingItsAccountEndsEveryKeyOfIt()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        NewUser carol = addUser(ACME, CAROL, Role.USER);
        List<NewKey> bobs = List.of(
                newKey(ACME, BOB, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty())),
                newKey(ACME, BOB, KeyAttributes.extra(Optional.empty(), Scopes.of("x"), Optional.of(clock.instant().plusSeconds(60)))));
        NewKey carols = newKey(ACME, CAROL, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty()));
        bobs.forEach(store::addKey);
        store.addKey(carols);
        FeedPosition before = store.headPosition();

        UserChange removed = store.removeUser(ACME, BOB);

        List<KeyId> bobsKeys = List.of(bob.keyId(), bobs.get(0).keyId(), bobs.get(1).keyId());
        assertThat(removed.before()).isEqualTo(bob.user());
        assertThat(removed.keyIds()).containsExactlyInAnyOrderElementsOf(bobsKeys);
        assertThat(allChangesAfter(store, before)).singleElement()
                .satisfies(change -> assertThat(change.keyIds()).containsExactlyInAnyOrderElementsOf(bobsKeys));
        for (KeyId keyId : bobsKeys) {
            assertThat(store.findKey(keyId)).isEmpty();
            assertThat(anotherHandle().findKey(keyId)).isEmpty();
        }
        assertThat(store.findKey(carols.keyId())).contains(carols.keyRecord(Role.USER));

        store.deleteAccount(ACME);

        for (KeyId keyId : List.of(carol.keyId(), carols.keyId())) {
            assertThat(store.findKey(keyId)).isEmpty();
            assertThat(anotherHandle().findKey(keyId)).isEmpty();
        }
        // a new user of the same name in a new account of the same name starts with its own keys only
        createAccountWithAdmin(ACME, ALICE);
        NewUser newBob = addUser(ACME, BOB, Role.USER);
        assertThat(store.listKeys(ACME, BOB, clock.instant())).extracting(KeySummary::keyId).containsExactly(newBob.keyId());
    }

    @Test
    public void concurrentAddsOfOneKeyIdToTwoUsersHaveOneWinner()
            throws Exception
    {
        createAccountWithAdmin(ACME, ALICE);
        addUser(ACME, BOB, Role.USER);
        for (int round = 0; round < concurrencyRounds(); round++) {
            ApiKey shared = randomKey();
            List<NewKey> candidates = List.of(
                    new NewKey(ACME, ALICE, shared.keyId(), hash(shared), clock.instant(), KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty())),
                    new NewKey(ACME, BOB, shared.keyId(), hash(randomKey()), clock.instant(), KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty())));

            List<Outcome> outcomes = race(2, (i, handle) -> handle.addKey(candidates.get(i)));

            int winner = singleWinner(outcomes, ErrorCode.ALREADY_EXISTS);
            NewKey won = candidates.get(winner);
            assertThat(store.findKey(shared.keyId())).contains(won.keyRecord(winner == 0 ? Role.ADMIN : Role.USER));
            store.deleteKey(ACME, won.userId(), won.keyId(), clock.instant());
        }
    }

    // audit trail

    @Test
    public void everyCommittedWriteHasOneAuditRecordOfItsChangeAndOrigin()
    {
        AccountId account = AccountId.of("audited");
        NewUser admin = newUser(account, ALICE, Role.ADMIN);
        List<Origin> origins = IntStream.rangeClosed(1, 8).mapToObj(i -> origin(account, "request-" + i)).toList();
        store.createAccount(origins.get(0), account(account), Optional.of(admin));
        store.addUser(origins.get(1), newUser(account, BOB, Role.USER));
        store.replaceKey(origins.get(2), account, BOB, randomKey().keyId(), hash(randomKey()), clock.instant(), Optional.empty());
        NewKey extra = newKey(account, BOB, KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty()));
        store.addKey(origins.get(3), extra);
        store.deleteKey(origins.get(4), account, BOB, extra.keyId(), clock.instant());
        store.setRole(origins.get(5), account, BOB, Role.ADMIN);
        store.removeUser(origins.get(6), account, BOB);
        store.deleteAccount(new Origin(Actor.root(), "instance-b:1934", "request-8"), account);

        List<Change> feed = allChangesAfter(store, FeedPosition.START);
        AuditPage page = store.listAudit(allAudit());
        assertThat(page.next()).isEmpty();
        assertThat(page.records()).extracting(AuditRecord::change).containsExactlyElementsOf(reversed(feed));
        assertThat(page.records()).extracting(record -> record.origin().requestId())
                .containsExactly("request-8", "request-7", "request-6", "request-5", "request-4", "request-3", "request-2", "request-1");
        assertThat(page.records().get(0).origin()).isEqualTo(new Origin(Actor.root(), "instance-b:1934", "request-8"));
        assertThat(page.records().get(7).origin()).isEqualTo(origins.get(0));
    }

    @Test
    public void aRefusedWriteOrOneThatChangesNothingLeavesNoAuditRecord()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        List<AuditRecord> before = store.listAudit(allAudit()).records();

        assertFailsWith(ErrorCode.ALREADY_EXISTS, () -> store.addUser(origin(ACME, "refused-1"), newUser(ACME, ALICE, Role.USER)));
        assertFailsWith(ErrorCode.FAILED_PRECONDITION, () -> store.removeUser(origin(ACME, "refused-2"), ACME, ALICE));
        assertFailsWith(ErrorCode.NOT_FOUND, () -> store.deleteAccount(origin(ABSENT, "refused-3"), ABSENT));
        assertFailsWith(ErrorCode.ALREADY_EXISTS, () -> store.createAccount(origin(ACME, "refused-4"), account(ACME), Optional.of(newUser(ACME, BOB, Role.ADMIN, randomKeyWithId(alice.keyId())))));
        store.setRole(origin(ACME, "unchanged"), ACME, ALICE, Role.ADMIN);

        assertThat(store.listAudit(allAudit()).records()).isEqualTo(before);
    }

    @Test
    public void theAuditTrailFiltersByAccountAndPagesNewestFirst()
    {
        AccountId other = AccountId.of("other");
        createAccountWithAdmin(ACME, ALICE);
        createAccountWithAdmin(other, ALICE);
        for (int i = 0; i < 3; i++) {
            addUser(ACME, UserId.of("user-" + i), Role.USER);
            addUser(other, UserId.of("user-" + i), Role.USER);
        }
        List<Change> feed = allChangesAfter(store, FeedPosition.START);

        AuditPage acme = store.listAudit(new AuditQuery(Optional.of(ACME), Optional.empty(), Instant.EPOCH, 100));
        assertThat(acme.records()).extracting(AuditRecord::change)
                .containsExactlyElementsOf(reversed(feed.stream().filter(change -> change.accountId().equals(ACME)).toList()));
        assertThat(acme.records()).hasSize(4);

        List<Change> paged = new ArrayList<>();
        Optional<FeedPosition> cursor = Optional.empty();
        int pages = 0;
        do {
            AuditPage page = store.listAudit(new AuditQuery(Optional.empty(), cursor, Instant.EPOCH, 3));
            assertThat(page.records()).hasSizeBetween(1, 3);
            page.records().forEach(record -> paged.add(record.change()));
            cursor = page.next();
            pages++;
        }
        while (cursor.isPresent() && pages < 10);
        assertThat(paged).containsExactlyElementsOf(reversed(feed));
        assertThat(pages).isEqualTo(3);

        AuditPage afterCursor = store.listAudit(new AuditQuery(Optional.of(other), Optional.of(feed.get(4).position()), Instant.EPOCH, 100));
        assertThat(afterCursor.records()).extracting(record -> record.change().position())
                .containsExactly(feed.get(3).position(), feed.get(1).position());
    }

    @Test
    public void theAuditTrailOutlivesFeedCompactionAndEndsWithItsRetention()
    {
        Instant first = clock.instant();
        createAccountWithAdmin(ACME, ALICE);
        clock.advance(Duration.ofDays(10));
        Instant second = clock.instant();
        addUser(ACME, BOB, Role.USER);
        compactFeedThrough(store, store.headPosition());

        assertThat(store.listAudit(allAudit()).records()).extracting(record -> record.change().committedAt())
                .containsExactly(second, first);
        assertThat(store.listAudit(new AuditQuery(Optional.empty(), Optional.empty(), first.plus(Duration.ofDays(5)), 100)).records())
                .extracting(record -> record.change().type())
                .containsExactly(ChangeType.USER_ADDED);

        store.purgeAudit(first.plus(Duration.ofDays(5)));

        assertThat(store.listAudit(allAudit()).records()).extracting(record -> record.change().type())
                .containsExactly(ChangeType.USER_ADDED);
        assertThat(anotherHandle().listAudit(allAudit()).records()).extracting(record -> record.change().type())
                .containsExactly(ChangeType.USER_ADDED);
        addUser(ACME, CAROL, Role.USER);
        assertThat(store.listAudit(allAudit()).records()).extracting(record -> record.change().type())
                .containsExactly(ChangeType.USER_ADDED, ChangeType.USER_ADDED);
    }

    @Test
    public void writesThroughTwoHandlesAreAuditedAndSeenFromEither()
    {
        IdentityStore other = anotherHandle();
        store.createAccount(new Origin(Actor.root(), "instance-a", "from-a"), account(ACME), Optional.of(newUser(ACME, ALICE, Role.ADMIN)));
        other.addUser(origin(ACME, "from-b"), newUser(ACME, BOB, Role.USER));

        for (IdentityStore handle : List.of(store, other)) {
            assertThat(handle.listAudit(allAudit()).records()).extracting(record -> record.origin().requestId())
                    .containsExactly("from-b", "from-a");
        }
    }

    // usage

    @Test
    public void lastUsedIsTheLatestUseAnyInstanceRecorded()
    {
        NewUser alice = createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        NewUser carol = addUser(ACME, CAROL, Role.USER);
        IdentityStore other = anotherHandle();
        FeedPosition head = store.headPosition();
        Instant early = clock.instant().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
        Instant late = early.plusSeconds(60);

        store.recordUsage("instance-a", Map.of(alice.keyId(), early, bob.keyId(), late));
        other.recordUsage("instance-b", Map.of(alice.keyId(), late, bob.keyId(), early));

        Map<KeyId, Instant> expected = Map.of(alice.keyId(), late, bob.keyId(), late);
        List<KeyId> asked = List.of(alice.keyId(), bob.keyId(), carol.keyId());
        assertThat(store.lastUsed(asked)).isEqualTo(expected);
        assertThat(other.lastUsed(asked)).isEqualTo(expected);

        // a later flush of one instance moves its keys on; an older report never moves a key back
        store.recordUsage("instance-a", Map.of(alice.keyId(), late.plusSeconds(60)));
        store.recordUsage("instance-a", Map.of(bob.keyId(), early.minusSeconds(60)));
        assertThat(other.lastUsed(asked)).isEqualTo(Map.of(alice.keyId(), late.plusSeconds(60), bob.keyId(), late));
        assertThat(store.lastUsed(List.of(carol.keyId()))).isEmpty();

        // usage is not an admin change
        assertThat(store.headPosition()).isEqualTo(head);
        assertThat(store.listAudit(allAudit()).records()).hasSize(3);
    }

    @Test
    public void lastUsedNamesOnlyTheKeysReportedUsed()
    {
        createAccountWithAdmin(ACME, ALICE);
        NewUser bob = addUser(ACME, BOB, Role.USER);
        store.recordUsage("instance-a", Map.of(bob.keyId(), clock.instant().truncatedTo(java.time.temporal.ChronoUnit.MILLIS)));
        assertThat(store.lastUsed(List.of(bob.keyId()))).containsOnlyKeys(bob.keyId());
        assertThat(store.lastUsed(List.of())).isEmpty();
        assertThat(store.lastUsed(List.of(randomKey().keyId()))).isEmpty();
    }

    // instance registry

    @Test
    public void publishedInstancesAreListedThroughEveryHandle()
    {
        IdentityStore other = anotherHandle();
        InstanceRecord a = instance("instance-a", 3);
        InstanceRecord b = instance("instance-b", 4);
        other.publishInstance(b);
        store.publishInstance(a);

        assertThat(store.listInstances()).containsExactly(a, b);
        assertThat(other.listInstances()).containsExactly(a, b);
    }

    @Test
    public void publishingAgainReplacesTheInstanceRecord()
    {
        IdentityStore other = anotherHandle();
        InstanceRecord first = instance("instance-a", 3);
        store.publishInstance(first);
        InstanceRecord later = first.publishedAgain(FeedPosition.of(9), first.feedReadAt().plusSeconds(5), first.publishedAt().plusSeconds(10));
        store.publishInstance(later);

        assertThat(store.listInstances()).containsExactly(later);
        assertThat(other.listInstances()).containsExactly(later);
    }

    @Test
    public void removeInstanceRemovesOnlyItsRecord()
    {
        IdentityStore other = anotherHandle();
        InstanceRecord a = instance("instance-a", 3);
        InstanceRecord b = instance("instance-b", 4);
        store.publishInstance(a);
        store.publishInstance(b);

        other.removeInstance("instance-a");
        store.removeInstance("instance-never-published");

        assertThat(store.listInstances()).containsExactly(b);
        assertThat(other.listInstances()).containsExactly(b);
        assertThatThrownBy(() -> store.removeInstance("not an id/")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    public void theRegistryIsNotAnAdminChange()
    {
        createAccountWithAdmin(ACME, ALICE);
        FeedPosition head = store.headPosition();
        store.publishInstance(instance("instance-a", 1));
        store.removeInstance("instance-a");
        store.publishInstance(instance("instance-b", 1));

        assertThat(store.headPosition()).isEqualTo(head);
        assertThat(store.listAudit(allAudit()).records()).hasSize(1);
        assertThat(store.listInstances()).extracting(InstanceRecord::instanceId).containsExactly("instance-b");
    }

    private InstanceRecord instance(String instanceId, long applied)
    {
        Instant now = clock.instant().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
        return new InstanceRecord(instanceId, "http://" + instanceId + ":8080", "1.2.3", now.minusSeconds(60), FeedPosition.of(applied), now.minusSeconds(1), now,
                Duration.ofSeconds(10));
    }

    // helpers: test data

    private ApiKey randomKey()
    {
        return keyGenerator.random();
    }

    private SecretHash hash(ApiKey key)
    {
        return hasher.hash(key.secret());
    }

    private Account account(AccountId accountId)
    {
        return new Account(accountId, clock.instant(), true);
    }

    private NewUser newUser(AccountId accountId, UserId userId, Role role)
    {
        return newUser(accountId, userId, role, randomKey());
    }

    private NewUser newUser(AccountId accountId, UserId userId, Role role, ApiKey key)
    {
        return new NewUser(new User(accountId, userId, role, key.keyId(), clock.instant()), hash(key));
    }

    private NewKey newKey(AccountId accountId, UserId userId, KeyAttributes attributes)
    {
        ApiKey key = randomKey();
        return new NewKey(accountId, userId, key.keyId(), hash(key), clock.instant(), attributes);
    }

    /**
     * A key whose id is {@code keyId} (and whose secret is new): how a key id collision looks.
     */
    private ApiKey randomKeyWithId(KeyId keyId)
    {
        return ApiKey.of(keyId, randomKey().secret());
    }

    private NewUser createAccountWithAdmin(AccountId accountId, UserId adminId)
    {
        NewUser admin = newUser(accountId, adminId, Role.ADMIN);
        store.createAccount(account(accountId), Optional.of(admin));
        return admin;
    }

    private void createEmptyAccount(AccountId accountId)
    {
        store.createAccount(new Account(accountId, clock.instant(), false), Optional.empty());
    }

    private NewUser addUser(AccountId accountId, UserId userId, Role role)
    {
        NewUser user = newUser(accountId, userId, role);
        store.addUser(user);
        return user;
    }

    /**
     * Six changes, one of each kind but the empty account: positions 1 to 6.
     */
    private void writeSixChanges()
    {
        AccountId account = AccountId.of("feed");
        createAccountWithAdmin(account, ALICE);
        addUser(account, BOB, Role.USER);
        store.replaceKey(account, BOB, randomKey().keyId(), hash(randomKey()), clock.instant());
        store.setRole(account, BOB, Role.ADMIN);
        store.removeUser(account, BOB);
        store.deleteAccount(account);
    }

    private void createAccountWithGlobUsers()
    {
        createAccountWithAdmin(ACME, ALICE);
        for (String id : List.of("al", "alina", "bob", "Bob", "carol", "a_c", "abc", "a.c", "a-c", "ac")) {
            addUser(ACME, UserId.of(id), Role.USER);
        }
    }

    private static KeyRecord withRole(KeyRecord key, Role role)
    {
        return new KeyRecord(key.keyId(), key.secretHash(), key.accountId(), key.userId(), role, key.createdAt());
    }

    private static UserQuery page(int limit, Optional<UserId> after)
    {
        return query(limit, Optional.empty(), Optional.empty(), after);
    }

    private static UserQuery query(int limit, Optional<String> nameGlob, Optional<Role> role, Optional<UserId> after)
    {
        return new UserQuery(limit, nameGlob, role, after);
    }

    // helpers: reading

    private static AuditQuery allAudit()
    {
        return new AuditQuery(Optional.empty(), Optional.empty(), Instant.EPOCH, AuditQuery.MAX_LIMIT);
    }

    private Origin origin(AccountId accountId, String requestId)
    {
        return new Origin(Actor.user(accountId, ALICE, Role.ADMIN, Optional.of(randomKey().keyId())), "instance-a:1933", requestId);
    }

    private static <T> List<T> reversed(List<T> list)
    {
        List<T> copy = new ArrayList<>(list);
        Collections.reverse(copy);
        return copy;
    }

    private IdentityStore anotherHandle()
    {
        if (otherHandle.isEmpty()) {
            otherHandle = Optional.of(openAnotherHandle(store));
        }
        return otherHandle.get();
    }

    private List<String> userIdsMatching(String glob)
    {
        return store.listUsers(ACME, query(UserQuery.MAX_LIMIT, Optional.of(glob), Optional.empty(), Optional.empty())).users().stream()
                .map(user -> user.id().value())
                .toList();
    }

    private static List<User> allUsers(IdentityStore handle, AccountId accountId)
    {
        List<User> users = new ArrayList<>();
        Optional<UserId> cursor = Optional.empty();
        do {
            UserPage page = handle.listUsers(accountId, page(UserQuery.MAX_LIMIT, cursor));
            users.addAll(page.users());
            cursor = page.next();
        }
        while (cursor.isPresent());
        return users;
    }

    private static List<UserId> userIds(IdentityStore handle, AccountId accountId)
    {
        return allUsers(handle, accountId).stream().map(User::id).toList();
    }

    private static int userCount(IdentityStore handle, AccountId accountId)
    {
        return handle.listAccounts().stream()
                .filter(summary -> summary.id().equals(accountId))
                .findFirst()
                .orElseThrow()
                .userCount();
    }

    private static FeedBatch.Changes changes(FeedBatch batch)
    {
        assertThat(batch).isInstanceOf(FeedBatch.Changes.class);
        return (FeedBatch.Changes) batch;
    }

    private static List<Change> allChangesAfter(IdentityStore handle, FeedPosition position)
    {
        List<Change> changes = new ArrayList<>();
        FeedBatch.Changes batch = changes(handle.changesAfter(position, 100));
        while (!batch.changes().isEmpty()) {
            assertThat(batch.next()).isEqualTo(lastPosition(batch.changes()));
            changes.addAll(batch.changes());
            batch = changes(handle.changesAfter(batch.next(), 100));
        }
        return changes;
    }

    private static FeedPosition lastPosition(List<Change> changes)
    {
        return changes.get(changes.size() - 1).position();
    }

    /**
     * What a read can see of the store: every account with its users, each user's key, and the feed head.
     */
    private record Snapshot(
            FeedPosition head,
            List<AccountSummary> accounts,
            Map<AccountId, List<User>> users,
            Map<KeyId, Optional<KeyRecord>> keys) {}

    private Snapshot snapshot()
    {
        List<AccountSummary> accounts = store.listAccounts();
        Map<AccountId, List<User>> users = new HashMap<>();
        Map<KeyId, Optional<KeyRecord>> keys = new HashMap<>();
        for (AccountSummary account : accounts) {
            List<User> accountUsers = allUsers(store, account.id());
            users.put(account.id(), accountUsers);
            for (User user : accountUsers) {
                user.primaryKeyId().ifPresent(keyId -> keys.put(keyId, store.findKey(keyId)));
                for (KeySummary key : store.listKeys(account.id(), user.id(), clock.instant())) {
                    keys.put(key.keyId(), store.findKey(key.keyId()));
                }
            }
        }
        return new Snapshot(store.headPosition(), accounts, users, keys);
    }

    // helpers: assertions

    private static void assertFailsWith(ErrorCode code, ThrowingCallable call)
    {
        assertThatThrownBy(call)
                .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).as("error code").isEqualTo(code));
    }

    /**
     * The call fails with the code, and changes nothing: no account, user or key differs and no change is appended.
     */
    private void assertRejected(ErrorCode code, ThrowingCallable call)
    {
        Snapshot before = snapshot();
        assertFailsWith(code, call);
        assertThat(snapshot()).isEqualTo(before);
    }

    /**
     * The last write appended exactly one change, at the next position, committed now.
     */
    private void assertSingleNewChange(FeedPosition before, ChangeType type, AccountId accountId, Optional<UserId> userId, List<KeyId> keyIds)
    {
        Change expected = new Change(before.next(), type, accountId, userId, keyIds, clock.instant());
        assertThat(store.headPosition()).isEqualTo(before.next());
        assertThat(store.changesAfter(before, 10)).isEqualTo(new FeedBatch.Changes(List.of(expected), before.next()));
    }

    private void assertOnlyLiveKeys(List<NewUser> candidates, NewUser live)
    {
        for (NewUser candidate : candidates) {
            KeyId keyId = candidate.keyId();
            if (candidate == live) {
                assertThat(store.findKey(keyId)).as("key of the winner").contains(live.keyRecord());
            }
            else {
                assertThat(store.findKey(keyId)).as("key of a loser").isEmpty();
            }
        }
    }

    // helpers: concurrency

    private int raceSize()
    {
        return Math.max(2, concurrencyThreads());
    }

    @FunctionalInterface
    private interface ConcurrentWrite
    {
        void run(int index, IdentityStore handle);
    }

    /**
     * How one concurrent write ended: acknowledged, or refused with a code.
     */
    private record Outcome(Optional<ErrorCode> failure)
    {
        boolean succeeded()
        {
            return failure.isEmpty();
        }
    }

    /**
     * Runs the writes 0 to {@code writes - 1} on {@link #concurrencyThreads()} threads, released together once
     * every thread is waiting, alternating between this store and {@link #anotherHandle()}. A write that throws anything but a
     * {@link LatchkeyException} fails the test.
     */
    private List<Outcome> race(int writes, ConcurrentWrite write)
            throws Exception
    {
        List<IdentityStore> handles = List.of(store, anotherHandle());
        int threads = Math.max(2, concurrencyThreads());
        ExecutorService executor = Executors.newFixedThreadPool(threads);
        try {
            // every thread of the pool takes its first write and waits at the start line before any is released
            CountDownLatch ready = new CountDownLatch(Math.min(writes, threads));
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Outcome>> futures = new ArrayList<>();
            for (int i = 0; i < writes; i++) {
                int index = i;
                IdentityStore handle = handles.get(index % handles.size());
                futures.add(executor.submit(() -> {
                    ready.countDown();
                    assertThat(start.await(TIMEOUT_SECONDS, SECONDS)).as("released").isTrue();
                    try {
                        write.run(index, handle);
                        return new Outcome(Optional.empty());
                    }
                    catch (LatchkeyException e) {
                        return new Outcome(Optional.of(e.code()));
                    }
                }));
            }
            assertThat(ready.await(TIMEOUT_SECONDS, SECONDS)).as("threads ready").isTrue();
            start.countDown();
            List<Outcome> outcomes = new ArrayList<>();
            for (Future<Outcome> future : futures) {
                outcomes.add(future.get(TIMEOUT_SECONDS, SECONDS));
            }
            return outcomes;
        }
        finally {
            executor.shutdownNow();
            assertThat(executor.awaitTermination(TIMEOUT_SECONDS, SECONDS)).as("threads stopped").isTrue();
        }
    }

    /**
     * Exactly one write was acknowledged and every other one refused with the code.
     *
     * @return the position of the winner in the list
     */
    private static int singleWinner(List<Outcome> outcomes, ErrorCode loserCode)
    {
        List<Integer> winners = IntStream.range(0, outcomes.size())
                .filter(i -> outcomes.get(i).succeeded())
                .boxed()
                .toList();
        assertThat(winners).as("acknowledged writes").hasSize(1);
        assertThat(outcomes).filteredOn(outcome -> !outcome.succeeded())
                .allMatch(outcome -> outcome.failure().equals(Optional.of(loserCode)), "failed " + loserCode);
        return winners.get(0);
    }
}

package dev.latchkey.core.admin;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.UserQuery;
import dev.latchkey.core.store.memory.InMemoryIdentityStore;
import dev.latchkey.core.testing.TestingClock;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static dev.latchkey.core.testing.ErrorAssertions.assertInvalidField;
import static dev.latchkey.core.testing.ErrorAssertions.assertLatchkeyError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.params.provider.Arguments.arguments;

public class TestAdminService
{
    private static final AccountId ACME = AccountId.of("acme");
    private static final AccountId OTHER = AccountId.of("other");
    private static final AccountId MISSING = AccountId.of("missing");
    private static final AccountId NEW_ACCOUNT = AccountId.of("initech");
    private static final AccountId DEFAULT = AccountId.of("default");
    private static final UserId ALICE = UserId.of("alice");
    private static final UserId BOB = UserId.of("bob");
    private static final UserId CAROL = UserId.of("carol");
    private static final UserId OSCAR = UserId.of("oscar");
    private static final UserId NOBODY = UserId.of("nobody");
    private static final String SEED = "correct-horse-battery-staple";
    private static final String OTHER_SEED = "another-long-enough-seed";
    private static final String SHORT_SEED = "fifteen-chars!!";

    private static final Identity ROOT = Identity.root();
    private static final Identity ACME_ADMIN = Identity.accountUser(ACME, ALICE, Role.ADMIN);
    private static final Identity ACME_USER = Identity.accountUser(ACME, BOB, Role.USER);
    private static final Identity OTHER_ADMIN = Identity.accountUser(OTHER, OSCAR, Role.ADMIN);

    private final SecretHasher hasher = SecretHasher.sha256();
    private TestingClock clock;
    private InMemoryIdentityStore store;
    private AdminService service;
    private ApiKey aliceKey;
    private ApiKey bobKey;

    /**
     * Account {@code acme} with admin {@code alice} and user {@code bob}; account {@code other} with admin
     * {@code oscar}.
     */
    @BeforeEach
    public void setUp()
    {
        clock = new TestingClock();
        store = new InMemoryIdentityStore(clock);
        service = new AdminService(store, new ApiKeyGenerator(new SecureRandom()), hasher, clock);
        aliceKey = service.createAccount(ROOT, ACME, ALICE, Optional.empty()).userKey();
        bobKey = service.registerUser(ROOT, ACME, BOB, Role.USER, Optional.empty()).userKey();
        service.createAccount(ROOT, OTHER, OSCAR, Optional.empty());
        clock.advance(Duration.ofMinutes(1));
    }

    // the role table of the HTTP contract

    /**
     * Who calls, relative to the account that the operation names ({@code acme}).
     */
    private enum Caller
    {
        ROOT(TestAdminService.ROOT),
        ADMIN_OF_ACCOUNT(ACME_ADMIN),
        ADMIN_OF_OTHER_ACCOUNT(OTHER_ADMIN),
        USER_OF_ACCOUNT(ACME_USER);

        private final Identity identity;

        Caller(Identity identity)
        {
            this.identity = identity;
        }
    }

    private enum Scope
    {
        /** create / delete / list accounts: root only */
        ACCOUNTS,
        /** register / remove / list users, regenerate a key, set a role: root, or an admin of the account */
        USERS,
    }

    /**
     * One admin operation naming an account; user operations act on user {@code bob} (or register {@code carol}).
     */
    private enum Operation
    {
        CREATE_ACCOUNT(Scope.ACCOUNTS, true, (service, caller, account) -> service.createAccount(caller, NEW_ACCOUNT, CAROL, Optional.empty())),
        DELETE_ACCOUNT(Scope.ACCOUNTS, true, (service, caller, account) -> service.deleteAccount(caller, account)),
        LIST_ACCOUNTS(Scope.ACCOUNTS, false, (service, caller, account) -> service.listAccounts(caller)),
        REGISTER_USER(Scope.USERS, true, (service, caller, account) -> service.registerUser(caller, account, CAROL, Role.USER, Optional.empty())),
        REMOVE_USER(Scope.USERS, true, (service, caller, account) -> service.removeUser(caller, account, BOB)),
        LIST_USERS(Scope.USERS, false, (service, caller, account) -> service.listUsers(caller, account, UserQuery.all())),
        REGENERATE_KEY(Scope.USERS, true, (service, caller, account) -> service.regenerateKey(caller, account, BOB, Optional.empty())),
        SET_ROLE(Scope.USERS, true, (service, caller, account) -> service.setRole(caller, account, BOB, Role.ADMIN));

        private final Scope scope;
        private final boolean mutates;
        private final Action action;

        Operation(Scope scope, boolean mutates, Action action)
        {
            this.scope = scope;
            this.mutates = mutates;
            this.action = action;
        }
    }

    @FunctionalInterface
    private interface Action
    {
        void run(AdminService service, Identity caller, AccountId account);
    }

    private static Stream<Arguments> roleTable()
    {
        return Arrays.stream(Operation.values()).flatMap(operation -> Stream.of(
                arguments(Caller.ROOT, operation, true),
                arguments(Caller.ADMIN_OF_ACCOUNT, operation, operation.scope == Scope.USERS),
                arguments(Caller.ADMIN_OF_OTHER_ACCOUNT, operation, false),
                arguments(Caller.USER_OF_ACCOUNT, operation, false)));
    }

    @ParameterizedTest(name = "{0} {1}: allowed {2}")
    @MethodSource("roleTable")
    public void testRoleTable(Caller caller, Operation operation, boolean allowed)
    {
        if (!allowed) {
            assertDenied(() -> operation.action.run(service, caller.identity, ACME));
            return;
        }
        FeedPosition before = store.headPosition();
        operation.action.run(service, caller.identity, ACME);
        assertThat(store.headPosition()).isEqualTo(operation.mutates ? before.next() : before);
    }

    private static Stream<Arguments> userOperationsOnAnotherAccount()
    {
        return Arrays.stream(Operation.values())
                .filter(operation -> operation.scope == Scope.USERS)
                .flatMap(operation -> Stream.of(arguments(operation, OTHER), arguments(operation, MISSING)));
    }

    @ParameterizedTest(name = "{0} naming {1}")
    @MethodSource("userOperationsOnAnotherAccount")
    public void testAdminNamingAnotherAccountIsDeniedWhetherOrNotItExists(Operation operation, AccountId account)
    {
        assertDenied(() -> operation.action.run(service, ACME_ADMIN, account));
        assertDenied(() -> operation.action.run(service, ACME_USER, account));
    }

    @ParameterizedTest
    @EnumSource(value = Operation.class, names = {"DELETE_ACCOUNT", "REGISTER_USER", "REMOVE_USER", "LIST_USERS", "REGENERATE_KEY", "SET_ROLE"})
    public void testRootNamingAbsentAccountGetsNotFound(Operation operation)
    {
        assertUnchangedAfter(() -> operation.action.run(service, ROOT, MISSING), ErrorCode.NOT_FOUND);
    }

    // order of checks: 400, 403, 404, 409/412

    @Test
    public void testShortSeedIsInvalidBeforePermissionIsChecked()
    {
        Optional<String> seed = Optional.of(SHORT_SEED);
        FeedPosition before = store.headPosition();
        for (Identity caller : new Identity[] {ACME_USER, OTHER_ADMIN, ACME_ADMIN, ROOT}) {
            assertInvalidField(() -> service.createAccount(caller, NEW_ACCOUNT, CAROL, seed), "seed");
            assertInvalidField(() -> service.registerUser(caller, ACME, CAROL, Role.USER, seed), "seed");
            assertInvalidField(() -> service.registerUser(caller, MISSING, CAROL, Role.ROOT, seed), "seed");
            assertInvalidField(() -> service.regenerateKey(caller, ACME, BOB, seed), "seed");
            assertInvalidField(() -> service.regenerateKey(caller, MISSING, NOBODY, seed), "seed");
        }
        assertThat(store.headPosition()).isEqualTo(before);
        assertThat(store.findAccount(NEW_ACCOUNT)).isEmpty();
    }

    @Test
    public void testRootRoleIsNeverAssignable()
    {
        for (Identity caller : new Identity[] {ROOT, ACME_ADMIN, ACME_USER}) {
            assertUnchangedAfter(() -> service.registerUser(caller, ACME, CAROL, Role.ROOT, Optional.empty()), ErrorCode.PERMISSION_DENIED);
            assertUnchangedAfter(() -> service.setRole(caller, ACME, BOB, Role.ROOT), ErrorCode.PERMISSION_DENIED);
            assertUnchangedAfter(() -> service.setRole(caller, ACME, ALICE, Role.ROOT), ErrorCode.PERMISSION_DENIED);
        }
        // before existence and conflicts
        assertUnchangedAfter(() -> service.registerUser(ROOT, MISSING, CAROL, Role.ROOT, Optional.empty()), ErrorCode.PERMISSION_DENIED);
        assertUnchangedAfter(() -> service.registerUser(ROOT, ACME, BOB, Role.ROOT, Optional.empty()), ErrorCode.PERMISSION_DENIED);
        assertUnchangedAfter(() -> service.setRole(ROOT, ACME, NOBODY, Role.ROOT), ErrorCode.PERMISSION_DENIED);
        assertThat(store.findUser(ACME, BOB).orElseThrow().role()).isEqualTo(Role.USER);
    }

    @Test
    public void testAbsentUserIsNotFound()
    {
        for (Identity caller : new Identity[] {ROOT, ACME_ADMIN}) {
            assertUnchangedAfter(() -> service.removeUser(caller, ACME, NOBODY), ErrorCode.NOT_FOUND);
            assertUnchangedAfter(() -> service.regenerateKey(caller, ACME, NOBODY, Optional.empty()), ErrorCode.NOT_FOUND);
            assertUnchangedAfter(() -> service.regenerateKey(caller, ACME, NOBODY, Optional.of(SEED)), ErrorCode.NOT_FOUND);
            assertUnchangedAfter(() -> service.setRole(caller, ACME, NOBODY, Role.ADMIN), ErrorCode.NOT_FOUND);
            // a user of another account is absent from this one
            assertUnchangedAfter(() -> service.removeUser(caller, ACME, OSCAR), ErrorCode.NOT_FOUND);
        }
        assertThat(store.findUser(OTHER, OSCAR)).isPresent();
    }

    @Test
    public void testAlreadyExists()
    {
        assertUnchangedAfter(() -> service.createAccount(ROOT, ACME, CAROL, Optional.empty()), ErrorCode.ALREADY_EXISTS);
        assertUnchangedAfter(() -> service.createAccount(ROOT, ACME, ALICE, Optional.of(SEED)), ErrorCode.ALREADY_EXISTS);
        for (Identity caller : new Identity[] {ROOT, ACME_ADMIN}) {
            assertUnchangedAfter(() -> service.registerUser(caller, ACME, BOB, Role.USER, Optional.empty()), ErrorCode.ALREADY_EXISTS);
            assertUnchangedAfter(() -> service.registerUser(caller, ACME, ALICE, Role.ADMIN, Optional.of(SEED)), ErrorCode.ALREADY_EXISTS);
        }
        // the existing users keep their keys and roles
        assertCurrentKey(ACME, ALICE, aliceKey, Role.ADMIN);
        assertCurrentKey(ACME, BOB, bobKey, Role.USER);
    }

    @Test
    public void testCaseSensitiveIdsAreDistinct()
    {
        service.createAccount(ROOT, AccountId.of("Acme"), UserId.of("Alice"), Optional.empty());
        service.registerUser(ROOT, ACME, UserId.of("Bob"), Role.USER, Optional.empty());
        assertThat(service.listAccounts(ROOT)).extracting(AccountSummary::id)
                .containsExactly(AccountId.of("Acme"), ACME, OTHER);
    }

    // the last admin

    @Test
    public void testLastAdminCannotBeRemovedOrDemoted()
    {
        for (Identity caller : new Identity[] {ROOT, ACME_ADMIN}) {
            assertUnchangedAfter(() -> service.removeUser(caller, ACME, ALICE), ErrorCode.FAILED_PRECONDITION);
            assertUnchangedAfter(() -> service.setRole(caller, ACME, ALICE, Role.USER), ErrorCode.FAILED_PRECONDITION);
        }
        assertCurrentKey(ACME, ALICE, aliceKey, Role.ADMIN);
        // a user is not an admin: removing it is fine
        service.removeUser(ACME_ADMIN, ACME, BOB);
        assertThat(store.findKey(bobKey.keyId())).isEmpty();
    }

    @Test
    public void testAdminRemovableWhenAnotherAdminExists()
    {
        ApiKey carolKey = service.registerUser(ROOT, ACME, CAROL, Role.ADMIN, Optional.empty()).userKey();
        service.removeUser(ROOT, ACME, ALICE);
        assertThat(store.findUser(ACME, ALICE)).isEmpty();
        assertThat(store.findKey(aliceKey.keyId())).isEmpty();
        // carol is now the last admin
        assertUnchangedAfter(() -> service.removeUser(ROOT, ACME, CAROL), ErrorCode.FAILED_PRECONDITION);
        assertCurrentKey(ACME, CAROL, carolKey, Role.ADMIN);
    }

    @Test
    public void testAdminMayRemoveItselfWhenNotLast()
    {
        service.registerUser(ACME_ADMIN, ACME, CAROL, Role.ADMIN, Optional.empty());
        service.removeUser(ACME_ADMIN, ACME, ALICE);
        assertThat(store.findUser(ACME, ALICE)).isEmpty();
        assertThat(store.findKey(aliceKey.keyId())).isEmpty();
    }

    @Test
    public void testAdminMayDemoteItselfWhenNotLast()
    {
        service.registerUser(ACME_ADMIN, ACME, CAROL, Role.ADMIN, Optional.empty());
        User alice = service.setRole(ACME_ADMIN, ACME, ALICE, Role.USER);
        assertThat(alice.role()).isEqualTo(Role.USER);
        assertCurrentKey(ACME, ALICE, aliceKey, Role.USER);
        // carol is now the last admin
        Identity carol = Identity.accountUser(ACME, CAROL, Role.ADMIN);
        assertUnchangedAfter(() -> service.setRole(carol, ACME, CAROL, Role.USER), ErrorCode.FAILED_PRECONDITION);
        assertUnchangedAfter(() -> service.removeUser(carol, ACME, CAROL), ErrorCode.FAILED_PRECONDITION);
    }

    @Test
    public void testPromotedUserCountsAsAdmin()
    {
        service.setRole(ACME_ADMIN, ACME, BOB, Role.ADMIN);
        service.setRole(ROOT, ACME, ALICE, Role.USER);
        assertUnchangedAfter(() -> service.setRole(ROOT, ACME, BOB, Role.USER), ErrorCode.FAILED_PRECONDITION);
        assertCurrentKey(ACME, BOB, bobKey, Role.ADMIN);
    }

    // set role

    @Test
    public void testSetRoleResult()
    {
        User promoted = service.setRole(ACME_ADMIN, ACME, BOB, Role.ADMIN);
        assertThat(promoted.accountId()).isEqualTo(ACME);
        assertThat(promoted.id()).isEqualTo(BOB);
        assertThat(promoted.role()).isEqualTo(Role.ADMIN);
        assertThat(promoted.primaryKeyId()).contains(bobKey.keyId());
        assertThat(promoted).isEqualTo(store.findUser(ACME, BOB).orElseThrow());
        assertCurrentKey(ACME, BOB, bobKey, Role.ADMIN);

        User demoted = service.setRole(ROOT, ACME, BOB, Role.USER);
        assertThat(demoted.role()).isEqualTo(Role.USER);
        assertThat(demoted).isEqualTo(store.findUser(ACME, BOB).orElseThrow());
        assertCurrentKey(ACME, BOB, bobKey, Role.USER);
    }

    @Test
    public void testSetRoleToCurrentRoleChangesNothing()
    {
        FeedPosition before = store.headPosition();
        assertThat(service.setRole(ROOT, ACME, ALICE, Role.ADMIN).role()).isEqualTo(Role.ADMIN);
        assertThat(service.setRole(ACME_ADMIN, ACME, BOB, Role.USER).role()).isEqualTo(Role.USER);
        assertThat(store.headPosition()).isEqualTo(before);
    }

    // create account

    @Test
    public void testCreateAccount()
    {
        Instant now = clock.instant();
        CreatedAccount created = service.createAccount(ROOT, NEW_ACCOUNT, CAROL, Optional.empty());
        assertThat(created.accountId()).isEqualTo(NEW_ACCOUNT);
        assertThat(created.adminUserId()).isEqualTo(CAROL);
        ApiKey key = created.userKey();
        assertThat(ApiKey.parse(key.value())).contains(key);
        assertCurrentKey(NEW_ACCOUNT, CAROL, key, Role.ADMIN);
        assertThat(store.findKey(key.keyId()).orElseThrow().createdAt()).isEqualTo(now);
        assertThat(store.findAccount(NEW_ACCOUNT)).contains(new Account(NEW_ACCOUNT, now, true));
        assertThat(service.listAccounts(ROOT)).containsExactly(
                new AccountSummary(ACME, now.minus(Duration.ofMinutes(1)), 2),
                new AccountSummary(NEW_ACCOUNT, now, 1),
                new AccountSummary(OTHER, now.minus(Duration.ofMinutes(1)), 1));
        assertStoreHoldsNoPlaintext(NEW_ACCOUNT, key);
    }

    @Test
    public void testCreateAccountWithSeed()
    {
        ApiKey key = service.createAccount(ROOT, NEW_ACCOUNT, CAROL, Optional.of(SEED)).userKey();
        assertThat(key).isEqualTo(ApiKeyGenerator.seeded(SEED, NEW_ACCOUNT, CAROL));
        assertCurrentKey(NEW_ACCOUNT, CAROL, key, Role.ADMIN);
        assertStoreHoldsNoPlaintext(NEW_ACCOUNT, key);
    }

    @Test
    public void testRegisterUser()
    {
        CreatedUser created = service.registerUser(ACME_ADMIN, ACME, CAROL, Role.ADMIN, Optional.empty());
        assertThat(created.accountId()).isEqualTo(ACME);
        assertThat(created.userId()).isEqualTo(CAROL);
        assertCurrentKey(ACME, CAROL, created.userKey(), Role.ADMIN);
        assertStoreHoldsNoPlaintext(ACME, created.userKey());

        ApiKey seeded = service.registerUser(ROOT, ACME, NOBODY, Role.USER, Optional.of(SEED)).userKey();
        assertThat(seeded).isEqualTo(ApiKeyGenerator.seeded(SEED, ACME, NOBODY));
        assertCurrentKey(ACME, NOBODY, seeded, Role.USER);
    }

    @Test
    public void testDeleteAccountRemovesEveryKey()
    {
        service.deleteAccount(ROOT, ACME);
        assertThat(store.findAccount(ACME)).isEmpty();
        assertThat(store.findKey(aliceKey.keyId())).isEmpty();
        assertThat(store.findKey(bobKey.keyId())).isEmpty();
        assertThat(service.listAccounts(ROOT)).extracting(AccountSummary::id).containsExactly(OTHER);
        assertUnchangedAfter(() -> service.deleteAccount(ROOT, ACME), ErrorCode.NOT_FOUND);
    }

    // regenerate a key

    @Test
    public void testRegenerateReplacesKey()
    {
        ApiKey newKey = service.regenerateKey(ACME_ADMIN, ACME, BOB, Optional.empty());
        assertThat(newKey).isNotEqualTo(bobKey);
        assertThat(newKey.keyId()).isNotEqualTo(bobKey.keyId());
        assertThat(store.findKey(bobKey.keyId())).isEmpty();
        assertCurrentKey(ACME, BOB, newKey, Role.USER);
        assertThat(store.findKey(newKey.keyId()).orElseThrow().createdAt()).isEqualTo(clock.instant());
        assertStoreHoldsNoPlaintext(ACME, newKey);
    }

    @Test
    public void testRegenerateWithTheCurrentSeedChangesNothing()
    {
        ApiKey seeded = service.registerUser(ROOT, ACME, CAROL, Role.USER, Optional.of(SEED)).userKey();
        FeedPosition before = store.headPosition();
        KeyRecord record = store.findKey(seeded.keyId()).orElseThrow();
        clock.advance(Duration.ofMinutes(1));

        assertThat(service.regenerateKey(ACME_ADMIN, ACME, CAROL, Optional.of(SEED))).isEqualTo(seeded);
        assertThat(service.regenerateKey(ROOT, ACME, CAROL, Optional.of(SEED)).value()).isEqualTo(seeded.value());
        assertThat(store.headPosition()).isEqualTo(before);
        assertThat(store.findKey(seeded.keyId())).contains(record);
    }

    @Test
    public void testRegenerateFromRandomToSeededAndBack()
    {
        ApiKey seeded = service.regenerateKey(ROOT, ACME, BOB, Optional.of(SEED));
        assertThat(seeded).isEqualTo(ApiKeyGenerator.seeded(SEED, ACME, BOB));
        assertThat(store.findKey(bobKey.keyId())).isEmpty();
        assertCurrentKey(ACME, BOB, seeded, Role.USER);

        FeedPosition before = store.headPosition();
        assertThat(service.regenerateKey(ROOT, ACME, BOB, Optional.of(SEED))).isEqualTo(seeded);
        assertThat(store.headPosition()).isEqualTo(before);

        ApiKey random = service.regenerateKey(ROOT, ACME, BOB, Optional.empty());
        assertThat(random).isNotEqualTo(seeded);
        assertThat(store.findKey(seeded.keyId())).isEmpty();
        assertCurrentKey(ACME, BOB, random, Role.USER);
        assertThat(store.headPosition()).isEqualTo(before.next());
    }

    @Test
    public void testRegenerateWithAnotherSeedChangesKey()
    {
        ApiKey seeded = service.regenerateKey(ROOT, ACME, BOB, Optional.of(SEED));
        FeedPosition before = store.headPosition();
        ApiKey reseeded = service.regenerateKey(ROOT, ACME, BOB, Optional.of(OTHER_SEED));
        assertThat(reseeded).isNotEqualTo(seeded).isEqualTo(ApiKeyGenerator.seeded(OTHER_SEED, ACME, BOB));
        assertThat(store.findKey(seeded.keyId())).isEmpty();
        assertCurrentKey(ACME, BOB, reseeded, Role.USER);
        assertThat(store.headPosition()).isEqualTo(before.next());
    }

    @Test
    public void testRegenerateAfterPepperChangeRehashesTheSameSeededKey()
    {
        ApiKey seeded = service.regenerateKey(ROOT, ACME, BOB, Optional.of(SEED));
        SecretHasher peppered = SecretHasher.hmacSha256("a-new-server-pepper");
        AdminService pepperedService = new AdminService(store, new ApiKeyGenerator(new SecureRandom()), peppered, clock);
        FeedPosition before = store.headPosition();

        assertThat(pepperedService.regenerateKey(ROOT, ACME, BOB, Optional.of(SEED))).isEqualTo(seeded);
        KeyRecord record = store.findKey(seeded.keyId()).orElseThrow();
        assertThat(peppered.matches(seeded, record.secretHash())).isTrue();
        assertThat(hasher.matches(seeded, record.secretHash())).isFalse();
        assertThat(store.headPosition()).isEqualTo(before.next());
    }

    @Test
    public void testRegenerateKeepsRole()
    {
        ApiKey newAliceKey = service.regenerateKey(ACME_ADMIN, ACME, ALICE, Optional.empty());
        assertCurrentKey(ACME, ALICE, newAliceKey, Role.ADMIN);
        assertThat(store.findKey(aliceKey.keyId())).isEmpty();
    }

    // the default account

    @Test
    public void testCreateDefaultAccount()
    {
        assertThat(service.createDefaultAccount(DEFAULT)).isTrue();
        Account account = store.findAccount(DEFAULT).orElseThrow();
        assertThat(account.adminRequired()).isFalse();
        assertThat(account.createdAt()).isEqualTo(clock.instant());
        assertThat(service.listUsers(ROOT, DEFAULT, UserQuery.all()).users()).isEmpty();
        assertThat(service.listAccounts(ROOT)).contains(new AccountSummary(DEFAULT, clock.instant(), 0));
    }

    @Test
    public void testDefaultAccountNeedsNoAdmin()
    {
        service.createDefaultAccount(DEFAULT);
        ApiKey viewerKey = service.registerUser(ROOT, DEFAULT, BOB, Role.USER, Optional.empty()).userKey();
        assertCurrentKey(DEFAULT, BOB, viewerKey, Role.USER);

        ApiKey adminKey = service.registerUser(ROOT, DEFAULT, ALICE, Role.ADMIN, Optional.empty()).userKey();
        Identity defaultAdmin = Identity.accountUser(DEFAULT, ALICE, Role.ADMIN);
        service.setRole(defaultAdmin, DEFAULT, ALICE, Role.USER);
        assertCurrentKey(DEFAULT, ALICE, adminKey, Role.USER);
        service.setRole(ROOT, DEFAULT, ALICE, Role.ADMIN);
        service.removeUser(defaultAdmin, DEFAULT, ALICE);
        assertThat(store.findUser(DEFAULT, ALICE)).isEmpty();
        assertThat(store.findKey(adminKey.keyId())).isEmpty();
        assertThat(service.listAccounts(ROOT)).contains(new AccountSummary(DEFAULT, store.findAccount(DEFAULT).orElseThrow().createdAt(), 1));
    }

    @Test
    public void testCreateDefaultAccountTwice()
    {
        assertThat(service.createDefaultAccount(DEFAULT)).isTrue();
        Account account = store.findAccount(DEFAULT).orElseThrow();
        FeedPosition before = store.headPosition();
        clock.advance(Duration.ofHours(1));

        assertThat(service.createDefaultAccount(DEFAULT)).isFalse();
        assertThat(store.findAccount(DEFAULT)).contains(account);
        assertThat(store.headPosition()).isEqualTo(before);
    }

    @Test
    public void testCreateDefaultAccountLeavesAnExistingAccountAlone()
    {
        FeedPosition before = store.headPosition();
        assertThat(service.createDefaultAccount(ACME)).isFalse();
        assertThat(store.findAccount(ACME).orElseThrow().adminRequired()).isTrue();
        assertThat(store.headPosition()).isEqualTo(before);
        assertUnchangedAfter(() -> service.removeUser(ROOT, ACME, ALICE), ErrorCode.FAILED_PRECONDITION);
    }

    private void assertDenied(ThrowingCallable call)
    {
        assertUnchangedAfter(call, ErrorCode.PERMISSION_DENIED);
    }

    /**
     * Asserts that the call fails with this code and appends nothing to the change feed.
     */
    private void assertUnchangedAfter(ThrowingCallable call, ErrorCode code)
    {
        FeedPosition before = store.headPosition();
        assertLatchkeyError(call, code);
        assertThat(store.headPosition()).isEqualTo(before);
    }

    /**
     * Asserts that the key is the user's one live key: the user points at it, and the stored record resolves it
     * (by the hash of its secret) to the user and role.
     */
    private void assertCurrentKey(AccountId account, UserId user, ApiKey key, Role role)
    {
        assertThat(store.findUser(account, user)).hasValueSatisfying(found -> {
            assertThat(found.primaryKeyId()).contains(key.keyId());
            assertThat(found.role()).isEqualTo(role);
        });
        assertThat(store.findKey(key.keyId())).hasValueSatisfying(record -> {
            assertThat(record.identity()).isEqualTo(Identity.ofKey(key.keyId(), account, user, role, Scopes.all(), Optional.empty()));
            assertThat(hasher.matches(key, record.secretHash())).isTrue();
            assertThat(record.secretHash()).isEqualTo(hasher.hash(key.secret()));
        });
    }

    /**
     * Asserts that nothing the store answers contains the key's secret: only its hash is kept.
     */
    private void assertStoreHoldsNoPlaintext(AccountId account, ApiKey key)
    {
        KeyRecord record = store.findKey(key.keyId()).orElseThrow();
        assertThat(record.secretHash().toHex()).doesNotContain(key.secret());
        assertThat(record.secretHash().bytes()).isNotEqualTo(key.secret().getBytes(StandardCharsets.US_ASCII));
        Stream.of(
                        record.toString(),
                        record.secretHash().toHex(),
                        store.findUser(account, record.userId()).orElseThrow().toString(),
                        store.findAccount(account).orElseThrow().toString(),
                        store.listUsers(account, UserQuery.all()).toString(),
                        store.listAccounts().toString(),
                        ((FeedBatch.Changes) store.changesAfter(FeedPosition.START, 1000)).changes().toString())
                .forEach(answer -> assertThat(answer)
                        .doesNotContain(key.secret())
                        .doesNotContain(key.value()));
    }
    @Test
    public void everyWriteTellsTheListenerWhatTheFeedRecords()
    {
        List<String> told = new ArrayList<>();
        AdminService listened = new AdminService(store, new ApiKeyGenerator(new SecureRandom()), hasher, clock,
                (type, accountId, keyIds) -> told.add(type + " " + accountId + " " + keyIds));
        FeedPosition start = store.headPosition();

        listened.createAccount(ROOT, NEW_ACCOUNT, CAROL, Optional.empty());
        listened.registerUser(ROOT, NEW_ACCOUNT, NOBODY, Role.USER, Optional.empty());
        listened.regenerateKey(ROOT, NEW_ACCOUNT, NOBODY, Optional.empty());
        listened.setRole(ROOT, NEW_ACCOUNT, NOBODY, Role.ADMIN);
        listened.setRole(ROOT, NEW_ACCOUNT, NOBODY, Role.ADMIN);
        listened.removeUser(ROOT, NEW_ACCOUNT, NOBODY);
        listened.deleteAccount(ROOT, NEW_ACCOUNT);
        listened.createDefaultAccount(DEFAULT);

        FeedBatch.Changes changes = (FeedBatch.Changes) store.changesAfter(start, 100);
        List<String> recorded = changes.changes().stream()
                .map(change -> change.type() + " " + change.accountId() + " " + change.keyIds())
                .toList();
        assertThat(told).hasSize(7).isEqualTo(recorded);
    }
}

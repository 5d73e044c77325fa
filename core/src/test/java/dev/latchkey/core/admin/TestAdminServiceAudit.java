package dev.latchkey.core.admin;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.Origin;
import dev.latchkey.core.store.memory.InMemoryIdentityStore;
import dev.latchkey.core.testing.TestingClock;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static dev.latchkey.core.testing.ErrorAssertions.assertLatchkeyError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Who did what: the admin service gives each write its origin (the caller as an actor, this instance, the request),
 * and lists the audit trail by the role rules (root everything, an admin its own account).
 */
class TestAdminServiceAudit
{
    private static final Duration RETENTION = Duration.ofDays(90);
    private static final AccountId ACME = AccountId.of("acme");
    private static final AccountId OTHER = AccountId.of("other");
    private static final UserId ALICE = UserId.of("alice");
    private static final UserId BOB = UserId.of("bob");

    private final TestingClock clock = new TestingClock();
    private final InMemoryIdentityStore store = new InMemoryIdentityStore(clock);
    private final AdminService admin = new AdminService(store, new ApiKeyGenerator(new SecureRandom()), SecretHasher.sha256(), clock)
            .onInstance("instance-a:1933");

    @Test
    void eachWriteRecordsItsCallerThisInstanceAndItsRequest()
    {
        admin.forRequest("create-1").createAccount(Identity.root(), ACME, ALICE, Optional.empty());
        KeyId aliceKey = store.findUser(ACME, ALICE).orElseThrow().primaryKeyId().orElseThrow();
        Identity alice = Identity.ofKey(aliceKey, ACME, ALICE, Role.ADMIN, Scopes.all(), Optional.empty());
        admin.forRequest("register-2").registerUser(alice, ACME, BOB, Role.USER, Optional.empty());
        admin.registerUser(alice, ACME, UserId.of("carol"), Role.USER, Optional.empty());

        List<AuditRecord> records = admin.listAudit(Identity.root(), Optional.empty(), Optional.empty(), 100, RETENTION).records();
        assertThat(records).extracting(record -> record.change().type())
                .containsExactly(ChangeType.USER_ADDED, ChangeType.USER_ADDED, ChangeType.ACCOUNT_CREATED);
        assertThat(records.get(2).origin()).isEqualTo(new Origin(Actor.root(), "instance-a:1933", "create-1"));
        assertThat(records.get(1).origin()).isEqualTo(new Origin(Actor.user(ACME, ALICE, Role.ADMIN, Optional.of(aliceKey)), "instance-a:1933", "register-2"));
        // without a request id each write gets a new one
        assertThat(records.get(0).origin().requestId()).matches("[0-9a-f-]{36}");
    }

    @Test
    void theDefaultAccountIsCreatedByTheServerItself()
    {
        assertThat(admin.createDefaultAccount(AccountId.of("default"))).isTrue();
        AuditRecord record = admin.listAudit(Identity.root(), Optional.empty(), Optional.empty(), 100, RETENTION).records().get(0);
        assertThat(record.origin().actor()).isEqualTo(Actor.system());
    }

    @Test
    void anAdminSeesOnlyItsOwnAccountAndAUserNothing()
    {
        admin.createAccount(Identity.root(), ACME, ALICE, Optional.empty());
        admin.createAccount(Identity.root(), OTHER, ALICE, Optional.empty());
        admin.registerUser(Identity.root(), ACME, BOB, Role.USER, Optional.empty());
        Identity acmeAdmin = Identity.accountUser(ACME, ALICE, Role.ADMIN);

        assertThat(admin.listAudit(acmeAdmin, Optional.empty(), Optional.empty(), 100, RETENTION).records())
                .allMatch(record -> record.change().accountId().equals(ACME))
                .hasSize(2);
        assertThat(admin.listAudit(acmeAdmin, Optional.of(ACME), Optional.empty(), 100, RETENTION).records()).hasSize(2);
        assertThat(admin.listAudit(Identity.root(), Optional.of(OTHER), Optional.empty(), 100, RETENTION).records()).hasSize(1);
        assertLatchkeyError(() -> admin.listAudit(acmeAdmin, Optional.of(OTHER), Optional.empty(), 100, RETENTION), ErrorCode.PERMISSION_DENIED);
        assertLatchkeyError(() -> admin.listAudit(Identity.accountUser(ACME, BOB, Role.USER), Optional.empty(), Optional.empty(), 100, RETENTION), ErrorCode.PERMISSION_DENIED);
        Identity narrow = Identity.ofKey(KeyId.of("0123456789abcdef"), ACME, ALICE, Role.ADMIN, new Scopes(List.of("docs:read")), Optional.empty());
        assertLatchkeyError(() -> admin.listAudit(narrow, Optional.empty(), Optional.empty(), 100, RETENTION), ErrorCode.PERMISSION_DENIED);
        assertLatchkeyError(() -> admin.listAudit(Identity.root(), Optional.empty(), Optional.empty(), 1001, RETENTION), ErrorCode.INVALID_ARGUMENT);
        assertLatchkeyError(() -> admin.listAudit(Identity.root(), Optional.empty(), Optional.empty(), 0, RETENTION), ErrorCode.INVALID_ARGUMENT);
    }

    @Test
    void anAdminOfARecreatedAccountDoesNotSeeTheHistoryOfTheEarlierOne()
    {
        admin.createAccount(Identity.root(), ACME, ALICE, Optional.empty());
        admin.registerUser(Identity.root(), ACME, BOB, Role.USER, Optional.empty());
        admin.deleteAccount(Identity.root(), ACME);
        clock.advance(Duration.ofMinutes(1));
        admin.createAccount(Identity.root(), ACME, UserId.of("dora"), Optional.empty());
        Identity dora = Identity.accountUser(ACME, UserId.of("dora"), Role.ADMIN);

        assertThat(admin.listAudit(dora, Optional.empty(), Optional.empty(), 100, RETENTION).records())
                .extracting(record -> record.change().type())
                .containsExactly(ChangeType.ACCOUNT_CREATED);
        assertThat(admin.listAudit(Identity.root(), Optional.of(ACME), Optional.empty(), 100, RETENTION).records()).hasSize(4);
    }

    @Test
    void recordsOlderThanTheRetentionAreNotListed()
    {
        admin.createAccount(Identity.root(), ACME, ALICE, Optional.empty());
        clock.advance(Duration.ofDays(91));
        admin.registerUser(Identity.root(), ACME, BOB, Role.USER, Optional.empty());

        assertThat(admin.listAudit(Identity.root(), Optional.empty(), Optional.empty(), 100, RETENTION).records())
                .extracting(record -> record.change().type())
                .containsExactly(ChangeType.USER_ADDED);
    }

    @Test
    void anInvalidInstanceOrRequestIdIsRefused()
    {
        assertThatThrownBy(() -> admin.onInstance("has space")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> admin.forRequest("x".repeat(129))).isInstanceOf(IllegalArgumentException.class);
    }
}

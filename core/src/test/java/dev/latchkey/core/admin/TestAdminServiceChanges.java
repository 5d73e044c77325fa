package dev.latchkey.core.admin;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.memory.InMemoryIdentityStore;
import dev.latchkey.core.testing.TestingClock;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.time.Duration;
import java.util.Optional;

import static dev.latchkey.core.testing.ErrorAssertions.assertLatchkeyError;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Who may ask about a change at a feed position (which instances applied it): root any, an admin its own account's.
 */
class TestAdminServiceChanges
{
    private static final AccountId ACME = AccountId.of("acme");
    private static final AccountId OTHER = AccountId.of("other");
    private static final UserId ALICE = UserId.of("alice");

    private final TestingClock clock = new TestingClock();
    private final InMemoryIdentityStore store = new InMemoryIdentityStore(clock);
    private final AdminService admin = new AdminService(store, new ApiKeyGenerator(new SecureRandom()), SecretHasher.sha256(), clock);

    @Test
    void rootFindsAnyChangeAndAnAdminOnlyItsOwnAccounts()
    {
        admin.createAccount(Identity.root(), ACME, ALICE, Optional.empty());
        FeedPosition acme = store.headPosition();
        admin.createAccount(Identity.root(), OTHER, ALICE, Optional.empty());
        FeedPosition other = store.headPosition();
        Identity acmeAdmin = Identity.accountUser(ACME, ALICE, Role.ADMIN);

        Change found = admin.findChange(Identity.root(), other).orElseThrow();
        assertThat(found.accountId()).isEqualTo(OTHER);
        assertThat(found.type()).isEqualTo(ChangeType.ACCOUNT_CREATED);
        assertThat(admin.findChange(acmeAdmin, acme).orElseThrow().accountId()).isEqualTo(ACME);
        // another account's change is not found for it: it learns nothing of other accounts
        assertLatchkeyError(() -> admin.findChange(acmeAdmin, other), ErrorCode.NOT_FOUND);
        assertLatchkeyError(() -> admin.findChange(Identity.accountUser(ACME, UserId.of("bob"), Role.USER), acme), ErrorCode.PERMISSION_DENIED);
    }

    @Test
    void aPositionNotCommittedIsNotFound()
    {
        admin.createAccount(Identity.root(), ACME, ALICE, Optional.empty());
        long head = store.headPosition().value();
        assertLatchkeyError(() -> admin.findChange(Identity.root(), FeedPosition.of(head + 1)), ErrorCode.NOT_FOUND);
        assertLatchkeyError(() -> admin.findChange(Identity.root(), FeedPosition.of(0)), ErrorCode.NOT_FOUND);
    }

    @Test
    void aCompactedChangeIsCommittedButUnknownToRootAndNotFoundForAnAdmin()
    {
        admin.createAccount(Identity.root(), ACME, ALICE, Optional.empty());
        FeedPosition created = store.headPosition();
        admin.registerUser(Identity.root(), ACME, UserId.of("bob"), Role.USER, Optional.empty());
        store.compactThrough(created);

        assertThat(admin.findChange(Identity.root(), created)).isEmpty();
        assertLatchkeyError(() -> admin.findChange(Identity.accountUser(ACME, ALICE, Role.ADMIN), created), ErrorCode.NOT_FOUND);
    }

    @Test
    void anAdminDoesNotSeeTheChangesOfAnEarlierAccountOfTheSameId()
    {
        admin.createAccount(Identity.root(), ACME, ALICE, Optional.empty());
        FeedPosition earlier = store.headPosition();
        admin.deleteAccount(Identity.root(), ACME);
        clock.advance(Duration.ofSeconds(1));
        admin.createAccount(Identity.root(), ACME, ALICE, Optional.empty());

        assertLatchkeyError(() -> admin.findChange(Identity.accountUser(ACME, ALICE, Role.ADMIN), earlier), ErrorCode.NOT_FOUND);
        assertThat(admin.findChange(Identity.accountUser(ACME, ALICE, Role.ADMIN), store.headPosition())).isPresent();
    }
}

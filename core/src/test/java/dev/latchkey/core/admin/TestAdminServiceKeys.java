package dev.latchkey.core.admin;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyName;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.UserQuery;
import dev.latchkey.core.store.memory.InMemoryIdentityStore;
import dev.latchkey.core.testing.TestingClock;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The key lifecycle's admin rules: who may manage which keys, what a key request may ask, the grace period of a
 * regenerated key, and what this instance's cache is told.
 */
public class TestAdminServiceKeys
{
    private static final AccountId ACME = AccountId.of("acme");
    private static final AccountId OTHER = AccountId.of("other");
    private static final UserId ALICE = UserId.of("alice");
    private static final UserId BOB = UserId.of("bob");
    private static final UserId CAROL = UserId.of("carol");
    private static final UserId OSCAR = UserId.of("oscar");
    private static final String SEED = "correct-horse-battery-staple";

    private final SecretHasher hasher = SecretHasher.sha256();
    private final List<String> written = new ArrayList<>();
    private TestingClock clock;
    private InMemoryIdentityStore store;
    private AdminService service;
    private Identity alice;
    private Identity bob;
    private Identity oscar;
    private ApiKey bobKey;

    @BeforeEach
    public void setUp()
    {
        clock = new TestingClock();
        store = new InMemoryIdentityStore(clock);
        service = new AdminService(store, new ApiKeyGenerator(new SecureRandom()), hasher, clock,
                (type, accountId, keyIds) -> written.add(type + " " + accountId + " " + keyIds.stream().map(KeyId::value).sorted().toList()));
        alice = identity(service.createAccount(Identity.root(), ACME, ALICE, Optional.empty()).userKey());
        bobKey = service.registerUser(Identity.root(), ACME, BOB, Role.USER, Optional.empty()).userKey();
        bob = identity(bobKey);
        service.registerUser(Identity.root(), ACME, CAROL, Role.USER, Optional.empty());
        oscar = identity(service.createAccount(Identity.root(), OTHER, OSCAR, Optional.empty()).userKey());
        clock.advance(Duration.ofMinutes(1));
        written.clear();
    }

    @Test
    public void rootTheAccountsAdminsAndTheUserItselfManageItsKeys()
    {
        for (Identity caller : List.of(Identity.root(), alice, bob)) {
            CreatedKey created = service.createKey(caller, ACME, BOB, KeyRequest.defaults());
            assertThat(service.listKeys(caller, ACME, BOB)).extracting(KeySummary::keyId).contains(created.userKey().keyId());
            service.deleteKey(caller, ACME, BOB, created.userKey().keyId());
        }
        for (Identity caller : List.of(oscar, identity(keyOf(CAROL)))) {
            assertDenied(() -> service.createKey(caller, ACME, BOB, KeyRequest.defaults()));
            assertDenied(() -> service.listKeys(caller, ACME, BOB));
            assertDenied(() -> service.deleteKey(caller, ACME, BOB, bobKey.keyId()));
        }
        // a user may not regenerate its own primary key: that stays with root and the admins
        assertDenied(() -> service.regenerateKey(bob, ACME, BOB, Optional.empty(), 0));
        assertThat(store.findKey(bobKey.keyId())).isPresent();
    }

    @Test
    public void aKeyWithoutTheAdminScopeNeverAdministers()
    {
        ApiKey narrow = service.createKey(alice, ACME, ALICE, new KeyRequest(Optional.of(KeyName.of("ci")), Optional.of(Scopes.of("docs:read", "latchkey:*")),
                Optional.empty(), Optional.empty())).userKey();
        Identity ci = identity(narrow);

        assertThat(ci.role()).isEqualTo(Role.ADMIN);
        assertDenied(() -> service.registerUser(ci, ACME, UserId.of("dave"), Role.USER, Optional.empty()));
        assertDenied(() -> service.listUsers(ci, ACME, UserQuery.all()));
        assertDenied(() -> service.setRole(ci, ACME, BOB, Role.ADMIN));
        assertDenied(() -> service.removeUser(ci, ACME, BOB));
        assertDenied(() -> service.regenerateKey(ci, ACME, BOB, Optional.empty()));
        assertDenied(() -> service.createKey(ci, ACME, ALICE, KeyRequest.defaults()));
        assertDenied(() -> service.listKeys(ci, ACME, ALICE));
        assertDenied(() -> service.deleteKey(ci, ACME, ALICE, narrow.keyId()));
        assertThat(store.findKey(narrow.keyId())).isPresent();

        Identity adminScoped = identity(service.createKey(alice, ACME, ALICE,
                new KeyRequest(Optional.empty(), Optional.of(Scopes.of(Scopes.ADMIN)), Optional.empty(), Optional.empty())).userKey());
        assertThat(service.listKeys(adminScoped, ACME, BOB)).hasSize(1);
        service.setRole(adminScoped, ACME, BOB, Role.ADMIN);
    }

    @Test
    public void aKeyRequestIsCheckedBeforeThePermission()
    {
        Instant now = clock.instant();
        List<KeyRequest> bad = List.of(
                new KeyRequest(Optional.empty(), Optional.empty(), Optional.of(now.plusSeconds(60)), Optional.of(60L)),
                new KeyRequest(Optional.empty(), Optional.empty(), Optional.of(now), Optional.empty()),
                new KeyRequest(Optional.empty(), Optional.empty(), Optional.of(now.minusSeconds(1)), Optional.empty()),
                // less than a millisecond ahead: kept to the millisecond, it is not in the future
                new KeyRequest(Optional.empty(), Optional.empty(), Optional.of(now.plusNanos(1)), Optional.empty()),
                new KeyRequest(Optional.empty(), Optional.empty(), Optional.of(tenYearsFrom(now).plusMillis(1)), Optional.empty()),
                new KeyRequest(Optional.empty(), Optional.empty(), Optional.empty(), Optional.of(0L)),
                new KeyRequest(Optional.empty(), Optional.empty(), Optional.empty(), Optional.of(KeyRequest.MAX_LIFETIME.toSeconds() + 1)));
        for (KeyRequest request : bad) {
            for (Identity caller : List.of(alice, oscar)) {
                assertThatThrownBy(() -> service.createKey(caller, ACME, BOB, request)).as("%s", request)
                        .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
            }
        }
        assertThat(service.listKeys(alice, ACME, BOB)).hasSize(1);
        assertThat(written).isEmpty();
    }

    @Test
    public void aNewKeyExpiresAtItsInstantOrAfterItsTimeToLive()
    {
        Instant now = clock.instant();
        CreatedKey byTtl = service.createKey(bob, ACME, BOB,
                new KeyRequest(Optional.empty(), Optional.of(Scopes.of("docs:read")), Optional.empty(), Optional.of(KeyRequest.MAX_LIFETIME.toSeconds())));
        CreatedKey byInstant = service.createKey(bob, ACME, BOB,
                new KeyRequest(Optional.of(KeyName.of("laptop")), Optional.empty(), Optional.of(now.plus(KeyRequest.MAX_LIFETIME)), Optional.empty()));
        CreatedKey forever = service.createKey(bob, ACME, BOB, KeyRequest.defaults());
        CreatedKey furthest = service.createKey(bob, ACME, BOB,
                new KeyRequest(Optional.empty(), Optional.empty(), Optional.of(tenYearsFrom(now).plusNanos(999_999)), Optional.empty()));
        assertThat(furthest.summary().attributes().expiresAt()).as("ten calendar years, to the millisecond").contains(tenYearsFrom(now));

        assertThat(byTtl.summary()).isEqualTo(new KeySummary(byTtl.userKey().keyId(), now,
                KeyAttributes.extra(Optional.empty(), Scopes.of("docs:read"), Optional.of(now.plus(KeyRequest.MAX_LIFETIME)))));
        assertThat(byInstant.summary().attributes())
                .isEqualTo(KeyAttributes.extra(Optional.of(KeyName.of("laptop")), Scopes.all(), Optional.of(now.plus(KeyRequest.MAX_LIFETIME))));
        assertThat(forever.summary().attributes()).isEqualTo(KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.empty()));
        KeyRecord stored = store.findKey(byTtl.userKey().keyId()).orElseThrow();
        assertThat(hasher.matches(byTtl.userKey(), stored.secretHash())).isTrue();
        assertThat(stored.identity().scopes()).isEqualTo(Scopes.of("docs:read"));
        assertThat(written).containsExactly(
                "KEY_ADDED acme [" + byTtl.userKey().keyId() + "]",
                "KEY_ADDED acme [" + byInstant.userKey().keyId() + "]",
                "KEY_ADDED acme [" + forever.userKey().keyId() + "]",
                "KEY_ADDED acme [" + furthest.userKey().keyId() + "]");
    }

    @Test
    public void theTwentyFirstLiveKeyIsRefused()
    {
        for (int i = 1; i < NewKey.MAX_LIVE_KEYS; i++) {
            service.createKey(alice, ACME, BOB, KeyRequest.defaults());
        }
        assertThatThrownBy(() -> service.createKey(alice, ACME, BOB, KeyRequest.defaults()))
                .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.FAILED_PRECONDITION));
        assertThatThrownBy(() -> service.createKey(alice, ACME, UserId.of("nobody"), KeyRequest.defaults()))
                .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
    }

    @Test
    public void regeneratingWithAGracePeriodKeepsTheOldKeyAsPreviousUntilThen()
    {
        RegeneratedKey regenerated = service.regenerateKey(alice, ACME, BOB, Optional.empty(), 3600);

        Instant until = clock.instant().plusSeconds(3600);
        assertThat(regenerated.previousKeyExpiresAt()).contains(until);
        KeyRecord previous = store.findKey(bobKey.keyId()).orElseThrow();
        assertThat(previous.attributes()).isEqualTo(new KeyAttributes(Optional.of(KeyName.PREVIOUS), false, Scopes.all(), Optional.of(until)));
        assertThat(store.findUser(ACME, BOB).orElseThrow().primaryKeyId()).contains(regenerated.userKey().keyId());
        assertThat(written).containsExactly("KEY_REPLACED acme " + sorted(bobKey.keyId(), regenerated.userKey().keyId()));

        for (long grace : new long[] {-1, RegeneratedKey.MAX_GRACE_PERIOD_SECONDS + 1}) {
            assertThatThrownBy(() -> service.regenerateKey(alice, ACME, BOB, Optional.empty(), grace))
                    .isInstanceOfSatisfying(LatchkeyException.class, e -> {
                        assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
                        assertThat(e.field()).contains("grace_period");
                    });
        }
        assertThat(service.regenerateKey(alice, ACME, BOB, Optional.empty(), RegeneratedKey.MAX_GRACE_PERIOD_SECONDS).previousKeyExpiresAt()).isPresent();
    }

    @Test
    public void regeneratingWithTheSameSeedChangesNothingAndAUserWithoutAPrimaryKeyGetsOne()
    {
        ApiKey seeded = service.regenerateKey(alice, ACME, BOB, Optional.of(SEED), 0).userKey();
        written.clear();
        RegeneratedKey again = service.regenerateKey(alice, ACME, BOB, Optional.of(SEED), 600);
        assertThat(again).isEqualTo(new RegeneratedKey(seeded, Optional.empty()));
        assertThat(written).isEmpty();

        // an instance with another pepper re-hashes the same key id: nothing is kept beside it, so no grace is reported
        AdminService repeppered = new AdminService(store, new ApiKeyGenerator(new SecureRandom()), SecretHasher.hmacSha256("another pepper of sixteen+ chars"), clock);
        RegeneratedKey rehashed = repeppered.regenerateKey(alice, ACME, BOB, Optional.of(SEED), 600);
        assertThat(rehashed).isEqualTo(new RegeneratedKey(seeded, Optional.empty()));
        assertThat(store.listKeys(ACME, BOB, clock.instant())).extracting(KeySummary::keyId).containsExactly(seeded.keyId());

        service.deleteKey(alice, ACME, BOB, seeded.keyId());
        assertThat(store.findUser(ACME, BOB).orElseThrow().primaryKeyId()).isEmpty();
        RegeneratedKey fresh = service.regenerateKey(alice, ACME, BOB, Optional.empty(), 600);
        assertThat(fresh.previousKeyExpiresAt()).as("no old primary key to keep").isEmpty();
        assertThat(store.findUser(ACME, BOB).orElseThrow().primaryKeyId()).contains(fresh.userKey().keyId());
    }

    @Test
    public void theCacheIsToldOfEveryKeyARoleChangeOrARemovalAffects()
    {
        ApiKey extra = service.createKey(alice, ACME, BOB, KeyRequest.defaults()).userKey();
        written.clear();

        KeyId carols = keyOf(CAROL).keyId();

        service.setRole(alice, ACME, BOB, Role.ADMIN);
        service.removeUser(alice, ACME, BOB);
        service.deleteKey(alice, ACME, CAROL, carols);

        String both = sorted(bobKey.keyId(), extra.keyId()).toString();
        assertThat(written).containsExactly("ROLE_CHANGED acme " + both, "USER_REMOVED acme " + both, "KEY_DELETED acme [" + carols + "]");
    }

    private ApiKey keyOf(UserId userId)
    {
        KeyId keyId = store.findUser(ACME, userId).orElseThrow().primaryKeyId().orElseThrow();
        // only the id matters to the identity; the secret is never needed here
        return ApiKey.of(keyId, "0".repeat(bobKey.secret().length()));
    }

    private Identity identity(ApiKey key)
    {
        return store.findKey(key.keyId()).orElseThrow().identity();
    }

    private static List<String> sorted(KeyId... keyIds)
    {
        return Arrays.stream(keyIds).map(KeyId::value).sorted().toList();
    }

    private static void assertDenied(ThrowingCallable call)
    {
        assertThatThrownBy(call).isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.PERMISSION_DENIED));
    }

    private static Instant tenYearsFrom(Instant now)
    {
        return now.atOffset(ZoneOffset.UTC).plusYears(10).toInstant();
    }
}

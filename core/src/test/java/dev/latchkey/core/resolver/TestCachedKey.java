package dev.latchkey.core.resolver;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.resolver.CachedKey.CachedAccount;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Instant;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TestCachedKey
{
    private static final AccountId ACME = AccountId.of("acme");
    private static final KeyId KEY_ID = KeyId.of("0123456789ABCDEF");
    private static final SecretHasher HASHER = SecretHasher.sha256();
    private static final String SECRET = "abcdefghijklmnopqrstuvwxyz012345";

    @ParameterizedTest
    @ValueSource(strings = {"a", "alice", "user-0123456789", "exactly16chars.x", "seventeen-chars.x", "a@b.c-d_e",
            "a-longer-user-id-of-forty-characters-xyz"})
    void theIdentityComesBackWhateverTheUserIdLength(String userId)
    {
        CachedKey cached = new CachedKey(record(userId, Role.ADMIN), new CachedAccount(ACME), 0);
        assertThat(cached.identity(KEY_ID)).isEqualTo(Identity.ofKey(KEY_ID, ACME, UserId.of(userId), Role.ADMIN, Scopes.all(), Optional.empty()));
    }

    @Test
    void theLongestUserIdComesBack()
    {
        String userId = "u".repeat(128);
        CachedKey cached = new CachedKey(record(userId, Role.USER), new CachedAccount(ACME), 0);
        assertThat(cached.identity(KEY_ID).userId()).contains(UserId.of(userId));
    }

    @Test
    void theSecretIsCheckedAgainstTheInlineHash()
    {
        CachedKey cached = new CachedKey(record("alice", Role.USER), new CachedAccount(ACME), 0);
        assertThat(cached.matches(HASHER.hash(SECRET))).isTrue();
        assertThat(cached.matches(HASHER.hash(SECRET.toUpperCase()))).isFalse();
    }

    @Test
    void aCachedKeyEqualsItsProbe()
    {
        CachedKey cached = new CachedKey(record("alice", Role.USER), new CachedAccount(ACME), 0);
        CacheKey probe = new CacheKey(KEY_ID);
        assertThat(probe).isEqualTo(cached).hasSameHashCodeAs(cached);
        assertThat(cached).isEqualTo(probe);
        assertThat(probe).isNotEqualTo(new CacheKey(KeyId.of("0123456789ABCDEG")));
        assertThat(probe.keyId()).isEqualTo(KEY_ID);
        assertThat(probe).hasToString(KEY_ID.value());
    }

    @Test
    void sameAsComparesEverythingAHitReads()
    {
        CachedAccount account = new CachedAccount(ACME);
        CachedKey cached = new CachedKey(record("alice", Role.USER), account, 0);
        assertThat(cached.sameAs(new CachedKey(record("alice", Role.USER), account, 0))).isTrue();
        assertThat(cached.sameAs(new CachedKey(record("alice", Role.ADMIN), account, 0))).isFalse();
        assertThat(cached.sameAs(new CachedKey(record("alicf", Role.USER), account, 0))).isFalse();
        assertThat(cached.sameAs(new CachedKey(record("alice", Role.USER), new CachedAccount(ACME), 0))).isFalse();
        KeyRecord otherSecret = new KeyRecord(KEY_ID, HASHER.hash(SECRET.toUpperCase()), ACME, UserId.of("alice"), Role.USER, Instant.EPOCH);
        assertThat(cached.sameAs(new CachedKey(otherSecret, account, 0))).isFalse();
    }

    @Test
    void aDeletedAccountDisownsItsKeys()
    {
        CachedAccount account = new CachedAccount(ACME);
        CachedKey cached = new CachedKey(record("alice", Role.USER), account, 0);
        assertThat(cached.isDisowned()).isFalse();
        account.markDeleted();
        assertThat(cached.isDisowned()).isTrue();
    }

    @Test
    void theAccountMustBeTheKeysAccount()
    {
        assertThatThrownBy(() -> new CachedKey(record("alice", Role.USER), new CachedAccount(AccountId.of("other")), 0))
                .isInstanceOf(IllegalArgumentException.class);
    }

    private static KeyRecord record(String userId, Role role)
    {
        return new KeyRecord(KEY_ID, HASHER.hash(SECRET), ACME, UserId.of(userId), role, Instant.EPOCH);
    }
}

package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.NewUser;

import java.time.Clock;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Builds the users and accounts the filesystem tests write, hashing keys as the server does.
 */
final class StoreFixtures
{
    private final Clock clock;
    private final SecretHasher hasher = SecretHasher.sha256();

    StoreFixtures(Clock clock)
    {
        this.clock = requireNonNull(clock, "clock is null");
    }

    NewUser newUser(AccountId account, UserId user, Role role, ApiKey key)
    {
        return new NewUser(new User(account, user, role, key.keyId(), clock.instant()), hasher.hash(key.secret()));
    }

    void createAccount(IdentityStore store, AccountId account, UserId admin, ApiKey key)
    {
        store.createAccount(new Account(account, clock.instant(), true), Optional.of(newUser(account, admin, Role.ADMIN, key)));
    }
}

package dev.latchkey.core.domain;

import java.time.Instant;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Who a presented key belongs to, and what it may do: the root key (no account, no user, every scope), or a key of
 * a user of an account, with the user's role and the key's scopes.
 *
 * @param keyId the key that authenticated; empty for root, and for an identity made without a key (embedded use,
 *         tests)
 * @param expiresAt when that key stops working; empty when it never does
 */
public record Identity(Role role, Optional<AccountId> accountId, Optional<UserId> userId, Optional<KeyId> keyId, Scopes scopes, Optional<Instant> expiresAt)
{
    private static final Identity ROOT = new Identity(Role.ROOT, Optional.empty(), Optional.empty(), Optional.empty(), Scopes.all(), Optional.empty());

    public Identity
    {
        requireNonNull(role, "role is null");
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(keyId, "keyId is null");
        requireNonNull(scopes, "scopes is null");
        requireNonNull(expiresAt, "expiresAt is null");
        if ((role == Role.ROOT) != accountId.isEmpty() || accountId.isEmpty() != userId.isEmpty()) {
            throw new IllegalArgumentException("root has no account or user; every other identity has both");
        }
        if (role == Role.ROOT && (keyId.isPresent() || expiresAt.isPresent())) {
            throw new IllegalArgumentException("the root key has no key id and no expiry");
        }
    }

    public static Identity root()
    {
        return ROOT;
    }

    /**
     * A user with every scope, not tied to one of its keys.
     */
    public static Identity accountUser(AccountId accountId, UserId userId, Role role)
    {
        return new Identity(role, Optional.of(accountId), Optional.of(userId), Optional.empty(), Scopes.all(), Optional.empty());
    }

    /**
     * A user as one of its keys presents it.
     */
    public static Identity ofKey(KeyId keyId, AccountId accountId, UserId userId, Role role, Scopes scopes, Optional<Instant> expiresAt)
    {
        return new Identity(role, Optional.of(accountId), Optional.of(userId), Optional.of(keyId), scopes, expiresAt);
    }

    public boolean isRoot()
    {
        return role == Role.ROOT;
    }

    /**
     * Whether this identity may administer the given account: root always, an admin only its own account, and
     * either only with a key that may {@linkplain Scopes#mayAdminister() administer}.
     */
    public boolean administers(AccountId account)
    {
        return scopes.mayAdminister()
                && (role == Role.ROOT || (role == Role.ADMIN && accountId.orElseThrow().equals(account)));
    }

    /**
     * Whether this identity may manage the keys of the given user: whoever administers its account, and the user
     * itself, with a key that may {@linkplain Scopes#mayAdminister() administer}.
     */
    public boolean managesKeysOf(AccountId account, UserId user)
    {
        return administers(account)
                || (scopes.mayAdminister() && accountId.filter(account::equals).isPresent() && userId.filter(user::equals).isPresent());
    }
}

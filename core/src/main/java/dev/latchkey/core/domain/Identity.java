package dev.latchkey.core.domain;

import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Who a presented key belongs to: the root key (no account, no user), or a user of an account with its role.
 */
public record Identity(Role role, Optional<AccountId> accountId, Optional<UserId> userId)
{
    private static final Identity ROOT = new Identity(Role.ROOT, Optional.empty(), Optional.empty());

    public Identity
    {
        requireNonNull(role, "role is null");
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        if ((role == Role.ROOT) != accountId.isEmpty() || accountId.isEmpty() != userId.isEmpty()) {
            throw new IllegalArgumentException("root has no account or user; every other identity has both");
        }
    }

    public static Identity root()
    {
        return ROOT;
    }

    public static Identity accountUser(AccountId accountId, UserId userId, Role role)
    {
        return new Identity(role, Optional.of(accountId), Optional.of(userId));
    }

    public boolean isRoot()
    {
        return role == Role.ROOT;
    }

    /**
     * Whether this identity may administer the given account: root always, an admin only its own account.
     */
    public boolean administers(AccountId account)
    {
        return role == Role.ROOT || (role == Role.ADMIN && accountId.orElseThrow().equals(account));
    }
}

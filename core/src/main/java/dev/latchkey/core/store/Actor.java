package dev.latchkey.core.store;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;

import java.util.Locale;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * Who made a write, as the audit trail records it: the root key, a user through one of its keys, or the server
 * itself (the empty {@code default} account it creates on first start, an import).
 *
 * @param keyId the key the caller presented; empty for root, the server, and an identity made without a key
 */
public record Actor(Kind kind, Optional<AccountId> accountId, Optional<UserId> userId, Optional<KeyId> keyId)
{
    private static final Actor ROOT = new Actor(Kind.ROOT, Optional.empty(), Optional.empty(), Optional.empty());
    private static final Actor SYSTEM = new Actor(Kind.SYSTEM, Optional.empty(), Optional.empty(), Optional.empty());

    public enum Kind
    {
        ROOT, ADMIN, USER, SYSTEM;

        /** The lower-case name the audit trail shows: {@code root}, {@code admin}, {@code user}, {@code system}. */
        public String wireName()
        {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Kind fromWireName(String name)
        {
            for (Kind kind : values()) {
                if (kind.wireName().equals(name)) {
                    return kind;
                }
            }
            throw new IllegalArgumentException("unknown actor kind: " + name);
        }
    }

    public Actor
    {
        requireNonNull(kind, "kind is null");
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(keyId, "keyId is null");
        boolean user = kind == Kind.ADMIN || kind == Kind.USER;
        if (user != accountId.isPresent() || user != userId.isPresent() || (!user && keyId.isPresent())) {
            throw new IllegalArgumentException("an admin or user actor has an account and a user; root and the server have neither, nor a key");
        }
    }

    public static Actor root()
    {
        return ROOT;
    }

    public static Actor system()
    {
        return SYSTEM;
    }

    public static Actor user(AccountId accountId, UserId userId, Role role, Optional<KeyId> keyId)
    {
        return new Actor(role == Role.ADMIN ? Kind.ADMIN : Kind.USER, Optional.of(accountId), Optional.of(userId), keyId);
    }

    /**
     * The actor behind an authenticated caller.
     */
    public static Actor of(Identity identity)
    {
        requireNonNull(identity, "identity is null");
        if (identity.isRoot()) {
            return ROOT;
        }
        return user(identity.accountId().orElseThrow(), identity.userId().orElseThrow(), identity.role(), identity.keyId());
    }
}

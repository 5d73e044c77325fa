package dev.latchkey.core.resolver;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.SecretHash;

import java.nio.charset.StandardCharsets;

import static java.util.Objects.requireNonNull;

/**
 * What the resolver's cache holds per key, in a compact form: a cache of a million keys must fit in about 256
 * bytes per key (see docs/performance.md), and every pointer followed on a cache hit is a likely CPU cache miss.
 * So the secret hash is inlined as four words (no {@link SecretHash} object, no array), the user id is kept as its
 * ASCII bytes (identifiers are ASCII), and the account is a reference to one object shared by every cached key of
 * that account ({@link CachedAccount}), which is also how a deleted account's keys are found: marking that one
 * object deleted disowns them all at once, with no per-key index.
 */
final class CachedKey
{
    private final long hash0;
    private final long hash1;
    private final long hash2;
    private final long hash3;
    private final CachedAccount account;
    private final byte[] userId;
    private final Role role;

    CachedKey(KeyRecord record, CachedAccount account)
    {
        requireNonNull(record, "record is null");
        this.account = requireNonNull(account, "account is null");
        if (!account.id().equals(record.accountId())) {
            throw new IllegalArgumentException("the cached account is not the key's account");
        }
        SecretHash hash = record.secretHash();
        this.hash0 = hash.word(0);
        this.hash1 = hash.word(1);
        this.hash2 = hash.word(2);
        this.hash3 = hash.word(3);
        this.userId = record.userId().value().getBytes(StandardCharsets.US_ASCII);
        this.role = record.role();
    }

    /**
     * Whether the presented secret hashes to this key's hash. Constant time.
     */
    boolean matches(SecretHash presented)
    {
        return presented.matches(hash0, hash1, hash2, hash3);
    }

    /**
     * Whether the key's account has been deleted since the key was cached; such an entry must never be served.
     */
    boolean isDisowned()
    {
        return account.isDeleted();
    }

    CachedAccount account()
    {
        return account;
    }

    Identity identity()
    {
        return Identity.accountUser(account.id(), UserId.of(new String(userId, StandardCharsets.US_ASCII)), role);
    }

    /**
     * One per account with cached keys, shared by all of them.
     */
    static final class CachedAccount
    {
        private final AccountId id;
        private volatile boolean deleted;

        CachedAccount(AccountId id)
        {
            this.id = requireNonNull(id, "id is null");
        }

        AccountId id()
        {
            return id;
        }

        boolean isDeleted()
        {
            return deleted;
        }

        void markDeleted()
        {
            deleted = true;
        }
    }
}

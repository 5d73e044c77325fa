package dev.latchkey.core.resolver;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.SecretHash;
import org.jspecify.annotations.Nullable;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * What the resolver's cache holds per key, in a compact form: a cache of a million keys must fit in about 256
 * bytes per key (see docs/performance.md), and on a cache hit among a million keys every pointer followed is
 * likely a CPU cache miss (about 330 ns each on the 2-vCPU machine of docs/performance.md). So one object holds
 * everything a hit reads: the key id (it is its own cache key, see {@link CacheKey}), the secret hash as four
 * words, a user id of up to 16 characters as two words (identifiers are ASCII; longer ones in an array), and the
 * role with the key's scopes and expiry ({@link Grant}: one shared object per role for every key with every scope and
 * no expiry, every primary key among them, so that they cost nothing more than a role). The account is a reference
 * to one object shared by every cached key of that account
 * ({@link CachedAccount}), which is also how a deleted account's keys are found: marking that one object
 * deleted disowns them all at once, with no per-key index.
 */
final class CachedKey
        extends CacheKey
{
    private static final int INLINE_USER_ID = 2 * Long.BYTES;
    private static final long NEVER = Long.MAX_VALUE;
    private static final Map<Role, Grant> UNRESTRICTED = new EnumMap<>(Role.class);
    private static final VarHandle USED;

    static {
        try {
            USED = MethodHandles.lookup().findVarHandle(CachedKey.class, "used", int.class);
        }
        catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    static {
        for (Role role : Role.values()) {
            UNRESTRICTED.put(role, new Grant(role, Scopes.all(), NEVER));
        }
    }

    private final long hash0;
    private final long hash1;
    private final long hash2;
    private final long hash3;
    /** The user id's ASCII bytes, big-endian, zero-padded, when it has at most 16 characters (no id has a NUL). */
    private final long userId0;
    private final long userId1;
    /** The user id's ASCII bytes when it is longer than 16 characters; null otherwise. */
    private final byte @Nullable [] longUserId;
    private final CachedAccount account;
    private final Grant grant;
    /**
     * When the store last confirmed this entry (ticker nanos): when it was loaded, and again by every background
     * refresh that found it unchanged. Written by the refresh, read by hits without a lock: a stale read only
     * sends one more hit through the cache policy.
     */
    private volatile long confirmedAt;
    /**
     * 1 when a request was served from this entry since usage was last taken ({@link #takeUsed}). Opaque access: a
     * hit costs one plain read (and a write only on the first use of an interval). The flush clears a mark
     * atomically and stamps what it took with a time read after taking it, so a use is recorded at that time or
     * at the next flush, never earlier than it happened.
     */
    @SuppressWarnings("unused") // through USED
    private int used;

    /**
     * @param confirmedAt when the record was read from the store, in ticker nanos
     */
    CachedKey(KeyRecord record, CachedAccount account, long confirmedAt)
    {
        super(requireNonNull(record, "record is null").keyId());
        this.account = requireNonNull(account, "account is null");
        if (!account.id().equals(record.accountId())) {
            throw new IllegalArgumentException("the cached account is not the key's account");
        }
        SecretHash hash = record.secretHash();
        this.hash0 = hash.word(0);
        this.hash1 = hash.word(1);
        this.hash2 = hash.word(2);
        this.hash3 = hash.word(3);
        byte[] userId = record.userId().value().getBytes(StandardCharsets.US_ASCII);
        if (userId.length <= INLINE_USER_ID) {
            byte[] padded = Arrays.copyOf(userId, INLINE_USER_ID);
            this.userId0 = bigEndianLong(padded, 0);
            this.userId1 = bigEndianLong(padded, Long.BYTES);
            this.longUserId = null;
        }
        else {
            this.userId0 = 0;
            this.userId1 = 0;
            this.longUserId = userId;
        }
        Scopes scopes = record.attributes().scopes();
        Optional<Instant> expiresAt = record.attributes().expiresAt();
        this.grant = scopes.equals(Scopes.all()) && expiresAt.isEmpty()
                ? requireNonNull(UNRESTRICTED.get(record.role()), "every role has its grant")
                : new Grant(record.role(), scopes, expiresAt.map(Instant::toEpochMilli).orElse(NEVER));
        this.confirmedAt = confirmedAt;
    }

    /**
     * Notes that a request was served from this entry.
     */
    void markUsed()
    {
        if ((int) USED.getOpaque(this) == 0) {
            USED.setOpaque(this, 1);
        }
    }

    /**
     * Whether a request was served from this entry since the last call, clearing the mark.
     */
    boolean takeUsed()
    {
        return (int) USED.getOpaque(this) != 0 && (int) USED.getAndSet(this, 0) != 0;
    }

    /**
     * Whether the presented secret hashes to this key's hash. Constant time.
     */
    boolean matches(SecretHash presented)
    {
        return presented.matches(hash0, hash1, hash2, hash3);
    }

    /**
     * Whether the key has expired at this wall-clock time. A key without an expiry costs no clock read.
     */
    boolean isExpiredAt(Clock clock)
    {
        return grant.expiresAtMillis() != NEVER && clock.millis() >= grant.expiresAtMillis();
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

    /**
     * Ticker nanos since the store last confirmed this entry (see {@link #confirmed(long)}).
     */
    long age(long nowNanos)
    {
        return nowNanos - confirmedAt;
    }

    /**
     * Records that the store confirmed this entry unchanged at the given ticker time.
     */
    void confirmed(long nowNanos)
    {
        confirmedAt = nowNanos;
    }

    /**
     * Whether both hold the same key, user, role, hash and account object: a refresh that finds nothing changed
     * keeps the cached object.
     */
    boolean sameAs(CachedKey other)
    {
        return equals(other) && account == other.account && grant.equals(other.grant) && matches(other)
                && userId0 == other.userId0 && userId1 == other.userId1 && Arrays.equals(longUserId, other.longUserId);
    }

    private boolean matches(CachedKey other)
    {
        return hash0 == other.hash0 && hash1 == other.hash1 && hash2 == other.hash2 && hash3 == other.hash3;
    }

    /**
     * The identity this key presents.
     *
     * @param keyId this entry's key id, as the presented key carries it (parsed already: writing the cached id out
     *         again would cost the hit a string)
     */
    Identity identity(KeyId keyId)
    {
        Optional<Instant> expiresAt = grant.expiresAtMillis() == NEVER ? Optional.empty() : Optional.of(Instant.ofEpochMilli(grant.expiresAtMillis()));
        return Identity.ofKey(keyId, account.id(), UserId.of(userId()), grant.role(), grant.scopes(), expiresAt);
    }

    private String userId()
    {
        if (longUserId != null) {
            return new String(longUserId, StandardCharsets.US_ASCII);
        }
        byte[] bytes = new byte[INLINE_USER_ID];
        for (int i = 0; i < Long.BYTES; i++) {
            bytes[i] = (byte) (userId0 >>> (Long.SIZE - Byte.SIZE * (i + 1)));
            bytes[Long.BYTES + i] = (byte) (userId1 >>> (Long.SIZE - Byte.SIZE * (i + 1)));
        }
        int length = 0;
        while (length < INLINE_USER_ID && bytes[length] != 0) {
            length++;
        }
        return new String(bytes, 0, length, StandardCharsets.US_ASCII);
    }

    private static long bigEndianLong(byte[] bytes, int offset)
    {
        long value = 0;
        for (int i = offset; i < offset + Long.BYTES; i++) {
            value = value << Byte.SIZE | (bytes[i] & 0xFF);
        }
        return value;
    }

    /**
     * What a key may do: its user's role, its scopes, and when it expires (epoch milliseconds; {@link #NEVER} when it
     * does not).
     */
    private record Grant(Role role, Scopes scopes, long expiresAtMillis) {}

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

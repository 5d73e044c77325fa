package dev.latchkey.adapters.s3;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;

import java.io.IOException;
import java.util.List;

/**
 * The JSON objects of the store (see {@link S3IdentityStore} for where each lives), and their codec. Times are
 * ISO-8601 instants, roles lower-case names, secret hashes hex.
 */
final class Documents
{
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .defaultPropertyInclusion(JsonInclude.Value.construct(JsonInclude.Include.NON_NULL, JsonInclude.Include.NON_NULL))
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    private Documents() {}

    /**
     * {@code head.json}: the commit point of every write, and the newest part of the change feed.
     *
     * @param position the newest committed change (0 when there is none)
     * @param compactedThrough changes up to this position are forgotten (a reader behind it is reset)
     * @param spilledThrough changes up to this position live in feed pages, the later ones in {@code entries}
     * @param entries the changes after {@code spilledThrough}, oldest first
     */
    record Head(long position, long compactedThrough, long spilledThrough, List<Entry> entries)
    {
        static final Head EMPTY = new Head(0, 0, 0, List.of());

        Head
        {
            entries = List.copyOf(entries);
        }
    }

    /**
     * {@code feed/<first position>.json}: a page of {@link S3IdentityStore#PAGE_SIZE} consecutive changes that no
     * longer fit in the head. Written whole before the head drops them, so its content is the same whoever writes it.
     */
    record Page(List<Entry> entries)
    {
        Page
        {
            entries = List.copyOf(entries);
        }
    }

    /**
     * One committed write: enough to report it in the feed and to apply it to the objects of its account.
     *
     * @param txn a random id of the write, so that a writer whose commit answer was lost can recognise its entry
     * @param incarnation the incarnation of the account the write applies to (for a creation: the new one)
     * @param role the user's role after the write (for a removal: the role it had)
     * @param oldRole the role before a role change
     * @param oldKeyId the key that stops working (replaced or removed)
     * @param keyId the user's key after the write (the new key of a creation or replacement, the current one for a
     *         role change)
     * @param secretHash the hash of the new key's secret, for creations and replacements
     * @param keyCreatedAt when the new key was issued
     */
    record Entry(
            long position,
            String txn,
            String type,
            String accountId,
            String incarnation,
            String committedAt,
            String accountCreatedAt,
            Boolean adminRequired,
            String userId,
            String role,
            String oldRole,
            String userCreatedAt,
            String oldKeyId,
            String keyId,
            String secretHash,
            String keyCreatedAt)
    {
        /**
         * This entry as the write commits it: at a position, with its write's id and commit time.
         */
        Entry committed(long newPosition, String newTxn, java.time.Instant at)
        {
            return new Entry(newPosition, newTxn, type, accountId, incarnation, at.toString(), accountCreatedAt, adminRequired, userId, role, oldRole,
                    userCreatedAt, oldKeyId, keyId, secretHash, keyCreatedAt);
        }
    }

    /**
     * {@code accounts/<account>/account.json}: the account, its counts, and which feed entry may be changing it.
     *
     * @param incarnation a random id of this creation of the account; users and keys carry it, so nothing of a
     *         deleted account ever counts under a later account of the same name
     * @param exists false for a deleted account (a tombstone) or for one whose creation is not decided yet
     * @param applied the newest feed entry whose effects are all written (every object of the account and this one)
     * @param pending a feed position at which a write to this account is committing or committed but not yet
     *         applied; a reader that finds {@code pending > applied} looks that entry up in the feed and, when it is
     *         committed and names this account, sees the account as that entry leaves it
     */
    record Account(
            String accountId,
            String createdAt,
            boolean adminRequired,
            String incarnation,
            boolean exists,
            int userCount,
            int adminCount,
            long applied,
            long pending)
    {
        Account withPending(long position)
        {
            return new Account(accountId, createdAt, adminRequired, incarnation, exists, userCount, adminCount, applied, position);
        }

        boolean hasPending()
        {
            return pending > applied;
        }
    }

    /**
     * {@code accounts/<account>/<incarnation>/users/<user>.json}.
     *
     * @param position the feed entry that wrote it; a write for an older entry never replaces it
     * @param removed a removed user (kept, so that a late writer of an older entry cannot bring it back)
     */
    record User(String userId, String role, String keyId, String createdAt, long position, boolean removed) {}

    /**
     * {@code keys/<keyId>.json}: a key, found by its id in one read; it works only while its account (one more read)
     * is live in the same incarnation and names no pending change that ends it.
     *
     * @param position the feed entry that wrote it (or will, while staged); a write for an older entry never replaces it
     * @param stagedBy set while the key is written ahead of the commit of the write that issues it: it then works
     *         only once that write's entry is committed; null once the write is applied
     * @param revoked a key that no longer works (kept, so that a late writer of an older entry cannot revive it)
     */
    record Key(
            String keyId,
            String secretHash,
            String accountId,
            String incarnation,
            String userId,
            String role,
            String createdAt,
            long position,
            String stagedBy,
            boolean revoked) {}

    /**
     * {@code probes/<nonce>.json}: written and deleted by the check that the endpoint honours conditional writes.
     */
    record Probe(String nonce) {}

    static byte[] write(Object document)
    {
        try {
            return MAPPER.writeValueAsBytes(document);
        }
        catch (IOException e) {
            throw new IllegalStateException("cannot encode " + document.getClass().getSimpleName(), e);
        }
    }

    static <T> T read(byte[] bytes, Class<T> type)
    {
        try {
            return MAPPER.readValue(bytes, type);
        }
        catch (IOException e) {
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 store holds an unreadable " + type.getSimpleName().toLowerCase(java.util.Locale.ROOT) + " object", e);
        }
    }
}

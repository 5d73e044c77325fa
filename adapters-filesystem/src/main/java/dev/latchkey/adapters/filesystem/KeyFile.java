package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.SecretHash;

import java.time.Instant;

/**
 * {@code keys/<xx>/<keyId>.json}: one live key, enough to authenticate it with one more read (its account file).
 *
 * @param secretHash the hex SHA-256 or HMAC-SHA256 of the key's secret; never the secret
 * @param accountIncarnation the {@link AccountFile#incarnation()} of the account the key was issued in
 * @param stagedBy set while the key is written ahead of the decision of the write that issues it: the key then
 *         resolves only while that write is the pending operation of its account (and a key staged by a write that
 *         was never decided never resolves); null once the write is finished
 */
record KeyFile(String keyId, String secretHash, String accountId, String accountIncarnation, String userId, Role role, Instant createdAt, String stagedBy)
{
    /**
     * The file of a key as issued, in an account incarnation.
     */
    static KeyFile issued(KeyRecord key, String incarnation)
    {
        return new KeyFile(key.keyId().value(), key.secretHash().toHex(), key.accountId().value(), incarnation, key.userId().value(), key.role(), key.createdAt(),
                null);
    }

    KeyFile withRole(Role newRole)
    {
        return new KeyFile(keyId, secretHash, accountId, accountIncarnation, userId, newRole, createdAt, stagedBy);
    }

    KeyFile stagedBy(String operationId)
    {
        return new KeyFile(keyId, secretHash, accountId, accountIncarnation, userId, role, createdAt, operationId);
    }

    KeyRecord toRecord()
    {
        return new KeyRecord(KeyId.of(keyId), SecretHash.ofHex(secretHash), AccountId.of(accountId), UserId.of(userId), role, createdAt);
    }
}

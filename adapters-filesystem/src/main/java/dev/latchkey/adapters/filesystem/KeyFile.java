package dev.latchkey.adapters.filesystem;

/**
 * {@code keys/<xx>/<keyId>.json}: one live key, enough to authenticate it with one more read (its account file).
 *
 * @param secretHash the hex SHA-256 or HMAC-SHA256 of the key's secret; never the secret
 * @param accountIncarnation the {@link AccountFile#incarnation()} of the account the key was issued in
 * @param stagedBy set while the key is written ahead of the decision of the write that issues it: the key then
 *         resolves only while that write is the pending operation of its account (and a key staged by a write that
 *         was never decided never resolves); null once the write is finished
 */
record KeyFile(String keyId, String secretHash, String accountId, String accountIncarnation, String userId, String role, String createdAt, String stagedBy)
{
    KeyFile withRole(String newRole)
    {
        return new KeyFile(keyId, secretHash, accountId, accountIncarnation, userId, newRole, createdAt, stagedBy);
    }

    KeyFile stagedBy(String operationId)
    {
        return new KeyFile(keyId, secretHash, accountId, accountIncarnation, userId, role, createdAt, operationId);
    }
}

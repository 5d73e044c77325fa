package dev.latchkey.adapters.filesystem;

/**
 * {@code keys/<xx>/<keyId>.json}: one live key, enough to authenticate it with one more read (its account file).
 *
 * @param secretHash the hex SHA-256 or HMAC-SHA256 of the key's secret; never the secret
 * @param accountIncarnation the {@link AccountFile#incarnation()} of the account the key was issued in
 */
record KeyFile(String keyId, String secretHash, String accountId, String accountIncarnation, String userId, String role, String createdAt)
{
    KeyFile withRole(String newRole)
    {
        return new KeyFile(keyId, secretHash, accountId, accountIncarnation, userId, newRole, createdAt);
    }
}

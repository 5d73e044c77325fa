package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyName;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.SecretHash;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * {@code keys/<xx>/<keyId>.json}: one key, enough to authenticate it with one more read (its account file).
 *
 * <p>{@code name}, {@code primary}, {@code scopes} and {@code expires_at} are its {@link KeyAttributes}. A key file
 * written before keys had attributes has none of them, and reads as {@link KeyAttributes#primaryKey()}: primary,
 * every scope, no name, no expiry.
 *
 * @param secretHash the hex SHA-256 or HMAC-SHA256 of the key's secret; never the secret
 * @param accountIncarnation the {@link AccountFile#incarnation()} of the account the key was issued in
 * @param name the key's name; null when it has none
 * @param primary whether the key is its user's primary key; absent (true) in a file written before keys had
 *         attributes
 * @param scopes the scopes the key holds; absent ({@code ["*"]}) in a file written before keys had attributes
 * @param expiresAt when the key stops working; null when it never expires
 * @param stagedBy set while the key is written ahead of the decision of the write that issues it: the key then
 *         resolves only while that write is the pending operation of its account (and a key staged by a write that
 *         was never decided never resolves); null once the write is finished
 */
record KeyFile(
        String keyId,
        String secretHash,
        String accountId,
        String accountIncarnation,
        String userId,
        Role role,
        Instant createdAt,
        String name,
        Boolean primary,
        List<String> scopes,
        Instant expiresAt,
        String stagedBy)
{
    KeyFile
    {
        primary = primary == null || primary;
        scopes = scopes == null ? Scopes.all().values() : List.copyOf(scopes);
    }

    /**
     * The file of a key as issued, in an account incarnation.
     */
    static KeyFile issued(KeyRecord key, String incarnation)
    {
        KeyAttributes attributes = key.attributes();
        return new KeyFile(key.keyId().value(), key.secretHash().toHex(), key.accountId().value(), incarnation, key.userId().value(), key.role(), key.createdAt(),
                attributes.name().map(KeyName::value).orElse(null), attributes.primary(), attributes.scopes().values(), attributes.expiresAt().orElse(null), null);
    }

    KeyFile withRole(Role newRole)
    {
        return new KeyFile(keyId, secretHash, accountId, accountIncarnation, userId, newRole, createdAt, name, primary, scopes, expiresAt, stagedBy);
    }

    KeyFile withAttributes(KeyAttributes attributes)
    {
        return new KeyFile(keyId, secretHash, accountId, accountIncarnation, userId, role, createdAt, attributes.name().map(KeyName::value).orElse(null),
                attributes.primary(), attributes.scopes().values(), attributes.expiresAt().orElse(null), stagedBy);
    }

    KeyFile stagedBy(String operationId)
    {
        return new KeyFile(keyId, secretHash, accountId, accountIncarnation, userId, role, createdAt, name, primary, scopes, expiresAt, operationId);
    }

    KeyAttributes attributes()
    {
        return new KeyAttributes(Optional.ofNullable(name).map(KeyName::of), primary, new Scopes(scopes), Optional.ofNullable(expiresAt));
    }

    KeyRecord toRecord()
    {
        return new KeyRecord(KeyId.of(keyId), SecretHash.ofHex(secretHash), AccountId.of(accountId), UserId.of(userId), role, createdAt, attributes());
    }
}

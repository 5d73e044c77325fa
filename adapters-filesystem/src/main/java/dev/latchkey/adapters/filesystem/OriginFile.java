package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.Origin;

import java.io.IOException;
import java.util.Optional;

/**
 * Where a write came from, as its {@link FeedEntryFile} (its audit record) and its {@link PendingOperation} carry
 * it: {@code {"actor": "admin", "account_id": "acme", "user_id": "alice", "key_id": "...", "instance_id": "...",
 * "request_id": "..."}}. Ids only, never a key's secret or hash.
 *
 * @param actor the {@linkplain Actor.Kind#wireName() wire name} of the actor's kind: {@code root}, {@code admin},
 *         {@code user} or {@code system}
 * @param accountId the acting user's account; null for root and the server
 * @param userId the acting user; null for root and the server
 * @param keyId the key the caller presented; null when there was none
 */
record OriginFile(String actor, String accountId, String userId, String keyId, String instanceId, String requestId)
{
    static OriginFile of(Origin origin)
    {
        Actor actor = origin.actor();
        return new OriginFile(actor.kind().wireName(), actor.accountId().map(AccountId::value).orElse(null), actor.userId().map(UserId::value).orElse(null),
                actor.keyId().map(KeyId::value).orElse(null), origin.instanceId(), origin.requestId());
    }

    /**
     * @throws IOException when the file holds no valid origin (a corrupt store file)
     */
    Origin toOrigin()
            throws IOException
    {
        try {
            Actor parsed = new Actor(Actor.Kind.fromWireName(String.valueOf(actor)), Optional.ofNullable(accountId).map(AccountId::of),
                    Optional.ofNullable(userId).map(UserId::of), Optional.ofNullable(keyId).map(KeyId::of));
            return new Origin(parsed, String.valueOf(instanceId), String.valueOf(requestId));
        }
        catch (IllegalArgumentException e) {
            throw new IOException("corrupt origin in a store file", e);
        }
    }
}

package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.store.NewUser;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * {@code accounts/<account>/users/<user>.json}: a user, its role, its primary key and every key it holds.
 *
 * <p>The user file lists the user's keys ({@code key_ids}). That makes every write that reaches all keys of a user
 * (a role change, its removal, its account's deletion), the key limit and a listing of its keys cost this one read
 * plus one read per key, whatever the size of the store, and it is decided with the rest of the user in the one
 * user file that a pending operation already carries whole ({@link PendingOperation#user()}). The alternatives cost
 * more: finding the keys by scanning {@code keys/} grows with the store, and a directory of key links per user is
 * one more set of files a crashed write would have to bring in step. A user file written before users held several
 * keys has no {@code key_ids} and reads as holding its one key.
 *
 * @param keyId the id of the user's primary key; null when it has none (its primary key was deleted)
 * @param keyIds every key the user holds, primary or not, expired or not (until it is deleted), in the order issued
 */
record UserFile(String accountId, String userId, Role role, String keyId, Instant createdAt, List<String> keyIds)
{
    UserFile
    {
        if (keyIds == null) {
            keyIds = keyId == null ? List.of() : List.of(keyId);
        }
        else {
            keyIds = List.copyOf(keyIds);
        }
    }

    /**
     * A new user, holding its first key, its primary key.
     */
    static UserFile of(NewUser newUser)
    {
        User user = newUser.user();
        return new UserFile(user.accountId().value(), user.id().value(), user.role(), newUser.keyId().value(), user.createdAt(), List.of(newUser.keyId().value()));
    }

    Optional<KeyId> primaryKeyId()
    {
        return Optional.ofNullable(keyId).map(KeyId::of);
    }

    List<KeyId> heldKeyIds()
    {
        return keyIds.stream().map(KeyId::of).toList();
    }

    boolean holds(KeyId key)
    {
        return keyIds.contains(key.value());
    }

    UserFile withRole(Role newRole)
    {
        return new UserFile(accountId, userId, newRole, keyId, createdAt, keyIds);
    }

    /**
     * This user with a new primary key; the old primary key, if any, is kept (no longer primary) or dropped.
     */
    UserFile withPrimaryKey(KeyId newPrimaryKeyId, boolean keepOldPrimaryKey)
    {
        List<String> held = new ArrayList<>(keyIds);
        if (keyId != null && !keepOldPrimaryKey) {
            held.remove(keyId);
        }
        if (!held.contains(newPrimaryKeyId.value())) {
            held.add(newPrimaryKeyId.value());
        }
        return new UserFile(accountId, userId, role, newPrimaryKeyId.value(), createdAt, held);
    }

    /**
     * This user holding one more key, not primary.
     */
    UserFile withKey(KeyId added)
    {
        List<String> held = new ArrayList<>(keyIds);
        held.add(added.value());
        return new UserFile(accountId, userId, role, keyId, createdAt, held);
    }

    /**
     * This user without one of its keys; without a primary key when it was that one.
     */
    UserFile withoutKey(KeyId removed)
    {
        List<String> held = new ArrayList<>(keyIds);
        held.remove(removed.value());
        return new UserFile(accountId, userId, role, removed.value().equals(keyId) ? null : keyId, createdAt, held);
    }

    /**
     * This user without some of its keys that are not its primary key (keys that have ended).
     */
    UserFile withoutKeys(Collection<KeyId> removed)
    {
        List<String> held = new ArrayList<>(keyIds);
        removed.forEach(keyId -> held.remove(keyId.value()));
        return new UserFile(accountId, userId, role, keyId, createdAt, held);
    }

    User toUser()
    {
        return new User(AccountId.of(accountId), UserId.of(userId), role, primaryKeyId(), createdAt);
    }
}

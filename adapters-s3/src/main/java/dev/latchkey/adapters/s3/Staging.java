package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.S3Objects.Versioned;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.store.ChangeType;

import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The writes a batch makes before its commit, none of them to the head: each new key staged. (The commit itself lists
 * its entries as unapplied to their accounts: no account object is written before it.)
 */
final class Staging
{
    private final S3Objects objects;

    Staging(S3Objects objects)
    {
        this.objects = requireNonNull(objects, "objects is null");
    }

    /**
     * What staging a new key came to.
     */
    sealed interface Staged
    {
        /** The staged key object, written by this write, with its entity tag. */
        record Written(String etag) implements Staged {}

        /** The id is the same user's current key (re-hashed): it stays as it is until the commit replaces it. */
        record AlreadyOwned() implements Staged {}

        /** Another write changed the key object meanwhile. */
        record Lost() implements Staged {}

        /** The id is a live key of another user. */
        record InUse() implements Staged {}
    }

    /**
     * Writes the new key ahead of the commit, marked as staged by its write: it works only once the write's entry is
     * committed. Replaces a key object only if it holds no live key (the write's checks found the id free).
     */
    Staged stage(Entry entry, Reads.Remembering reads, BatchChecks checks)
    {
        String objectKey = ObjectLayout.key(entry.keyId());
        byte[] bytes = Documents.write(Documents.Key.stagedBy(entry));
        if (!reads.knows(objectKey)) {
            // a new key's id has no object: creating it is the check that it is free
            Optional<String> created = objects.putIfAbsent(objectKey, bytes);
            if (created.isPresent()) {
                reads.remember(objectKey, new Versioned(bytes, created.get()));
                return new Staged.Written(created.get());
            }
        }
        Optional<Versioned> existing = reads.get(objectKey);
        if (existing.isPresent()) {
            Documents.Key current = Documents.read(existing.get().bytes(), Documents.Key.class);
            boolean rehash = entry.type() == ChangeType.KEY_REPLACED && entry.keyId().equals(entry.oldKeyId());
            if (rehash && current.stagedBy() == null && !current.revoked() && current.ownedAsIn(entry)) {
                // the same user's current key, re-hashed: it stays live until the commit replaces it
                return new Staged.AlreadyOwned();
            }
            if (entry.txn().equals(current.stagedBy())) {
                if (checks.issuedToAnotherUser(entry)) {
                    // this write staged the id over the stage of another write, which then committed: the id is that
                    // write's (its apply writes the key over this stage)
                    return new Staged.InUse();
                }
                // staged by an earlier attempt of this very write: the entry, once committed, makes it work
                return new Staged.Written(existing.get().etag());
            }
            try {
                // only a re-hash, or a write removing the same user's expired key of that id, may reuse the id of a key
                // of the same user: any other write needs an id no key has
                Optional<User> owner = rehash || entry.endedKeys().contains(entry.keyId()) ? entry.userAfter() : Optional.empty();
                checks.verifyKeyIdFree(KeyId.of(entry.keyId()), owner);
            }
            catch (LatchkeyException e) {
                return new Staged.InUse();
            }
        }
        Optional<String> etag = objects.putIfUnchanged(objectKey, bytes, existing.map(Versioned::etag).orElse(null));
        if (etag.isEmpty()) {
            return new Staged.Lost();
        }
        reads.remember(objectKey, new Versioned(bytes, etag.get()));
        return new Staged.Written(etag.get());
    }
}

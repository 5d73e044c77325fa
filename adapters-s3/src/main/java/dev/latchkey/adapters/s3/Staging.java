package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.LiveViews.AccountRead;
import dev.latchkey.adapters.s3.S3Objects.Versioned;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.store.ChangeType;

import java.util.List;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The writes a batch makes before its commit, none of them to the head: each account written marked with the
 * positions its writes take, each new key staged.
 */
final class Staging
{
    private static final int MARK_ATTEMPTS = 10;

    private final S3Objects objects;
    private final LiveViews views;
    private final Applier applier;

    Staging(S3Objects objects, LiveViews views, Applier applier)
    {
        this.objects = requireNonNull(objects, "objects is null");
        this.views = requireNonNull(views, "views is null");
        this.applier = requireNonNull(applier, "applier is null");
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
     * Records on the account that writes are about to take {@code positions}, keeping the positions other writers
     * marked. Re-reads and marks again when the object changed since it was read (an apply, or another writer's
     * mark), unless a write newer than the head read was applied to it.
     */
    Optional<AccountRead> mark(AccountId accountId, Optional<AccountRead> read, List<Long> positions, long headPosition, List<Entry> committed)
    {
        Optional<AccountRead> stored = read;
        for (int attempt = 0; attempt < MARK_ATTEMPTS; attempt++) {
            Documents.Account account = stored.map(AccountRead::account).orElseGet(() -> Documents.Account.absent(accountId));
            if (account.applied() > headPosition) {
                return Optional.empty();
            }
            // the committed entries still pending on it whose objects this handle wrote count as applied, oldest first
            Documents.Account marked = account.applying(committed, applier::wrote).marking(positions);
            Optional<String> etag = objects.putIfUnchanged(ObjectLayout.account(accountId.value()), Documents.write(marked), stored.map(AccountRead::etag).orElse(null));
            if (etag.isPresent()) {
                return Optional.of(new AccountRead(marked, etag.get()));
            }
            stored = views.readDocument(accountId);
        }
        return Optional.empty();
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

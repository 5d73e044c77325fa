package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.LiveViews.AccountView;
import dev.latchkey.adapters.s3.LiveViews.LiveKey;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.store.StoreErrors;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The context of the checks of one attempt of a batch: its reads, the keys its earlier writes issue, and the
 * views of its accounts as its earlier writes leave them.
 */
record BatchChecks(LiveViews views, Reads.Remembering reads, Map<String, Entry> issuedKeys, Map<AccountId, AccountView> current, Set<String> guarded,
                            Set<String> inUse, Set<String> staged)
        implements WritePlanner.Context
{
    @Override
    public boolean userExists(AccountView view, UserId userId)
    {
        return views.userExists(view, userId);
    }

    @Override
    public Optional<LiveViews.UserState> userState(AccountView view, UserId userId)
    {
        return views.userState(view, userId);
    }

    /**
     * Reads the key through the batch's reads (and guards it: an entry committed meanwhile that names it means
     * reading it again), and folds in the view's pending entries, the batch's earlier ones included.
     */
    @Override
    public Optional<KeyRecord> key(AccountView view, UserId userId, KeyId keyId)
    {
        guarded.add(BatchReading.key(keyId.value()));
        return views.keyOf(view, userId, keyId);
    }

    @Override
    public List<KeyId> endedKeys(AccountView view, LiveViews.UserState user, Instant at)
    {
        user.keyIds().forEach(keyId -> guarded.add(BatchReading.key(keyId.value())));
        List<Optional<KeyRecord>> keys = views.keysOf(view, user.user().id(), user.keyIds());
        List<KeyId> ended = new ArrayList<>();
        for (int i = 0; i < keys.size(); i++) {
            if (!keys.get(i).map(record -> record.attributes().isLiveAt(at)).orElse(false)) {
                ended.add(user.keyIds().get(i));
            }
        }
        return ended;
    }

    /**
     * Checks what is known without a request: an id issued earlier in the batch, or found in use by staging.
     * An id whose object was not read yet is taken as free here, and checked when its key is staged: a new key's
     * id (random) has no object, and staging it with {@code If-None-Match: *} is the check.
     */
    @Override
    public void requireKeyIdFree(KeyId keyId, Optional<User> owner)
    {
        Entry earlier = issuedKeys.get(keyId.value());
        if (earlier != null) {
            if (owner.map(user -> user.accountId().value().equals(earlier.accountId()) && earlier.names(user.id())).orElse(false)) {
                return;
            }
            throw StoreErrors.keyIdInUse();
        }
        if (inUse.contains(keyId.value())) {
            throw StoreErrors.keyIdInUse();
        }
        // what a later attempt must check again if an entry committed meanwhile names it
        guarded.add(BatchReading.key(keyId.value()));
        if (reads.knows(ObjectLayout.key(keyId.value())) && !staged.contains(keyId.value())) {
            verifyKeyIdFree(keyId, owner);
        }
    }

    /**
     * Whether a committed entry among the head's newest issues the id of the key {@code entry} issues to another user
     * ({@link LiveViews#issuedToAnotherUser}).
     */
    boolean issuedToAnotherUser(Entry entry)
    {
        return views.issuedToAnotherUser(entry);
    }

    /**
     * Throws CONFLICT if a live key of another user has this id (and no write earlier in the batch ended it).
     */
    void verifyKeyIdFree(KeyId keyId, Optional<User> owner)
    {
        Optional<LiveKey> live = views.key(keyId);
        if (live.isEmpty()) {
            return;
        }
        guarded.add(BatchReading.account(live.get().record().accountId().value()));
        AccountView batchView = current.get(live.get().record().accountId());
        if (batchView != null && (!batchView.exists() || views.keyOf(batchView, live.get().userId(), keyId).isEmpty())) {
            // a write earlier in this batch ended it
            return;
        }
        if (owner.map(user -> user.accountId().equals(live.get().record().accountId()) && user.id().equals(live.get().userId())).orElse(false)) {
            return;
        }
        throw StoreErrors.keyIdInUse();
    }
}

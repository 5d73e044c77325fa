package dev.latchkey.core.testing;

import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.UserPage;
import dev.latchkey.core.store.UserQuery;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Checks that a store is consistent through its interface, as any reader needs it to be (after racing writers,
 * after writers killed mid-write): every user's key resolves to that user with its role, each account's user count
 * matches its users, and the feed has no gaps and ends at the head.
 */
public final class StoreConsistency
{
    private StoreConsistency() {}

    public static void check(IdentityStore store)
    {
        for (AccountSummary account : store.listAccounts()) {
            List<User> users = allUsers(store, account);
            assertThat(users).as("users of %s", account.id()).hasSize(account.userCount());
            for (User user : users) {
                // every key the user holds (as of 1970: no expired one left out) resolves to it, with its
                // role; its primary key among them
                List<KeyId> held = store.listKeys(user.accountId(), user.id(), Instant.EPOCH).stream().map(KeySummary::keyId).toList();
                user.primaryKeyId().ifPresent(primary -> assertThat(held).as("keys of %s/%s", user.accountId(), user.id()).contains(primary));
                for (KeyId keyId : held) {
                    Optional<KeyRecord> key = store.findKey(keyId);
                    assertThat(key).as("key %s of %s/%s", keyId, user.accountId(), user.id()).isPresent();
                    assertThat(key.get().accountId()).isEqualTo(user.accountId());
                    assertThat(key.get().userId()).isEqualTo(user.id());
                    assertThat(key.get().role()).isEqualTo(user.role());
                }
            }
        }
        List<Change> feed = allChanges(store);
        for (int i = 0; i < feed.size(); i++) {
            assertThat(feed.get(i).position()).as("feed positions without gaps").isEqualTo(FeedPosition.of(i + 1));
        }
        if (!feed.isEmpty()) {
            assertThat(feed.get(feed.size() - 1).position()).as("the feed ends at the head").isEqualTo(store.headPosition());
        }
    }

    /**
     * The whole feed of a store whose feed was never compacted.
     */
    public static List<Change> allChanges(IdentityStore store)
    {
        List<Change> changes = new ArrayList<>();
        FeedPosition position = FeedPosition.START;
        while (true) {
            FeedBatch batch = store.changesAfter(position, 500);
            assertThat(batch).as("a feed that was never compacted is never reset").isInstanceOf(FeedBatch.Changes.class);
            FeedBatch.Changes page = (FeedBatch.Changes) batch;
            if (page.changes().isEmpty()) {
                return changes;
            }
            changes.addAll(page.changes());
            position = page.next();
        }
    }

    public static List<User> allUsers(IdentityStore store, AccountSummary account)
    {
        List<User> users = new ArrayList<>();
        Optional<UserId> cursor = Optional.empty();
        do {
            UserPage page = store.listUsers(account.id(), new UserQuery(UserQuery.MAX_LIMIT, Optional.empty(), Optional.empty(), cursor));
            users.addAll(page.users());
            cursor = page.next();
        }
        while (cursor.isPresent());
        return users;
    }
}

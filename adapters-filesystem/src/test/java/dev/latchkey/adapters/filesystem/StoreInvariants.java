package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.UserPage;
import dev.latchkey.core.store.UserQuery;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Checks that a filesystem store is consistent, as any reader would need it to be: every user's key resolves to
 * that user, no key file resolves unless its user holds it, counts match, and the feed has no gaps.
 */
final class StoreInvariants
{
    private StoreInvariants() {}

    static void check(Path directory, FileSystemIdentityStore store)
    {
        List<User> users = new ArrayList<>();
        for (AccountSummary account : store.listAccounts()) {
            List<User> accountUsers = allUsers(store, account);
            assertThat(accountUsers).as("users of %s", account.id()).hasSize(account.userCount());
            users.addAll(accountUsers);
        }
        for (User user : users) {
            Optional<KeyRecord> key = store.findKey(user.keyId());
            assertThat(key).as("key of %s/%s", user.accountId(), user.id()).isPresent();
            assertThat(key.get().accountId()).isEqualTo(user.accountId());
            assertThat(key.get().userId()).isEqualTo(user.id());
            assertThat(key.get().role()).isEqualTo(user.role());
        }
        for (KeyId keyId : keyFiles(directory)) {
            store.findKey(keyId).ifPresent(key -> assertThat(store.findUser(key.accountId(), key.userId()).map(User::keyId))
                    .as("a live key is its user's current key")
                    .contains(keyId));
        }
        List<Change> feed = allChanges(store);
        for (int i = 1; i < feed.size(); i++) {
            assertThat(feed.get(i).position().value()).isEqualTo(feed.get(i - 1).position().value() + 1);
        }
        if (!feed.isEmpty()) {
            assertThat(feed.get(feed.size() - 1).position()).isEqualTo(store.headPosition());
        }
    }

    static List<Change> allChanges(FileSystemIdentityStore store)
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

    static List<User> allUsers(FileSystemIdentityStore store, AccountSummary account)
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

    private static List<KeyId> keyFiles(Path directory)
    {
        try (Stream<Path> files = Files.walk(directory.resolve("keys"))) {
            return files.filter(Files::isRegularFile)
                    .map(file -> file.getFileName().toString())
                    .map(name -> KeyId.of(FileNames.decode(name.substring(0, name.length() - ".json".length()))))
                    .toList();
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

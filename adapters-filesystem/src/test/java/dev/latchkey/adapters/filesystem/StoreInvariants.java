package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.testing.StoreConsistency;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Checks that a filesystem store is consistent, as any reader would need it to be: what {@link StoreConsistency}
 * checks through the store (user counts, a feed without gaps that ends at the head), that every key a user holds
 * resolves to it with its role (its primary key, and only that one, primary), and that no key file resolves unless
 * its user holds it.
 */
final class StoreInvariants
{
    private StoreInvariants() {}

    static void check(Path directory, FileSystemIdentityStore store)
    {
        // what StoreConsistency.check checks, but for users without a primary key (it requires one of every user)
        for (AccountSummary account : store.listAccounts()) {
            List<User> users = StoreConsistency.allUsers(store, account);
            assertThat(users).as("users of %s", account.id()).hasSize(account.userCount());
            for (User user : users) {
                List<KeySummary> held = heldKeys(store, user);
                assertThat(held).filteredOn(key -> key.attributes().primary()).extracting(KeySummary::keyId)
                        .as("the primary key of %s/%s is its only primary key", user.accountId(), user.id())
                        .containsExactlyElementsOf(user.primaryKeyId().stream().toList());
                for (KeySummary key : held) {
                    assertThat(store.findKey(key.keyId())).as("key %s of %s/%s", key.keyId(), user.accountId(), user.id())
                            .hasValueSatisfying(record -> {
                                assertThat(record.accountId()).isEqualTo(user.accountId());
                                assertThat(record.userId()).isEqualTo(user.id());
                                assertThat(record.role()).isEqualTo(user.role());
                                assertThat(record.summary()).isEqualTo(key);
                            });
                }
            }
        }
        for (KeyId keyId : keyFiles(directory)) {
            store.findKey(keyId).ifPresent(key -> assertThat(store.findUser(key.accountId(), key.userId()).map(user -> heldKeys(store, user)).orElse(List.of()))
                    .extracting(KeySummary::keyId)
                    .as("a live key is one of its user's keys")
                    .contains(keyId));
        }
        List<Change> feed = StoreConsistency.allChanges(store);
        for (int i = 0; i < feed.size(); i++) {
            assertThat(feed.get(i).position()).as("feed positions without gaps").isEqualTo(FeedPosition.of(i + 1));
        }
        if (!feed.isEmpty()) {
            assertThat(feed.get(feed.size() - 1).position()).as("the feed ends at the head").isEqualTo(store.headPosition());
        }
    }

    /**
     * Every key the user holds, expired or not: no key is expired at the start of time.
     */
    private static List<KeySummary> heldKeys(FileSystemIdentityStore store, User user)
    {
        return store.listKeys(user.accountId(), user.id(), Instant.MIN);
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

package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.testing.StoreConsistency;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Checks that a filesystem store is consistent, as any reader would need it to be: what {@link StoreConsistency}
 * checks through the store, and that no key file resolves unless its user holds it.
 */
final class StoreInvariants
{
    private StoreInvariants() {}

    static void check(Path directory, FileSystemIdentityStore store)
    {
        StoreConsistency.check(store);
        for (KeyId keyId : keyFiles(directory)) {
            store.findKey(keyId).ifPresent(key -> assertThat(store.findUser(key.accountId(), key.userId()).map(User::keyId))
                    .as("a live key is its user's current key")
                    .contains(keyId));
        }
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

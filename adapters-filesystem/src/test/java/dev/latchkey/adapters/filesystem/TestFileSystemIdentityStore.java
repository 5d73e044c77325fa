package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.store.AbstractIdentityStoreContractTest;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The whole store contract against a real directory, with a second handle on the same directory standing in for
 * a second instance.
 */
class TestFileSystemIdentityStore
        extends AbstractIdentityStoreContractTest
{
    @TempDir
    Path temporaryDirectory;

    private final AtomicInteger stores = new AtomicInteger();
    private final Map<IdentityStore, Path> directories = new IdentityHashMap<>();
    private final Map<IdentityStore, Clock> clocks = new IdentityHashMap<>();

    @Override
    protected synchronized IdentityStore createStore(Clock clock)
    {
        Path directory = temporaryDirectory.resolve("store-" + stores.incrementAndGet());
        FileSystemIdentityStore store = FileSystemIdentityStore.open(directory, clock);
        directories.put(store, directory);
        clocks.put(store, clock);
        return store;
    }

    @Override
    protected synchronized IdentityStore openAnotherHandle(IdentityStore store)
    {
        FileSystemIdentityStore other = FileSystemIdentityStore.open(directories.get(store), clocks.get(store));
        directories.put(other, directories.get(store));
        clocks.put(other, clocks.get(store));
        return other;
    }

    @Override
    protected void compactFeedThrough(IdentityStore store, FeedPosition position)
    {
        ((FileSystemIdentityStore) store).compactThrough(position);
    }
}

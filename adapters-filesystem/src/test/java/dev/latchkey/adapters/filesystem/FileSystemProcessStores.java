package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.testing.ProcessStores;

import java.nio.file.Path;
import java.time.Clock;

/**
 * The filesystem store for the multi-process suites: a fresh directory; the location is its path.
 */
public final class FileSystemProcessStores
        implements ProcessStores
{
    @Override
    public String createStore(Path temporaryDirectory)
    {
        return temporaryDirectory.resolve("store").toString();
    }

    @Override
    public IdentityStore open(String location)
    {
        return FileSystemIdentityStore.open(Path.of(location), Clock.systemUTC());
    }
}

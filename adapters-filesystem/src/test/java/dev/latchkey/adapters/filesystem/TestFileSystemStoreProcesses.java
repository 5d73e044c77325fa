package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.store.AbstractTestStoreProcesses;
import dev.latchkey.core.store.IdentityStore;

import java.nio.file.Path;

/**
 * The multi-process scenarios on one directory: two writer JVMs racing, writers killed with SIGKILL mid-burst;
 * every consistent state also checked against the files ({@link StoreInvariants}).
 */
class TestFileSystemStoreProcesses
        extends AbstractTestStoreProcesses
{
    TestFileSystemStoreProcesses()
    {
        super("filesystem", new FileSystemProcessStores());
    }

    @Override
    protected int kills()
    {
        return 6;
    }

    @Override
    protected void checkStore(String location, IdentityStore store)
    {
        StoreInvariants.check(Path.of(location), (FileSystemIdentityStore) store);
    }
}

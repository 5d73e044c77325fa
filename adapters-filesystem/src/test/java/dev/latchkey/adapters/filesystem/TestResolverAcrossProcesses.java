package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.store.AbstractTestResolverAcrossProcesses;

/**
 * The resolver over the filesystem store in two JVMs (G1, G2), polling the directory's feed every 250 ms.
 */
class TestResolverAcrossProcesses
        extends AbstractTestResolverAcrossProcesses
{
    TestResolverAcrossProcesses()
    {
        super("filesystem", new FileSystemProcessStores());
    }
}

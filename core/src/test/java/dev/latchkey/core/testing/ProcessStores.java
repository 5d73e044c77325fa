package dev.latchkey.core.testing;

import dev.latchkey.core.store.IdentityStore;

import java.nio.file.Path;

/**
 * The store under test of the multi-process suites ({@code AbstractTestStoreProcesses},
 * {@code AbstractTestResolverAcrossProcesses}): how a test makes a fresh store, and how this JVM and the child JVMs
 * ({@link StoreWorkload}) open it from its location, a string the implementation makes and reads. Implementations
 * have a public constructor without arguments: the child programs make them by class name.
 */
public interface ProcessStores
{
    /**
     * Makes a new, empty store (a directory, a database, a prefix) and returns its location.
     */
    String createStore(Path temporaryDirectory);

    /**
     * Opens another handle on the store at the location, as another instance would.
     */
    IdentityStore open(String location);

    /**
     * Starts what wakes a resolver over the store between its polls (none by default); returns what stops it.
     */
    default AutoCloseable startWakeUps(IdentityStore store, Runnable wakeUp)
    {
        return () -> {};
    }
}

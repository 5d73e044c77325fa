package dev.latchkey.core.store;

import dev.latchkey.core.testing.ProcessStores;
import dev.latchkey.core.testing.ScenarioFigures;
import dev.latchkey.core.testing.StoreWorkload;
import dev.latchkey.core.testing.TestingProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static java.util.Objects.requireNonNull;

/**
 * What the multi-process suites ({@link AbstractTestStoreProcesses}, {@link AbstractTestResolverAcrossProcesses})
 * share: the store under test and the handles this JVM opened on it (closed after each test), the child
 * {@link StoreWorkload} programs on it, and the figures the scenarios print.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class AbstractTestAcrossProcesses
{
    private final String storeName;
    private final ProcessStores stores;
    private final List<IdentityStore> opened = new ArrayList<>();

    /**
     * @param storeName the store's name in the figures printed
     */
    protected AbstractTestAcrossProcesses(String storeName, ProcessStores stores)
    {
        this.storeName = requireNonNull(storeName, "storeName is null");
        this.stores = requireNonNull(stores, "stores is null");
    }

    @AfterEach
    public final void closeStores()
    {
        opened.forEach(IdentityStore::close);
        opened.clear();
    }

    /**
     * A new, empty store; returns its location.
     */
    protected final String createStore(Path temporaryDirectory)
    {
        return stores.createStore(temporaryDirectory);
    }

    /**
     * A handle on the store in this JVM, closed after the test.
     */
    protected final IdentityStore open(String location)
    {
        IdentityStore store = stores.open(location);
        opened.add(store);
        return store;
    }

    /**
     * A {@link StoreWorkload} program in its own JVM on the store at the location, in a mode with its arguments.
     */
    protected final TestingProcess startChild(Path logFile, String location, String... modeAndArguments)
    {
        return TestingProcess.start(StoreWorkload.class, logFile,
                Stream.concat(Stream.of(stores.getClass().getName(), location), Stream.of(modeAndArguments)).toArray(String[]::new));
    }

    /**
     * Prints one line of the scenario's figures ({@link ScenarioFigures#print}).
     */
    protected final void printFigures(String scenario, Object... namesAndValues)
    {
        ScenarioFigures.print(storeName, scenario, namesAndValues);
    }
}

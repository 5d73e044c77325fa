package dev.latchkey.server.it;

import dev.latchkey.core.testing.ScenarioFigures;

import static java.util.Objects.requireNonNull;

/**
 * Prints what a multi-instance scenario measured, for one store, in the line format that every scenario shares
 * ({@link ScenarioFigures}: {@code FIGURE <store> <scenario> <name>=<value> ...}), so that the figures of
 * docs/guarantees.md can be read from one run ({@code grep '^FIGURE ' target/failsafe-reports/*-output.txt}).
 */
final class Figures
{
    private final String store;

    /**
     * @param store the store's name in the figure lines: {@code filesystem}, {@code postgres}, {@code s3}
     */
    Figures(String store)
    {
        this.store = requireNonNull(store, "store is null");
    }

    String store()
    {
        return store;
    }

    /**
     * Prints one figure line: the names and values given in pairs, {@code name, value, name, value, ...}.
     */
    void print(String scenario, Object... namesAndValues)
    {
        ScenarioFigures.print(store, scenario, namesAndValues);
    }
}

package dev.latchkey.server.it;

import java.time.Duration;

import static java.util.Objects.requireNonNull;

/**
 * Prints what a multi-instance scenario measured in the one line format that every store shares, so that the
 * figures of docs/guarantees.md can be read from one run ({@code grep '^FIGURE ' target/failsafe-reports/*-output.txt}):
 * <pre>FIGURE &lt;store&gt; &lt;scenario&gt; &lt;name&gt;=&lt;value&gt; ...</pre>
 * Durations are printed in milliseconds (names ending in {@code _ms}); a value never holds a space.
 */
final class Figures
{
    private final String store;

    /**
     * @param store the store's name in the figure lines: {@code filesystem}, {@code postgresql}, {@code s3}
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
        requireNonNull(scenario, "scenario is null");
        if (namesAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("names and values do not pair up: " + namesAndValues.length);
        }
        StringBuilder line = new StringBuilder("FIGURE ").append(store).append(' ').append(scenario);
        for (int i = 0; i < namesAndValues.length; i += 2) {
            line.append(' ').append(namesAndValues[i]).append('=').append(format(namesAndValues[i + 1]));
        }
        System.out.println(line);
    }

    private static String format(Object value)
    {
        Object shown = value instanceof Duration duration ? duration.toMillis() : value;
        return String.valueOf(shown).replace(", ", ",").replace(' ', '_');
    }
}

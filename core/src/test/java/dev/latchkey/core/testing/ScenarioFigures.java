package dev.latchkey.core.testing;

import java.time.Duration;
import java.util.List;
import java.util.StringJoiner;

/**
 * The figures the multi-process and multi-instance scenarios print (delays, lookups, survivors, conflicts), one line
 * each, in one format for every store: {@code FIGURE <store> <scenario> <name>=<value> ...}, durations in
 * milliseconds with names ending in {@code _ms}, no value holding a space. Store names: {@code filesystem},
 * {@code postgres}, {@code s3}. {@code grep -h '^FIGURE'} over a module's surefire or failsafe
 * {@code *-output.txt} reports collects them.
 */
public final class ScenarioFigures
{
    private ScenarioFigures() {}

    /**
     * Prints one line of figures.
     *
     * @param namesAndValues a name, then its value, and so on; a {@link Duration} is printed in milliseconds
     */
    public static String print(String store, String scenario, Object... namesAndValues)
    {
        if (namesAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("every figure needs a name and a value");
        }
        StringJoiner line = new StringJoiner(" ").add("FIGURE").add(store).add(scenario);
        for (int i = 0; i < namesAndValues.length; i += 2) {
            Object value = namesAndValues[i + 1];
            Object shown = value instanceof Duration duration ? duration.toMillis() : value;
            line.add(namesAndValues[i] + "=" + String.valueOf(shown).replace(", ", ",").replace(' ', '_'));
        }
        System.out.println(line);
        return line.toString();
    }

    /**
     * The delay at a percentile (1 to 100: 100 is the largest), nearest rank.
     */
    public static Duration percentile(List<Duration> delays, int percentile)
    {
        List<Duration> sorted = delays.stream().sorted().toList();
        int index = (int) Math.ceil(percentile / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, index));
    }
}

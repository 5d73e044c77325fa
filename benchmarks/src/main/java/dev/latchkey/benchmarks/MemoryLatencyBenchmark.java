package dev.latchkey.benchmarks;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The machine's cost of one dependent random memory read, for reading the resolver's numbers: a cache hit among a
 * million keys follows several pointers that are rarely in a CPU cache, so its floor is a multiple of this.
 * Each operation follows one link of a random cycle through {@code megabytes} of ints (Sattolo's shuffle).
 *
 * <pre>java -jar benchmarks/target/benchmarks.jar MemoryLatencyBenchmark</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx2g", "-XX:+AlwaysPreTouch"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class MemoryLatencyBenchmark
{
    @Param({"1", "256"})
    public int megabytes;

    private int[] next;
    private int position;

    @Setup
    public void setUp()
    {
        int length = megabytes * 1024 * 1024 / Integer.BYTES;
        next = new int[length];
        for (int i = 0; i < length; i++) {
            next[i] = i;
        }
        SplittableRandom random = new SplittableRandom(42);
        for (int i = length - 1; i > 0; i--) {
            int j = random.nextInt(i);
            int swap = next[i];
            next[i] = next[j];
            next[j] = swap;
        }
    }

    @Benchmark
    public int dependentRead()
    {
        position = next[position];
        return position;
    }
}

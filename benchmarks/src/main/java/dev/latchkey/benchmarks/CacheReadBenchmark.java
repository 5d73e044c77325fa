package dev.latchkey.benchmarks;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.latchkey.core.domain.KeyId;
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

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * What reading one of a million entries at random costs in the maps a resolver could read on a hit, with nothing
 * else around it: a plain {@link ConcurrentHashMap}, a size-bounded Caffeine cache configured as the resolver's
 * ({@code getIfPresent}, which records the read in its eviction policy and upkeeps it on the calling thread), and
 * the same cache read without side effects ({@code getIfPresentQuietly}). Entries are their own keys (two longs
 * and the fields of a cached key); the probe is computed, not read from memory.
 *
 * <pre>java -jar benchmarks/target/benchmarks.jar CacheReadBenchmark</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms3g", "-Xmx3g", "-XX:+AlwaysPreTouch"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class CacheReadBenchmark
{
    private static final int ENTRIES = 1_000_000;

    @Param({"concurrentHashMap", "caffeine", "caffeineQuietly"})
    public String map;

    private Map<Entry, Entry> plain;
    private Cache<Entry, Entry> caffeine;

    @Setup
    public void setUp()
    {
        plain = new ConcurrentHashMap<>();
        caffeine = Caffeine.newBuilder()
                .maximumSize(ENTRIES)
                .refreshAfterWrite(Duration.ofMinutes(10))
                .executor(Runnable::run)
                .build(key -> null);
        for (int i = 0; i < ENTRIES; i++) {
            Entry entry = entry(i);
            if (map.equals("concurrentHashMap")) {
                plain.put(entry, entry);
            }
            else {
                caffeine.put(entry, entry);
            }
        }
        caffeine.cleanUp();
    }

    @Benchmark
    public Entry read()
    {
        Entry probe = entry(ThreadLocalRandom.current().nextInt(ENTRIES));
        return switch (map) {
            case "concurrentHashMap" -> plain.get(probe);
            case "caffeine" -> caffeine.getIfPresent(probe);
            default -> caffeine.policy().getIfPresentQuietly(probe);
        };
    }

    private static Entry entry(int index)
    {
        return new Entry(PresentedKeys.mix(index), PresentedKeys.mix(~index));
    }

    /**
     * Shaped like a cached key (80 bytes): its id's two numbers, a 32-byte hash, a user id of up to 16 characters
     * (only the id is ever read; the rest gives the entry its size).
     */
    public static final class Entry
    {
        private final long high;
        private final long low;
        private final long hash0;
        private final long hash1;
        private final long hash2;
        private final long hash3;
        private final long userId0;
        private final long userId1;

        Entry(long high, long low)
        {
            this.high = high;
            this.low = low;
            this.hash0 = high ^ low;
            this.hash1 = high + low;
            this.hash2 = high - low;
            this.hash3 = high * low;
            this.userId0 = ~high;
            this.userId1 = ~low;
        }

        @Override
        public boolean equals(Object other)
        {
            return other instanceof Entry that && high == that.high && low == that.low;
        }

        @Override
        public int hashCode()
        {
            return KeyId.hashCode(high, low);
        }
    }
}

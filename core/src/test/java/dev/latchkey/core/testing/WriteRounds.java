package dev.latchkey.core.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Write throughput for the adapters' measurement programs: a write run in a loop on several threads for one round.
 */
public final class WriteRounds
{
    private WriteRounds() {}

    /**
     * One write.
     */
    @FunctionalInterface
    public interface Write
    {
        /**
         * @param thread the number of the thread running it, from 0
         * @param count how many writes this thread completed before
         */
        void run(int thread, long count);
    }

    /**
     * Runs the write in a loop on each thread until the round is over; returns how many completed.
     */
    public static long writesWithin(Duration round, int threads, Write write)
            throws Exception
    {
        AtomicLong done = new AtomicLong();
        long end = System.nanoTime() + round.toNanos();
        ExecutorService executor = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int thread = 0; thread < threads; thread++) {
                int number = thread;
                futures.add(executor.submit(() -> {
                    for (long count = 0; System.nanoTime() - end < 0; count++) {
                        write.run(number, count);
                        done.incrementAndGet();
                    }
                }));
            }
            for (Future<?> future : futures) {
                future.get();
            }
        }
        finally {
            executor.shutdownNow();
        }
        return done.get();
    }
}

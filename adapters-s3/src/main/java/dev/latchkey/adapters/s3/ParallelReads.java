package dev.latchkey.adapters.s3;

import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * Runs independent S3 requests side by side on a small pool of its own, and gives their results in input order.
 * A task run here must not itself wait for this pool.
 */
final class ParallelReads
        implements AutoCloseable
{
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final ExecutorService threads;

    ParallelReads(int threadCount, String threadName)
    {
        this.threads = Executors.newFixedThreadPool(threadCount, runnable -> {
            Thread thread = new Thread(runnable, threadName);
            thread.setDaemon(true);
            return thread;
        });
    }

    /**
     * Applies {@code read} to every input, in parallel; the first failure, if any, is rethrown.
     */
    <I, O> List<O> map(List<I> inputs, Function<I, O> read)
    {
        if (inputs.size() <= 1) {
            return inputs.stream().map(read).toList();
        }
        List<Future<O>> futures = inputs.stream().map(input -> threads.submit(() -> read.apply(input))).toList();
        List<O> results = new ArrayList<>(inputs.size());
        try {
            for (Future<O> future : futures) {
                // each request is bounded by the S3 client's call timeout; this only guards against a lost thread
                results.add(future.get(WAIT.toMillis(), TimeUnit.MILLISECONDS));
            }
            return results;
        }
        catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new IllegalStateException(e.getCause());
        }
        catch (TimeoutException e) {
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 store did not answer in time", e);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "interrupted while reading the S3 store", e);
        }
        finally {
            futures.forEach(future -> future.cancel(true));
        }
    }

    @Override
    public void close()
    {
        threads.shutdownNow();
    }
}

package dev.latchkey.server.it;

import dev.latchkey.adapters.s3.testing.TestingS3;
import dev.latchkey.server.it.LatchkeyClient.Response;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import static java.util.Objects.requireNonNull;
import static org.assertj.core.api.Assertions.fail;

/**
 * Waiting with a deadline, running tasks released together, and reading verify answers: what the multi-instance
 * tests share.
 */
final class MultiInstanceSupport
{
    private final Duration patience;
    private final Duration poll;

    /**
     * @param patience how long any wait may last before the test fails
     * @param poll how often a condition is checked
     */
    MultiInstanceSupport(Duration patience, Duration poll)
    {
        this.patience = requireNonNull(patience, "patience is null");
        this.poll = requireNonNull(poll, "poll is null");
    }

    /**
     * Polls until the condition holds, failing the test when it has not after the patience.
     *
     * @return the time from {@code sinceNanos} until the condition held
     */
    Duration awaitTrue(Supplier<String> what, long sinceNanos, BooleanSupplier condition)
    {
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - sinceNanos > patience.toNanos()) {
                fail("waited %s for %s", patience, what.get());
            }
            LockSupport.parkNanos(poll.toNanos());
        }
        return Duration.ofNanos(System.nanoTime() - sinceNanos);
    }

    /**
     * Runs the tasks on threads of their own, released together, and returns their results in order.
     */
    <T> List<T> concurrently(List<Callable<T>> tasks)
    {
        return startTogether(tasks).stream().map(this::await).toList();
    }

    /**
     * Starts the tasks on threads of their own, released together once every thread is ready.
     */
    <T> List<Future<T>> startTogether(List<Callable<T>> tasks)
    {
        ExecutorService executor = Executors.newFixedThreadPool(tasks.size());
        CountDownLatch ready = new CountDownLatch(tasks.size());
        CountDownLatch go = new CountDownLatch(1);
        try {
            List<Future<T>> futures = tasks.stream()
                    .map(task -> executor.submit(() -> {
                        ready.countDown();
                        go.await();
                        return task.call();
                    }))
                    .toList();
            if (!ready.await(patience.toMillis(), TimeUnit.MILLISECONDS)) {
                fail("%d threads did not start within %s", tasks.size(), patience);
            }
            go.countDown();
            return futures;
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        finally {
            executor.shutdown();
        }
    }

    <T> T await(Future<T> future)
    {
        try {
            return future.get(patience.toMillis() * 3, TimeUnit.MILLISECONDS);
        }
        catch (ExecutionException e) {
            if (e.getCause() instanceof Error error) {
                throw error;
            }
            throw new IllegalStateException(e.getCause());
        }
        catch (TimeoutException e) {
            throw new AssertionError("a concurrent task did not finish in time", e);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * What a verify response says about a key: {@code 200 admin}, {@code 401 UNAUTHENTICATED}, ...
     */
    static String answer(Response response)
    {
        return response.status() == 200 ? acceptedAs(response.result().path("role").asText()) : response.status() + " " + response.errorCode();
    }

    static String acceptedAs(String role)
    {
        return "200 " + role;
    }

    static long millisSince(long startNanos)
    {
        return Duration.ofNanos(System.nanoTime() - startNanos).toMillis();
    }

    /**
     * The settings of a server (or a store command) on a bucket of this S3Mock, reached through its serializing proxy.
     */
    static Map<String, String> s3Settings(TestingS3 s3, String bucket)
    {
        return Map.of(
                "LATCHKEY_STORE", "s3",
                "LATCHKEY_S3_BUCKET", bucket,
                "LATCHKEY_S3_ENDPOINT", s3.serializingProxy().endpoint().toString(),
                "LATCHKEY_S3_PATH_STYLE", "true",
                "AWS_ACCESS_KEY_ID", TestingS3.ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY", TestingS3.SECRET_KEY,
                "AWS_REGION", TestingS3.REGION.id());
    }
}

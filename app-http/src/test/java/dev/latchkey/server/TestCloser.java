package dev.latchkey.server;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Closer}: reverse order of registration, every resource closed even when one fails, once, and at once when
 * registered after the close.
 */
public class TestCloser
{
    @Test
    public void testClosesInReverseOrderOnce()
    {
        List<String> closed = new ArrayList<>();
        Closer closer = new Closer();
        closer.register("store", () -> closed.add("store"));
        closer.register("resolver", () -> closed.add("resolver"));
        closer.register("failing", () -> {
            closed.add("failing");
            throw new IllegalStateException("cannot close");
        });
        closer.register("HTTP server", () -> closed.add("HTTP server"));

        closer.close();
        closer.close();

        assertThat(closed).containsExactly("HTTP server", "failing", "resolver", "store");
    }

    @Test
    public void testARegistrationAfterTheCloseIsClosedAtOnce()
    {
        List<String> closed = new ArrayList<>();
        Closer closer = new Closer();
        closer.close();

        closer.register("late", () -> closed.add("late"));

        assertThat(closed).containsExactly("late");
    }

    @Test
    public void testExecutorsAreShutDownAndTheirThreadsEnd()
    {
        Closer closer = new Closer();
        ExecutorService executor = closer.registerExecutor("executor", Executors.newFixedThreadPool(2));
        executor.execute(() -> {});

        closer.close();

        assertThat(executor.isTerminated()).isTrue();
    }
}

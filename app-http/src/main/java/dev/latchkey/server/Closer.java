package dev.latchkey.server;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * Everything the server starts, closed once, in reverse order of start: each resource is registered as it is made, and
 * Guice makes a singleton only after everything it depends on, so every resource is closed before what it uses (the
 * HTTP server before the resolver, the resolver before its executors, all of them before the store). Airlift's
 * {@code LifeCycleManager}, written small. A resource that fails to close is logged, and the others are still closed.
 */
public final class Closer
        implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(Closer.class);
    private static final Duration THREADS_TIMEOUT = Duration.ofSeconds(5);

    private final Deque<Resource> resources = new ArrayDeque<>();
    private boolean closed;

    /**
     * Closes this resource when the server closes, before everything registered earlier; at once if the server has
     * closed already.
     *
     * @return the resource
     */
    public <T extends AutoCloseable> T register(String name, T resource)
    {
        Resource registered = new Resource(name, resource);
        synchronized (this) {
            if (!closed) {
                resources.push(registered);
                return resource;
            }
        }
        registered.close();
        return resource;
    }

    /**
     * Shuts this executor down when the server closes (interrupting its tasks), and waits a little for its threads to
     * end.
     *
     * @return the executor
     */
    public <T extends ExecutorService> T registerExecutor(String name, T executor)
    {
        register(name, () -> {
            executor.shutdownNow();
            if (!executor.awaitTermination(THREADS_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                LOG.warn("the threads of the {} did not end within {} ms", name, THREADS_TIMEOUT.toMillis());
            }
        });
        return executor;
    }

    @Override
    public void close()
    {
        while (true) {
            Resource next;
            synchronized (this) {
                closed = true;
                next = resources.poll();
            }
            if (next == null) {
                return;
            }
            next.close();
        }
    }

    private record Resource(String name, AutoCloseable resource)
    {
        Resource
        {
            requireNonNull(name, "name is null");
            requireNonNull(resource, "resource is null");
        }

        void close()
        {
            try {
                resource.close();
            }
            catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                LOG.warn("interrupted while closing the {}", name);
            }
            catch (Exception e) {
                LOG.warn("closing the {} failed: {}", name, e.getMessage());
            }
        }
    }
}

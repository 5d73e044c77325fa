package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

import static java.util.Objects.requireNonNull;

/**
 * The store's one write lock, held across processes with an OS file lock ({@code fcntl} on Linux, honoured over
 * NFSv4) and across threads of one process with a {@link ReentrantLock} (an OS file lock is per process). The OS
 * releases the file lock when its process dies, so a killed writer never blocks the others. Waiting is bounded:
 * past the timeout the caller gets UNAVAILABLE.
 */
final class StoreLock
{
    private static final ConcurrentMap<Path, ReentrantLock> PROCESS_LOCKS = new ConcurrentHashMap<>();
    private static final long MAX_BACKOFF_MILLIS = 20;

    private final Path file;
    private final ReentrantLock processLock;
    private final Duration timeout;

    StoreLock(Path file, Duration timeout)
    {
        this.file = requireNonNull(file, "file is null").toAbsolutePath().normalize();
        this.processLock = PROCESS_LOCKS.computeIfAbsent(this.file, ignored -> new ReentrantLock());
        this.timeout = requireNonNull(timeout, "timeout is null");
    }

    interface Action<T>
    {
        T run()
                throws IOException;
    }

    /**
     * Runs the action while holding the lock.
     *
     * @throws LatchkeyException UNAVAILABLE when the lock was not acquired within the timeout, or on an I/O error
     */
    <T> T call(Action<T> action)
    {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            if (!processLock.tryLock(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
                throw busy();
            }
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "interrupted while waiting for the store lock", e);
        }
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileLock fileLock = acquire(channel, deadline);
            try {
                return action.run();
            }
            finally {
                fileLock.release();
            }
        }
        catch (IOException e) {
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "filesystem store unavailable", e);
        }
        finally {
            processLock.unlock();
        }
    }

    private FileLock acquire(FileChannel channel, long deadline)
            throws IOException
    {
        long backoff = 1;
        while (true) {
            FileLock lock = channel.tryLock();
            if (lock != null) {
                return lock;
            }
            if (System.nanoTime() - deadline >= 0) {
                throw busy();
            }
            try {
                TimeUnit.MILLISECONDS.sleep(backoff);
            }
            catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new LatchkeyException(ErrorCode.UNAVAILABLE, "interrupted while waiting for the store lock", e);
            }
            backoff = Math.min(backoff * 2, MAX_BACKOFF_MILLIS);
        }
    }

    private LatchkeyException busy()
    {
        return new LatchkeyException(ErrorCode.UNAVAILABLE, "the filesystem store's write lock was not acquired within " + timeout.toMillis() + " ms");
    }
}

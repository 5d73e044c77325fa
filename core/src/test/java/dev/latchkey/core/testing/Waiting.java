package dev.latchkey.core.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/**
 * Waiting for another thread with a deadline, for tests that cannot advance fake time instead.
 */
public final class Waiting
{
    private Waiting() {}

    /**
     * Polls the condition every millisecond until it holds or the time is over.
     *
     * @return whether it held in time
     */
    public static boolean until(BooleanSupplier condition, Duration wait)
            throws InterruptedException
    {
        long deadline = System.nanoTime() + wait.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.sleep(1);
        }
        return true;
    }
}

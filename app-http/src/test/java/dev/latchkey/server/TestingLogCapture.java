package dev.latchkey.server;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.StackTraceElementProxy;
import ch.qos.logback.core.AppenderBase;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.fail;

/**
 * Every log line of this JVM while open, as its full text (logger, message and any exception with its stack), taken
 * from the root logger and from the access logger (which does not pass its lines on to the root).
 */
public final class TestingLogCapture
        implements AutoCloseable
{
    private static final List<String> LOGGERS = List.of(Logger.ROOT_LOGGER_NAME, "dev.latchkey.access");
    private static final String VERIFY_LOGGER = "dev.latchkey.access.verify";

    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final Object appended = new Object();
    private final AppenderBase<ILoggingEvent> appender = new AppenderBase<>()
    {
        @Override
        protected void append(ILoggingEvent event)
        {
            record(event);
        }
    };

    private TestingLogCapture() {}

    public static TestingLogCapture start()
    {
        TestingLogCapture capture = new TestingLogCapture();
        capture.appender.setName("testing-log-capture");
        capture.appender.start();
        LOGGERS.forEach(name -> logger(name).addAppender(capture.appender));
        // verify answers are logged at DEBUG (off by default): capture them too, so that they are checked for leaks
        logger(VERIFY_LOGGER).setLevel(Level.DEBUG);
        return capture;
    }

    public List<String> lines()
    {
        return List.copyOf(lines);
    }

    /**
     * Waits until a line matches (the access log is written after the response is sent).
     */
    public String awaitLine(Predicate<String> wanted, Duration timeout)
            throws InterruptedException
    {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (appended) {
            while (true) {
                for (String line : lines) {
                    if (wanted.test(line)) {
                        return line;
                    }
                }
                long remaining = deadline - System.nanoTime();
                if (remaining <= 0) {
                    return fail("no log line as wanted within %s in %s", timeout, lines);
                }
                TimeUnit.NANOSECONDS.timedWait(appended, remaining);
            }
        }
    }

    private void record(ILoggingEvent event)
    {
        StringBuilder line = new StringBuilder(event.getLevel() + " " + event.getLoggerName() + " - " + event.getFormattedMessage());
        for (IThrowableProxy cause = event.getThrowableProxy(); cause != null; cause = cause.getCause()) {
            line.append("\n").append(cause.getClassName()).append(": ").append(cause.getMessage());
            for (StackTraceElementProxy frame : cause.getStackTraceElementProxyArray()) {
                line.append("\n\tat ").append(frame.getStackTraceElement());
            }
        }
        synchronized (appended) {
            lines.add(line.toString());
            appended.notifyAll();
        }
    }

    @Override
    public void close()
    {
        LOGGERS.forEach(name -> logger(name).detachAppender(appender));
        logger(VERIFY_LOGGER).setLevel(null);
        appender.stop();
    }

    private static Logger logger(String name)
    {
        return (Logger) LoggerFactory.getLogger(name);
    }
}

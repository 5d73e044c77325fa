package dev.latchkey.server.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import org.slf4j.Marker;

/**
 * Drops the one line Javalin logs when its server cannot start ({@code Failed to start Javalin}): the server reports
 * that failure itself, once, with the address and the reason (a port in use, a host that does not resolve), and an
 * operator should not see two messages, the first of them less precise, for one cause.
 */
public final class JavalinStartFailureFilter
        extends TurboFilter
{
    private static final String LOGGER = "io.javalin.Javalin";
    private static final String MESSAGE = "Failed to start Javalin";

    @Override
    public FilterReply decide(Marker marker, Logger logger, Level level, String format, Object[] params, Throwable t)
    {
        if (level == Level.ERROR && MESSAGE.equals(format) && LOGGER.equals(logger.getName())) {
            return FilterReply.DENY;
        }
        return FilterReply.NEUTRAL;
    }
}

package dev.latchkey.adapters.jdbc;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.Optional;

/**
 * Instants as {@code TIMESTAMP WITH TIME ZONE}, which both databases keep to the microsecond.
 */
final class Timestamps
{
    private static final DateTimeFormatter TEXT = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSSXXX");

    private Timestamps() {}

    static OffsetDateTime toDatabase(Instant instant)
    {
        return OffsetDateTime.ofInstant(instant.truncatedTo(ChronoUnit.MICROS), ZoneOffset.UTC);
    }

    /**
     * The instant as ISO-8601 text in UTC, to the microsecond ({@code 2026-01-02T03:04:05.678901Z}), which
     * PostgreSQL reads exactly whatever its {@code DateStyle}: for an array of timestamps bound as text.
     */
    static String toText(Instant instant)
    {
        return TEXT.format(toDatabase(instant));
    }

    static Instant read(ResultSet row, int column)
            throws SQLException
    {
        return row.getObject(column, OffsetDateTime.class).toInstant();
    }

    /**
     * A nullable column: empty for NULL.
     */
    static Optional<Instant> readOptional(ResultSet row, int column)
            throws SQLException
    {
        return Optional.ofNullable(row.getObject(column, OffsetDateTime.class)).map(OffsetDateTime::toInstant);
    }
}

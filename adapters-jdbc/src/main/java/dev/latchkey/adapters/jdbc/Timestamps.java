package dev.latchkey.adapters.jdbc;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Optional;

/**
 * Instants as {@code TIMESTAMP WITH TIME ZONE}, which both databases keep to the microsecond.
 */
final class Timestamps
{
    private Timestamps() {}

    static OffsetDateTime toDatabase(Instant instant)
    {
        return OffsetDateTime.ofInstant(instant.truncatedTo(ChronoUnit.MICROS), ZoneOffset.UTC);
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

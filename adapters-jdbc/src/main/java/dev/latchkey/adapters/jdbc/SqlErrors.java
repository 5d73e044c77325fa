package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;

import java.sql.SQLException;
import java.util.Locale;
import java.util.Optional;

/**
 * Translates SQL failures into the port's error codes: constraint violations into conflicts, anything about
 * reaching or waiting for the database into UNAVAILABLE. The message never carries SQL or data from the database.
 */
final class SqlErrors
{
    private static final String UNIQUE_VIOLATION = "23505";
    private static final String POSTGRESQL_FOREIGN_KEY_VIOLATION = "23503";
    private static final String H2_PARENT_MISSING = "23506";
    private static final String SERIALIZATION_FAILURE = "40001";
    private static final String DEADLOCK_DETECTED = "40P01";
    private static final String H2_CONCURRENT_UPDATE = "90131";

    private SqlErrors() {}

    /**
     * Whether the transaction lost a race the database detected and can simply run again.
     */
    static boolean retryable(SQLException e)
    {
        String state = Optional.ofNullable(e.getSQLState()).orElse("");
        return state.equals(SERIALIZATION_FAILURE) || state.equals(DEADLOCK_DETECTED) || state.equals(H2_CONCURRENT_UPDATE);
    }

    /**
     * Whether a single-statement upsert lost a race with another writer: it inserted a row a concurrent statement
     * inserted first (a unique violation), or one that references a key deleted meanwhile (a foreign key
     * violation). Run again, it updates the row, or skips the key.
     */
    static boolean lostInsertRace(SQLException e)
    {
        String state = Optional.ofNullable(e.getSQLState()).orElse("");
        return state.equals(UNIQUE_VIOLATION) || state.equals(POSTGRESQL_FOREIGN_KEY_VIOLATION) || state.equals(H2_PARENT_MISSING);
    }

    static LatchkeyException translate(SQLException e)
    {
        String state = Optional.ofNullable(e.getSQLState()).orElse("");
        String message = Optional.ofNullable(e.getMessage()).orElse("").toLowerCase(Locale.ROOT);
        if (state.equals(UNIQUE_VIOLATION)) {
            if (message.contains("latchkey_key")) {
                return new LatchkeyException(ErrorCode.ALREADY_EXISTS, "key id is already in use", e);
            }
            if (message.contains("latchkey_user")) {
                return new LatchkeyException(ErrorCode.ALREADY_EXISTS, "the user already exists", e);
            }
            if (message.contains("latchkey_account")) {
                return new LatchkeyException(ErrorCode.ALREADY_EXISTS, "the account already exists", e);
            }
            return new LatchkeyException(ErrorCode.ALREADY_EXISTS, "already exists", e);
        }
        if (state.equals(POSTGRESQL_FOREIGN_KEY_VIOLATION) || state.equals(H2_PARENT_MISSING)) {
            return new LatchkeyException(ErrorCode.NOT_FOUND, "the account or user does not exist", e);
        }
        // syntax errors, missing tables, bad data: a bug or a schema that was never migrated, not an outage
        if (state.startsWith("42") || state.startsWith("22")) {
            return new LatchkeyException(ErrorCode.INTERNAL, "the database rejected a statement of the JDBC store (is the schema migrated?)", e);
        }
        return new LatchkeyException(ErrorCode.UNAVAILABLE, "the database is unavailable", e);
    }
}

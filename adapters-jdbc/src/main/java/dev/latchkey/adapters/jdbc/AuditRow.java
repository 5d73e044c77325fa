package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.Origin;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.Optional;

/**
 * One row of {@code latchkey_audit}: the change's own columns (as {@link FeedRow} writes them to the feed), then
 * where the write came from: {@code actor_kind} (the actor's {@linkplain Actor.Kind#wireName() wire name}),
 * {@code actor_account_id}, {@code actor_user_id} and {@code actor_key_id} (NULL when the actor has none),
 * {@code instance_id} and {@code request_id}.
 */
final class AuditRow
{
    /** The columns of a whole record, in the order {@link #read} expects them. */
    static final String COLUMNS = "feed_position, change_type, account_id, user_id, key_ids, committed_at, "
            + "actor_kind, actor_account_id, actor_user_id, actor_key_id, instance_id, request_id";
    /** The origin's columns, in the order {@link #bindOrigin} binds them. */
    static final String ORIGIN_COLUMNS = "actor_kind, actor_account_id, actor_user_id, actor_key_id, instance_id, request_id";

    private AuditRow() {}

    /**
     * Binds the origin's six columns from {@code first} on.
     */
    static void bindOrigin(PreparedStatement statement, int first, Origin origin)
            throws SQLException
    {
        Actor actor = origin.actor();
        statement.setString(first, actor.kind().wireName());
        bindOptional(statement, first + 1, actor.accountId().map(AccountId::value));
        bindOptional(statement, first + 2, actor.userId().map(UserId::value));
        bindOptional(statement, first + 3, actor.keyId().map(KeyId::value));
        statement.setString(first + 4, origin.instanceId());
        statement.setString(first + 5, origin.requestId());
    }

    /**
     * The record in the current row, whose columns from {@code first} on are {@link #COLUMNS}.
     *
     * @throws SQLException (as data the store cannot read, SQL state 22000) when the row holds an origin this
     *         version does not know
     */
    static AuditRecord read(ResultSet row, int first)
            throws SQLException
    {
        Change change = FeedRow.read(row, first);
        try {
            Actor actor = new Actor(
                    Actor.Kind.fromWireName(row.getString(first + 6)),
                    Optional.ofNullable(row.getString(first + 7)).map(AccountId::of),
                    Optional.ofNullable(row.getString(first + 8)).map(UserId::of),
                    Optional.ofNullable(row.getString(first + 9)).map(KeyId::of));
            return new AuditRecord(change, new Origin(actor, row.getString(first + 10), row.getString(first + 11)));
        }
        catch (IllegalArgumentException e) {
            throw new SQLException("an audit record holds an origin this version cannot read", "22000", e);
        }
    }

    private static void bindOptional(PreparedStatement statement, int index, Optional<String> value)
            throws SQLException
    {
        if (value.isPresent()) {
            statement.setString(index, value.get());
        }
        else {
            statement.setNull(index, Types.VARCHAR);
        }
    }
}

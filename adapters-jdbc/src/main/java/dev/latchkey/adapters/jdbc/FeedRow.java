package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedPosition;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

import static java.util.Objects.requireNonNull;

/**
 * One row of {@code latchkey_feed} before it has a position: key ids are stored space-separated.
 */
record FeedRow(ChangeType type, AccountId accountId, Optional<UserId> userId, List<KeyId> keyIds, Instant committedAt)
{
    FeedRow
    {
        requireNonNull(type, "type is null");
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        keyIds = List.copyOf(keyIds);
        requireNonNull(committedAt, "committedAt is null");
    }

    /**
     * Binds change_type, account_id, user_id, key_ids and committed_at, from {@code first} on.
     */
    void bindAfterPosition(PreparedStatement statement, int first)
            throws SQLException
    {
        statement.setString(first, type.name());
        statement.setString(first + 1, accountId.value());
        if (userId.isPresent()) {
            statement.setString(first + 2, userId.get().value());
        }
        else {
            statement.setNull(first + 2, Types.VARCHAR);
        }
        statement.setString(first + 3, keyIds.stream().map(KeyId::value).collect(Collectors.joining(" ")));
        statement.setObject(first + 4, Timestamps.toDatabase(committedAt));
    }

    /**
     * The change in the current row, whose columns from {@code first} on are feed_position, change_type, account_id,
     * user_id, key_ids and committed_at.
     */
    static Change read(ResultSet row, int first)
            throws SQLException
    {
        String keyIds = row.getString(first + 4);
        return new Change(
                FeedPosition.of(row.getLong(first)),
                ChangeType.valueOf(row.getString(first + 1)),
                AccountId.of(row.getString(first + 2)),
                Optional.ofNullable(row.getString(first + 3)).map(UserId::of),
                keyIds.isEmpty() ? List.of() : Arrays.stream(keyIds.split(" ")).map(KeyId::of).toList(),
                Timestamps.read(row, first + 5));
    }
}

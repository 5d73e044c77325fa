package dev.latchkey.core.store;

import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.UserId;

import java.util.Optional;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * Which users of an account to list, in ordinal order of their ids.
 *
 * @param limit at most this many users, 1 to {@value #MAX_LIMIT}
 * @param nameGlob when present, only user ids matching this glob ({@code *} any run of characters, {@code ?}
 *         exactly one; every other character matches itself)
 * @param role when present, only users with this role
 * @param after when present, only user ids ordinally greater than this one (the cursor: the last id of the
 *         previous page)
 */
public record UserQuery(int limit, Optional<String> nameGlob, Optional<Role> role, Optional<UserId> after)
{
    public static final int DEFAULT_LIMIT = 100;
    public static final int MAX_LIMIT = 1000;

    public UserQuery
    {
        if (limit < 1 || limit > MAX_LIMIT) {
            throw new IllegalArgumentException("limit must be between 1 and " + MAX_LIMIT);
        }
        requireNonNull(nameGlob, "nameGlob is null");
        requireNonNull(role, "role is null");
        requireNonNull(after, "after is null");
    }

    public static UserQuery all()
    {
        return new UserQuery(MAX_LIMIT, Optional.empty(), Optional.empty(), Optional.empty());
    }

    /**
     * Whether a user passes the name, role and cursor filters (the limit is applied by the caller).
     */
    public boolean matches(UserId userId, Role userRole)
    {
        return after.map(cursor -> userId.compareTo(cursor) > 0).orElse(true)
                && role.map(wanted -> wanted == userRole).orElse(true)
                && nameGlob.map(glob -> globPattern(glob).matcher(userId.value()).matches()).orElse(true);
    }

    private static Pattern globPattern(String glob)
    {
        StringBuilder regex = new StringBuilder();
        for (int i = 0; i < glob.length(); i++) {
            char c = glob.charAt(i);
            switch (c) {
                case '*' -> regex.append(".*");
                case '?' -> regex.append('.');
                default -> regex.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return Pattern.compile(regex.toString(), Pattern.DOTALL);
    }
}

package dev.latchkey.core.store;

import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;

import static java.util.Objects.requireNonNull;

/**
 * The errors every {@link IdentityStore} reports for the same condition, with one code and one message whatever the
 * adapter, and the last-admin rule they all enforce.
 */
public final class StoreErrors
{
    private StoreErrors() {}

    public static LatchkeyException accountNotFound(AccountId accountId)
    {
        return new LatchkeyException(ErrorCode.NOT_FOUND, "account " + accountId + " not found");
    }

    public static LatchkeyException userNotFound(AccountId accountId, UserId userId)
    {
        return new LatchkeyException(ErrorCode.NOT_FOUND, "user " + userId + " not found in account " + accountId);
    }

    public static LatchkeyException accountExists(AccountId accountId)
    {
        return new LatchkeyException(ErrorCode.ALREADY_EXISTS, "account " + accountId + " already exists");
    }

    public static LatchkeyException userExists(AccountId accountId, UserId userId)
    {
        return new LatchkeyException(ErrorCode.ALREADY_EXISTS, "user " + userId + " already exists in account " + accountId);
    }

    public static LatchkeyException keyIdInUse()
    {
        return new LatchkeyException(ErrorCode.ALREADY_EXISTS, "key id is already in use");
    }

    public static LatchkeyException keyNotFound(AccountId accountId, UserId userId)
    {
        return new LatchkeyException(ErrorCode.NOT_FOUND, "user " + userId + " of account " + accountId + " has no live key with that id");
    }

    /**
     * The key limit, which every store checks inside the write that would break it.
     *
     * @param liveKeys how many keys the user holds that are live at the write's instant, before the write
     * @param added how many the write adds
     * @throws LatchkeyException FAILED_PRECONDITION when the user would hold more than {@link NewKey#MAX_LIVE_KEYS}
     */
    public static void requireRoomForKeys(long liveKeys, int added, AccountId accountId, UserId userId)
    {
        if (liveKeys + added > NewKey.MAX_LIVE_KEYS) {
            throw new LatchkeyException(ErrorCode.FAILED_PRECONDITION,
                    "user " + userId + " of account " + accountId + " already holds " + NewKey.MAX_LIVE_KEYS + " live keys");
        }
    }

    /**
     * The last-admin rule, which every store checks inside the write that would break it: an account that requires an
     * admin must keep one, so its last admin can be neither removed nor demoted.
     *
     * @param anotherAdmin whether the account has an admin other than this user
     * @param action what the write would do to the user ({@code remove}, {@code demote})
     * @throws LatchkeyException FAILED_PRECONDITION when the write would leave the account without an admin
     */
    public static void requireAnotherAdmin(boolean adminRequired, boolean anotherAdmin, AccountId accountId, UserId userId, String action)
    {
        requireNonNull(action, "action is null");
        if (adminRequired && !anotherAdmin) {
            throw new LatchkeyException(ErrorCode.FAILED_PRECONDITION, "cannot " + action + " " + userId + ": it is the last admin of account " + accountId);
        }
    }
}

package dev.latchkey.core.store;

/**
 * What a committed write did. Each names the keys a cache must evict or refresh; see {@link Change#keyIds()}.
 */
public enum ChangeType
{
    /** An account was created, with its first admin (and that admin's key) or empty. */
    ACCOUNT_CREATED,
    /** An account was deleted with all of its users and keys. The change names no keys: every key of the account is gone. */
    ACCOUNT_DELETED,
    /** A user was added with its first key. */
    USER_ADDED,
    /** A user was removed; every key it held is gone. */
    USER_REMOVED,
    /** A user's primary key was replaced: the old key is gone (or kept for a grace period), the new one is live. */
    KEY_REPLACED,
    /** A user's role changed; every key of the user now resolves to the new role. */
    ROLE_CHANGED,
    /** A key was added to a user, beside its other keys. */
    KEY_ADDED,
    /** One key of a user was deleted; the user's other keys are untouched. */
    KEY_DELETED,
}

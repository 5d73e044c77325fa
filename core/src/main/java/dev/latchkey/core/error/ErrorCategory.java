package dev.latchkey.core.error;

/**
 * The broad kind of an {@link ErrorCode}: who is at fault and whether retrying can help.
 */
public enum ErrorCategory
{
    /** The caller sent something wrong; retrying the same request fails the same way. */
    USER_ERROR,
    /** The caller is not who it needs to be (no key, or a key that does not authenticate). */
    AUTHENTICATION,
    /** The caller is known but may not do this. */
    PERMISSION,
    /** What the request names does not exist. */
    NOT_FOUND,
    /** The request conflicts with the current state of the store. */
    CONFLICT,
    /** A limit was hit; retrying later may succeed. */
    RESOURCE,
    /** The store cannot be reached or did not answer in time; the outcome of a write is unknown. */
    UNAVAILABLE,
    /** A bug. */
    INTERNAL,
}

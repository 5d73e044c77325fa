package dev.latchkey.core.resolver;

import java.util.Locale;

/**
 * How a presented key was judged.
 */
public enum Outcome
{
    /** The key authenticates. */
    OK,
    /** Not the root key and not of the key format, or its check characters do not match: decided with no store access. */
    MALFORMED,
    /** Well formed, but unknown, revoked, or with the wrong secret. */
    INVALID,
    /** The store was needed and could not answer (or the cache may be stale past the max-stale bound). */
    UNAVAILABLE;

    /**
     * The lower-case name used in metrics ({@code ok}, {@code malformed}, ...).
     */
    public String label()
    {
        return name().toLowerCase(Locale.ROOT);
    }
}

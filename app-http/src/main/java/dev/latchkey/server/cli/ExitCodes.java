package dev.latchkey.server.cli;

import dev.latchkey.core.error.ErrorCode;

/**
 * The exit status of an admin command, by the category of what went wrong, so that a script can tell "try again
 * later" (8) from "you asked for something that does not exist" (5) without reading the message.
 */
final class ExitCodes
{
    static final int OK = 0;
    /** A bug, in the server or here. */
    static final int INTERNAL = 1;
    /** A bad command line, or a request the server refused as invalid (400). */
    static final int USAGE = 2;
    /** The key does not authenticate (401). */
    static final int UNAUTHENTICATED = 3;
    /** The key may not do this (403). */
    static final int PERMISSION_DENIED = 4;
    /** What the command names does not exist (404). */
    static final int NOT_FOUND = 5;
    /** It conflicts with what the store holds: exists already, the last admin, the key limit (409, 412). */
    static final int CONFLICT = 6;
    /** A limit was hit (429). */
    static final int RESOURCE_EXHAUSTED = 7;
    /** The server or its store cannot be reached, or did not answer in time (503, or no answer). */
    static final int UNAVAILABLE = 8;

    private ExitCodes() {}

    static int of(ErrorCode code)
    {
        return switch (code.category()) {
            case USER_ERROR -> USAGE;
            case AUTHENTICATION -> UNAUTHENTICATED;
            case PERMISSION -> PERMISSION_DENIED;
            case NOT_FOUND -> NOT_FOUND;
            case CONFLICT -> CONFLICT;
            case RESOURCE -> RESOURCE_EXHAUSTED;
            case UNAVAILABLE -> UNAVAILABLE;
            case INTERNAL -> INTERNAL;
        };
    }
}

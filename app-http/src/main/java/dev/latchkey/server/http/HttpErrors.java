package dev.latchkey.server.http;

import dev.latchkey.core.error.ErrorCode;

/**
 * The one place where error codes become HTTP statuses.
 */
public final class HttpErrors
{
    private HttpErrors() {}

    static int status(ErrorCode code)
    {
        return switch (code) {
            case INVALID_ARGUMENT -> 400;
            case UNAUTHENTICATED -> 401;
            case PERMISSION_DENIED -> 403;
            case NOT_FOUND -> 404;
            case METHOD_NOT_ALLOWED -> 405;
            case ALREADY_EXISTS -> 409;
            case FAILED_PRECONDITION -> 412;
            case PAYLOAD_TOO_LARGE -> 413;
            case RESOURCE_EXHAUSTED -> 429;
            case UNAVAILABLE -> 503;
            case INTERNAL -> 500;
        };
    }

    /**
     * The code for a status that the HTTP layer itself produced (an unknown route, a wrong method, ...).
     */
    public static ErrorCode code(int status)
    {
        return switch (status) {
            case 400 -> ErrorCode.INVALID_ARGUMENT;
            case 401 -> ErrorCode.UNAUTHENTICATED;
            case 403 -> ErrorCode.PERMISSION_DENIED;
            case 404 -> ErrorCode.NOT_FOUND;
            case 405 -> ErrorCode.METHOD_NOT_ALLOWED;
            case 409 -> ErrorCode.ALREADY_EXISTS;
            case 412 -> ErrorCode.FAILED_PRECONDITION;
            case 413 -> ErrorCode.PAYLOAD_TOO_LARGE;
            case 429 -> ErrorCode.RESOURCE_EXHAUSTED;
            case 503 -> ErrorCode.UNAVAILABLE;
            default -> status >= 400 && status < 500 ? ErrorCode.INVALID_ARGUMENT : ErrorCode.INTERNAL;
        };
    }
}

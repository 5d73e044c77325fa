package dev.latchkey.core.error;

import static java.util.Objects.requireNonNull;

/**
 * Every error Latchkey reports, in every layer. The server maps each code to one HTTP status in one place;
 * adapters translate their own failures (I/O, SQL, S3) into {@link #UNAVAILABLE} or a conflict code.
 */
public enum ErrorCode
{
    INVALID_ARGUMENT(ErrorCategory.USER_ERROR),
    UNAUTHENTICATED(ErrorCategory.AUTHENTICATION),
    PERMISSION_DENIED(ErrorCategory.PERMISSION),
    NOT_FOUND(ErrorCategory.NOT_FOUND),
    METHOD_NOT_ALLOWED(ErrorCategory.USER_ERROR),
    ALREADY_EXISTS(ErrorCategory.CONFLICT),
    FAILED_PRECONDITION(ErrorCategory.CONFLICT),
    PAYLOAD_TOO_LARGE(ErrorCategory.USER_ERROR),
    RESOURCE_EXHAUSTED(ErrorCategory.RESOURCE),
    UNAVAILABLE(ErrorCategory.UNAVAILABLE),
    INTERNAL(ErrorCategory.INTERNAL);

    private final ErrorCategory category;

    ErrorCode(ErrorCategory category)
    {
        this.category = requireNonNull(category, "category is null");
    }

    public ErrorCategory category()
    {
        return category;
    }
}

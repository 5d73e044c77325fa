package dev.latchkey.core.error;

import org.jspecify.annotations.Nullable;

import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The one exception type that crosses layers. Its message is safe to show to the caller: it never contains a
 * key, a key hash, or data of an account other than the one the request names.
 */
public class LatchkeyException
        extends RuntimeException
{
    private final ErrorCode code;
    private final Optional<String> field;

    public LatchkeyException(ErrorCode code, String message)
    {
        this(code, message, null, null);
    }

    public LatchkeyException(ErrorCode code, String message, Throwable cause)
    {
        this(code, message, null, cause);
    }

    private LatchkeyException(ErrorCode code, String message, @Nullable String field, @Nullable Throwable cause)
    {
        super(requireNonNull(message, "message is null"), cause);
        this.code = requireNonNull(code, "code is null");
        this.field = Optional.ofNullable(field);
    }

    /**
     * An {@link ErrorCode#INVALID_ARGUMENT} that names the offending request field (for example {@code account_id}).
     */
    public static LatchkeyException invalidField(String field, String message)
    {
        return new LatchkeyException(ErrorCode.INVALID_ARGUMENT, message, requireNonNull(field, "field is null"), null);
    }

    public ErrorCode code()
    {
        return code;
    }

    /**
     * The request field the error is about, when there is one.
     */
    public Optional<String> field()
    {
        return field;
    }
}

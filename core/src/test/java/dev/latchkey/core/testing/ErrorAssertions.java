package dev.latchkey.core.testing;

import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * Assertions on the {@link LatchkeyException}s that core throws.
 */
public final class ErrorAssertions
{
    private ErrorAssertions() {}

    /**
     * Asserts that the call throws a {@link LatchkeyException} with this code, and returns it for further checks.
     */
    public static LatchkeyException assertLatchkeyError(ThrowingCallable call, ErrorCode code)
    {
        Throwable thrown = catchThrowable(call);
        assertThat(thrown).isInstanceOf(LatchkeyException.class);
        LatchkeyException e = (LatchkeyException) thrown;
        assertThat(e.code()).as("code of \"%s\"", e.getMessage()).isEqualTo(code);
        return e;
    }

    /**
     * Asserts that the call throws INVALID_ARGUMENT naming this field, in {@link LatchkeyException#field()} and in
     * the message.
     */
    public static void assertInvalidField(ThrowingCallable call, String field)
    {
        LatchkeyException e = assertLatchkeyError(call, ErrorCode.INVALID_ARGUMENT);
        assertThat(e.field()).contains(field);
        assertThat(e.getMessage()).contains(field);
    }
}

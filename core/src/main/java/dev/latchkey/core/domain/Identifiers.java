package dev.latchkey.core.domain;

import dev.latchkey.core.error.LatchkeyException;
import org.jspecify.annotations.Nullable;

/**
 * The identifier rules of the HTTP contract: 1 to 128 characters of {@code [A-Za-z0-9_.@-]}, not {@code .} or
 * {@code ..}, at most one {@code @}. Case sensitive.
 */
final class Identifiers
{
    static final int MAX_LENGTH = 128;

    private Identifiers() {}

    static void check(@Nullable String value, String field)
    {
        if (value == null || value.isEmpty()) {
            throw LatchkeyException.invalidField(field, field + " is required");
        }
        if (value.length() > MAX_LENGTH) {
            throw LatchkeyException.invalidField(field, field + " must be at most " + MAX_LENGTH + " characters");
        }
        int ats = 0;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '@') {
                ats++;
            }
            else if (!isPlain(c)) {
                throw LatchkeyException.invalidField(field, field + " may contain only letters, digits and _ . @ -");
            }
        }
        if (ats > 1) {
            throw LatchkeyException.invalidField(field, field + " may contain at most one @");
        }
        if (value.equals(".") || value.equals("..")) {
            throw LatchkeyException.invalidField(field, field + " must not be . or ..");
        }
    }

    private static boolean isPlain(char c)
    {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    }
}

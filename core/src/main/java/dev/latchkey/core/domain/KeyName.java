package dev.latchkey.core.domain;

import dev.latchkey.core.error.LatchkeyException;

/**
 * The name an operator gives a key ({@code ci}, {@code laptop of ana@example.com}): 1 to {@value #MAX_LENGTH}
 * characters of {@code [A-Za-z0-9_.@ -]}, not only spaces. Not unique; it only tells keys apart in a listing.
 */
public record KeyName(String value)
{
    public static final String FIELD = "name";
    public static final int MAX_LENGTH = 64;

    /** The name a primary key takes when a new primary key replaces it with a grace period. */
    public static final KeyName PREVIOUS = new KeyName("previous");

    public KeyName
    {
        if (value == null || value.isEmpty() || value.length() > MAX_LENGTH) {
            throw LatchkeyException.invalidField(FIELD, FIELD + " must be 1 to " + MAX_LENGTH + " characters");
        }
        if (value.isBlank()) {
            throw LatchkeyException.invalidField(FIELD, FIELD + " must not be only spaces");
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            boolean allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '_' || c == '.' || c == '@' || c == ' ' || c == '-';
            if (!allowed) {
                throw LatchkeyException.invalidField(FIELD, FIELD + " may contain only letters, digits, spaces and _ . @ -");
            }
        }
    }

    public static KeyName of(String value)
    {
        return new KeyName(value);
    }

    @Override
    public String toString()
    {
        return value;
    }
}

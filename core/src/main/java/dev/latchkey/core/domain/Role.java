package dev.latchkey.core.domain;

import dev.latchkey.core.error.LatchkeyException;

import java.util.Locale;

/**
 * What a key may do. {@link #ROOT} belongs to the configured root key only; account users are
 * {@link #ADMIN} or {@link #USER}.
 */
public enum Role
{
    ROOT,
    ADMIN,
    USER;

    /**
     * The lower-case name used on the wire ({@code root}, {@code admin}, {@code user}).
     */
    public String wireName()
    {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Parses a wire name exactly ({@code admin}, not {@code Admin}).
     *
     * @throws LatchkeyException INVALID_ARGUMENT naming {@code field} when the text is not a role
     */
    public static Role fromWireName(String text, String field)
    {
        for (Role role : values()) {
            if (role.wireName().equals(text)) {
                return role;
            }
        }
        throw LatchkeyException.invalidField(field, field + " must be one of: admin, user");
    }
}

package dev.latchkey.core.domain;

import dev.latchkey.core.error.LatchkeyException;

import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;

import static java.util.Objects.requireNonNull;

/**
 * What a key may be used for: the scopes it holds. Latchkey gives no scope a meaning except for matching and
 * {@value #ADMIN}: a held {@code *} grants every scope, a held scope ending in {@code *} grants every scope that
 * starts with the text before it ({@code docs:*} grants {@code docs:read}), any other held scope grants exactly
 * itself.
 *
 * <p>A scope is 1 to {@value #MAX_LENGTH} characters of {@code [A-Za-z0-9_.:/*-]}; a key holds 1 to
 * {@value #MAX_SCOPES} of them, kept in the order given, duplicates dropped.
 */
public record Scopes(List<String> values)
{
    public static final String FIELD = "scopes";
    public static final String ADMIN = "latchkey:admin";
    public static final int MAX_LENGTH = 64;
    public static final int MAX_SCOPES = 32;

    private static final String EVERYTHING = "*";
    private static final Scopes ALL = new Scopes(List.of(EVERYTHING));

    public Scopes
    {
        requireNonNull(values, "values is null");
        if (values.isEmpty()) {
            throw LatchkeyException.invalidField(FIELD, FIELD + " must hold at least one scope");
        }
        if (values.size() > MAX_SCOPES) {
            throw LatchkeyException.invalidField(FIELD, "a key holds at most " + MAX_SCOPES + " scopes");
        }
        for (String value : values) {
            checkScope(value, FIELD);
        }
        values = List.copyOf(new LinkedHashSet<>(values));
    }

    /**
     * The scopes of a primary key and of a key created without any: {@code ["*"]}, everything.
     */
    public static Scopes all()
    {
        return ALL;
    }

    public static Scopes of(String... values)
    {
        return new Scopes(List.of(values));
    }

    /**
     * Refuses a requested scope that no key could hold ({@code INVALID_ARGUMENT} naming {@code field}).
     */
    public static void checkScope(String value, String field)
    {
        if (value == null || value.isEmpty() || value.length() > MAX_LENGTH) {
            throw LatchkeyException.invalidField(field, "a scope is 1 to " + MAX_LENGTH + " characters");
        }
        for (int i = 0; i < value.length(); i++) {
            if (!isScopeCharacter(value.charAt(i))) {
                throw LatchkeyException.invalidField(field, "a scope may contain only letters, digits and _ . : / * -");
            }
        }
    }

    /**
     * Whether these scopes grant {@code requested}.
     */
    public boolean grants(String requested)
    {
        requireNonNull(requested, "requested is null");
        for (String held : values) {
            if (held.endsWith(EVERYTHING)) {
                if (requested.startsWith(held.substring(0, held.length() - 1))) {
                    return true;
                }
            }
            else if (held.equals(requested)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether these scopes grant every one of {@code requested} (true when none is requested).
     */
    public boolean grantsAll(Collection<String> requested)
    {
        return requested.stream().allMatch(this::grants);
    }

    /**
     * Whether a key with these scopes may call the admin API: it holds {@code *} or {@value #ADMIN} itself (a
     * wildcard such as {@code latchkey:*} does not make a key an administrator).
     */
    public boolean mayAdminister()
    {
        return values.contains(EVERYTHING) || values.contains(ADMIN);
    }

    /**
     * The scopes joined by single spaces, as the verify endpoint's header carries them.
     */
    public String joined()
    {
        return values.size() == 1 ? values.get(0) : String.join(" ", values);
    }

    private static boolean isScopeCharacter(char c)
    {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '_' || c == '.' || c == ':' || c == '/' || c == '*' || c == '-';
    }
}

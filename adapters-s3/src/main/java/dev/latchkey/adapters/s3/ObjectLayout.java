package dev.latchkey.adapters.s3;

import java.util.Optional;

/**
 * Where each object of the store lives, relative to the configured prefix:
 * <pre>
 * head.json                                        the commit point: newest position, newest feed entries
 * feed/&lt;first position&gt;.json                        older feed entries, {@value #PAGE_SIZE} per page
 * accounts/&lt;account&gt;/account.json                  the account, its counts, the feed entries changing it
 * accounts/&lt;account&gt;/&lt;incarnation&gt;/users/&lt;user&gt;.json  a user: role, primary key id, every key id
 * keys/&lt;keyId&gt;.json                                a key: hash of its secret, account, user, role, attributes
 * probes/&lt;nonce&gt;.json                              momentary: the check that conditional writes are honoured
 * </pre>
 */
final class ObjectLayout
{
    static final int PAGE_SIZE = 32;
    static final String HEAD = "head.json";
    static final String ACCOUNTS = "accounts/";

    private static final String KEYS = "keys/";
    private static final String FEED = "feed/";
    private static final String PROBES = "probes/";
    private static final String JSON = ".json";

    private ObjectLayout() {}

    static String account(String accountId)
    {
        return ACCOUNTS + accountId + "/account.json";
    }

    /**
     * The "directory" of an account incarnation's users, ending with {@code /}.
     */
    static String users(String accountId, String incarnation)
    {
        return ACCOUNTS + accountId + "/" + incarnation + "/users/";
    }

    static String user(String accountId, String incarnation, String userId)
    {
        return users(accountId, incarnation) + userId + JSON;
    }

    static String key(String keyId)
    {
        return KEYS + keyId + JSON;
    }

    static String probe(String nonce)
    {
        return PROBES + nonce + JSON;
    }

    /**
     * The first position of the feed page holding {@code position}.
     */
    static long pageStart(long position)
    {
        return ((position - 1) / PAGE_SIZE) * PAGE_SIZE + 1;
    }

    static String page(long start)
    {
        return FEED + String.format("%020d", start) + JSON;
    }

    /**
     * The account a name listed under {@link #ACCOUNTS} stands for, if it is an account's "directory".
     */
    static Optional<String> accountOfListedName(String name)
    {
        return name.endsWith("/") ? Optional.of(name.substring(0, name.length() - 1)) : Optional.empty();
    }

    /**
     * The user a name listed under {@link #users} stands for, if it is a user object.
     */
    static Optional<String> userOfListedName(String name)
    {
        return name.endsWith(JSON) ? Optional.of(name.substring(0, name.length() - JSON.length())) : Optional.empty();
    }
}

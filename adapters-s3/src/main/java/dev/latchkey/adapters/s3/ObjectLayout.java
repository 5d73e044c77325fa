package dev.latchkey.adapters.s3;

import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Where each object of the store lives, relative to the configured prefix:
 * <pre>
 * head.json                                        the commit point: newest position, newest feed entries
 * feed/&lt;first position&gt;.json                        older feed entries, {@value #PAGE_SIZE} per page; kept past the
 *                                                  feed's compaction as the audit archive, until purgeAudit
 * audit-horizon.json                               the audit trail's retention: no record older is listed
 * usage/&lt;instanceId&gt;.json                         when the keys an instance served were last used
 * instances/&lt;instanceId&gt;.json                      an instance's registry record: url, version, applied position
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
    static final String FEED = "feed/";
    static final String AUDIT_HORIZON = "audit-horizon.json";
    static final String USAGE = "usage/";
    static final String INSTANCES = "instances/";

    private static final String KEYS = "keys/";
    private static final String PROBES = "probes/";
    private static final String JSON = ".json";
    private static final int PAGE_DIGITS = 20;
    private static final Pattern PAGE_NAME = Pattern.compile("[0-9]{" + PAGE_DIGITS + "}\\.json");

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

    static String usage(String instanceId)
    {
        return USAGE + instanceId + JSON;
    }

    static String instance(String instanceId)
    {
        return INSTANCES + instanceId + JSON;
    }

    /**
     * The instance a name listed under {@link #INSTANCES} stands for, if it is an instance's record.
     */
    static Optional<String> instanceOfListedName(String name)
    {
        return name.endsWith(JSON) && name.length() > JSON.length() ? Optional.of(name.substring(0, name.length() - JSON.length())) : Optional.empty();
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
        return FEED + String.format("%0" + PAGE_DIGITS + "d", start) + JSON;
    }

    /**
     * The first position of the feed page a name listed under {@link #FEED} stands for, if it is a page.
     */
    static Optional<Long> pageOfListedName(String name)
    {
        if (!PAGE_NAME.matcher(name).matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(Long.parseLong(name.substring(0, PAGE_DIGITS)));
        }
        catch (NumberFormatException e) {
            // twenty digits past the largest position: not a page of this store
            return Optional.empty();
        }
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

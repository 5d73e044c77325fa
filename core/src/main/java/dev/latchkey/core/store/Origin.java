package dev.latchkey.core.store;

import java.util.UUID;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * Where a write came from, recorded with it in the audit trail: who made it, through which instance, in answer to
 * which request.
 *
 * @param instanceId the instance that made the write ({@link #isValidInstanceId})
 * @param requestId the request it answered ({@link #isValidRequestId}): the client's {@code X-Request-Id}, or one the
 *         instance generated
 */
public record Origin(Actor actor, String instanceId, String requestId)
{
    /** What an instance id and a request id may hold: 1 to 128 letters, digits, and {@code . _ : -}. */
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");

    private static final String INVALID_ID = "an instance id is 1 to 128 letters, digits, '.', '_', ':' or '-'";

    /** The instance id of writes made through the overloads that take no origin. */
    public static final String UNKNOWN_INSTANCE = "unknown";

    public Origin
    {
        requireNonNull(actor, "actor is null");
        requireNonNull(instanceId, "instanceId is null");
        requireNonNull(requestId, "requestId is null");
        if (!isValidInstanceId(instanceId)) {
            throw new IllegalArgumentException(INVALID_ID);
        }
        if (!isValidRequestId(requestId)) {
            throw new IllegalArgumentException("a request id is 1 to 128 letters, digits, '.', '_', ':' or '-'");
        }
    }

    /**
     * The server's own write (no caller), with a new request id.
     */
    public static Origin system(String instanceId)
    {
        return new Origin(Actor.system(), instanceId, newRequestId());
    }

    /**
     * The origin of a write made through an overload without one: the server, an unknown instance, a new request id.
     */
    public static Origin unattributed()
    {
        return system(UNKNOWN_INSTANCE);
    }

    /**
     * Checks an instance id, as stores that name a record after it do.
     *
     * @return the instance id
     * @throws IllegalArgumentException when it is not {@linkplain #isValidInstanceId valid}
     */
    public static String requireValidInstanceId(String instanceId)
    {
        if (!isValidInstanceId(instanceId)) {
            throw new IllegalArgumentException(INVALID_ID);
        }
        return instanceId;
    }

    public static boolean isValidInstanceId(String instanceId)
    {
        return ID.matcher(instanceId).matches();
    }

    public static boolean isValidRequestId(String requestId)
    {
        return ID.matcher(requestId).matches();
    }

    /**
     * A new random request id (a UUID).
     */
    public static String newRequestId()
    {
        return UUID.randomUUID().toString();
    }
}

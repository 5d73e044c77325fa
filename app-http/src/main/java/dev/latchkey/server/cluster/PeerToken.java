package dev.latchkey.server.cluster;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

import static java.util.Objects.requireNonNull;

/**
 * What the instances of one store present to each other when one asks another for its applied position
 * ({@code X-Latchkey-Peer}): derived from the root key they share (SHA-256 of a fixed label and the key), so that the
 * root key itself never travels between instances, and the token, if it leaked, opens that one endpoint and nothing
 * else. Compared in constant time.
 */
public final class PeerToken
{
    /** The request header carrying it. */
    public static final String HEADER = "X-Latchkey-Peer";

    private static final String LABEL = "latchkey peer token v1\n";

    private final String value;

    private PeerToken(String value)
    {
        this.value = value;
    }

    public static PeerToken derive(String rootKey)
    {
        requireNonNull(rootKey, "rootKey is null");
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest((LABEL + rootKey).getBytes(StandardCharsets.UTF_8));
            return new PeerToken(HexFormat.of().formatHex(digest));
        }
        catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    String value()
    {
        return value;
    }

    public boolean matches(String presented)
    {
        return presented != null && MessageDigest.isEqual(value.getBytes(StandardCharsets.UTF_8), presented.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String toString()
    {
        return "PeerToken[redacted]";
    }
}

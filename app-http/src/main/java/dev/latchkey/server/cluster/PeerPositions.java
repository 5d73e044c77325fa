package dev.latchkey.server.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.latchkey.core.store.FeedPosition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static java.util.Objects.requireNonNull;

/**
 * Asks another instance, over its HTTP API, how far it has applied the change feed: {@code GET
 * /api/v1/admin/instances/self} with the {@link PeerToken} and, to have it read its feed at once and answer only once
 * it has applied a position, {@code X-Latchkey-Min-Position}. Every request has a timeout; any failure is an empty answer.
 */
public final class PeerPositions
{
    /** The path every instance answers its own position on. */
    public static final String SELF_PATH = "/api/v1/admin/instances/self";
    /** The header asking an instance to answer only once it has applied a position. */
    public static final String MIN_POSITION_HEADER = "X-Latchkey-Min-Position";

    private static final Logger LOG = LoggerFactory.getLogger(PeerPositions.class);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(1);

    private final PeerToken token;
    private final ObjectMapper mapper;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT).version(HttpClient.Version.HTTP_1_1).build();
    /** Peers whose refusal of the root key was logged (once each). */
    private final Set<String> refusedLogged = ConcurrentHashMap.newKeySet();

    public PeerPositions(PeerToken token, ObjectMapper mapper)
    {
        this.token = requireNonNull(token, "token is null");
        this.mapper = requireNonNull(mapper, "mapper is null");
    }

    /**
     * The position the instance at {@code url} has applied: at once, or (with {@code atLeast}) once it has applied
     * that position, which it waits for up to about a second.
     *
     * @return empty when it did not answer within {@code timeout}, or answered anything but its position
     */
    public Optional<FeedPosition> ask(String url, Optional<FeedPosition> atLeast, Duration timeout)
    {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url + SELF_PATH))
                .timeout(timeout)
                .header(PeerToken.HEADER, token.value())
                .GET();
        atLeast.ifPresent(position -> request.header(MIN_POSITION_HEADER, Long.toString(position.value())));
        try {
            HttpResponse<byte[]> response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
            if (response.statusCode() == 401 && refusedLogged.add(url)) {
                LOG.warn("the instance at {} refused this instance's peer token: every instance of a store needs the same root key", url);
            }
            if (response.statusCode() != 200) {
                return Optional.empty();
            }
            JsonNode applied = mapper.readTree(response.body()).path("result").path("applied_position");
            return applied.canConvertToLong() && applied.asLong() >= 0 ? Optional.of(FeedPosition.of(applied.asLong())) : Optional.empty();
        }
        catch (IOException | IllegalArgumentException e) {
            return Optional.empty();
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }
}

package dev.latchkey.server.http;

import dev.latchkey.core.admin.AdminService;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.InstanceRecord;
import dev.latchkey.server.cluster.Confirmation;
import dev.latchkey.server.cluster.Confirmations;
import dev.latchkey.server.cluster.InstancePresence;
import dev.latchkey.server.cluster.PeerPositions;
import dev.latchkey.server.cluster.PeerToken;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

import static dev.latchkey.server.http.AdminApi.map;
import static java.util.Objects.requireNonNull;

/**
 * The instances of the store, as the admin API shows them: the live instances with how far each has applied the
 * change feed ({@code GET /api/v1/admin/instances}, root), this instance's own position (what the others ask it when a
 * write waits for every instance, with the peer token or the root key), and which instances have applied a given change
 * ({@code GET /api/v1/admin/changes/{position}}, root, or an admin for its own account's changes).
 */
final class ClusterApi
{
    private static final String INSTANCES = "/api/v1/admin/instances";
    private static final String CHANGE = "/api/v1/admin/changes/{position}";
    private static final String INSTANCE_ID = "instance_id";
    private static final String POSITION = "position";

    private final AdminService admin;
    private final Authenticator authenticator;
    private final Envelope envelope;
    private final Confirmations confirmations;
    private final InstancePresence presence;
    private final PeerToken peerToken;

    ClusterApi(AdminService admin, Authenticator authenticator, Envelope envelope, Confirmations confirmations, InstancePresence presence, PeerToken peerToken)
    {
        this.peerToken = requireNonNull(peerToken, "peerToken is null");
        this.admin = requireNonNull(admin, "admin is null");
        this.authenticator = requireNonNull(authenticator, "authenticator is null");
        this.envelope = requireNonNull(envelope, "envelope is null");
        this.confirmations = requireNonNull(confirmations, "confirmations is null");
        this.presence = requireNonNull(presence, "presence is null");
    }

    void register(RoutesConfig routes)
    {
        routes.get(INSTANCES, this::listInstances);
        routes.head(INSTANCES, this::listInstances);
        routes.get(PeerPositions.SELF_PATH, this::self);
        routes.head(PeerPositions.SELF_PATH, this::self);
        routes.get(CHANGE, this::change);
        routes.head(CHANGE, this::change);
    }

    private void listInstances(Context ctx)
    {
        Identity caller = authenticator.authenticate(ctx);
        AdminService.requireRootCaller(caller);
        long head = confirmations.head().value();
        List<Map<String, Object>> instances = confirmations.liveInstances().stream()
                .map(record -> instance(record, head))
                .toList();
        envelope.ok(ctx, map("head_position", head, "instances", instances));
    }

    private Map<String, Object> instance(InstanceRecord record, long head)
    {
        long applied = record.appliedPosition().value();
        return map(
                INSTANCE_ID, record.instanceId(),
                "self", record.instanceId().equals(presence.instanceId()),
                "url", record.url().isEmpty() ? null : record.url(),
                "version", record.version(),
                "started_at", record.startedAt().toString(),
                "applied_position", applied,
                "lag", Math.max(0, head - applied),
                "feed_read_at", record.feedReadAt().toString(),
                "heartbeat_at", record.publishedAt().toString());
    }

    /**
     * This instance's applied position (with {@code X-Latchkey-Min-Position}, once it has applied that one): what an
     * instance whose write waits for every instance asks the others.
     */
    private void self(Context ctx)
    {
        String peer = ctx.header(PeerToken.HEADER);
        if (peer == null) {
            AdminService.requireRootCaller(authenticator.authenticate(ctx));
        }
        else if (peerToken.matches(peer)) {
            ctx.attribute(Authenticator.ACTOR, "peer");
            authenticator.readYourWrites().awaitBlocking(ctx.header(ReadYourWrites.HEADER));
        }
        else {
            throw new LatchkeyException(ErrorCode.UNAUTHENTICATED, "the peer token is not this store's (every instance of a store needs the same root key)");
        }
        InstanceRecord self = presence.current();
        if (ctx.header(ReadYourWrites.HEADER) != null) {
            // a writer waits for this instance: let the registry show the position soon too
            presence.positionConfirmed();
        }
        envelope.ok(ctx, map(INSTANCE_ID, self.instanceId(), "applied_position", self.appliedPosition().value()));
    }

    private void change(Context ctx)
    {
        Identity caller = authenticator.authenticate(ctx);
        FeedPosition position = position(ctx.pathParam(POSITION));
        Optional<Change> change = admin.findChange(caller, position);
        Confirmation status = confirmations.status(position);
        envelope.ok(ctx, map(
                POSITION, position.value(),
                "type", change.map(found -> found.type().name().toLowerCase(Locale.ROOT)).orElse(null),
                "account_id", change.map(found -> found.accountId().value()).orElse(null),
                "applied", status.applied(),
                "lagging", status.lagging(),
                "live", status.live()));
    }

    private static FeedPosition position(String text)
    {
        if (!text.isEmpty() && text.length() <= 18 && text.chars().allMatch(Character::isDigit)) {
            long value = Long.parseLong(text);
            if (value >= 1) {
                return FeedPosition.of(value);
            }
        }
        throw LatchkeyException.invalidField(POSITION, "position must be a feed position: a whole number from 1 (an X-Latchkey-Position a write answered)");
    }
}

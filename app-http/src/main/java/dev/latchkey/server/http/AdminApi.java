package dev.latchkey.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.latchkey.core.admin.AdminService;
import dev.latchkey.core.admin.CreatedAccount;
import dev.latchkey.core.admin.CreatedKey;
import dev.latchkey.core.admin.CreatedUser;
import dev.latchkey.core.admin.KeyRequest;
import dev.latchkey.core.admin.RegeneratedKey;
import dev.latchkey.core.admin.UserListing;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.Identity;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyName;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.AuditPage;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.UserQuery;
import dev.latchkey.server.cluster.Confirmation;
import dev.latchkey.server.cluster.Confirmations;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

import static dev.latchkey.server.http.RequestBodies.optional;
import static dev.latchkey.server.http.RequestBodies.optionalStrings;
import static dev.latchkey.server.http.RequestBodies.optionalWholeNumber;
import static dev.latchkey.server.http.RequestBodies.required;
import static java.util.Objects.requireNonNull;

/**
 * The admin endpoints of http-api.md, wire-compatible with OpenViking's. Each handler authenticates first (401),
 * then parses the request (400), then lets {@link AdminService} decide permission, existence and conflicts.
 */
final class AdminApi
{
    private static final String ACCOUNTS = "/api/v1/admin/accounts";
    private static final String ACCOUNT = ACCOUNTS + "/{account_id}";
    private static final String USERS = ACCOUNT + "/users";
    private static final String USER = USERS + "/{user_id}";
    private static final String KEYS = USER + "/keys";
    private static final String ROLE_FIELD = "role";
    private static final String KEY_ID_FIELD = "key_id";
    private static final String ACCOUNT_ID_FIELD = "account_id";
    private static final String USER_ID_FIELD = "user_id";
    private static final String LAST_USED_AT = "last_used_at";
    private static final String CURSOR = "cursor";
    private static final String AUDIT = "/api/v1/admin/audit";
    static final String POSITION_HEADER = "X-Latchkey-Position";
    static final String APPLIED_HEADER = "X-Latchkey-Applied";
    static final String LAGGING_HEADER = "X-Latchkey-Lagging";
    private static final String WAIT = "wait";
    private static final Pattern BAD_ESCAPE = Pattern.compile("%(?![0-9A-Fa-f]{2})");

    private final AdminService admin;
    private final Authenticator authenticator;
    private final RequestBodies bodies;
    private final Envelope envelope;

    private final Duration auditRetention;
    private final Confirmations confirmations;
    private final Duration waitTimeout;

    /**
     * @param confirmations where a write learns its feed position and, with {@code wait=all}, waits for every
     *         instance to apply it (for at most {@code waitTimeout})
     */
    AdminApi(AdminService admin, Authenticator authenticator, RequestBodies bodies, Envelope envelope, Duration auditRetention, Confirmations confirmations,
            Duration waitTimeout)
    {
        this.confirmations = requireNonNull(confirmations, "confirmations is null");
        this.waitTimeout = requireNonNull(waitTimeout, "waitTimeout is null");
        this.auditRetention = requireNonNull(auditRetention, "auditRetention is null");
        this.admin = requireNonNull(admin, "admin is null");
        this.authenticator = requireNonNull(authenticator, "authenticator is null");
        this.bodies = requireNonNull(bodies, "bodies is null");
        this.envelope = requireNonNull(envelope, "envelope is null");
    }

    void register(RoutesConfig routes)
    {
        routes.post(ACCOUNTS, this::createAccount);
        routes.get(ACCOUNTS, this::listAccounts);
        routes.head(ACCOUNTS, this::listAccounts);
        routes.delete(ACCOUNT, this::deleteAccount);
        routes.post(USERS, this::registerUser);
        routes.get(USERS, this::listUsers);
        routes.head(USERS, this::listUsers);
        routes.delete(USER, this::removeUser);
        routes.put(USER + "/role", this::setRole);
        routes.post(USER + "/key", this::regenerateKey);
        routes.post(KEYS, this::createKey);
        routes.get(KEYS, this::listKeys);
        routes.head(KEYS, this::listKeys);
        routes.delete(KEYS + "/{key_id}", this::deleteKey);
        routes.get(AUDIT, this::listAudit);
        routes.head(AUDIT, this::listAudit);
    }

    /**
     * The admin service, recording this request's id with the writes it makes.
     */
    private AdminService admin(Context ctx)
    {
        return admin.forRequest(requestId(ctx));
    }

    static String requestId(Context ctx)
    {
        if (ctx.req().getAttribute(RequestIds.ATTRIBUTE) instanceof String id) {
            return id;
        }
        String id = RequestIds.from(ctx.header(RequestIds.HEADER));
        ctx.req().setAttribute(RequestIds.ATTRIBUTE, id);
        ctx.header(RequestIds.HEADER, id);
        return id;
    }

    private void listAudit(Context ctx)
    {
        Identity caller = authenticator.authenticate(ctx);
        requireDecodableQuery(ctx);
        Optional<AccountId> accountId = Optional.ofNullable(ctx.queryParam(ACCOUNT_ID_FIELD)).filter(id -> !id.isEmpty()).map(AccountId::of);
        Optional<FeedPosition> cursor = Optional.ofNullable(ctx.queryParam(CURSOR)).filter(text -> !text.isEmpty()).map(AdminApi::auditCursor);
        AuditPage page = admin.listAudit(caller, accountId, cursor, limit(ctx, AuditQuery.DEFAULT_LIMIT, AuditQuery.MAX_LIMIT), auditRetention);
        envelope.ok(ctx, map(
                "records", page.records().stream().map(AdminApi::auditRecord).toList(),
                "next_cursor", page.next().map(position -> Long.toString(position.value())).orElse(null)));
    }

    private static FeedPosition auditCursor(String text)
    {
        try {
            long position = Long.parseLong(text);
            if (position >= 1) {
                return FeedPosition.of(position);
            }
        }
        catch (NumberFormatException e) {
            // reported below
        }
        throw LatchkeyException.invalidField(CURSOR, "cursor must be the next_cursor of a previous page (a whole number from 1)");
    }

    private static Map<String, Object> auditRecord(AuditRecord record)
    {
        Change change = record.change();
        Actor actor = record.origin().actor();
        return map(
                "position", change.position().value(),
                "at", change.committedAt().toString(),
                "type", change.type().name().toLowerCase(Locale.ROOT),
                ACCOUNT_ID_FIELD, change.accountId().value(),
                USER_ID_FIELD, change.userId().map(UserId::value).orElse(null),
                "key_ids", change.keyIds().stream().map(KeyId::value).toList(),
                "actor", map(
                        ROLE_FIELD, actor.kind().wireName(),
                        ACCOUNT_ID_FIELD, actor.accountId().map(AccountId::value).orElse(null),
                        USER_ID_FIELD, actor.userId().map(UserId::value).orElse(null),
                        KEY_ID_FIELD, actor.keyId().map(KeyId::value).orElse(null)),
                "instance_id", record.origin().instanceId(),
                "request_id", record.origin().requestId());
    }

    private void createAccount(Context ctx)
    {
        Identity caller = authenticator.authenticate(ctx);
        boolean waitAll = waitAll(ctx);
        JsonNode body = bodies.object(ctx, true).orElseThrow();
        AccountId accountId = required(body, AccountId.FIELD, AccountId::of);
        UserId adminUserId = required(body, "admin_user_id", value -> userId("admin_user_id", value));
        Optional<String> seed = optional(body, "seed", value -> value);
        CreatedAccount created = admin(ctx).createAccount(caller, accountId, adminUserId, seed);
        written(ctx, waitAll);
        envelope.ok(ctx, map(
                "account_id", created.accountId().value(),
                "admin_user_id", created.adminUserId().value(),
                "user_key", created.userKey().value()));
    }

    private void listAccounts(Context ctx)
    {
        Identity caller = authenticator.authenticate(ctx);
        List<Map<String, Object>> accounts = admin.listAccounts(caller).stream()
                .map(AdminApi::account)
                .toList();
        envelope.ok(ctx, accounts);
    }

    private void deleteAccount(Context ctx)
    {
        Identity caller = authenticator.authenticate(ctx);
        boolean waitAll = waitAll(ctx);
        admin(ctx).deleteAccount(caller, accountId(ctx));
        written(ctx, waitAll);
        envelope.ok(ctx, map("deleted", true));
    }

    private void registerUser(Context ctx)
    {
        Identity caller = authenticator.authenticate(ctx);
        boolean waitAll = waitAll(ctx);
        AccountId accountId = accountId(ctx);
        JsonNode body = bodies.object(ctx, true).orElseThrow();
        UserId userId = required(body, UserId.FIELD, UserId::of);
        Role role = optional(body, ROLE_FIELD, value -> Role.fromWireName(value, ROLE_FIELD)).orElse(Role.USER);
        Optional<String> seed = optional(body, "seed", value -> value);
        CreatedUser created = admin(ctx).registerUser(caller, accountId, userId, role, seed);
        written(ctx, waitAll);
        envelope.ok(ctx, map(
                "account_id", created.accountId().value(),
                "user_id", created.userId().value(),
                "user_key", created.userKey().value()));
    }

    private void listUsers(Context ctx)
    {
        Identity caller = authenticator.authenticate(ctx);
        AccountId accountId = accountId(ctx);
        requireDecodableQuery(ctx);
        UserQuery query = new UserQuery(
                limit(ctx),
                Optional.ofNullable(ctx.queryParam("name")).filter(name -> !name.isEmpty()),
                Optional.ofNullable(ctx.queryParam(ROLE_FIELD)).filter(role -> !role.isEmpty()).map(AdminApi::listedRole),
                Optional.ofNullable(ctx.queryParam("cursor")).filter(cursor -> !cursor.isEmpty()).map(cursor -> userId("cursor", cursor)));
        UserListing listing = admin.listUsersWithUsage(caller, accountId, query);
        envelope.ok(ctx, listing.page().users().stream().map(user -> user(user, listing.lastUsed())).toList());
    }

    private void removeUser(Context ctx)
    {
        Identity caller = authenticator.authenticate(ctx);
        boolean waitAll = waitAll(ctx);
        admin(ctx).removeUser(caller, accountId(ctx), userId(ctx));
        written(ctx, waitAll);
        envelope.ok(ctx, map("deleted", true));
    }

    private void setRole(Context ctx)
    {
        Identity caller = authenticator.authenticate(ctx);
        boolean waitAll = waitAll(ctx);
        AccountId accountId = accountId(ctx);
        UserId userId = userId(ctx);
        JsonNode body = bodies.object(ctx, true).orElseThrow();
        Role role = required(body, ROLE_FIELD, value -> Role.fromWireName(value, ROLE_FIELD));
        User user = admin(ctx).setRole(caller, accountId, userId, role);
        written(ctx, waitAll);
        envelope.ok(ctx, map(
                "account_id", user.accountId().value(),
                "user_id", user.id().value(),
                "role", user.role().wireName()));
    }

    private void regenerateKey(Context ctx)
    {
        Identity caller = authenticator.authenticate(ctx);
        boolean waitAll = waitAll(ctx);
        AccountId accountId = accountId(ctx);
        UserId userId = userId(ctx);
        Optional<JsonNode> body = bodies.object(ctx, false);
        Optional<String> seed = body.flatMap(fields -> optional(fields, "seed", value -> value));
        long gracePeriod = body.flatMap(fields -> optionalWholeNumber(fields, "grace_period", 0, RegeneratedKey.MAX_GRACE_PERIOD_SECONDS)).orElse(0L);
        RegeneratedKey regenerated = admin(ctx).regenerateKey(caller, accountId, userId, seed, gracePeriod);
        Map<String, Object> result = map("user_key", regenerated.userKey().value());
        regenerated.previousKeyExpiresAt().ifPresent(until -> result.put("previous_key_expires_at", until.toString()));
        written(ctx, waitAll);
        envelope.ok(ctx, result);
    }

    private void createKey(Context ctx)
    {
        Identity caller = authenticator.authenticate(ctx);
        boolean waitAll = waitAll(ctx);
        AccountId accountId = accountId(ctx);
        UserId userId = userId(ctx);
        Optional<JsonNode> body = bodies.object(ctx, false);
        KeyRequest request = body.map(AdminApi::keyRequest).orElse(KeyRequest.defaults());
        CreatedKey created = admin(ctx).createKey(caller, accountId, userId, request);
        Map<String, Object> result = key(created.summary());
        result.put("user_key", created.userKey().value());
        result.put("account_id", created.accountId().value());
        result.put("user_id", created.userId().value());
        written(ctx, waitAll);
        envelope.ok(ctx, result);
    }

    private void listKeys(Context ctx)
    {
        Identity caller = authenticator.authenticate(ctx);
        List<Map<String, Object>> keys = admin.listKeys(caller, accountId(ctx), userId(ctx)).stream()
                .map(AdminApi::key)
                .toList();
        envelope.ok(ctx, keys);
    }

    private void deleteKey(Context ctx)
    {
        Identity caller = authenticator.authenticate(ctx);
        boolean waitAll = waitAll(ctx);
        AccountId accountId = accountId(ctx);
        UserId userId = userId(ctx);
        KeyId keyId;
        try {
            keyId = KeyId.of(ctx.pathParam(KEY_ID_FIELD));
        }
        catch (IllegalArgumentException e) {
            throw LatchkeyException.invalidField(KEY_ID_FIELD, "key_id must be 16 letters and digits");
        }
        admin(ctx).deleteKey(caller, accountId, userId, keyId);
        written(ctx, waitAll);
        envelope.ok(ctx, map("deleted", true));
    }

    /**
     * Whether the write asks to answer only once every live instance has applied it ({@code ?wait=all}).
     */
    private static boolean waitAll(Context ctx)
    {
        String wait = ctx.queryParam(WAIT);
        if (wait == null || wait.isEmpty()) {
            return false;
        }
        if ("all".equals(wait)) {
            return true;
        }
        throw LatchkeyException.invalidField(WAIT, "wait must be all (answer once every live instance has applied the write)");
    }

    /**
     * After a write: its feed position ({@code X-Latchkey-Position}: its own position or a later one, the newest
     * this instance committed or read) and, when asked, which instances have applied it ({@code X-Latchkey-Applied: n/live}, and
     * {@code X-Latchkey-Lagging} naming those that did not confirm in time). The write stands either way: a store
     * that cannot be read now only leaves the headers out.
     */
    private void written(Context ctx, boolean waitAll)
    {
        FeedPosition position;
        try {
            position = confirmations.writtenPosition();
        }
        catch (LatchkeyException e) {
            return;
        }
        ctx.header(POSITION_HEADER, Long.toString(position.value()));
        if (waitAll) {
            Confirmation confirmation = confirmations.confirm(position, waitTimeout);
            ctx.header(APPLIED_HEADER, confirmation.fraction());
            if (!confirmation.lagging().isEmpty()) {
                ctx.header(LAGGING_HEADER, String.join(",", confirmation.lagging()));
            }
        }
    }

    private static KeyRequest keyRequest(JsonNode body)
    {
        Optional<KeyName> name = optional(body, KeyName.FIELD, KeyName::of);
        Optional<Scopes> scopes = optionalStrings(body, Scopes.FIELD).map(Scopes::new);
        Optional<Instant> expiresAt = optional(body, KeyRequest.EXPIRES_AT, AdminApi::instant);
        Optional<Long> ttl = optionalWholeNumber(body, KeyRequest.TTL, 1, KeyRequest.MAX_LIFETIME.toSeconds());
        return new KeyRequest(name, scopes, expiresAt, ttl);
    }

    private static Instant instant(String text)
    {
        try {
            return OffsetDateTime.parse(text).toInstant();
        }
        catch (DateTimeParseException e) {
            throw LatchkeyException.invalidField(KeyRequest.EXPIRES_AT, "expires_at must be an ISO-8601 date and time with an offset, such as 2027-01-01T00:00:00Z");
        }
    }

    private static Map<String, Object> key(KeySummary key)
    {
        return map(
                KEY_ID_FIELD, key.keyId().value(),
                "key_prefix", key.keyId().keyPrefix(),
                "name", key.attributes().name().map(KeyName::value).orElse(null),
                "primary", key.attributes().primary(),
                "scopes", key.attributes().scopes().values(),
                "created_at", key.createdAt().toString(),
                "expires_at", key.attributes().expiresAt().map(Instant::toString).orElse(null),
                LAST_USED_AT, key.lastUsedAt().map(Instant::toString).orElse(null));
    }

    private static AccountId accountId(Context ctx)
    {
        return AccountId.of(ctx.pathParam("account_id"));
    }

    private static UserId userId(Context ctx)
    {
        return UserId.of(ctx.pathParam("user_id"));
    }

    /**
     * A user id read from a field other than {@code user_id}: errors name that field.
     */
    private static UserId userId(String field, String value)
    {
        try {
            return UserId.of(value);
        }
        catch (LatchkeyException e) {
            throw LatchkeyException.invalidField(field, e.getMessage().replace(UserId.FIELD, field));
        }
    }

    /**
     * Javalin silently drops a query value it cannot percent-decode, which would pass for an absent parameter (the
     * default limit, no filter): refuse it, naming the parameter.
     */
    private static void requireDecodableQuery(Context ctx)
    {
        String query = ctx.queryString();
        if (query == null) {
            return;
        }
        for (String parameter : query.split("&")) {
            if (BAD_ESCAPE.matcher(parameter).find()) {
                String name = parameter.split("=", 2)[0];
                throw LatchkeyException.invalidField(name, name + " is not correctly percent-encoded");
            }
        }
    }

    private static int limit(Context ctx)
    {
        return limit(ctx, UserQuery.DEFAULT_LIMIT, UserQuery.MAX_LIMIT);
    }

    private static int limit(Context ctx, int defaultLimit, int maxLimit)
    {
        String text = ctx.queryParam("limit");
        if (text == null || text.isEmpty()) {
            return defaultLimit;
        }
        try {
            int limit = Integer.parseInt(text);
            if (limit >= 1 && limit <= maxLimit) {
                return limit;
            }
        }
        catch (NumberFormatException e) {
            // reported below
        }
        throw LatchkeyException.invalidField("limit", "limit must be a whole number from 1 to " + maxLimit);
    }

    private static Role listedRole(String text)
    {
        Role role = Role.fromWireName(text, ROLE_FIELD);
        if (role == Role.ROOT) {
            throw LatchkeyException.invalidField(ROLE_FIELD, "role must be one of: admin, user");
        }
        return role;
    }

    private static Map<String, Object> account(AccountSummary account)
    {
        return map(
                "account_id", account.id().value(),
                "created_at", account.createdAt().toString(),
                "user_count", account.userCount());
    }

    private static Map<String, Object> user(User user, Map<KeyId, Instant> lastUsed)
    {
        return map(
                "user_id", user.id().value(),
                "role", user.role().wireName(),
                "key_prefix", user.primaryKeyId().map(KeyId::keyPrefix).orElse(null),
                "created_at", user.createdAt().toString(),
                LAST_USED_AT, user.primaryKeyId().map(lastUsed::get).map(Instant::toString).orElse(null));
    }

    static Map<String, Object> map(Object... keysAndValues)
    {
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            map.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return map;
    }
}

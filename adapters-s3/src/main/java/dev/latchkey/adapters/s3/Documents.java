package dev.latchkey.adapters.s3;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyName;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.SecretHash;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.ExpiredKeys;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.InstanceRecord;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.Origin;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.LongPredicate;

import static java.util.Objects.requireNonNull;

/**
 * The JSON objects of the store (see {@link ObjectLayout} for where each lives), and their codec. Times are
 * ISO-8601 instants and durations, roles lower-case names, secret hashes hex; fields that do not apply are left out.
 */
final class Documents
{
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .addModule(new SimpleModule("latchkey-s3")
                    .addSerializer(Instant.class, ToStringSerializer.instance)
                    .addDeserializer(Instant.class, new InstantDeserializer())
                    .addSerializer(Duration.class, ToStringSerializer.instance)
                    .addDeserializer(Duration.class, new DurationDeserializer())
                    .addSerializer(Role.class, new RoleSerializer())
                    .addDeserializer(Role.class, new RoleDeserializer()))
            .defaultPropertyInclusion(JsonInclude.Value.construct(JsonInclude.Include.NON_NULL, JsonInclude.Include.NON_NULL))
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            // an account written before writes were batched holds one pending position, not a list
            .enable(DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY)
            .build();

    private Documents() {}

    /**
     * {@code head.json}: the commit point of every write, and the newest part of the change feed.
     *
     * @param position the newest committed change (0 when there is none)
     * @param compactedThrough changes up to this position are forgotten (a reader behind it is reset)
     * @param spilledThrough changes up to this position live in feed pages, the later ones in {@code entries}
     * @param entries the changes after {@code spilledThrough}, oldest first
     * @param unapplied the positions of committed changes, by account, that its account object may not count as
     *         applied yet: written by the commit that makes them, dropped by a later commit once their account object
     *         is known to count them; a reader of an account reads the head first, then the account object, and folds
     *         in the changes listed here past what the object counts (null in a head written before: none)
     * @param unwritten the positions, among those listed in {@code unapplied}, whose users and keys may not all be
     *         written yet: listed by the commit that makes them (an entry that writes no such object is not), dropped by
     *         a later commit of a handle that wrote them, or once no longer listed as unapplied (counted on its account,
     *         so written). A listed-unapplied position missing here is written, so that
     *         any instance may count it on its account without writing anything else first (null, in a head written
     *         before this list: every listed position may be unwritten)
     */
    record Head(long position, long compactedThrough, long spilledThrough, List<Entry> entries, Map<String, List<Long>> unapplied, List<Long> unwritten)
    {
        static final Head EMPTY = new Head(0, 0, 0, List.of(), Map.of(), List.of());

        Head
        {
            entries = List.copyOf(entries);
            TreeMap<String, List<Long>> byAccount = new TreeMap<>();
            if (unapplied != null) {
                unapplied.forEach((account, positions) -> {
                    if (positions != null && !positions.isEmpty()) {
                        byAccount.put(account, List.copyOf(new TreeSet<>(positions)));
                    }
                });
            }
            unapplied = Collections.unmodifiableMap(byAccount);
            unwritten = unwritten == null ? null : List.copyOf(new TreeSet<>(unwritten));
        }

        /**
         * A head that does not say which of its unapplied positions are written (as one written before it did).
         */
        Head(long position, long compactedThrough, long spilledThrough, List<Entry> entries, Map<String, List<Long>> unapplied)
        {
            this(position, compactedThrough, spilledThrough, entries, unapplied, null);
        }

        /**
         * Whether the users and keys of the entry at {@code position} about the account are known written: it is
         * listed as unapplied to the account, and not as unwritten.
         */
        boolean knownWritten(String accountId, long position)
        {
            return unwritten != null && unappliedOf(accountId).contains(position) && Collections.binarySearch(unwritten, position) < 0;
        }

        /**
         * The positions whose users and keys may not all be written: {@code unwritten}, or every listed position in a
         * head that does not say.
         */
        Set<Long> maybeUnwritten()
        {
            if (unwritten != null) {
                return new TreeSet<>(unwritten);
            }
            TreeSet<Long> listed = new TreeSet<>();
            unapplied.values().forEach(listed::addAll);
            return listed;
        }

        /**
         * The positions listed as maybe unapplied to an account, in order.
         */
        List<Long> unappliedOf(String accountId)
        {
            return unapplied.getOrDefault(accountId, List.of());
        }

        /**
         * This head with its compaction moved to {@code through}.
         */
        Head compactedThrough(long through)
        {
            return new Head(position, through, spilledThrough, entries, unapplied, unwritten);
        }
    }

    /**
     * {@code feed/<first position>.json}: a page of {@link ObjectLayout#PAGE_SIZE} consecutive changes that no longer
     * fit in the head. Written whole before the head drops them, so its content is the same whoever writes it.
     */
    record Page(List<Entry> entries)
    {
        Page
        {
            entries = List.copyOf(entries);
        }
    }

    /**
     * One write, as committed in the feed: enough to report it and to apply it to the objects of its account. Made
     * by the factory of its change type ({@link #accountCreated}, {@link #userAdded}, ...), which take domain
     * values, so that a new field of a user changes those factories and no caller.
     *
     * <p>A user holds several keys: {@code keyIds} lists them all, so that a role change and a removal reach every
     * one, and {@code primaryKeyId} names its primary key. An entry written before users held several keys has
     * neither (and no key attributes): its user then holds {@code keyId} alone (for a removal, {@code oldKeyId}), as
     * its primary key, with {@link KeyAttributes#primaryKey()}.
     *
     * @param position its feed position (0 until it is committed)
     * @param txn a random id of the write, so that a writer whose commit answer was lost can recognise its entry, and
     *         a reader can tell the key it staged
     * @param incarnation the incarnation of the account the write applies to (for a creation: the new one)
     * @param committedAt when it was committed (null until then)
     * @param role the user's role after the write (for a removal: the role it had)
     * @param oldRole the role before a role change
     * @param oldKeyId the primary key that a replacement replaces (null when the user had none); in an entry written
     *         before users held several keys, also the key a removal ends
     * @param keyId the key the write is about: the new key of a creation, an addition or a replacement, the deleted
     *         key of a deletion; none for a role change or a removal (in an entry written before users held several
     *         keys: the user's one key, for a role change too)
     * @param secretHash the hash (hex) of the secret of {@code keyId}, when the write issues it
     * @param keyCreatedAt when {@code keyId} was issued, when the write issues it
     * @param keyIds every key the user holds after the write (for a removal: every key it held); null in an entry
     *         written before users held several keys
     * @param primaryKeyId the user's primary key after the write (for a removal: before it); null when it has none
     *         (or when {@code keyIds} is null: then {@code keyId}, or {@code oldKeyId} for a removal)
     * @param keyName the name of the key the write issues (null: none)
     * @param keyPrimary false when the key the write issues is not its user's primary key (null: it is)
     * @param scopes the scopes of the key the write issues (null: {@code ["*"]})
     * @param expiresAt when the key the write issues expires (null: never)
     * @param previousKeyUntil for a replacement with a grace period: the replaced primary key is kept, retired, until
     *         this instant (null: it ends with the write)
     * @param endedKeyIds for an addition or a replacement: the user's expired keys that the write removes
     *         ({@link dev.latchkey.core.store.ExpiredKeys}; null: none); {@code keyId} may be one of them
     * @param origin where the write came from, its audit record ({@link #auditRecord}); null until it is committed, and
     *         in an entry written before writes were audited (which the audit trail then does not list)
     */
    record Entry(
            long position,
            String txn,
            ChangeType type,
            String accountId,
            String incarnation,
            Instant committedAt,
            Instant accountCreatedAt,
            Boolean adminRequired,
            String userId,
            Role role,
            Role oldRole,
            Instant userCreatedAt,
            String oldKeyId,
            String keyId,
            String secretHash,
            Instant keyCreatedAt,
            List<String> keyIds,
            String primaryKeyId,
            String keyName,
            Boolean keyPrimary,
            List<String> scopes,
            Instant expiresAt,
            Instant previousKeyUntil,
            List<String> endedKeyIds,
            StoredOrigin origin)
    {
        Entry
        {
            requireNonNull(type, "type is null");
            requireNonNull(accountId, "accountId is null");
            requireNonNull(incarnation, "incarnation is null");
            keyIds = keyIds == null ? null : List.copyOf(keyIds);
            scopes = scopes == null ? null : List.copyOf(scopes);
            endedKeyIds = endedKeyIds == null || endedKeyIds.isEmpty() ? null : List.copyOf(endedKeyIds);
        }

        static Entry accountCreated(dev.latchkey.core.domain.Account account, String incarnation, Optional<NewUser> firstAdmin)
        {
            if (firstAdmin.isEmpty()) {
                return new Entry(0, null, ChangeType.ACCOUNT_CREATED, account.id().value(), incarnation, null, account.createdAt(), account.adminRequired(),
                        null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null);
            }
            dev.latchkey.core.domain.User admin = firstAdmin.get().user();
            Entry entry = ofUser(ChangeType.ACCOUNT_CREATED, incarnation, admin, null, null, firstAdmin.get().keyId(), firstAdmin.get().secretHash(), admin.createdAt(),
                    List.of(firstAdmin.get().keyId()), KeyAttributes.primaryKey(), null, List.of());
            return entry.ofAccount(account);
        }

        private Entry ofAccount(dev.latchkey.core.domain.Account account)
        {
            return new Entry(position, txn, type, accountId, incarnation, committedAt, account.createdAt(), account.adminRequired(), userId, role, oldRole,
                    userCreatedAt, oldKeyId, keyId, secretHash, keyCreatedAt, keyIds, primaryKeyId, keyName, keyPrimary, scopes, expiresAt, previousKeyUntil, endedKeyIds,
                    origin);
        }

        static Entry userAdded(String incarnation, NewUser newUser)
        {
            return ofUser(ChangeType.USER_ADDED, incarnation, newUser.user(), null, null, newUser.keyId(), newUser.secretHash(), newUser.user().createdAt(),
                    List.of(newUser.keyId()), KeyAttributes.primaryKey(), null, List.of());
        }

        /**
         * @param after the user with its new primary key
         * @param keysAfter every key the user holds after the replacement
         * @param oldKeyId the primary key replaced, if the user had one
         * @param previousKeyUntil when the replaced key is kept, retired, until then
         * @param ended the user's expired keys the replacement removes
         */
        static Entry keyReplaced(String incarnation, dev.latchkey.core.domain.User after, List<KeyId> keysAfter, Optional<KeyId> oldKeyId, SecretHash newSecretHash,
                Instant issuedAt, Optional<Instant> previousKeyUntil, List<KeyId> ended)
        {
            return ofUser(ChangeType.KEY_REPLACED, incarnation, after, null, oldKeyId.orElse(null), after.primaryKeyId().orElseThrow(), newSecretHash, issuedAt,
                    keysAfter, KeyAttributes.primaryKey(), previousKeyUntil.orElse(null), ended);
        }

        /**
         * @param user the user the key is added to
         * @param keysAfter every key the user holds after the addition, the new one included
         * @param ended the user's expired keys the addition removes
         */
        static Entry keyAdded(String incarnation, dev.latchkey.core.domain.User user, List<KeyId> keysAfter, NewKey newKey, List<KeyId> ended)
        {
            return ofUser(ChangeType.KEY_ADDED, incarnation, user, null, null, newKey.keyId(), newKey.secretHash(), newKey.createdAt(), keysAfter,
                    newKey.attributes(), null, ended);
        }

        /**
         * @param after the user as the deletion leaves it (without its primary key, if that is the key deleted)
         * @param keysAfter every key the user still holds
         */
        static Entry keyDeleted(String incarnation, dev.latchkey.core.domain.User after, List<KeyId> keysAfter, KeyId deleted)
        {
            return ofUser(ChangeType.KEY_DELETED, incarnation, after, null, null, deleted, null, null, keysAfter, null, null, List.of());
        }

        /**
         * @param keys every key of the user, each of which keeps working with the new role
         */
        static Entry roleChanged(String incarnation, dev.latchkey.core.domain.User after, Role oldRole, List<KeyId> keys)
        {
            return ofUser(ChangeType.ROLE_CHANGED, incarnation, after, oldRole, null, null, null, null, keys, null, null, List.of());
        }

        /**
         * @param keys every key the user holds, all of which end
         */
        static Entry userRemoved(String incarnation, dev.latchkey.core.domain.User before, List<KeyId> keys)
        {
            return ofUser(ChangeType.USER_REMOVED, incarnation, before, null, null, null, null, null, keys, null, null, List.of());
        }

        static Entry accountDeleted(AccountId accountId, String incarnation)
        {
            return new Entry(0, null, ChangeType.ACCOUNT_DELETED, accountId.value(), incarnation, null, null, null, null, null, null, null, null, null, null, null,
                    null, null, null, null, null, null, null, null, null);
        }

        private static Entry ofUser(ChangeType type, String incarnation, dev.latchkey.core.domain.User user, Role oldRole, KeyId oldKeyId, KeyId keyId,
                SecretHash secretHash, Instant keyCreatedAt, List<KeyId> keys, KeyAttributes attributes, Instant previousKeyUntil, List<KeyId> ended)
        {
            StoredAttributes stored = attributes == null ? StoredAttributes.NONE : StoredAttributes.of(attributes);
            return new Entry(0, null, type, user.accountId().value(), incarnation, null, null, null, user.id().value(), user.role(), oldRole, user.createdAt(),
                    oldKeyId == null ? null : oldKeyId.value(), keyId == null ? null : keyId.value(), secretHash == null ? null : secretHash.toHex(), keyCreatedAt,
                    keys.stream().map(KeyId::value).toList(), user.primaryKeyId().map(KeyId::value).orElse(null),
                    stored.name(), stored.primary(), stored.scopes(), stored.expiresAt(), previousKeyUntil, ended.stream().map(KeyId::value).toList(), null);
        }

        /**
         * This entry as its write commits it: at a position, with its write's id, commit time and origin (so that the
         * audit record is part of the entry, and commits with it).
         */
        Entry committed(long newPosition, String newTxn, Instant at, Origin writtenFrom)
        {
            return new Entry(newPosition, newTxn, type, accountId, incarnation, at, accountCreatedAt, adminRequired, userId, role, oldRole,
                    userCreatedAt, oldKeyId, keyId, secretHash, keyCreatedAt, keyIds, primaryKeyId, keyName, keyPrimary, scopes, expiresAt, previousKeyUntil, endedKeyIds,
                    StoredOrigin.of(writtenFrom));
        }

        /**
         * The audit record of this committed entry: empty for an entry written before writes were audited.
         */
        Optional<AuditRecord> auditRecord()
        {
            return origin == null ? Optional.empty() : Optional.of(new AuditRecord(toChange(), origin.toOrigin()));
        }

        /**
         * The expired keys of its user that the write removes (none for most writes).
         */
        List<String> endedKeys()
        {
            return endedKeyIds == null ? List.of() : endedKeyIds;
        }

        /**
         * Whether the write issues a key that did not work before ({@code keyId}, staged ahead of the commit).
         */
        boolean issuesKey()
        {
            return keyId != null && secretHash != null
                    && (type == ChangeType.ACCOUNT_CREATED || type == ChangeType.USER_ADDED || type == ChangeType.KEY_REPLACED || type == ChangeType.KEY_ADDED);
        }

        /**
         * Whether applying the write writes objects besides its account's: a user and its keys, or, for an account
         * deletion, the revocation of every key of the account (what {@link Applier} writes for it).
         */
        boolean writesObjects()
        {
            return userId != null || type == ChangeType.ACCOUNT_DELETED;
        }

        boolean names(UserId user)
        {
            return user.value().equals(userId);
        }

        /**
         * Whether this entry was written before users held several keys (it lists no keys of its user).
         */
        boolean writtenWithOneKeyPerUser()
        {
            return keyIds == null;
        }

        /**
         * Every key the user holds after the write (for a removal: every key it held).
         */
        List<String> userKeyIds()
        {
            if (keyIds != null) {
                return keyIds;
            }
            String only = type == ChangeType.USER_REMOVED ? oldKeyId : keyId;
            return only == null ? List.of() : List.of(only);
        }

        /**
         * The user's primary key after the write (for a removal: before it).
         */
        Optional<String> primaryAfter()
        {
            if (keyIds != null) {
                return Optional.ofNullable(primaryKeyId);
            }
            return Optional.ofNullable(type == ChangeType.USER_REMOVED ? oldKeyId : keyId);
        }

        /**
         * The attributes of the key the write issues ({@code keyId}).
         */
        KeyAttributes keyAttributes()
        {
            return new StoredAttributes(keyName, keyPrimary, scopes, expiresAt).toAttributes();
        }

        /**
         * The key the write issues, as it works once the write is committed.
         */
        KeyRecord issuedKey()
        {
            return new KeyRecord(KeyId.of(keyId), SecretHash.ofHex(secretHash), AccountId.of(accountId), UserId.of(userId), role, keyCreatedAt, keyAttributes());
        }

        /**
         * The user as this entry leaves it: empty for a removal (and for entries about no user).
         */
        Optional<dev.latchkey.core.domain.User> userAfter()
        {
            if (userId == null || type == ChangeType.USER_REMOVED || type == ChangeType.ACCOUNT_DELETED) {
                return Optional.empty();
            }
            return Optional.of(new dev.latchkey.core.domain.User(AccountId.of(accountId), UserId.of(userId), role, primaryAfter().map(KeyId::of), userCreatedAt));
        }

        /**
         * This entry as the store port reports it: the keys whose lookups it changes.
         */
        Change toChange()
        {
            List<KeyId> changed = switch (type) {
                case ACCOUNT_CREATED, USER_ADDED, KEY_DELETED -> keyId == null ? List.of() : List.of(KeyId.of(keyId));
                case KEY_ADDED -> ExpiredKeys.named(List.of(KeyId.of(keyId)), endedKeys().stream().map(KeyId::of).toList());
                case ROLE_CHANGED, USER_REMOVED -> userKeyIds().stream().map(KeyId::of).toList();
                case KEY_REPLACED -> ExpiredKeys.named(oldKeyId == null ? List.of(KeyId.of(keyId)) : List.of(KeyId.of(oldKeyId), KeyId.of(keyId)),
                        endedKeys().stream().map(KeyId::of).toList());
                case ACCOUNT_DELETED -> List.of();
            };
            return new Change(FeedPosition.of(position), type, AccountId.of(accountId), Optional.ofNullable(userId).map(UserId::of), changed, committedAt);
        }
    }

    /**
     * The origin of a committed write, as its feed entry stores it: the audit record of the write. Ids are stored as
     * they are (a key id is not a secret: it names the key's object); the actor kind as its wire name.
     *
     * @param actor {@code root}, {@code admin}, {@code user} or {@code system}
     * @param accountId the acting user's account (null for root and the server)
     * @param userId the acting user (null for root and the server)
     * @param keyId the key the acting user presented (null when none)
     */
    record StoredOrigin(String actor, String accountId, String userId, String keyId, String instanceId, String requestId)
    {
        static StoredOrigin of(Origin origin)
        {
            requireNonNull(origin, "origin is null");
            Actor actor = origin.actor();
            return new StoredOrigin(actor.kind().wireName(), actor.accountId().map(AccountId::value).orElse(null), actor.userId().map(UserId::value).orElse(null),
                    actor.keyId().map(KeyId::value).orElse(null), origin.instanceId(), origin.requestId());
        }

        Origin toOrigin()
        {
            try {
                Actor who = new Actor(Actor.Kind.fromWireName(String.valueOf(actor)), Optional.ofNullable(accountId).map(AccountId::of),
                        Optional.ofNullable(userId).map(UserId::of), Optional.ofNullable(keyId).map(KeyId::of));
                return new Origin(who, String.valueOf(instanceId), String.valueOf(requestId));
            }
            catch (IllegalArgumentException e) {
                throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 store holds an unreadable origin in a feed entry", e);
            }
        }
    }

    /**
     * {@code audit-horizon.json}: the audit trail lists no record committed before {@code before}, whatever a query
     * asks (the retention of the latest {@code purgeAudit}; it only moves forward).
     */
    record AuditHorizon(Instant before)
    {
        AuditHorizon
        {
            requireNonNull(before, "before is null");
        }
    }

    /**
     * {@code usage/<instanceId>.json}: when the keys one instance served were last used, as it flushed them (each
     * value only moves forward). Not part of the feed: it changes no lookup.
     *
     * @param lastUsed by key id
     */
    record Usage(String instanceId, Map<String, Instant> lastUsed)
    {
        Usage
        {
            requireNonNull(instanceId, "instanceId is null");
            lastUsed = Collections.unmodifiableSortedMap(lastUsed == null ? new TreeMap<>() : new TreeMap<>(lastUsed));
        }
    }

    /**
     * {@code instances/<instanceId>.json}: one instance's record in the instance registry, which only that instance
     * writes (every heartbeat) and removes (at a clean stop). Not part of the feed: it changes no lookup. The
     * heartbeat is an ISO-8601 duration ({@code PT10S}), the applied position a number.
     */
    record Instance(String instanceId, String url, String version, Instant startedAt, long appliedPosition, Instant feedReadAt, Instant publishedAt,
                    Duration heartbeat)
    {
        Instance
        {
            requireNonNull(instanceId, "instanceId is null");
            requireNonNull(url, "url is null");
            requireNonNull(version, "version is null");
            requireNonNull(startedAt, "startedAt is null");
            requireNonNull(feedReadAt, "feedReadAt is null");
            requireNonNull(publishedAt, "publishedAt is null");
            requireNonNull(heartbeat, "heartbeat is null");
        }

        static Instance of(InstanceRecord record)
        {
            return new Instance(record.instanceId(), record.url(), record.version(), record.startedAt(), record.appliedPosition().value(), record.feedReadAt(),
                    record.publishedAt(), record.heartbeat());
        }

        /**
         * @throws LatchkeyException UNAVAILABLE when the fields make no record (an invalid instance id, a negative
         *         position, a heartbeat that is not positive)
         */
        InstanceRecord toRecord()
        {
            try {
                return new InstanceRecord(instanceId, url, version, startedAt, FeedPosition.of(appliedPosition), feedReadAt, publishedAt, heartbeat);
            }
            catch (IllegalArgumentException e) {
                throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 store holds an unreadable instance object", e);
            }
        }
    }

    /**
     * Key attributes as the documents store them: each field null when it has the value of a primary key (no name,
     * primary, scopes {@code ["*"]}, no expiry), so that a primary key is stored as it was before keys had attributes.
     */
    record StoredAttributes(String name, Boolean primary, List<String> scopes, Instant expiresAt)
    {
        static final StoredAttributes NONE = new StoredAttributes(null, null, null, null);

        static StoredAttributes of(KeyAttributes attributes)
        {
            return new StoredAttributes(attributes.name().map(KeyName::value).orElse(null), attributes.primary() ? null : Boolean.FALSE,
                    attributes.scopes().equals(Scopes.all()) ? null : attributes.scopes().values(), attributes.expiresAt().orElse(null));
        }

        KeyAttributes toAttributes()
        {
            return new KeyAttributes(Optional.ofNullable(name).map(KeyName::of), primary == null || primary, scopes == null ? Scopes.all() : new Scopes(scopes),
                    Optional.ofNullable(expiresAt));
        }
    }

    /**
     * {@code accounts/<account>/account.json}: the account, its counts, and the newest feed entry applied to it.
     *
     * @param incarnation a random id of this creation of the account; users and keys carry it, so nothing of a
     *         deleted account ever counts under a later account of the same name
     * @param exists false for a deleted account (a tombstone) or for one whose creation is not decided yet
     * @param applied the newest feed entry whose effects are all written (every object of the account and this one)
     * @param pending feed positions, after {@code applied}, that an older version marked here before committing a
     *         write to this account (this version lists its unapplied entries in the head instead,
     *         {@link Head#unapplied}); a reader looks them up in the feed as it does the head's, and sees the account
     *         as the committed entries among them that name it leave it. A position whose entry names another account,
     *         or is not committed, means nothing. Settling the account drops them.
     */
    record Account(
            String accountId,
            Instant createdAt,
            boolean adminRequired,
            String incarnation,
            boolean exists,
            int userCount,
            int adminCount,
            long applied,
            List<Long> pending)
    {
        Account
        {
            requireNonNull(accountId, "accountId is null");
            TreeSet<Long> after = new TreeSet<>();
            for (Long position : pending == null ? List.<Long>of() : pending) {
                if (position > applied) {
                    after.add(position);
                }
            }
            pending = List.copyOf(after);
        }

        /**
         * An account this store has never written: what a write to it starts from.
         */
        static Account absent(AccountId accountId)
        {
            return new Account(accountId.value(), Instant.EPOCH, false, "", false, 0, 0, 0, List.of());
        }

        /**
         * The account with committed entries about it applied, oldest first: those past {@code applied}, up to the
         * first whose position {@code applicable} refuses.
         */
        Account applying(List<Entry> entries, LongPredicate applicable)
        {
            Account account = this;
            for (Entry entry : entries) {
                if (entry.position() <= account.applied()) {
                    continue;
                }
                if (!applicable.test(entry.position())) {
                    break;
                }
                account = account.after(entry);
            }
            return account;
        }

        /**
         * The account as a committed entry about it leaves it: applied through the entry, which is no longer pending.
         */
        Account after(Entry entry)
        {
            int admin = entry.role() == Role.ADMIN ? 1 : 0;
            return switch (entry.type()) {
                case ACCOUNT_CREATED -> new Account(entry.accountId(), entry.accountCreatedAt(), Boolean.TRUE.equals(entry.adminRequired()), entry.incarnation(),
                        true, entry.userId() == null ? 0 : 1, entry.userId() == null ? 0 : 1, entry.position(), pending);
                case ACCOUNT_DELETED -> new Account(accountId, createdAt, adminRequired, incarnation, false, 0, 0, entry.position(), pending);
                case USER_ADDED -> counted(userCount + 1, adminCount + admin, entry.position());
                case USER_REMOVED -> counted(userCount - 1, adminCount - admin, entry.position());
                case ROLE_CHANGED -> counted(userCount, adminCount + (admin == 1 ? 1 : -1), entry.position());
                case KEY_REPLACED, KEY_ADDED, KEY_DELETED -> counted(userCount, adminCount, entry.position());
            };
        }

        private Account counted(int newUserCount, int newAdminCount, long newApplied)
        {
            return new Account(accountId, createdAt, adminRequired, incarnation, exists, newUserCount, newAdminCount, newApplied, pending);
        }

        dev.latchkey.core.domain.Account toAccount()
        {
            return new dev.latchkey.core.domain.Account(AccountId.of(accountId), createdAt, adminRequired);
        }
    }

    /**
     * {@code accounts/<account>/<incarnation>/users/<user>.json}.
     *
     * @param keyId the user's primary key (null when it has none)
     * @param position the feed entry that wrote it; a write for an older entry never replaces it
     * @param removed a removed user (kept, so that a late writer of an older entry cannot bring it back)
     * @param keyIds every key the user holds (a removed user: held); null in a user written before users held several
     *         keys, which holds {@code keyId} alone
     */
    record User(String userId, Role role, String keyId, Instant createdAt, long position, boolean removed, List<String> keyIds)
    {
        User
        {
            keyIds = keyIds == null ? null : List.copyOf(keyIds);
        }

        /**
         * The user object a committed entry about a user writes.
         */
        static User writtenBy(Entry entry)
        {
            boolean removed = entry.type() == ChangeType.USER_REMOVED;
            return new User(entry.userId(), entry.role(), entry.primaryAfter().orElse(null), entry.userCreatedAt(), entry.position(), removed, entry.userKeyIds());
        }

        /**
         * Every key the user holds (a removed user: held).
         */
        List<String> heldKeyIds()
        {
            if (keyIds != null) {
                return keyIds;
            }
            return keyId == null ? List.of() : List.of(keyId);
        }

        dev.latchkey.core.domain.User toUser(AccountId accountId)
        {
            return new dev.latchkey.core.domain.User(accountId, UserId.of(userId), role, Optional.ofNullable(keyId).map(KeyId::of), createdAt);
        }
    }

    /**
     * {@code keys/<keyId>.json}: a key, found by its id in one read; it works only while its account (one more read)
     * is live in the same incarnation and names no pending change that ends it.
     *
     * @param position the feed entry that wrote it (or will, while staged); a write for an older entry never replaces it
     * @param stagedBy set while the key is written ahead of the commit of the write that issues it: it then works
     *         only once that write's entry is committed; null once the write is applied
     * @param revoked a key that no longer works (kept, so that a late writer of an older entry cannot revive it)
     * @param name its name (null: none)
     * @param primary false when it is not its user's primary key (null, as in a key written before keys had
     *         attributes: it is)
     * @param scopes its scopes (null: {@code ["*"]})
     * @param expiresAt when it expires (null: never)
     */
    record Key(
            String keyId,
            String secretHash,
            String accountId,
            String incarnation,
            String userId,
            Role role,
            Instant createdAt,
            long position,
            String stagedBy,
            boolean revoked,
            String name,
            Boolean primary,
            List<String> scopes,
            Instant expiresAt)
    {
        Key
        {
            scopes = scopes == null ? null : List.copyOf(scopes);
        }

        /**
         * The key an entry issues, written ahead of its commit.
         */
        static Key stagedBy(Entry entry)
        {
            return issuedBy(entry, entry.txn());
        }

        /**
         * The key an entry issues, as its committed entry leaves it.
         */
        static Key writtenBy(Entry entry)
        {
            return issuedBy(entry, null);
        }

        private static Key issuedBy(Entry entry, String stagedBy)
        {
            return new Key(entry.keyId(), entry.secretHash(), entry.accountId(), entry.incarnation(), entry.userId(), entry.role(), entry.keyCreatedAt(),
                    entry.position(), stagedBy, false, entry.keyName(), entry.keyPrimary(), entry.scopes(), entry.expiresAt());
        }

        Key revokedBy(Entry entry)
        {
            return new Key(keyId, secretHash, accountId, incarnation, userId, role, createdAt, entry.position(), null, true, name, primary, scopes, expiresAt);
        }

        /**
         * This key with its user's new role, as a committed role change leaves it.
         */
        Key withRoleOf(Entry entry)
        {
            return new Key(keyId, secretHash, accountId, incarnation, userId, entry.role(), createdAt, entry.position(), null, false, name, primary, scopes, expiresAt);
        }

        /**
         * This key retired until {@code until}, as a replacement of it with a grace period leaves it.
         */
        Key retiredBy(Entry entry, Instant until)
        {
            StoredAttributes retired = StoredAttributes.of(attributes().retiredUntil(until));
            return new Key(keyId, secretHash, accountId, incarnation, userId, role, createdAt, entry.position(), null, false, retired.name(), retired.primary(),
                    retired.scopes(), retired.expiresAt());
        }

        KeyAttributes attributes()
        {
            return new StoredAttributes(name, primary, scopes, expiresAt).toAttributes();
        }

        KeyRecord toRecord()
        {
            return new KeyRecord(KeyId.of(keyId), SecretHash.ofHex(secretHash), AccountId.of(accountId), UserId.of(userId), role, createdAt, attributes());
        }

        /**
         * Whether it belongs to the account incarnation and user an entry is about.
         */
        boolean ownedAsIn(Entry entry)
        {
            return accountId.equals(entry.accountId()) && incarnation.equals(entry.incarnation()) && userId.equals(entry.userId());
        }
    }

    /**
     * {@code probes/<nonce>.json}: written and deleted by the check that the endpoint honours conditional writes.
     */
    record Probe(String nonce) {}

    static byte[] write(Object document)
    {
        try {
            return MAPPER.writeValueAsBytes(document);
        }
        catch (IOException e) {
            throw new IllegalStateException("cannot encode " + document.getClass().getSimpleName(), e);
        }
    }

    static <T> T read(byte[] bytes, Class<T> type)
    {
        try {
            return MAPPER.readValue(bytes, type);
        }
        catch (IOException | RuntimeException e) {
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 store holds an unreadable " + type.getSimpleName().toLowerCase(Locale.ROOT) + " object", e);
        }
    }

    private static final class InstantDeserializer
            extends JsonDeserializer<Instant>
    {
        @Override
        public Instant deserialize(JsonParser parser, DeserializationContext context)
                throws IOException
        {
            return Instant.parse(parser.getValueAsString());
        }
    }

    private static final class DurationDeserializer
            extends JsonDeserializer<Duration>
    {
        @Override
        public Duration deserialize(JsonParser parser, DeserializationContext context)
                throws IOException
        {
            return Duration.parse(parser.getValueAsString());
        }
    }

    private static final class RoleSerializer
            extends StdSerializer<Role>
    {
        RoleSerializer()
        {
            super(Role.class);
        }

        @Override
        public void serialize(Role role, com.fasterxml.jackson.core.JsonGenerator generator, com.fasterxml.jackson.databind.SerializerProvider provider)
                throws IOException
        {
            generator.writeString(role.wireName());
        }
    }

    private static final class RoleDeserializer
            extends JsonDeserializer<Role>
    {
        @Override
        public Role deserialize(JsonParser parser, DeserializationContext context)
                throws IOException
        {
            return Role.fromWireName(parser.getValueAsString(), "role");
        }
    }
}

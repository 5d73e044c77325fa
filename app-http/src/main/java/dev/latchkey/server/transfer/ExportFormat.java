package dev.latchkey.server.transfer;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyName;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.SecretHash;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;

import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The export file: JSON Lines, one record per line, each with a {@code type}. The first line is the
 * {@link Header} (format and version), then each account followed by its users, each user followed by its live
 * keys, then the audit trail ({@link AuditLine}, newest first), and last the {@link End} with the counts, so that a file cut short is told from a whole one. Keys are their
 * hashes: an export holds no secret, but its hashes are worth as much as the keys to anyone who also has the pepper
 * (if one is set), so it is to be kept like a backup of the store.
 */
final class ExportFormat
{
    static final String FORMAT = "latchkey-store-export";
    /** 2 added the audit records; a version 1 file (none) reads as before. */
    static final int VERSION = 2;

    static final ObjectMapper MAPPER = JsonMapper.builder()
            .addModule(new JavaTimeModule())
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .disable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .defaultPropertyInclusion(JsonInclude.Value.construct(JsonInclude.Include.NON_NULL, JsonInclude.Include.NON_NULL))
            .build();

    private ExportFormat() {}

    @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
    @JsonSubTypes({
            @JsonSubTypes.Type(value = Header.class, name = "header"),
            @JsonSubTypes.Type(value = AccountLine.class, name = "account"),
            @JsonSubTypes.Type(value = UserLine.class, name = "user"),
            @JsonSubTypes.Type(value = KeyLine.class, name = "key"),
            @JsonSubTypes.Type(value = AuditLine.class, name = "audit"),
            @JsonSubTypes.Type(value = End.class, name = "end"),
    })
    sealed interface Line
            permits Header, AccountLine, UserLine, KeyLine, AuditLine, End
    {
        /**
         * Checks every value as the domain would (ids, scopes, names, hashes), so that a bad record is refused when
         * the file is first read, before anything is written.
         */
        default void check() {}
    }

    /**
     * @param source the kind and location of the store exported (never a secret)
     */
    record Header(String format, int version, Instant exportedAt, String source)
            implements Line {}

    record AccountLine(String accountId, Instant createdAt, boolean adminRequired)
            implements Line
    {
        static AccountLine of(Account account)
        {
            return new AccountLine(account.id().value(), account.createdAt(), account.adminRequired());
        }

        Account toAccount()
        {
            return new Account(AccountId.of(accountId), createdAt, adminRequired);
        }

        @Override
        public void check()
        {
            toAccount();
        }
    }

    /**
     * @param role {@code admin} or {@code user}, as in the HTTP API
     * @param primaryKeyId null when the user has no primary key (it was deleted)
     */
    record UserLine(String accountId, String userId, String role, Instant createdAt, String primaryKeyId)
            implements Line
    {
        static UserLine of(User user)
        {
            return new UserLine(user.accountId().value(), user.id().value(), user.role().wireName(), user.createdAt(), user.primaryKeyId().map(KeyId::value).orElse(null));
        }

        Role userRole()
        {
            Role parsed = Role.fromWireName(String.valueOf(role), "role");
            if (parsed == Role.ROOT) {
                throw new IllegalArgumentException("an account's user cannot have role root");
            }
            return parsed;
        }

        User toUser()
        {
            return new User(AccountId.of(accountId), UserId.of(userId), userRole(), Optional.ofNullable(primaryKeyId).map(KeyId::of), createdAt);
        }

        @Override
        public void check()
        {
            toUser();
        }
    }

    /**
     * @param secretHash the hex of the key's hash (SHA-256, or HMAC-SHA256 with the pepper of the exporting servers)
     */
    record KeyLine(String keyId, String accountId, String userId, String secretHash, Instant createdAt, String name, boolean primary, List<String> scopes,
            Instant expiresAt)
            implements Line
    {
        static KeyLine of(KeyRecord key)
        {
            KeyAttributes attributes = key.attributes();
            return new KeyLine(key.keyId().value(), key.accountId().value(), key.userId().value(), key.secretHash().toHex(), key.createdAt(),
                    attributes.name().map(KeyName::value).orElse(null), attributes.primary(), attributes.scopes().values(), attributes.expiresAt().orElse(null));
        }

        KeyId id()
        {
            return KeyId.of(keyId);
        }

        SecretHash hash()
        {
            return SecretHash.ofHex(secretHash);
        }

        KeyAttributes attributes()
        {
            return new KeyAttributes(Optional.ofNullable(name).map(KeyName::of), primary, new Scopes(scopes), Optional.ofNullable(expiresAt));
        }

        @Override
        public void check()
        {
            id();
            hash();
            AccountId.of(accountId);
            UserId.of(userId);
            requireNonNull(createdAt, "created_at is missing");
            attributes();
        }
    }

    /**
     * One record of the exported store's audit trail, newest first after the keys. An import leaves them out: the new
     * store's trail starts with the import's own writes, and the file keeps the old trail.
     *
     * @param change the change type, lower case ({@code user_added}); {@code actorRole} is {@code root}, {@code admin},
     *         {@code user} or {@code system}
     */
    record AuditLine(long position, Instant at, String change, String accountId, String userId, List<String> keyIds, String actorRole,
            String actorAccountId, String actorUserId, String actorKeyId, String instanceId, String requestId)
            implements Line
    {
        static AuditLine of(AuditRecord record)
        {
            Change change = record.change();
            Actor actor = record.origin().actor();
            return new AuditLine(change.position().value(), change.committedAt(), change.type().name().toLowerCase(Locale.ROOT), change.accountId().value(),
                    change.userId().map(UserId::value).orElse(null), change.keyIds().stream().map(KeyId::value).toList(), actor.kind().wireName(),
                    actor.accountId().map(AccountId::value).orElse(null), actor.userId().map(UserId::value).orElse(null),
                    actor.keyId().map(KeyId::value).orElse(null), record.origin().instanceId(), record.origin().requestId());
        }

        @Override
        public void check()
        {
            requireNonNull(at, "at is missing");
            ChangeType.valueOf(String.valueOf(change).toUpperCase(Locale.ROOT));
            Actor.Kind.fromWireName(String.valueOf(actorRole));
            AccountId.of(accountId);
        }
    }

    record End(long accounts, long users, long keys)
            implements Line {}

    static String write(Line line)
    {
        try {
            return MAPPER.writeValueAsString(line);
        }
        catch (JsonProcessingException e) {
            throw new IllegalStateException("an export record cannot be written as JSON", e);
        }
    }

    /**
     * One line of an export file.
     *
     * @throws LatchkeyException INVALID_ARGUMENT, naming the line, when it is not a record of this format (or a
     *         value in it is invalid)
     */
    static Line read(String text, long lineNumber)
    {
        try {
            Line line = MAPPER.readValue(text, Line.class);
            line.check();
            return line;
        }
        catch (JsonProcessingException | IllegalArgumentException | NullPointerException e) {
            String reason = e instanceof JsonProcessingException json ? json.getOriginalMessage() : e.getMessage();
            throw badFile("line " + lineNumber + " is not a record of a Latchkey export: " + reason);
        }
        catch (LatchkeyException e) {
            throw badFile("line " + lineNumber + ": " + e.getMessage());
        }
    }

    /**
     * What is wrong with an export file: INVALID_ARGUMENT, so that the command exits with the usage code.
     */
    static LatchkeyException badFile(String message)
    {
        return new LatchkeyException(ErrorCode.INVALID_ARGUMENT, message);
    }
}

package dev.latchkey.benchmarks;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.SecretHash;
import dev.latchkey.core.store.AuditPage;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.InstanceRecord;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.Origin;
import dev.latchkey.core.store.UserChange;
import dev.latchkey.core.store.UserPage;
import dev.latchkey.core.store.UserQuery;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * A store whose key lookups return fresh objects, as every real adapter does (it decodes a file, a row or an
 * object), so that what a resolver's cache holds is measured alone and not shared with the in-memory store.
 */
final class CopyingStore
        implements IdentityStore
{
    private final IdentityStore delegate;

    CopyingStore(IdentityStore delegate)
    {
        this.delegate = requireNonNull(delegate, "delegate is null");
    }

    @Override
    public Optional<KeyRecord> findKey(KeyId keyId)
    {
        return delegate.findKey(keyId).map(record -> new KeyRecord(
                KeyId.of(new String(record.keyId().value())),
                SecretHash.ofHex(record.secretHash().toHex()),
                AccountId.of(new String(record.accountId().value())),
                UserId.of(new String(record.userId().value())),
                record.role(),
                Instant.ofEpochSecond(record.createdAt().getEpochSecond(), record.createdAt().getNano()),
                new KeyAttributes(record.attributes().name(), record.attributes().primary(),
                        new Scopes(new ArrayList<>(record.attributes().scopes().values())), record.attributes().expiresAt())));
    }

    @Override
    public Optional<Account> findAccount(AccountId accountId)
    {
        return delegate.findAccount(accountId);
    }

    @Override
    public List<AccountSummary> listAccounts()
    {
        return delegate.listAccounts();
    }

    @Override
    public Optional<User> findUser(AccountId accountId, UserId userId)
    {
        return delegate.findUser(accountId, userId);
    }

    @Override
    public UserPage listUsers(AccountId accountId, UserQuery query)
    {
        return delegate.listUsers(accountId, query);
    }

    @Override
    public void createAccount(Origin origin, Account account, Optional<NewUser> firstAdmin)
    {
        delegate.createAccount(origin, account, firstAdmin);
    }

    @Override
    public void addUser(Origin origin, NewUser newUser)
    {
        delegate.addUser(origin, newUser);
    }

    @Override
    public List<KeySummary> listKeys(AccountId accountId, UserId userId, Instant now)
    {
        return delegate.listKeys(accountId, userId, now);
    }

    @Override
    public User replaceKey(Origin origin, AccountId accountId, UserId userId, KeyId newKeyId, SecretHash newSecretHash, Instant issuedAt, Optional<Instant> previousKeyUntil)
    {
        return delegate.replaceKey(origin, accountId, userId, newKeyId, newSecretHash, issuedAt, previousKeyUntil);
    }

    @Override
    public void addKey(Origin origin, NewKey newKey)
    {
        delegate.addKey(origin, newKey);
    }

    @Override
    public KeySummary deleteKey(Origin origin, AccountId accountId, UserId userId, KeyId keyId, Instant now)
    {
        return delegate.deleteKey(origin, accountId, userId, keyId, now);
    }

    @Override
    public UserChange setRole(Origin origin, AccountId accountId, UserId userId, Role role)
    {
        return delegate.setRole(origin, accountId, userId, role);
    }

    @Override
    public UserChange removeUser(Origin origin, AccountId accountId, UserId userId)
    {
        return delegate.removeUser(origin, accountId, userId);
    }

    @Override
    public void deleteAccount(Origin origin, AccountId accountId)
    {
        delegate.deleteAccount(origin, accountId);
    }

    @Override
    public FeedBatch changesAfter(FeedPosition position, int limit)
    {
        return delegate.changesAfter(position, limit);
    }

    @Override
    public FeedPosition headPosition()
    {
        return delegate.headPosition();
    }

    @Override
    public AuditPage listAudit(AuditQuery query)
    {
        return delegate.listAudit(query);
    }

    @Override
    public void purgeAudit(Instant before)
    {
        delegate.purgeAudit(before);
    }

    @Override
    public void recordUsage(String instanceId, Map<KeyId, Instant> lastUsed)
    {
        delegate.recordUsage(instanceId, lastUsed);
    }

    @Override
    public Map<KeyId, Instant> lastUsed(Collection<KeyId> keyIds)
    {
        return delegate.lastUsed(keyIds);
    }

    @Override
    public void publishInstance(InstanceRecord record)
    {
        delegate.publishInstance(record);
    }

    @Override
    public void removeInstance(String instanceId)
    {
        delegate.removeInstance(instanceId);
    }

    @Override
    public List<InstanceRecord> listInstances()
    {
        return delegate.listInstances();
    }

    @Override
    public void close()
    {
        delegate.close();
    }
}

package dev.latchkey.core.testing;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
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
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static java.util.Objects.requireNonNull;

/**
 * A store for tests of what sits on top of the port: it delegates to a real store, counts key lookups and feed
 * reads, and on demand fails every call as an unreachable store would (UNAVAILABLE) or makes key lookups hang until
 * released.
 */
public final class TestingIdentityStore
        implements IdentityStore
{
    private final IdentityStore delegate;
    private final AtomicInteger keyLookups = new AtomicInteger();
    private final AtomicInteger feedReads = new AtomicInteger();
    private volatile boolean unavailable;
    private volatile CountDownLatch lookupGate = new CountDownLatch(0);
    private volatile CountDownLatch lookupsWaiting = new CountDownLatch(0);

    public TestingIdentityStore(IdentityStore delegate)
    {
        this.delegate = requireNonNull(delegate, "delegate is null");
    }

    public int keyLookups()
    {
        return keyLookups.get();
    }

    public int feedReads()
    {
        return feedReads.get();
    }

    /**
     * From now on every call fails with UNAVAILABLE, or, with false, works again.
     */
    public void setUnavailable(boolean unavailable)
    {
        this.unavailable = unavailable;
    }

    /**
     * From now on key lookups read the store and then block, before answering, until {@link #releaseLookups()}
     * (a slow store, or a reply still on the wire); {@link #awaitBlockedLookup()} waits for one to arrive.
     */
    public void holdLookups()
    {
        lookupsWaiting = new CountDownLatch(1);
        lookupGate = new CountDownLatch(1);
    }

    public void releaseLookups()
    {
        lookupGate.countDown();
    }

    public boolean awaitBlockedLookup()
            throws InterruptedException
    {
        return lookupsWaiting.await(10, TimeUnit.SECONDS);
    }

    @Override
    public Optional<KeyRecord> findKey(KeyId keyId)
    {
        keyLookups.incrementAndGet();
        checkAvailable();
        Optional<KeyRecord> found = delegate.findKey(keyId);
        lookupsWaiting.countDown();
        try {
            if (!lookupGate.await(30, TimeUnit.SECONDS)) {
                throw new LatchkeyException(ErrorCode.UNAVAILABLE, "testing store: lookup held too long");
            }
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "testing store: interrupted");
        }
        checkAvailable();
        return found;
    }

    @Override
    public FeedBatch changesAfter(FeedPosition position, int limit)
    {
        feedReads.incrementAndGet();
        return call(() -> delegate.changesAfter(position, limit));
    }

    @Override
    public FeedPosition headPosition()
    {
        return call(delegate::headPosition);
    }

    @Override
    public Optional<Account> findAccount(AccountId accountId)
    {
        return call(() -> delegate.findAccount(accountId));
    }

    @Override
    public List<AccountSummary> listAccounts()
    {
        return call(delegate::listAccounts);
    }

    @Override
    public Optional<User> findUser(AccountId accountId, UserId userId)
    {
        return call(() -> delegate.findUser(accountId, userId));
    }

    @Override
    public UserPage listUsers(AccountId accountId, UserQuery query)
    {
        return call(() -> delegate.listUsers(accountId, query));
    }

    @Override
    public void createAccount(Origin origin, Account account, Optional<NewUser> firstAdmin)
    {
        call(() -> {
            delegate.createAccount(origin, account, firstAdmin);
            return null;
        });
    }

    @Override
    public void addUser(Origin origin, NewUser newUser)
    {
        call(() -> {
            delegate.addUser(origin, newUser);
            return null;
        });
    }

    @Override
    public List<KeySummary> listKeys(AccountId accountId, UserId userId, Instant now)
    {
        return call(() -> delegate.listKeys(accountId, userId, now));
    }

    @Override
    public User replaceKey(Origin origin, AccountId accountId, UserId userId, KeyId newKeyId, SecretHash newSecretHash, Instant issuedAt, Optional<Instant> previousKeyUntil)
    {
        return call(() -> delegate.replaceKey(origin, accountId, userId, newKeyId, newSecretHash, issuedAt, previousKeyUntil));
    }

    @Override
    public void addKey(Origin origin, NewKey newKey)
    {
        call(() -> {
            delegate.addKey(origin, newKey);
            return null;
        });
    }

    @Override
    public KeySummary deleteKey(Origin origin, AccountId accountId, UserId userId, KeyId keyId, Instant now)
    {
        return call(() -> delegate.deleteKey(origin, accountId, userId, keyId, now));
    }

    @Override
    public UserChange setRole(Origin origin, AccountId accountId, UserId userId, Role role)
    {
        return call(() -> delegate.setRole(origin, accountId, userId, role));
    }

    @Override
    public UserChange removeUser(Origin origin, AccountId accountId, UserId userId)
    {
        return call(() -> delegate.removeUser(origin, accountId, userId));
    }

    @Override
    public void deleteAccount(Origin origin, AccountId accountId)
    {
        call(() -> {
            delegate.deleteAccount(origin, accountId);
            return null;
        });
    }

    private <T> T call(Supplier<T> call)
    {
        checkAvailable();
        return call.get();
    }

    private void checkAvailable()
    {
        if (unavailable) {
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "testing store: unavailable");
        }
    }

    @Override
    public AuditPage listAudit(AuditQuery query)
    {
        return call(() -> delegate.listAudit(query));
    }

    @Override
    public void purgeAudit(Instant before)
    {
        call(() -> {
            delegate.purgeAudit(before);
            return null;
        });
    }

    @Override
    public void recordUsage(String instanceId, Map<KeyId, Instant> lastUsed)
    {
        call(() -> {
            delegate.recordUsage(instanceId, lastUsed);
            return null;
        });
    }

    @Override
    public Map<KeyId, Instant> lastUsed(Collection<KeyId> keyIds)
    {
        return call(() -> delegate.lastUsed(keyIds));
    }

    @Override
    public void publishInstance(InstanceRecord record)
    {
        call(() -> {
            delegate.publishInstance(record);
            return null;
        });
    }

    @Override
    public void removeInstance(String instanceId)
    {
        call(() -> {
            delegate.removeInstance(instanceId);
            return null;
        });
    }

    @Override
    public List<InstanceRecord> listInstances()
    {
        return call(delegate::listInstances);
    }

    @Override
    public void close()
    {
        delegate.close();
    }
}

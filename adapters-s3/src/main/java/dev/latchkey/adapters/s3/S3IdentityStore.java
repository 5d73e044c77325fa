package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.WritePlanner.Plan;
import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.LiveViews.AccountView;
import dev.latchkey.adapters.s3.LiveViews.LiveKey;
import dev.latchkey.adapters.s3.LiveViews.UserState;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.Role;
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
import dev.latchkey.core.store.StoreErrors;
import dev.latchkey.core.store.UserChange;
import dev.latchkey.core.store.UserPage;
import dev.latchkey.core.store.UserQuery;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.services.s3.S3Client;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * The identity store in an S3 bucket (or on an S3-compatible server), with no lock service and no database: every
 * decision is one conditional PUT. Where each object lives: {@link ObjectLayout}.
 *
 * <h2>How writes commit</h2>
 * Every write is an entry of the change feed, and it commits by replacing {@code head.json} with a version that
 * holds the entry, conditionally on the version the writer read ({@code If-Match}, or {@code If-None-Match: *} for
 * the first). So writes are totally ordered, feed positions have no gaps, and a writer whose head is stale loses the
 * condition, reads again and re-checks its preconditions: no write is lost and conflicting writes have one winner.
 * The writes of one handle are committed in batches, one conditional PUT for every write queued meanwhile
 * ({@link Committer}). Before committing, the writer stages the new keys; the commit lists its entries in the head
 * as unapplied to their accounts (and those that write users or keys as unwritten); after it, the writer writes the
 * users and keys (its next commit stops listing them as unwritten) and, later and once for many writes, the accounts
 * ({@link Applier#settle}), and a later commit stops listing the entries once their accounts count them. Every object
 * write carries the position of its entry and never replaces a newer one.
 * <p>
 * A write that has not gone out with a commit within the write timeout ({@link S3StoreConfig#writeTimeout()}) is
 * given up: UNAVAILABLE, "the store is busy". It has not landed and never will (what it staged is ignored and
 * overwritten by later writes). A commit sent whose answer is lost is the only ambiguous outcome.
 *
 * <h2>Reads, and crashes half-way</h2>
 * A key lookup is three small reads: the key, the head (304 when unchanged), then the account (and a conditional
 * re-read of the key, 304 when unchanged, if a write to the account was applied since the key was written, so that
 * the reads are of one moment). An account with committed entries not yet applied (a writer is finishing them, or
 * was killed) is read as those entries leave it: the head read before the account object lists them
 * ({@link LiveViews}). An account deletion answers once its entry is
 * committed; its per-user cleanup runs after, and is finished by the next handle to settle the account if this one
 * stops first. So the committed entry is the decision, and every lookup honours it from the moment it commits.
 *
 * <h2>Several keys per user</h2>
 * A user object lists every key its user holds and names its primary key; each key object carries its attributes
 * (name, primary or not, scopes, expiry), left out for a primary key, so that a store written before users held
 * several keys reads as it was: each user holds its one key, as its primary key, with every scope and no expiry.
 * Each entry about a user lists the keys the user holds after it (a removal: the keys it held), so that the entry
 * alone tells a reader the user's keys while it is pending, its change names them all, and applying it rewrites
 * (role change) or revokes (removal) every one of them. A key added ({@code KEY_ADDED}) is staged as a new user's key
 * is, with {@code If-None-Match: *} proving its id free; a key deleted ({@code KEY_DELETED}) is revoked when applied;
 * a primary key replaced with a grace period is rewritten retired, with its {@code previous} attributes. A key lookup
 * starts from the key object and folds in, in order, the pending entries of its user that came after the one that
 * wrote it ({@link LiveViews#fold}). The limit of {@link NewKey#MAX_LIVE_KEYS} live keys is checked, in the write's
 * batch, against the user's key list as the batch's view leaves it (the keys read side by side); the head's
 * condition makes the check atomic with the commit, across handles and processes. A user's list keeps its expired
 * keys (they may still be found, and are listed by no {@link #listKeys}) until they are deleted.
 *
 * <h2>Audit trail</h2>
 * The feed is the audit trail ({@link AuditTrail}): each entry carries the {@link Origin} of its write (actor kind,
 * the actor's account, user and key ids, instance id, request id, in a field {@code origin} of the entry), so the
 * audit record is committed by the very conditional PUT of {@code head.json} that commits the write, in a batch too
 * (each write of it with its own origin), and costs no request of its own. Compaction only raises the head's
 * {@code compactedThrough}: the pages {@code feed/<first position>.json} stay as the audit archive until
 * {@link #purgeAudit} deletes those wholly older than its retention, which it first records in
 * {@code audit-horizon.json} ({@code {"before": instant}}): no handle lists anything older. Entries written before
 * writes were audited have no {@code origin} and are not listed.
 *
 * <h2>Last-used times</h2>
 * {@code usage/<instanceId>.json} ({@code {"instanceId": ..., "lastUsed": {keyId: instant}}}) per instance,
 * written only by that instance ({@link UsageRecords}): a flush is one conditional PUT (a GET before it on a handle's
 * first flush), never through the feed; a read of last-used times is a LIST of {@code usage/} and a GET per instance.
 *
 * <h2>Instance registry</h2>
 * {@code instances/<instanceId>.json} per instance ({@code {"instanceId", "url", "version", "startedAt",
 * "appliedPosition", "feedReadAt", "publishedAt", "heartbeat"}}), written only by that instance, every heartbeat
 * ({@link InstanceRegistry}): publishing is one unconditional PUT (no one else writes the object), a clean stop one
 * DELETE, never through the feed and never audited; a listing is a LIST of {@code instances/} and a GET per
 * instance, side by side, leaving out objects deleted meanwhile and objects that hold no readable record. A record
 * that is no longer rewritten ages out ({@link InstanceRecord#isLiveAt}) but stays listed until it is deleted.
 *
 * <h2>Endpoints</h2>
 * The endpoint must honour {@code If-None-Match: *} and {@code If-Match} on PUT, atomically, as AWS S3 does; each
 * handle checks both before its first write and refuses to write where they are ignored
 * ({@link ConditionalWriteProbe}).
 *
 * <h2>Cost</h2>
 * A reader with nothing new costs one conditional GET of the head (304 Not Modified). Nothing here caches what it
 * read: the head's entity tag is only sent back to S3, which decides.
 */
public final class S3IdentityStore
        implements IdentityStore
{
    private static final System.Logger LOG = System.getLogger(S3IdentityStore.class.getName());

    private static final int PARALLEL_READS = 8;
    private static final int READ_CHUNK = 64;

    private final AutoCloseable client;
    private final S3Objects objects;
    private final Feed feed;
    private final LiveViews views;
    private final ParallelReads parallel;
    /** The keys of one user, read side by side (by listKeys and by the checks of writes, on any thread but its own). */
    private final ParallelReads keyReads;
    private final Committer committer;
    private final AuditTrail audit;
    private final UsageRecords usage;
    private final InstanceRegistry instances;

    /**
     * Where tests stop a write as if its process were killed there.
     */
    interface CrashPoints
    {
        CrashPoints NONE = step -> {};

        /**
         * Called as a write passes {@code step}; throwing abandons the write at that point.
         */
        void passing(WriteStep step);
    }

    enum WriteStep
    {
        /** The accounts are marked and the new keys staged; the head is not written yet. */
        STAGED,
        /** The entries are committed; nothing else is written yet. */
        COMMITTED,
        /** The users and keys are written; the account is not marked applied yet. */
        OBJECTS_WRITTEN,
    }

    private S3IdentityStore(S3Client client, S3StoreConfig config, Clock clock, CrashPoints crashPoints)
    {
        this.client = client;
        this.objects = new S3Objects(client, config.bucket(), config.prefix());
        this.feed = new Feed(objects, config.feedRetention());
        this.parallel = new ParallelReads(PARALLEL_READS, "latchkey-s3-read");
        this.keyReads = new ParallelReads(PARALLEL_READS, "latchkey-s3-key-read");
        this.views = new LiveViews(objects, feed, keyReads, new KnownUsers(objects, feed));
        Applier applier = new Applier(objects, feed, views, parallel, crashPoints);
        ConditionalWriteProbe probe = new ConditionalWriteProbe(objects);
        this.committer = new Committer(objects, feed, views, applier, probe, clock, config.writeTimeout(), config.callTimeout(), crashPoints);
        this.audit = new AuditTrail(objects, feed, parallel, probe, AuditTrail.MAX_PAGES_PER_LISTING);
        this.usage = new UsageRecords(objects, parallel);
        this.instances = new InstanceRegistry(objects, parallel);
    }

    /**
     * Opens the store with credentials from the standard AWS chain (environment, system properties, profile files,
     * container and instance roles). Makes no request: an unreachable bucket shows at the first call.
     */
    public static S3IdentityStore open(S3StoreConfig config, Clock clock)
    {
        return open(config, DefaultCredentialsProvider.builder().build(), clock);
    }

    public static S3IdentityStore open(S3StoreConfig config, AwsCredentialsProvider credentials, Clock clock)
    {
        return open(config, credentials, clock, CrashPoints.NONE);
    }

    static S3IdentityStore open(S3StoreConfig config, AwsCredentialsProvider credentials, Clock clock, CrashPoints crashPoints)
    {
        requireNonNull(config, "config is null");
        requireNonNull(credentials, "credentials is null");
        requireNonNull(clock, "clock is null");
        requireNonNull(crashPoints, "crashPoints is null");
        return new S3IdentityStore(S3ClientFactory.create(config, credentials), config, clock, crashPoints);
    }

    // reads

    @Override
    public Optional<KeyRecord> findKey(KeyId keyId)
    {
        requireNonNull(keyId, "keyId is null");
        return views.key(keyId).map(LiveKey::record);
    }

    @Override
    public Optional<Account> findAccount(AccountId accountId)
    {
        requireNonNull(accountId, "accountId is null");
        return views.account(accountId)
                .filter(AccountView::exists)
                .map(view -> view.account().toAccount());
    }

    @Override
    public List<AccountSummary> listAccounts()
    {
        // the head first: an account whose creation it holds and whose object is not written yet is listed by it
        Documents.Head head = feed.readHead().head();
        TreeSet<String> names = new TreeSet<>(head.unapplied().keySet());
        objects.list(ObjectLayout.ACCOUNTS).forEach(name -> ObjectLayout.accountOfListedName(name).ifPresent(names::add));
        List<AccountId> ids = names.stream().map(AccountId::of).toList();
        List<AccountSummary> accounts = new ArrayList<>();
        for (Optional<AccountView> view : parallel.map(ids, id -> views.account(id, head))) {
            view.filter(AccountView::exists)
                    .map(AccountView::account)
                    .ifPresent(account -> accounts.add(new AccountSummary(AccountId.of(account.accountId()), account.createdAt(), account.userCount())));
        }
        accounts.sort(Comparator.comparing(AccountSummary::id));
        return accounts;
    }

    @Override
    public Optional<User> findUser(AccountId accountId, UserId userId)
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        return views.account(accountId)
                .filter(AccountView::exists)
                .flatMap(view -> views.user(view, userId));
    }

    /**
     * The user's key list, then each of its keys (side by side), all as one read of the account leaves them.
     */
    @Override
    public List<KeySummary> listKeys(AccountId accountId, UserId userId, Instant now)
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(now, "now is null");
        AccountView view = views.account(accountId)
                .filter(AccountView::exists)
                .orElseThrow(() -> StoreErrors.accountNotFound(accountId));
        UserState user = views.userState(view, userId).orElseThrow(() -> StoreErrors.userNotFound(accountId, userId));
        return views.keysOf(view, userId, user.keyIds()).stream()
                .flatMap(Optional::stream)
                .filter(key -> key.attributes().isLiveAt(now))
                .map(KeyRecord::summary)
                .sorted(KeySummary.LISTING_ORDER)
                .toList();
    }

    @Override
    public UserPage listUsers(AccountId accountId, UserQuery query)
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(query, "query is null");
        AccountView view = views.account(accountId)
                .filter(AccountView::exists)
                .orElseThrow(() -> StoreErrors.accountNotFound(accountId));
        List<UserId> candidates = List.copyOf(query.after()
                .map(cursor -> views.userCandidates(view).tailSet(cursor, false))
                .orElseGet(() -> views.userCandidates(view)));
        List<User> users = new ArrayList<>();
        Optional<UserId> next = Optional.empty();
        // read users a chunk at a time, in parallel, until the page and one more are found
        for (int start = 0; start < candidates.size() && next.isEmpty(); start += READ_CHUNK) {
            List<UserId> chunk = candidates.subList(start, Math.min(candidates.size(), start + READ_CHUNK));
            for (Optional<User> user : parallel.map(chunk, candidate -> views.user(view, candidate))) {
                if (user.isEmpty() || !query.matches(user.get().id(), user.get().role())) {
                    continue;
                }
                if (users.size() == query.limit()) {
                    next = Optional.of(users.get(users.size() - 1).id());
                    break;
                }
                users.add(user.get());
            }
        }
        return new UserPage(users, next);
    }

    // writes

    @Override
    public void createAccount(Origin origin, Account account, Optional<NewUser> firstAdmin)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(account, "account is null");
        requireNonNull(firstAdmin, "firstAdmin is null");
        NewUser.requireFirstAdmin(account.id(), firstAdmin);
        String incarnation = UUID.randomUUID().toString();
        committer.write(origin, account.id(), (current, context) -> {
            if (current.exists()) {
                throw StoreErrors.accountExists(account.id());
            }
            firstAdmin.ifPresent(admin -> context.requireKeyIdFree(admin.keyId(), Optional.empty()));
            return Plan.of(Entry.accountCreated(account, incarnation, firstAdmin), null);
        });
    }

    @Override
    public void addUser(Origin origin, NewUser newUser)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(newUser, "newUser is null");
        User user = newUser.user();
        committer.write(origin, user.accountId(), (current, context) -> {
            AccountView view = requireAccount(current, user.accountId());
            if (context.userExists(view, user.id())) {
                throw StoreErrors.userExists(user.accountId(), user.id());
            }
            context.requireKeyIdFree(user.primaryKeyId().orElseThrow(), Optional.empty());
            return Plan.of(Entry.userAdded(view.incarnation(), newUser), null);
        });
    }

    @Override
    public void addKey(Origin origin, NewKey newKey)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(newKey, "newKey is null");
        AccountId accountId = newKey.accountId();
        committer.write(origin, accountId, (current, context) -> {
            AccountView view = requireAccount(current, accountId);
            UserState user = requireUserState(context, view, newKey.userId());
            List<KeyId> ended = context.endedKeys(view, user, newKey.createdAt());
            if (ended.contains(newKey.keyId())) {
                // the id of one of the user's expired keys, which this write removes
                context.requireKeyIdFree(newKey.keyId(), Optional.of(user.user()));
            }
            else {
                if (user.keyIds().contains(newKey.keyId())) {
                    throw StoreErrors.keyIdInUse();
                }
                context.requireKeyIdFree(newKey.keyId(), Optional.empty());
            }
            StoreErrors.requireRoomForKeys(user.keyIds().size() - ended.size(), 1, accountId, newKey.userId());
            List<KeyId> keysAfter = new ArrayList<>(user.keyIds());
            keysAfter.removeAll(ended);
            keysAfter.add(newKey.keyId());
            return Plan.of(Entry.keyAdded(view.incarnation(), user.user(), keysAfter, newKey, ended), null);
        });
    }

    @Override
    public KeySummary deleteKey(Origin origin, AccountId accountId, UserId userId, KeyId keyId, Instant now)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(keyId, "keyId is null");
        requireNonNull(now, "now is null");
        return committer.write(origin, accountId, (current, context) -> {
            AccountView view = requireAccount(current, accountId);
            UserState user = requireUserState(context, view, userId);
            KeyRecord key = (user.keyIds().contains(keyId) ? context.key(view, userId, keyId) : Optional.<KeyRecord>empty())
                    .filter(record -> record.attributes().isLiveAt(now))
                    .orElseThrow(() -> StoreErrors.keyNotFound(accountId, userId));
            User before = user.user();
            User after = before.primaryKeyId().equals(Optional.of(keyId)) ? before.withoutPrimaryKey() : before;
            List<KeyId> keysAfter = user.keyIds().stream().filter(held -> !held.equals(keyId)).toList();
            return Plan.of(Entry.keyDeleted(view.incarnation(), after, keysAfter, keyId), key.summary());
        });
    }

    @Override
    public User replaceKey(Origin origin, AccountId accountId, UserId userId, KeyId newKeyId, SecretHash newSecretHash, Instant issuedAt,
            Optional<Instant> previousKeyUntil)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(newKeyId, "newKeyId is null");
        requireNonNull(newSecretHash, "newSecretHash is null");
        requireNonNull(issuedAt, "issuedAt is null");
        requireNonNull(previousKeyUntil, "previousKeyUntil is null");
        return committer.write(origin, accountId, (current, context) -> {
            AccountView view = requireAccount(current, accountId);
            UserState user = requireUserState(context, view, userId);
            User before = user.user();
            Optional<KeyId> old = before.primaryKeyId();
            boolean sameKey = old.isPresent() && old.get().equals(newKeyId);
            List<KeyId> ended = context.endedKeys(view, user, issuedAt);
            if (sameKey || ended.contains(newKeyId)) {
                // the same seeded key, re-hashed, or the id of one of the user's expired keys: its id is the user's own
                context.requireKeyIdFree(newKeyId, Optional.of(before));
            }
            else {
                if (user.keyIds().contains(newKeyId)) {
                    throw StoreErrors.keyIdInUse();
                }
                context.requireKeyIdFree(newKeyId, Optional.empty());
            }
            boolean keepOld = old.isPresent() && !sameKey && previousKeyUntil.isPresent();
            if (keepOld || old.isEmpty()) {
                // the new key comes beside the user's live keys rather than in place of one
                StoreErrors.requireRoomForKeys(user.keyIds().size() - ended.size(), 1, accountId, userId);
            }
            List<KeyId> keysAfter = new ArrayList<>(user.keyIds());
            keysAfter.removeAll(ended);
            if (old.isPresent() && !sameKey && !keepOld) {
                keysAfter.remove(old.get());
            }
            if (!keysAfter.contains(newKeyId)) {
                keysAfter.add(newKeyId);
            }
            return Plan.of(Entry.keyReplaced(view.incarnation(), before.withKey(newKeyId), keysAfter, old, newSecretHash, issuedAt,
                    keepOld ? previousKeyUntil : Optional.empty(), ended), before);
        });
    }

    @Override
    public UserChange setRole(Origin origin, AccountId accountId, UserId userId, Role role)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(role, "role is null");
        if (role == Role.ROOT) {
            throw new IllegalArgumentException("an account user cannot have role ROOT");
        }
        return committer.write(origin, accountId, (current, context) -> {
            AccountView view = requireAccount(current, accountId);
            UserState user = requireUserState(context, view, userId);
            User before = user.user();
            if (before.role() == role) {
                return Plan.unchanged(new UserChange(before, List.of()));
            }
            if (before.role() == Role.ADMIN) {
                StoreErrors.requireAnotherAdmin(view.account().adminRequired(), view.account().adminCount() > 1, accountId, userId, "demote");
            }
            return Plan.of(Entry.roleChanged(view.incarnation(), before.withRole(role), before.role(), user.keyIds()), new UserChange(before, user.keyIds()));
        });
    }

    @Override
    public UserChange removeUser(Origin origin, AccountId accountId, UserId userId)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        return committer.write(origin, accountId, (current, context) -> {
            AccountView view = requireAccount(current, accountId);
            UserState user = requireUserState(context, view, userId);
            User before = user.user();
            if (before.role() == Role.ADMIN) {
                StoreErrors.requireAnotherAdmin(view.account().adminRequired(), view.account().adminCount() > 1, accountId, userId, "remove");
            }
            return Plan.of(Entry.userRemoved(view.incarnation(), before, user.keyIds()), new UserChange(before, user.keyIds()));
        });
    }

    @Override
    public void deleteAccount(Origin origin, AccountId accountId)
    {
        requireNonNull(origin, "origin is null");
        requireNonNull(accountId, "accountId is null");
        committer.write(origin, accountId, (current, context) -> {
            AccountView view = requireAccount(current, accountId);
            return Plan.of(Entry.accountDeleted(accountId, view.incarnation()), null);
        });
    }

    // audit trail, usage and the instance registry

    @Override
    public AuditPage listAudit(AuditQuery query)
    {
        requireNonNull(query, "query is null");
        return audit.list(query);
    }

    @Override
    public void purgeAudit(Instant before)
    {
        requireNonNull(before, "before is null");
        audit.purge(before);
    }

    @Override
    public void recordUsage(String instanceId, Map<KeyId, Instant> lastUsed)
    {
        Origin.requireValidInstanceId(requireNonNull(instanceId, "instanceId is null"));
        requireNonNull(lastUsed, "lastUsed is null");
        usage.record(instanceId, Map.copyOf(lastUsed));
    }

    @Override
    public Map<KeyId, Instant> lastUsed(Collection<KeyId> keyIds)
    {
        requireNonNull(keyIds, "keyIds is null");
        return usage.lastUsed(List.copyOf(keyIds));
    }

    @Override
    public void publishInstance(InstanceRecord record)
    {
        requireNonNull(record, "record is null");
        instances.publish(record);
    }

    @Override
    public void removeInstance(String instanceId)
    {
        Origin.requireValidInstanceId(requireNonNull(instanceId, "instanceId is null"));
        instances.remove(instanceId);
    }

    @Override
    public List<InstanceRecord> listInstances()
    {
        return instances.list();
    }

    // feed

    @Override
    public FeedBatch changesAfter(FeedPosition position, int limit)
    {
        requireNonNull(position, "position is null");
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be positive");
        }
        return feed.changesAfter(position, limit);
    }

    @Override
    public FeedPosition headPosition()
    {
        return FeedPosition.of(feed.readHead().head().position());
    }

    /**
     * The newest head this handle committed or read: every write it answered committed at or before it (no request).
     */
    @Override
    public FeedPosition writtenPosition()
    {
        return FeedPosition.of(feed.lastKnownHead().position());
    }

    @Override
    public void close()
    {
        committer.close();
        parallel.close();
        keyReads.close();
        try {
            client.close();
        }
        catch (Exception e) {
            // the client's connections are gone with the process anyway; closing is best effort
            LOG.log(System.Logger.Level.WARNING, "closing the S3 client failed: {0}", e.getMessage());
        }
    }

    /**
     * Forgets the feed entries up to and including {@code through}, for tests of readers that fall behind.
     */
    void compactThrough(FeedPosition through)
    {
        feed.compactThrough(through);
    }

    /**
     * Waits until every write this handle committed is applied (account deletions answer before), for tests.
     */
    void awaitFinished(Duration wait)
            throws InterruptedException
    {
        committer.awaitApplied(wait);
    }

    /**
     * The head as S3 holds it now, for tests.
     */
    Documents.Head readHead()
    {
        return feed.readHead().head();
    }

    /**
     * How many writes wait for a commit to take them (not counting those of the commit in flight), for tests.
     */
    int queuedWrites()
    {
        return committer.queuedWrites();
    }

    private static AccountView requireAccount(AccountView current, AccountId accountId)
    {
        if (!current.exists()) {
            throw StoreErrors.accountNotFound(accountId);
        }
        return current;
    }

    private static UserState requireUserState(WritePlanner.Context context, AccountView view, UserId userId)
    {
        return context.userState(view, userId).orElseThrow(() -> StoreErrors.userNotFound(view.accountId(), userId));
    }
}

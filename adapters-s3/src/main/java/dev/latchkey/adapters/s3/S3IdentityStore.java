package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.Documents.Entry;
import dev.latchkey.adapters.s3.Documents.Head;
import dev.latchkey.adapters.s3.Documents.Page;
import dev.latchkey.adapters.s3.S3Objects.Versioned;
import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyId;
import dev.latchkey.core.domain.KeyRecord;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.SecretHash;
import dev.latchkey.core.store.Change;
import dev.latchkey.core.store.ChangeType;
import dev.latchkey.core.store.FeedBatch;
import dev.latchkey.core.store.FeedPosition;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.StoreErrors;
import dev.latchkey.core.store.UserPage;
import dev.latchkey.core.store.UserQuery;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.core.retry.RetryMode;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

import static java.util.Objects.requireNonNull;

/**
 * The identity store in an S3 bucket (or on an S3-compatible server), with no lock service and no database: every
 * decision is one conditional PUT.
 *
 * <h2>Layout (under the configured prefix)</h2>
 * <pre>
 * head.json                                        the commit point: newest position, newest feed entries
 * feed/&lt;first position&gt;.json                        older feed entries, {@value #PAGE_SIZE} per page
 * accounts/&lt;account&gt;/account.json                  the account, its counts, the feed entry changing it
 * accounts/&lt;account&gt;/&lt;incarnation&gt;/users/&lt;user&gt;.json  a user: role, key id
 * keys/&lt;keyId&gt;.json                                a key: hash of its secret, account, user, role
 * probes/&lt;nonce&gt;.json                              momentary: the check that conditional writes are honoured
 * </pre>
 *
 * <h2>How a write commits</h2>
 * Every write is an entry of the change feed, and it commits by replacing {@code head.json} with a version that
 * holds the entry, conditionally on the version the writer read ({@code If-Match}, or {@code If-None-Match: *} for
 * the first). So writes are totally ordered, feed positions have no gaps, and a writer whose head is stale loses the
 * condition, reads again and re-checks its preconditions: no write is lost and conflicting writes have one winner.
 * Before committing, the writer marks the account with the position it is about to take ({@code pending}) and
 * stages the new key, if any; after committing, it writes the users and keys and finally the account
 * ({@code applied}). Every object write carries the position of its entry and never replaces a newer one.
 * <p>
 * A write that has not sent its commit within the write timeout ({@link S3StoreConfig#writeTimeout()}) is given up:
 * UNAVAILABLE, "the store is busy". It has not landed and never will (what it marked and staged is ignored and
 * overwritten by later writes). So a write answers within the write timeout plus the one request in flight when
 * it passes, at most the call timeout. A commit sent whose answer is lost is the only ambiguous outcome.
 *
 * <h2>Reads, and crashes half-way</h2>
 * A key lookup is two small reads: the key, then its account (and a conditional re-read of the key, 304 when
 * unchanged, if a write to the account was applied since the key was written, so that both reads are of one moment).
 * An account whose {@code pending} entry is committed but not yet applied (a writer is finishing it, or was killed)
 * is read as that entry leaves it: one more read, of the head. An account deletion answers once its entry is
 * committed; its per-user cleanup runs after, on this handle's finisher thread, and is finished by the next write to
 * the account if this handle stops first. So the committed entry is the decision, every lookup honours it from the
 * moment it commits (a deleted account's keys stop at once, whatever was left unwritten), and the next write to that
 * account finishes it.
 *
 * <h2>Endpoints</h2>
 * The endpoint must honour {@code If-None-Match: *} and {@code If-Match} on PUT, atomically, as AWS S3 does; each
 * handle checks both before its first write and refuses to write where they are ignored.
 *
 * <h2>Cost</h2>
 * A reader with nothing new costs one conditional GET of the head (304 Not Modified). Nothing here caches what it
 * read: the head's entity tag is only sent back to S3, which decides.
 */
public final class S3IdentityStore
        implements IdentityStore
{
    private static final System.Logger LOG = System.getLogger(S3IdentityStore.class.getName());

    static final int PAGE_SIZE = 32;
    private static final String HEAD = "head.json";
    private static final String ACCOUNTS = "accounts/";
    private static final String KEYS = "keys/";
    private static final String FEED = "feed/";
    private static final String JSON = ".json";
    private static final int PARALLEL_READS = 8;
    private static final int MAX_LOOKUP_ATTEMPTS = 5;
    private static final int READ_CHUNK = 64;
    private static final Duration PARALLEL_READ_WAIT = Duration.ofSeconds(10);
    private static final Duration FINISH_WAIT = Duration.ofSeconds(2);

    private final S3Objects objects;
    private final AutoCloseable client;
    private final Clock clock;
    private final int feedRetention;
    private final Duration writeTimeout;
    private final AtomicReference<HeadRead> lastHead = new AtomicReference<>();
    private final AtomicBoolean conditionalWritesChecked = new AtomicBoolean();
    private final CrashPoints crashPoints;
    private final ExecutorService readers = Executors.newFixedThreadPool(PARALLEL_READS, runnable -> {
        Thread thread = new Thread(runnable, "latchkey-s3-read");
        thread.setDaemon(true);
        return thread;
    });
    /** Finishes account deletions after their call has answered (see {@link #finishLater}). */
    private final ExecutorService finisher = Executors.newSingleThreadExecutor(runnable -> {
        Thread thread = new Thread(runnable, "latchkey-s3-finish");
        thread.setDaemon(true);
        return thread;
    });

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
        /** The account is marked and the new key staged; the head is not written yet. */
        STAGED,
        /** The entry is committed; nothing else is written yet. */
        COMMITTED,
        /** The users and keys are written; the account is not marked applied yet. */
        OBJECTS_WRITTEN,
    }

    private S3IdentityStore(S3Objects objects, AutoCloseable client, Clock clock, int feedRetention, Duration writeTimeout, CrashPoints crashPoints)
    {
        this.objects = requireNonNull(objects, "objects is null");
        this.client = requireNonNull(client, "client is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.feedRetention = feedRetention;
        this.writeTimeout = requireNonNull(writeTimeout, "writeTimeout is null");
        this.crashPoints = requireNonNull(crashPoints, "crashPoints is null");
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
        S3ClientBuilder builder = S3Client.builder()
                .region(Region.of(config.region()))
                .credentialsProvider(credentials)
                .forcePathStyle(config.pathStyle())
                // plain PUTs with a Content-MD5-free body: what every S3-compatible server understands
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .httpClientBuilder(UrlConnectionHttpClient.builder()
                        .connectionTimeout(config.connectTimeout())
                        .socketTimeout(config.attemptTimeout()))
                .overrideConfiguration(ClientOverrideConfiguration.builder()
                        .apiCallAttemptTimeout(config.attemptTimeout())
                        .apiCallTimeout(config.callTimeout())
                        .retryStrategy(RetryMode.STANDARD)
                        .retryStrategy(retry -> retry.maxAttempts(config.maxAttempts()))
                        .build());
        config.endpoint().ifPresent(builder::endpointOverride);
        S3Client client = builder.build();
        return new S3IdentityStore(new S3Objects(client, config.bucket(), config.prefix()), client, clock, config.feedRetention(), config.writeTimeout(), crashPoints);
    }

    // reads

    @Override
    public Optional<KeyRecord> findKey(KeyId keyId)
    {
        requireNonNull(keyId, "keyId is null");
        return liveKey(keyId).map(LiveKey::record);
    }

    @Override
    public Optional<Account> findAccount(AccountId accountId)
    {
        requireNonNull(accountId, "accountId is null");
        return readAccount(accountId)
                .filter(view -> view.account().exists())
                .map(view -> toAccount(view.account()));
    }

    @Override
    public List<AccountSummary> listAccounts()
    {
        List<AccountId> ids = objects.list(ACCOUNTS).stream()
                .filter(name -> name.endsWith("/"))
                .map(name -> AccountId.of(name.substring(0, name.length() - 1)))
                .toList();
        List<AccountSummary> accounts = new ArrayList<>();
        for (Optional<AccountView> view : readInParallel(ids, this::readAccount)) {
            view.map(AccountView::account)
                    .filter(Documents.Account::exists)
                    .ifPresent(account -> accounts.add(new AccountSummary(AccountId.of(account.accountId()), Instant.parse(account.createdAt()), account.userCount())));
        }
        accounts.sort((left, right) -> left.id().compareTo(right.id()));
        return accounts;
    }

    @Override
    public Optional<User> findUser(AccountId accountId, UserId userId)
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        return readAccount(accountId)
                .filter(view -> view.account().exists())
                .flatMap(view -> user(view, userId));
    }

    @Override
    public UserPage listUsers(AccountId accountId, UserQuery query)
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(query, "query is null");
        AccountView view = readAccount(accountId)
                .filter(found -> found.account().exists())
                .orElseThrow(() -> StoreErrors.accountNotFound(accountId));
        TreeSet<UserId> candidates = new TreeSet<>();
        for (String name : objects.list(usersDirectory(view.account()))) {
            if (name.endsWith(JSON)) {
                candidates.add(UserId.of(name.substring(0, name.length() - JSON.length())));
            }
        }
        view.pending().filter(entry -> entry.userId() != null).ifPresent(entry -> candidates.add(UserId.of(entry.userId())));
        List<UserId> after = List.copyOf(query.after().map(cursor -> candidates.tailSet(cursor, false)).orElse(candidates));
        List<User> users = new ArrayList<>();
        Optional<UserId> next = Optional.empty();
        // read users a chunk at a time, in parallel, until the page and one more are found
        for (int start = 0; start < after.size() && next.isEmpty(); start += READ_CHUNK) {
            List<UserId> chunk = after.subList(start, Math.min(after.size(), start + READ_CHUNK));
            for (Optional<User> user : readInParallel(chunk, candidate -> user(view, candidate))) {
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
    public void createAccount(Account account, Optional<NewUser> firstAdmin)
    {
        requireNonNull(account, "account is null");
        requireNonNull(firstAdmin, "firstAdmin is null");
        NewUser.requireFirstAdmin(account.id(), firstAdmin);
        String incarnation = UUID.randomUUID().toString();
        write(account.id(), current -> {
            if (current.account().exists()) {
                throw StoreErrors.accountExists(account.id());
            }
            firstAdmin.ifPresent(admin -> requireKeyIdFree(admin.user().keyId(), Optional.empty()));
            NewUser admin = firstAdmin.orElse(null);
            return Plan.of(new Entry(0, null, ChangeType.ACCOUNT_CREATED.name(), account.id().value(), incarnation, null,
                    account.createdAt().toString(), account.adminRequired(),
                    admin == null ? null : admin.user().id().value(), admin == null ? null : Role.ADMIN.wireName(), null,
                    admin == null ? null : admin.user().createdAt().toString(),
                    null, admin == null ? null : admin.user().keyId().value(), admin == null ? null : admin.secretHash().toHex(),
                    admin == null ? null : admin.user().createdAt().toString()), null);
        });
    }

    @Override
    public void addUser(NewUser newUser)
    {
        requireNonNull(newUser, "newUser is null");
        User user = newUser.user();
        write(user.accountId(), current -> {
            AccountView view = requireAccount(current, user.accountId());
            if (user(view, user.id()).isPresent()) {
                throw StoreErrors.userExists(user.accountId(), user.id());
            }
            requireKeyIdFree(user.keyId(), Optional.empty());
            return Plan.of(userEntry(ChangeType.USER_ADDED, view, user, null, null, newUser.secretHash(), user.createdAt()), null);
        });
    }

    @Override
    public User replaceKey(AccountId accountId, UserId userId, KeyId newKeyId, SecretHash newSecretHash, Instant issuedAt)
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(newKeyId, "newKeyId is null");
        requireNonNull(newSecretHash, "newSecretHash is null");
        requireNonNull(issuedAt, "issuedAt is null");
        return write(accountId, current -> {
            AccountView view = requireAccount(current, accountId);
            User before = requireUser(view, userId);
            requireKeyIdFree(newKeyId, Optional.of(before));
            User after = before.withKey(newKeyId);
            return Plan.of(userEntry(ChangeType.KEY_REPLACED, view, after, null, before.keyId(), newSecretHash, issuedAt), before);
        });
    }

    @Override
    public User setRole(AccountId accountId, UserId userId, Role role)
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        requireNonNull(role, "role is null");
        if (role == Role.ROOT) {
            throw new IllegalArgumentException("an account user cannot have role ROOT");
        }
        return write(accountId, current -> {
            AccountView view = requireAccount(current, accountId);
            User before = requireUser(view, userId);
            if (before.role() == role) {
                return Plan.unchanged(before);
            }
            if (before.role() == Role.ADMIN) {
                StoreErrors.requireAnotherAdmin(view.account().adminRequired(), view.account().adminCount() > 1, accountId, userId, "demote");
            }
            Key key = currentKey(before);
            return Plan.of(userEntry(ChangeType.ROLE_CHANGED, view, before.withRole(role), before.role(), null, key.secretHash(), key.createdAt()), before);
        });
    }

    @Override
    public User removeUser(AccountId accountId, UserId userId)
    {
        requireNonNull(accountId, "accountId is null");
        requireNonNull(userId, "userId is null");
        return write(accountId, current -> {
            AccountView view = requireAccount(current, accountId);
            User before = requireUser(view, userId);
            if (before.role() == Role.ADMIN) {
                StoreErrors.requireAnotherAdmin(view.account().adminRequired(), view.account().adminCount() > 1, accountId, userId, "remove");
            }
            Entry entry = new Entry(0, null, ChangeType.USER_REMOVED.name(), accountId.value(), view.account().incarnation(), null, null, null,
                    userId.value(), before.role().wireName(), null, before.createdAt().toString(), before.keyId().value(), null, null, null);
            return Plan.of(entry, before);
        });
    }

    @Override
    public void deleteAccount(AccountId accountId)
    {
        requireNonNull(accountId, "accountId is null");
        write(accountId, current -> {
            AccountView view = requireAccount(current, accountId);
            return Plan.of(new Entry(0, null, ChangeType.ACCOUNT_DELETED.name(), accountId.value(), view.account().incarnation(), null,
                    null, null, null, null, null, null, null, null, null, null), null);
        });
    }

    // feed

    @Override
    public FeedBatch changesAfter(FeedPosition position, int limit)
    {
        requireNonNull(position, "position is null");
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be positive");
        }
        Head head = readHead().head();
        if (position.value() >= head.position()) {
            return new FeedBatch.Changes(List.of(), position);
        }
        if (position.value() < head.compactedThrough()) {
            return new FeedBatch.Reset(FeedPosition.of(head.position()));
        }
        long last = Math.min(head.position(), position.value() + Math.min(limit, head.position()));
        List<Change> changes = new ArrayList<>();
        long next = position.value() + 1;
        while (next <= last) {
            List<Entry> entries = entriesFrom(head, next);
            if (entries.isEmpty()) {
                // compacted while we read
                return new FeedBatch.Reset(FeedPosition.of(head.position()));
            }
            for (Entry entry : entries) {
                if (entry.position() == next && next <= last) {
                    changes.add(toChange(entry));
                    next++;
                }
            }
        }
        return new FeedBatch.Changes(changes, FeedPosition.of(last));
    }

    @Override
    public FeedPosition headPosition()
    {
        return FeedPosition.of(readHead().head().position());
    }

    @Override
    public void close()
    {
        // a deletion being finished may take its last few requests; one not started is left to the next write
        finisher.shutdown();
        try {
            if (!finisher.awaitTermination(FINISH_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                finisher.shutdownNow();
            }
        }
        catch (InterruptedException e) {
            finisher.shutdownNow();
            Thread.currentThread().interrupt();
        }
        readers.shutdownNow();
        try {
            client.close();
        }
        catch (Exception e) {
            // the client's connections are gone with the process anyway; closing is best effort
            LOG.log(System.Logger.Level.WARNING, "closing the S3 client failed: {0}", e.getMessage());
        }
    }

    /**
     * Forgets the feed entries up to and including {@code through}: what compaction does to the oldest pages, for
     * tests of readers that fall behind.
     */
    void compactThrough(FeedPosition through)
    {
        while (true) {
            HeadRead read = readHead();
            Head head = read.head();
            long floor = Math.min(through.value(), head.position());
            if (floor <= head.compactedThrough()) {
                return;
            }
            Head compacted = new Head(head.position(), floor, head.spilledThrough(), head.entries());
            if (objects.putIfUnchanged(HEAD, Documents.write(compacted), read.etag()).isPresent()) {
                for (long page = pageStart(head.compactedThrough() + 1); page + PAGE_SIZE - 1 <= Math.min(floor, head.spilledThrough()); page += PAGE_SIZE) {
                    objects.delete(pageKey(page));
                }
                return;
            }
        }
    }

    // the write protocol

    private <T> T write(AccountId accountId, Function<AccountView, Plan<T>> planner)
    {
        checkConditionalWrites();
        String txn = UUID.randomUUID().toString();
        long deadline = System.nanoTime() + writeTimeout.toNanos();
        for (int attempt = 0; ; attempt++) {
            if (attempt > 0) {
                checkDeadline(deadline);
                backOff(attempt);
            }
            HeadRead head = readHead();
            Optional<AccountRead> stored = readAccountDocument(accountId);
            if (stored.isPresent() && stored.get().account().hasPending()) {
                Optional<Entry> pending = committedEntry(head.head(), stored.get().account().pending())
                        .filter(entry -> entry.accountId().equals(accountId.value()));
                if (pending.isPresent()) {
                    // a committed write that its writer has not finished (yet, or ever): finish it, then start over
                    apply(pending.get(), Optional.empty(), Optional.empty());
                    continue;
                }
            }
            AccountView current = stored
                    .map(read -> new AccountView(read.account(), Optional.empty()))
                    .orElseGet(() -> new AccountView(absentAccount(accountId), Optional.empty()));
            Plan<T> plan = planner.apply(current);
            if (plan.entry() == null) {
                return plan.result();
            }
            long position = head.head().position() + 1;
            Entry entry = plan.entry().committed(position, txn, clock.instant());
            Optional<AccountRead> marked = markPending(accountId, stored, position, entry);
            if (marked.isEmpty()) {
                continue;
            }
            Optional<String> stagedKey = Optional.empty();
            if (issuesKey(entry)) {
                Optional<Optional<String>> staged = stage(entry);
                if (staged.isEmpty()) {
                    continue;
                }
                stagedKey = staged.get();
            }
            // the last moment to give up: a write answered as busy must never land later
            checkDeadline(deadline);
            crashPoints.passing(WriteStep.STAGED);
            Optional<HeadRead> committed = commit(head, entry);
            if (committed.isEmpty() && !isCommitted(entry)) {
                continue;
            }
            crashPoints.passing(WriteStep.COMMITTED);
            if (ChangeType.valueOf(entry.type()) == ChangeType.ACCOUNT_DELETED) {
                finishLater(entry, marked);
            }
            else {
                apply(entry, marked, stagedKey);
            }
            try {
                compactIfDue(committed.orElseGet(this::readHead));
            }
            catch (LatchkeyException e) {
                // housekeeping: the write is done, and a later write compacts instead
            }
            return plan.result();
        }
    }

    /**
     * Applies a committed account deletion after the call has answered: the committed entry is the decision (every
     * key of the account stopped working with it), and its cleanup costs about four requests per user. If this
     * handle stops or fails first, the deletion stays pending on its account and the next write to that account,
     * from any instance, finishes it, as it finishes any unfinished write.
     */
    private void finishLater(Entry entry, Optional<AccountRead> marked)
    {
        try {
            finisher.execute(() -> {
                try {
                    apply(entry, marked, Optional.empty());
                }
                catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.WARNING, "finishing the deletion of account {0} failed; the next write to it finishes it: {1}",
                            entry.accountId(), e.getMessage());
                }
            });
        }
        catch (RejectedExecutionException e) {
            // closing: left to the next write to the account
        }
    }

    /**
     * Waits until every account deletion this handle has started finishing is finished (or has failed), for tests.
     */
    void awaitFinished(Duration wait)
            throws InterruptedException
    {
        CompletableFuture<Void> marker = CompletableFuture.runAsync(() -> {}, finisher);
        try {
            marker.get(wait.toMillis(), TimeUnit.MILLISECONDS);
        }
        catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("account deletions still being finished after " + wait, e);
        }
    }

    private static boolean issuesKey(Entry entry)
    {
        ChangeType type = ChangeType.valueOf(entry.type());
        return entry.keyId() != null && (type == ChangeType.ACCOUNT_CREATED || type == ChangeType.USER_ADDED || type == ChangeType.KEY_REPLACED);
    }

    /**
     * Before this handle's first write: whether the endpoint honours {@code If-None-Match: *} and {@code If-Match}. A
     * server that ignores them (S3Proxy does, as did AWS before 2024) would let concurrent writers overwrite each
     * other's commits, so the store refuses to write there at all.
     */
    private void checkConditionalWrites()
    {
        if (conditionalWritesChecked.get()) {
            return;
        }
        String nonce = UUID.randomUUID().toString();
        String probe = "probes/" + nonce + JSON;
        byte[] bytes = Documents.write(new Documents.Probe(nonce));
        // a refusal of the first PUT may be the SDK's retry of a PUT that succeeded: the nonce tells
        boolean created = objects.putIfAbsent(probe, bytes).isPresent()
                || objects.get(probe).map(found -> Documents.read(found.bytes(), Documents.Probe.class).nonce().equals(nonce)).orElse(false);
        boolean createdAgain = objects.putIfAbsent(probe, bytes).isPresent();
        boolean replacedWithWrongTag = created && !createdAgain && objects.putIfMatch(probe, bytes, "\"00000000000000000000000000000000\"").isPresent();
        objects.delete(probe);
        if (!created || createdAgain || replacedWithWrongTag) {
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 endpoint does not honour conditional writes (If-None-Match: *, If-Match), "
                    + "which the store needs to keep concurrent writes from overwriting each other");
        }
        conditionalWritesChecked.set(true);
    }

    /**
     * Applies {@code read} to every input on the store's read threads; the results in input order.
     */
    private <I, O> List<O> readInParallel(List<I> inputs, Function<I, O> read)
    {
        if (inputs.size() <= 1) {
            return inputs.stream().map(read).toList();
        }
        List<Future<O>> futures = inputs.stream().map(input -> readers.submit(() -> read.apply(input))).toList();
        List<O> results = new ArrayList<>(inputs.size());
        try {
            for (Future<O> future : futures) {
                // each read is bounded by the S3 client's call timeout; this only guards against a lost thread
                results.add(future.get(PARALLEL_READ_WAIT.toMillis(), TimeUnit.MILLISECONDS));
            }
            return results;
        }
        catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new IllegalStateException(e.getCause());
        }
        catch (TimeoutException e) {
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 store did not answer in time", e);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "interrupted while reading the S3 store", e);
        }
        finally {
            futures.forEach(future -> future.cancel(true));
        }
    }

    /**
     * Gives the write up, unmade, once its time is over. Called only before the write's commit is sent, so a write
     * given up has not landed and never will; what it marked and staged is ignored and overwritten by later writes.
     */
    private void checkDeadline(long deadline)
    {
        if (System.nanoTime() - deadline > 0) {
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the store is busy: the write was not made within " + writeTimeout.toMillis() + " ms; try again");
        }
    }

    private static void backOff(int attempt)
    {
        // a write holds the head for several requests (tens of ms): wait about that long, doubling, with jitter
        long bound = Math.min(200, 10L << Math.min(attempt - 1, 4));
        try {
            Thread.sleep(ThreadLocalRandom.current().nextLong(1, bound + 1));
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LatchkeyException(ErrorCode.UNAVAILABLE, "interrupted while writing to the S3 store", e);
        }
    }

    /**
     * Records on the account that a write is about to take feed position {@code position}. Never lowers a mark:
     * a higher one means this writer's head is stale.
     */
    private Optional<AccountRead> markPending(AccountId accountId, Optional<AccountRead> stored, long position, Entry entry)
    {
        if (stored.isEmpty()) {
            Documents.Account placeholder = new Documents.Account(accountId.value(), entry.accountCreatedAt(), false, entry.incarnation(), false, 0, 0, 0, position);
            return objects.putIfAbsent(accountKey(accountId), Documents.write(placeholder)).map(etag -> new AccountRead(placeholder, etag));
        }
        Documents.Account account = stored.get().account();
        if (Math.max(account.pending(), account.applied()) >= position) {
            return account.pending() == position ? stored : Optional.empty();
        }
        Documents.Account marked = account.withPending(position);
        return objects.putIfMatch(accountKey(accountId), Documents.write(marked), stored.get().etag()).map(etag -> new AccountRead(marked, etag));
    }

    /**
     * Writes the new key ahead of the commit, marked as staged by this write: it works only once the write's entry
     * is committed. Replaces a key object only if it holds no live key (the writer checked that it is free).
     *
     * @return empty when another write changed the key object meanwhile; otherwise the staged object's entity tag,
     *         if this wrote it
     */
    private Optional<Optional<String>> stage(Entry entry)
    {
        String key = keyKey(entry.keyId());
        Optional<Versioned> existing = objects.get(key);
        Documents.Key staged = new Documents.Key(entry.keyId(), entry.secretHash(), entry.accountId(), entry.incarnation(), entry.userId(), entry.role(),
                entry.keyCreatedAt(), entry.position(), entry.txn(), false);
        if (existing.isPresent()) {
            Documents.Key current = Documents.read(existing.get().bytes(), Documents.Key.class);
            if (current.stagedBy() == null && !current.revoked() && sameKeyOwner(current, entry)) {
                // the same user's current key, re-hashed: it stays live until the commit replaces it
                return Optional.of(Optional.empty());
            }
        }
        return objects.putIfUnchanged(key, Documents.write(staged), existing.map(Versioned::etag).orElse(null)).map(Optional::of);
    }

    private static boolean sameKeyOwner(Documents.Key key, Entry entry)
    {
        return key.accountId().equals(entry.accountId()) && key.incarnation().equals(entry.incarnation()) && key.userId().equals(entry.userId());
    }

    /**
     * The commit: the head, replaced conditionally on the version read, with the entry appended. Entries beyond two
     * pages move to a page object first (same content whoever writes it, so an unconditional PUT).
     */
    private Optional<HeadRead> commit(HeadRead read, Entry entry)
    {
        Head head = read.head();
        List<Entry> entries = new ArrayList<>(head.entries());
        entries.add(entry);
        long spilledThrough = head.spilledThrough();
        while (entries.size() > 2 * PAGE_SIZE) {
            List<Entry> page = List.copyOf(entries.subList(0, PAGE_SIZE));
            objects.put(pageKey(spilledThrough + 1), Documents.write(new Page(page)));
            entries.subList(0, PAGE_SIZE).clear();
            spilledThrough += PAGE_SIZE;
        }
        Head next = new Head(entry.position(), head.compactedThrough(), spilledThrough, entries);
        Optional<HeadRead> committed = objects.putIfUnchanged(HEAD, Documents.write(next), read.etag()).map(etag -> new HeadRead(next, etag));
        committed.ifPresent(lastHead::set);
        return committed;
    }

    /**
     * After a lost condition on the head: whether it was this write that took the position after all (a retried
     * request whose first attempt succeeded).
     */
    private boolean isCommitted(Entry entry)
    {
        return committedEntry(readHead().head(), entry.position()).map(found -> found.txn().equals(entry.txn())).orElse(false);
    }

    /**
     * Writes everything a committed entry implies, users and keys first and the account last, each write refusing
     * to replace what a newer entry wrote. Idempotent: whoever finds the entry unapplied may run it again.
     *
     * @param marked the account as this writer marked it, if it is the writer: its first attempt needs no read
     * @param stagedKey the entity tag of the key this writer staged, likewise
     */
    private void apply(Entry entry, Optional<AccountRead> marked, Optional<String> stagedKey)
    {
        ChangeType type = ChangeType.valueOf(entry.type());
        if (type == ChangeType.ACCOUNT_DELETED) {
            revokeEveryKey(entry);
        }
        else if (entry.userId() != null) {
            boolean removed = type == ChangeType.USER_REMOVED;
            advance(userKey(entry.accountId(), entry.incarnation(), entry.userId()), Documents.User.class, entry.position(), false,
                    new Documents.User(entry.userId(), entry.role(), removed ? entry.oldKeyId() : entry.keyId(), entry.userCreatedAt(), entry.position(), removed));
            if (entry.keyId() != null) {
                Documents.Key key = new Documents.Key(entry.keyId(), entry.secretHash(), entry.accountId(), entry.incarnation(), entry.userId(), entry.role(),
                        entry.keyCreatedAt(), entry.position(), null, false);
                if (stagedKey.flatMap(etag -> objects.putIfMatch(keyKey(entry.keyId()), Documents.write(key), etag)).isEmpty()) {
                    advance(keyKey(entry.keyId()), Documents.Key.class, entry.position(), true, key);
                }
            }
            if (entry.oldKeyId() != null && !entry.oldKeyId().equals(entry.keyId())) {
                revokeKey(entry.oldKeyId(), entry);
            }
        }
        crashPoints.passing(WriteStep.OBJECTS_WRITTEN);
        if (marked.flatMap(read -> objects.putIfMatch(accountKey(AccountId.of(entry.accountId())), Documents.write(afterEntry(read.account(), entry)), read.etag())).isPresent()) {
            return;
        }
        while (true) {
            Optional<AccountRead> stored = readAccountDocument(AccountId.of(entry.accountId()));
            Documents.Account account = stored.map(AccountRead::account).orElse(null);
            if (account != null && account.applied() >= entry.position()) {
                return;
            }
            Documents.Account after = afterEntry(account == null ? absentAccount(AccountId.of(entry.accountId())) : account, entry);
            if (objects.putIfUnchanged(accountKey(AccountId.of(entry.accountId())), Documents.write(after), stored.map(AccountRead::etag).orElse(null)).isPresent()) {
                return;
            }
        }
    }

    private void revokeEveryKey(Entry entry)
    {
        String directory = ACCOUNTS + entry.accountId() + "/" + entry.incarnation() + "/users/";
        for (String name : objects.list(directory)) {
            if (!name.endsWith(JSON)) {
                continue;
            }
            Optional<Versioned> user = objects.get(directory + name);
            if (user.isPresent()) {
                Documents.User document = Documents.read(user.get().bytes(), Documents.User.class);
                if (!document.removed()) {
                    revokeKey(document.keyId(), entry);
                }
                // users live under their account's incarnation: no later account of this name can own this object
                objects.delete(directory + name);
            }
        }
    }

    /**
     * Marks a key revoked, if it still belongs to the entry's account incarnation (its id may have been issued again
     * since, to another account, by a seeded key).
     */
    private void revokeKey(String keyId, Entry entry)
    {
        String key = keyKey(keyId);
        while (true) {
            Optional<Versioned> existing = objects.get(key);
            if (existing.isEmpty()) {
                return;
            }
            Documents.Key current = Documents.read(existing.get().bytes(), Documents.Key.class);
            if (current.position() >= entry.position() || current.revoked()
                    || !current.accountId().equals(entry.accountId()) || !current.incarnation().equals(entry.incarnation())) {
                return;
            }
            Documents.Key revoked = new Documents.Key(current.keyId(), current.secretHash(), current.accountId(), current.incarnation(), current.userId(),
                    current.role(), current.createdAt(), entry.position(), null, true);
            if (objects.putIfMatch(key, Documents.write(revoked), existing.get().etag()).isPresent()) {
                return;
            }
        }
    }

    /**
     * Writes {@code document} at {@code objectKey} unless an entry newer than {@code position} wrote it already
     * (compare-and-set, so a late writer of an older entry can never overwrite a newer state).
     */
    private <D> void advance(String objectKey, Class<D> type, long position, boolean staged, D document)
    {
        byte[] bytes = Documents.write(document);
        while (true) {
            Optional<Versioned> existing = objects.get(objectKey);
            if (existing.isPresent()) {
                long written = type == Documents.Key.class
                        ? Documents.read(existing.get().bytes(), Documents.Key.class).position()
                        : Documents.read(existing.get().bytes(), Documents.User.class).position();
                boolean stillStaged = staged && Documents.read(existing.get().bytes(), Documents.Key.class).stagedBy() != null;
                if (written > position || (written == position && !stillStaged)) {
                    return;
                }
            }
            if (objects.putIfUnchanged(objectKey, bytes, existing.map(Versioned::etag).orElse(null)).isPresent()) {
                return;
            }
        }
    }

    private void compactIfDue(HeadRead read)
    {
        Head head = read.head();
        long pageStart = pageStart(head.compactedThrough() + 1);
        long pageEnd = pageStart + PAGE_SIZE - 1;
        if (pageEnd > head.spilledThrough() || head.position() - pageEnd < feedRetention) {
            return;
        }
        Optional<Versioned> page = objects.get(pageKey(pageStart));
        if (page.isPresent()) {
            // finish any write of this page that is still pending on its account, before its entry is forgotten
            Set<String> accounts = new HashSet<>();
            for (Entry entry : Documents.read(page.get().bytes(), Page.class).entries()) {
                if (accounts.add(entry.accountId())) {
                    readAccountDocument(AccountId.of(entry.accountId()))
                            .filter(account -> account.account().hasPending() && account.account().pending() <= pageEnd)
                            .flatMap(account -> committedEntry(head, account.account().pending())
                                    .filter(pending -> pending.accountId().equals(entry.accountId())))
                            .ifPresent(pending -> apply(pending, Optional.empty(), Optional.empty()));
                }
            }
        }
        Head compacted = new Head(head.position(), pageEnd, head.spilledThrough(), head.entries());
        if (objects.putIfUnchanged(HEAD, Documents.write(compacted), read.etag()).isPresent()) {
            objects.delete(pageKey(pageStart));
        }
    }

    // reading accounts, users and keys as the committed feed leaves them

    private record HeadRead(Head head, String etag) {}

    private record AccountRead(Documents.Account account, String etag) {}

    /**
     * An account as the newest committed write leaves it.
     *
     * @param pending the committed entry not yet applied to the account's objects, which this view includes
     */
    private record AccountView(Documents.Account account, Optional<Entry> pending) {}

    private record LiveKey(KeyRecord record, UserId userId) {}

    private record Key(SecretHash secretHash, Instant createdAt) {}

    private record Plan<T>(Entry entry, T result)
    {
        static <T> Plan<T> of(Entry entry, T result)
        {
            return new Plan<>(requireNonNull(entry, "entry is null"), result);
        }

        static <T> Plan<T> unchanged(T result)
        {
            return new Plan<>(null, result);
        }
    }

    private HeadRead readHead()
    {
        HeadRead last = lastHead.get();
        HeadRead read;
        if (last == null || last.etag() == null) {
            read = objects.get(HEAD)
                    .map(found -> new HeadRead(Documents.read(found.bytes(), Head.class), found.etag()))
                    .orElse(new HeadRead(Head.EMPTY, null));
        }
        else {
            // S3 answers 304 when the head is still the version we hold: one request, no body
            read = objects.getIfChanged(HEAD, last.etag())
                    .map(found -> found.bytes() == null ? new HeadRead(Head.EMPTY, null) : new HeadRead(Documents.read(found.bytes(), Head.class), found.etag()))
                    .orElse(last);
        }
        lastHead.set(read);
        return read;
    }

    private Optional<AccountRead> readAccountDocument(AccountId accountId)
    {
        return objects.get(accountKey(accountId)).map(found -> new AccountRead(Documents.read(found.bytes(), Documents.Account.class), found.etag()));
    }

    private Optional<AccountView> readAccount(AccountId accountId)
    {
        Optional<AccountRead> stored = readAccountDocument(accountId);
        if (stored.isEmpty()) {
            return Optional.empty();
        }
        Documents.Account account = stored.get().account();
        if (!account.hasPending()) {
            return Optional.of(new AccountView(account, Optional.empty()));
        }
        Optional<Entry> pending = committedEntry(readHead().head(), account.pending())
                .filter(entry -> entry.accountId().equals(accountId.value()));
        return Optional.of(new AccountView(pending.map(entry -> afterEntry(account, entry)).orElse(account), pending));
    }

    /**
     * The committed entry at a position, if it is committed (and not compacted away).
     */
    private Optional<Entry> committedEntry(Head head, long position)
    {
        if (position < 1 || position > head.position()) {
            return Optional.empty();
        }
        return entriesFrom(head, position).stream().filter(entry -> entry.position() == position).findFirst();
    }

    /**
     * The entries of the head or of the page holding {@code position}: empty when that page is gone.
     */
    private List<Entry> entriesFrom(Head head, long position)
    {
        if (position > head.spilledThrough()) {
            return head.entries();
        }
        return objects.get(pageKey(pageStart(position)))
                .map(page -> Documents.read(page.bytes(), Page.class).entries())
                .orElse(List.of());
    }

    private Optional<User> user(AccountView view, UserId userId)
    {
        Documents.Account account = view.account();
        Optional<Entry> pending = view.pending().filter(entry -> userId.value().equals(entry.userId()));
        if (pending.isPresent()) {
            Entry entry = pending.get();
            if (entry.type().equals(ChangeType.USER_REMOVED.name())) {
                return Optional.empty();
            }
            return Optional.of(new User(AccountId.of(account.accountId()), userId, Role.fromWireName(entry.role(), "role"), KeyId.of(entry.keyId()),
                    Instant.parse(entry.userCreatedAt())));
        }
        return objects.get(userKey(account.accountId(), account.incarnation(), userId.value()))
                .map(found -> Documents.read(found.bytes(), Documents.User.class))
                .filter(document -> !document.removed())
                .map(document -> new User(AccountId.of(account.accountId()), userId, Role.fromWireName(document.role(), "role"), KeyId.of(document.keyId()),
                        Instant.parse(document.createdAt())));
    }

    /**
     * The key with this id if it works now: a live key object, of a live account in the same incarnation, not
     * staged by an uncommitted write, and not ended by the account's committed pending entry.
     */
    private Optional<LiveKey> liveKey(KeyId keyId)
    {
        String objectKey = keyKey(keyId.value());
        Documents.Key key;
        Optional<AccountView> view;
        for (int attempt = 1; ; attempt++) {
            Optional<Versioned> read = objects.get(objectKey);
            Optional<Documents.Key> found = read.map(versioned -> Documents.read(versioned.bytes(), Documents.Key.class));
            if (found.isEmpty() || found.get().revoked()) {
                return Optional.empty();
            }
            key = found.get();
            String incarnation = key.incarnation();
            view = readAccount(AccountId.of(key.accountId()))
                    .filter(account -> account.account().exists() && account.account().incarnation().equals(incarnation));
            if (view.isEmpty()) {
                return Optional.empty();
            }
            // The key was read before its account: a write to the account applied in between may have changed the
            // key (revoked it, changed its role) after this read of it. Unless the key is unchanged now (a 304), the
            // two reads are not of one moment: read both again.
            if (view.get().account().applied() <= key.position() || objects.getIfChanged(objectKey, read.get().etag()).isEmpty()) {
                break;
            }
            if (attempt == MAX_LOOKUP_ATTEMPTS) {
                throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 store's key kept changing while it was read");
            }
        }
        Optional<Entry> pending = view.get().pending();
        String stagedBy = key.stagedBy();
        if (stagedBy != null && !pending.map(entry -> entry.txn().equals(stagedBy)).orElse(false)) {
            return Optional.empty();
        }
        String role = key.role();
        String secretHash = key.secretHash();
        String createdAt = key.createdAt();
        if (pending.isPresent() && key.userId().equals(pending.get().userId())) {
            Entry entry = pending.get();
            if (!keyId.value().equals(entry.keyId())) {
                // the entry replaced or removed this key
                return Optional.empty();
            }
            role = entry.role();
            secretHash = entry.secretHash();
            createdAt = entry.keyCreatedAt();
        }
        return Optional.of(new LiveKey(new KeyRecord(keyId, SecretHash.ofHex(secretHash), AccountId.of(key.accountId()), UserId.of(key.userId()),
                Role.fromWireName(role, "role"), Instant.parse(createdAt)), UserId.of(key.userId())));
    }

    private void requireKeyIdFree(KeyId keyId, Optional<User> owner)
    {
        Optional<LiveKey> live = liveKey(keyId);
        if (live.isPresent() && owner.map(user -> !user.accountId().equals(live.get().record().accountId()) || !user.id().equals(live.get().userId())).orElse(true)) {
            throw StoreErrors.keyIdInUse();
        }
    }

    private Key currentKey(User user)
    {
        LiveKey live = liveKey(user.keyId())
                .orElseThrow(() -> new LatchkeyException(ErrorCode.UNAVAILABLE, "the S3 store holds a user without its key"));
        return new Key(live.record().secretHash(), live.record().createdAt());
    }

    private static AccountView requireAccount(AccountView current, AccountId accountId)
    {
        if (!current.account().exists()) {
            throw StoreErrors.accountNotFound(accountId);
        }
        return current;
    }

    private User requireUser(AccountView view, UserId userId)
    {
        return user(view, userId).orElseThrow(() -> StoreErrors.userNotFound(AccountId.of(view.account().accountId()), userId));
    }

    private static Entry userEntry(ChangeType type, AccountView view, User after, Role oldRole, KeyId oldKeyId, SecretHash secretHash, Instant keyCreatedAt)
    {
        return new Entry(0, null, type.name(), view.account().accountId(), view.account().incarnation(), null, null, null,
                after.id().value(), after.role().wireName(), oldRole == null ? null : oldRole.wireName(), after.createdAt().toString(),
                oldKeyId == null ? null : oldKeyId.value(), after.keyId().value(), secretHash.toHex(), keyCreatedAt.toString());
    }

    /**
     * The account as an entry leaves it, with the entry applied.
     */
    private static Documents.Account afterEntry(Documents.Account account, Entry entry)
    {
        long pending = account.pending() > entry.position() ? account.pending() : 0;
        int admin = Role.ADMIN.wireName().equals(entry.role()) ? 1 : 0;
        return switch (ChangeType.valueOf(entry.type())) {
            case ACCOUNT_CREATED -> new Documents.Account(entry.accountId(), entry.accountCreatedAt(), entry.adminRequired(), entry.incarnation(), true,
                    entry.userId() == null ? 0 : 1, entry.userId() == null ? 0 : 1, entry.position(), pending);
            case ACCOUNT_DELETED -> new Documents.Account(entry.accountId(), account.createdAt(), account.adminRequired(), account.incarnation(), false,
                    0, 0, entry.position(), pending);
            case USER_ADDED -> counted(account, account.userCount() + 1, account.adminCount() + admin, entry.position(), pending);
            case USER_REMOVED -> counted(account, account.userCount() - 1, account.adminCount() - admin, entry.position(), pending);
            case ROLE_CHANGED -> counted(account, account.userCount(), account.adminCount() + (admin == 1 ? 1 : -1), entry.position(), pending);
            case KEY_REPLACED -> counted(account, account.userCount(), account.adminCount(), entry.position(), pending);
        };
    }

    private static Documents.Account counted(Documents.Account account, int userCount, int adminCount, long applied, long pending)
    {
        return new Documents.Account(account.accountId(), account.createdAt(), account.adminRequired(), account.incarnation(), account.exists(),
                userCount, adminCount, applied, pending);
    }

    private static Documents.Account absentAccount(AccountId accountId)
    {
        return new Documents.Account(accountId.value(), Instant.EPOCH.toString(), false, "", false, 0, 0, 0, 0);
    }

    private static Change toChange(Entry entry)
    {
        ChangeType type = ChangeType.valueOf(entry.type());
        List<KeyId> keyIds = switch (type) {
            case ACCOUNT_CREATED, USER_ADDED, ROLE_CHANGED -> entry.keyId() == null ? List.of() : List.of(KeyId.of(entry.keyId()));
            case KEY_REPLACED -> List.of(KeyId.of(entry.oldKeyId()), KeyId.of(entry.keyId()));
            case USER_REMOVED -> List.of(KeyId.of(entry.oldKeyId()));
            case ACCOUNT_DELETED -> List.of();
        };
        return new Change(FeedPosition.of(entry.position()), type, AccountId.of(entry.accountId()), Optional.ofNullable(entry.userId()).map(UserId::of),
                keyIds, Instant.parse(entry.committedAt()));
    }

    private static Account toAccount(Documents.Account account)
    {
        return new Account(AccountId.of(account.accountId()), Instant.parse(account.createdAt()), account.adminRequired());
    }

    // object keys

    private static String accountKey(AccountId accountId)
    {
        return ACCOUNTS + accountId.value() + "/account.json";
    }

    private static String usersDirectory(Documents.Account account)
    {
        return ACCOUNTS + account.accountId() + "/" + account.incarnation() + "/users/";
    }

    private static String userKey(String accountId, String incarnation, String userId)
    {
        return ACCOUNTS + accountId + "/" + incarnation + "/users/" + userId + JSON;
    }

    private static String keyKey(String keyId)
    {
        return KEYS + keyId + JSON;
    }

    private static long pageStart(long position)
    {
        return ((position - 1) / PAGE_SIZE) * PAGE_SIZE + 1;
    }

    private static String pageKey(long start)
    {
        return FEED + String.format("%020d", start) + JSON;
    }
}

package dev.latchkey.server.transfer;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.AccountSummary;
import dev.latchkey.core.domain.KeyAttributes;
import dev.latchkey.core.domain.KeyName;
import dev.latchkey.core.domain.KeySummary;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.Scopes;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.Actor;
import dev.latchkey.core.store.AuditQuery;
import dev.latchkey.core.store.AuditRecord;
import dev.latchkey.core.store.NewKey;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.store.UserQuery;
import dev.latchkey.core.store.memory.InMemoryIdentityStore;
import dev.latchkey.core.testing.TestingClock;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Export and import between two stores (in memory here; every store kind in {@code StoreTransferIT}): what comes
 * out is what went in, key by key, including the awkward cases (a user without a primary key, an admin-required
 * account whose first admin has none, a regenerated key and its grace key, scopes, expiry); what is refused; and
 * an import that failed half-way finished by a second run.
 */
public class TestStoreTransfer
{
    private static final AccountId ACME = AccountId.of("acme");
    private static final AccountId BETA = AccountId.of("beta");
    private static final AccountId DEFAULT = AccountId.of("default");

    @TempDir
    Path directory;

    private final TestingClock clock = new TestingClock();
    private final SecretHasher hasher = SecretHasher.sha256();
    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final InMemoryIdentityStore source = new InMemoryIdentityStore(clock);
    private final StringWriter progress = new StringWriter();
    private ApiKey expiring;

    @BeforeEach
    public void fillSource()
    {
        source.createAccount(new Account(DEFAULT, clock.instant(), false), Optional.empty());
        ApiKey alice = keys.random();
        source.createAccount(new Account(ACME, clock.instant(), true), Optional.of(newUser(ACME, "alice", Role.ADMIN, alice)));
        clock.advance(Duration.ofMinutes(1));
        source.addUser(newUser(ACME, "bob", Role.USER, keys.random()));
        source.addKey(newKey(ACME, "bob", KeyAttributes.extra(Optional.of(KeyName.of("ci")), Scopes.of("docs:read", "docs:*"), Optional.of(clock.instant().plus(Duration.ofDays(30))))));
        clock.advance(Duration.ofMinutes(1));
        // bob's primary key regenerated with a grace period: a later created_at, and the old key kept as previous
        ApiKey regenerated = keys.random();
        source.replaceKey(ACME, UserId.of("bob"), regenerated.keyId(), hasher.hash(regenerated.secret()), clock.instant(), Optional.of(clock.instant().plus(Duration.ofHours(1))));
        expiring = keys.random();
        source.addKey(new NewKey(ACME, UserId.of("bob"), expiring.keyId(), hasher.hash(expiring.secret()), clock.instant(),
                KeyAttributes.extra(Optional.empty(), Scopes.all(), Optional.of(clock.instant().plus(Duration.ofMinutes(5))))));
        // carol has no primary key, only an extra one
        ApiKey carols = keys.random();
        source.addUser(newUser(ACME, "carol", Role.USER, carols));
        source.addKey(newKey(ACME, "carol", KeyAttributes.extra(Optional.of(KeyName.of("laptop")), Scopes.all(), Optional.empty())));
        source.deleteKey(ACME, UserId.of("carol"), carols.keyId(), clock.instant());
        // beta's admins in id order: aaron has no primary key, zed has one
        ApiKey aarons = keys.random();
        source.createAccount(new Account(BETA, clock.instant(), true), Optional.of(newUser(BETA, "aaron", Role.ADMIN, aarons)));
        source.addKey(newKey(BETA, "aaron", KeyAttributes.extra(Optional.empty(), Scopes.of("latchkey:admin"), Optional.empty())));
        source.addUser(newUser(BETA, "zed", Role.ADMIN, keys.random()));
        source.deleteKey(BETA, UserId.of("aaron"), aarons.keyId(), clock.instant());
        clock.advance(Duration.ofMinutes(1));
    }

    @Test
    public void whatIsImportedIsWhatWasExportedKeyByKey()
            throws IOException
    {
        Path file = export(source);
        InMemoryIdentityStore target = new InMemoryIdentityStore(clock);

        StoreImport.Counts counts = new StoreImport(target, clock, 4).importFrom(file, progress());

        assertThat(counts).isEqualTo(new StoreImport.Counts(3, 5, 8));
        assertThat(contents(target)).isEqualTo(contents(source));
        assertThat(progress.toString()).contains("imported 8 keys of 5 users in 3 accounts").contains(": done");
    }

    @Test
    public void theExportHoldsTheAuditTrailAndTheImportStartsANewOne()
            throws IOException
    {
        Path file = export(source);
        List<String> audit = Files.readAllLines(file).stream().filter(line -> line.startsWith("{\"type\":\"audit\"")).toList();
        assertThat(audit).hasSize(source.listAudit(everything()).records().size()).hasSize(13);
        assertThat(audit.get(audit.size() - 1)).contains("\"change\":\"account_created\"", "\"account_id\":\"default\"", "\"actor_role\":\"system\"");
        assertThat(audit.get(0)).contains("\"change\":\"key_deleted\"", "\"account_id\":\"beta\"");

        InMemoryIdentityStore target = new InMemoryIdentityStore(clock);
        new StoreImport(target, clock, 2).importFrom(file, progress());

        List<AuditRecord> imported = target.listAudit(everything()).records();
        assertThat(imported).isNotEmpty().allSatisfy(record -> {
            assertThat(record.origin().actor()).isEqualTo(Actor.system());
            assertThat(record.origin().instanceId()).isEqualTo("latchkey-import");
            assertThat(record.origin().requestId()).isEqualTo(imported.get(0).origin().requestId()).startsWith("import-");
        });
    }

    private static AuditQuery everything()
    {
        return new AuditQuery(Optional.empty(), Optional.empty(), Instant.EPOCH, AuditQuery.MAX_LIMIT);
    }

    @Test
    public void keysExpiredWhenTheExportRunsAreLeftOut()
            throws IOException
    {
        clock.advance(Duration.ofMinutes(10));
        Path file = export(source);

        assertThat(Files.readAllLines(file)).filteredOn(line -> line.startsWith("{\"type\":\"key\"")).noneMatch(line -> line.contains(expiring.keyId().value()));
        InMemoryIdentityStore target = new InMemoryIdentityStore(clock);
        new StoreImport(target, clock, 1).importFrom(file, progress());
        assertThat(target.findKey(expiring.keyId())).isEmpty();
        assertThat(contents(target)).isEqualTo(contents(source));
    }

    @Test
    public void aStoreHoldingAnAccountNotInTheFileIsRefusedAndLeftAsItWas()
            throws IOException
    {
        Path file = export(source);
        InMemoryIdentityStore target = new InMemoryIdentityStore(clock);
        target.createAccount(new Account(AccountId.of("other"), clock.instant(), true), Optional.of(newUser(AccountId.of("other"), "admin", Role.ADMIN, keys.random())));

        assertThatThrownBy(() -> new StoreImport(target, clock, 2).importFrom(file, progress()))
                .isInstanceOfSatisfying(LatchkeyException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.FAILED_PRECONDITION);
                    assertThat(e.getMessage()).contains("not empty").contains("other");
                });
        assertThat(target.listAccounts()).extracting(AccountSummary::id).containsExactly(AccountId.of("other"));
    }

    @Test
    public void emptyAccountsOfTheTargetAreTakenAsTheyAre()
            throws IOException
    {
        Path file = export(source);
        InMemoryIdentityStore target = new InMemoryIdentityStore(clock);
        // a server started on the new store before the import: its default account, created later than the file's
        Account started = new Account(DEFAULT, clock.instant().plusSeconds(5), false);
        target.createAccount(started, Optional.empty());
        target.createAccount(new Account(AccountId.of("spare"), clock.instant(), false), Optional.empty());

        new StoreImport(target, clock, 2).importFrom(file, progress());

        assertThat(target.findAccount(DEFAULT)).contains(started);
        assertThat(target.findAccount(AccountId.of("spare"))).isPresent();
        assertThat(target.listUsers(ACME, UserQuery.all()).users()).hasSize(3);
    }

    @Test
    public void aRecordThatDiffersFromTheFilesIsRefused()
            throws IOException
    {
        Path file = export(source);
        InMemoryIdentityStore target = new InMemoryIdentityStore(clock);
        target.createAccount(new Account(DEFAULT, clock.instant().minusSeconds(1), true), Optional.empty());

        assertThatThrownBy(() -> new StoreImport(target, clock, 2).importFrom(file, progress()))
                .isInstanceOfSatisfying(LatchkeyException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.ALREADY_EXISTS);
                    assertThat(e.getMessage()).contains("account default");
                });
    }

    @Test
    public void anImportThatFailedHalfWayIsFinishedByASecondRun()
            throws IOException
    {
        Path file = export(source);
        InMemoryIdentityStore target = new InMemoryIdentityStore(clock);

        assertThatThrownBy(() -> new StoreImport(failingAfter(target, 6), clock, 1).importFrom(file, progress()))
                .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
        assertThat(contents(target)).as("half written").isNotEqualTo(contents(source));

        StoreImport.Counts counts = new StoreImport(target, clock, 3).importFrom(file, progress());

        assertThat(counts).isEqualTo(new StoreImport.Counts(3, 5, 8));
        assertThat(contents(target)).isEqualTo(contents(source));
        // and a third run changes nothing
        long head = target.headPosition().value();
        new StoreImport(target, clock, 3).importFrom(file, progress());
        assertThat(target.headPosition().value()).isEqualTo(head);
    }

    @Test
    public void aFileThatIsCutShortOrNotAnExportIsRefusedBeforeAnythingIsWritten()
            throws IOException
    {
        List<String> lines = Files.readAllLines(export(source));
        Map<String, List<String>> bad = new LinkedHashMap<>();
        bad.put("cut short", lines.subList(0, lines.size() - 1));
        bad.put("cut in a line", append(lines.subList(0, lines.size() - 1), lines.get(lines.size() - 1).substring(0, 10)));
        bad.put("no header", lines.subList(1, lines.size()));
        bad.put("a later version", replaceFirst(lines, "\"version\":2", "\"version\":3"));
        bad.put("counts that differ", replaceLast(lines, "\"keys\":8", "\"keys\":9"));
        bad.put("a key before its user", swap(lines, 2, 3));
        bad.put("not JSON", append(lines.subList(0, 1), "hello"));
        bad.put("a bad scope", replaceFirst(lines, "docs:read", "docs read"));
        bad.put("empty", List.of());
        for (Map.Entry<String, List<String>> entry : bad.entrySet()) {
            Path file = directory.resolve(entry.getKey().replace(' ', '-') + ".jsonl");
            Files.write(file, entry.getValue(), StandardCharsets.UTF_8);
            InMemoryIdentityStore target = new InMemoryIdentityStore(clock);

            assertThatThrownBy(() -> new StoreImport(target, clock, 2).importFrom(file, progress())).as(entry.getKey())
                    .isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
            assertThat(target.listAccounts()).as(entry.getKey()).isEmpty();
        }
    }

    // --- helpers

    private Path export(IdentityStore store)
            throws IOException
    {
        Path file = directory.resolve("export-" + System.nanoTime() + ".jsonl");
        try (Writer out = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            new StoreExport(store, clock).export("memory", out, progress());
        }
        return file;
    }

    private Progress progress()
    {
        return new Progress(new PrintWriter(progress, true), "imported", System::nanoTime);
    }

    /**
     * Everything a store holds, comparable: accounts, users and every key record (expired ones left out).
     */
    private List<Object> contents(IdentityStore store)
    {
        Instant now = clock.instant();
        List<Object> contents = new ArrayList<>();
        for (AccountSummary summary : store.listAccounts()) {
            contents.add(summary);
            contents.add(store.findAccount(summary.id()).orElseThrow());
            for (User user : store.listUsers(summary.id(), new UserQuery(UserQuery.MAX_LIMIT, Optional.empty(), Optional.empty(), Optional.empty())).users()) {
                contents.add(user);
                for (KeySummary key : store.listKeys(summary.id(), user.id(), now)) {
                    contents.add(store.findKey(key.keyId()).orElseThrow());
                }
            }
        }
        return contents;
    }

    private NewUser newUser(AccountId account, String user, Role role, ApiKey key)
    {
        return new NewUser(new User(account, UserId.of(user), role, key.keyId(), clock.instant()), hasher.hash(key.secret()));
    }

    private NewKey newKey(AccountId account, String user, KeyAttributes attributes)
    {
        ApiKey key = keys.random();
        return new NewKey(account, UserId.of(user), key.keyId(), hasher.hash(key.secret()), clock.instant(), attributes);
    }

    /**
     * The store, whose writes fail UNAVAILABLE from the {@code writes}+1-th on (a store that went away mid-import).
     */
    private static IdentityStore failingAfter(IdentityStore store, int writes)
    {
        Set<String> mutations = Set.of("createAccount", "addUser", "addKey", "replaceKey", "deleteKey");
        AtomicInteger made = new AtomicInteger();
        return (IdentityStore) Proxy.newProxyInstance(IdentityStore.class.getClassLoader(), new Class<?>[] {IdentityStore.class}, (proxy, method, args) -> {
            if (mutations.contains(method.getName()) && made.incrementAndGet() > writes) {
                throw new LatchkeyException(ErrorCode.UNAVAILABLE, "the store went away");
            }
            try {
                return method.invoke(store, args);
            }
            catch (InvocationTargetException e) {
                throw e.getCause();
            }
        });
    }

    private static List<String> append(List<String> lines, String line)
    {
        List<String> all = new ArrayList<>(lines);
        all.add(line);
        return all;
    }

    private static List<String> replaceFirst(List<String> lines, String text, String replacement)
    {
        List<String> all = new ArrayList<>(lines);
        for (int i = 0; i < all.size(); i++) {
            if (all.get(i).contains(text)) {
                all.set(i, all.get(i).replace(text, replacement));
                return all;
            }
        }
        throw new AssertionError("no line holds " + text);
    }

    private static List<String> replaceLast(List<String> lines, String text, String replacement)
    {
        List<String> all = new ArrayList<>(lines);
        int last = all.size() - 1;
        assertThat(all.get(last)).contains(text);
        all.set(last, all.get(last).replace(text, replacement));
        return all;
    }

    private static List<String> swap(List<String> lines, int first, int second)
    {
        List<String> all = new ArrayList<>(lines);
        String line = all.get(first);
        all.set(first, all.get(second));
        all.set(second, line);
        return all;
    }
}

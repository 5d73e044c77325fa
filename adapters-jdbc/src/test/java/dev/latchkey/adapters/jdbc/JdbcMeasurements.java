package dev.latchkey.adapters.jdbc;

import dev.latchkey.core.domain.Account;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.domain.Role;
import dev.latchkey.core.domain.User;
import dev.latchkey.core.domain.UserId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.key.ApiKeyGenerator;
import dev.latchkey.core.key.SecretHasher;
import dev.latchkey.core.store.NewUser;
import dev.latchkey.core.testing.WriteRounds;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The figures of docs/performance.md for the JDBC store, on a PostgreSQL server with durable settings (fsync and
 * synchronous commit on): admin writes per second through the store and through one server, and the start-up time
 * and heap of a server whose database holds a million keys. Not a test; run it by hand (see docs/performance.md):
 *
 * <pre>
 * java -cp ... dev.latchkey.adapters.jdbc.JdbcMeasurements app-http/target/latchkey.jar [keys [store,server,startup]]
 * </pre>
 */
public final class JdbcMeasurements
{
    private static final Duration ROUND = Duration.ofSeconds(5);
    private static final String ROOT_KEY = "measurements-root-key-0123456789abcdefghijklmnop";
    private static final Pattern LISTENING = Pattern.compile("listening on 127\\.0\\.0\\.1:(\\d+)");

    private final ApiKeyGenerator keys = new ApiKeyGenerator(new SecureRandom());
    private final SecretHasher hasher = SecretHasher.sha256();
    private final Clock clock = Clock.systemUTC();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

    private JdbcMeasurements() {}

    public static void main(String[] args)
            throws Exception
    {
        Path jar = Path.of(args[0]);
        int bulkKeys = args.length > 1 ? Integer.parseInt(args[1]) : 1_000_000;
        try (TestingPostgres postgres = TestingPostgres.start(true)) {
            JdbcMeasurements measurements = new JdbcMeasurements();
            List<String> parts = args.length > 2 ? List.of(args[2].split(",")) : List.of("store", "server", "startup");
            if (parts.contains("store")) {
                measurements.storeWrites(postgres);
            }
            if (parts.contains("server")) {
                measurements.serverWrites(postgres, jar);
            }
            if (parts.contains("startup")) {
                measurements.startUp(postgres, jar, bulkKeys);
            }
        }
    }

    /**
     * addUser through the store from 1, 4 and 16 threads, each on its own account (no account lock shared).
     */
    private void storeWrites(TestingPostgres postgres)
            throws Exception
    {
        try (JdbcIdentityStore store = JdbcIdentityStore.open(TestingJdbcStores.postgresConfig(postgres.createDatabase()).withPoolSize(16), clock)) {
            for (int threads : List.of(1, 4, 16)) {
                List<AccountId> accounts = new ArrayList<>();
                for (int i = 0; i < threads; i++) {
                    AccountId account = AccountId.of("store-" + threads + "-" + i);
                    store.createAccount(new Account(account, clock.instant(), false), Optional.empty());
                    accounts.add(account);
                }
                long writes = WriteRounds.writesWithin(ROUND, threads, (thread, count) -> store.addUser(newUser(accounts.get(thread), "user-" + count)));
                System.out.printf("store addUser, %d threads on %d accounts: %.0f writes/s%n", threads, threads, writes / (double) ROUND.toSeconds());
            }
            AccountId shared = AccountId.of("store-shared");
            store.createAccount(new Account(shared, clock.instant(), false), Optional.empty());
            long writes = WriteRounds.writesWithin(ROUND, 16, (thread, count) -> store.addUser(newUser(shared, "user-" + thread + "-" + count)));
            System.out.printf("store addUser, 16 threads on one account: %.0f writes/s%n", writes / (double) ROUND.toSeconds());
        }
    }

    /**
     * POST /users (key generated, hashed, stored, cache updated) on one server, from 16 client threads.
     */
    private void serverWrites(TestingPostgres postgres, Path jar)
            throws Exception
    {
        String url = postgres.createDatabase();
        Process server = launch(jar, url, "writes");
        try {
            URI base = awaitListening(server, Path.of("target/measure-writes.log"));
            awaitReady(base, Duration.ofSeconds(60));
            post(base, "/api/v1/admin/accounts", "{\"account_id\":\"acme\",\"admin_user_id\":\"owner\"}");
            for (int clients : List.of(1, 4, 16)) {
                long writes = WriteRounds.writesWithin(ROUND, clients, (thread, count) -> post(base, "/api/v1/admin/accounts/acme/users",
                        "{\"user_id\":\"user-" + clients + "-" + thread + "-" + count + "\",\"role\":\"user\"}"));
                System.out.printf("server POST users, %d clients, one account: %.0f writes/s%n", clients, writes / (double) ROUND.toSeconds());
            }
        }
        finally {
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /**
     * A server starting on a database that holds {@code bulkKeys} keys: time to /ready and heap after a full GC.
     */
    private void startUp(TestingPostgres postgres, Path jar, int bulkKeys)
            throws Exception
    {
        String url = postgres.createDatabase();
        JdbcIdentityStore.open(TestingJdbcStores.postgresConfig(url), clock).close();
        long load = System.nanoTime();
        try (Connection connection = DriverManager.getConnection(url, TestingPostgres.SUPERUSER, "");
                Statement statement = connection.createStatement()) {
            statement.execute("INSERT INTO latchkey_account VALUES ('bulk', now(), false)");
            statement.execute("INSERT INTO latchkey_user SELECT 'bulk', 'user-' || i, 'USER', now() FROM generate_series(1, " + bulkKeys + ") i");
            statement.execute("INSERT INTO latchkey_key SELECT lpad(to_hex(i), 16, '0'), sha256(int4send(i)), 'bulk', 'user-' || i, now() FROM generate_series(1, " + bulkKeys + ") i");
            statement.execute("VACUUM ANALYZE");
        }
        System.out.printf("loaded %d keys into PostgreSQL in %d ms%n", bulkKeys, Duration.ofNanos(System.nanoTime() - load).toMillis());
        for (int run = 0; run < 3; run++) {
            long start = System.nanoTime();
            Process server = launch(jar, url, "startup-" + run);
            try {
                URI base = awaitListening(server, Path.of("target/measure-startup-" + run + ".log"));
                long listening = System.nanoTime();
                awaitReady(base, Duration.ofSeconds(60));
                long ready = System.nanoTime();
                String heap = heapAfterFullGc(server.pid());
                System.out.printf("start-up with %d keys in the database: listening after %d ms, /ready 200 after %d ms; %s%n", bulkKeys,
                        Duration.ofNanos(listening - start).toMillis(), Duration.ofNanos(ready - start).toMillis(), heap);
            }
            finally {
                server.destroy();
                server.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    private Process launch(Path jar, String url, String name)
            throws IOException
    {
        Path log = Path.of("target/measure-" + name + ".log");
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m", "-jar", jar.toString())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        builder.environment().keySet().removeIf(variable -> variable.startsWith("LATCHKEY_"));
        builder.environment().put("LATCHKEY_HTTP_PORT", "0");
        builder.environment().put("LATCHKEY_STORE", "jdbc");
        builder.environment().put("LATCHKEY_JDBC_URL", url);
        builder.environment().put("LATCHKEY_JDBC_USER", TestingPostgres.SUPERUSER);
        builder.environment().put("LATCHKEY_ROOT_KEY", ROOT_KEY);
        return builder.start();
    }

    private static URI awaitListening(Process server, Path log)
            throws IOException
    {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() - deadline < 0) {
            if (Files.exists(log)) {
                Matcher matcher = LISTENING.matcher(Files.readString(log, StandardCharsets.UTF_8));
                if (matcher.find()) {
                    return URI.create("http://127.0.0.1:" + matcher.group(1));
                }
            }
            if (!server.isAlive()) {
                throw new IllegalStateException("the server exited: " + Files.readString(log, StandardCharsets.UTF_8));
            }
            LockSupport.parkNanos(Duration.ofMillis(5).toNanos());
        }
        throw new IllegalStateException("the server did not start");
    }

    private void awaitReady(URI base, Duration timeout)
            throws Exception
    {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (http.send(HttpRequest.newBuilder(base.resolve("/ready")).build(), HttpResponse.BodyHandlers.discarding()).statusCode() != 200) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("not ready");
            }
            LockSupport.parkNanos(Duration.ofMillis(5).toNanos());
        }
    }

    private void post(URI base, String path, String body)
    {
        try {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(base.resolve(path))
                            .header("X-API-Key", ROOT_KEY)
                            .header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(body))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) {
                throw new IllegalStateException(path + " answered " + response.statusCode() + ": " + response.body());
            }
        }
        catch (IOException e) {
            throw new IllegalStateException(e);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String heapAfterFullGc(long pid)
            throws Exception
    {
        run("jcmd", Long.toString(pid), "GC.run");
        String info = run("jcmd", Long.toString(pid), "GC.heap_info");
        Matcher used = Pattern.compile("used (\\d+)K").matcher(info);
        return used.find() ? "heap used after a full GC: " + Long.parseLong(used.group(1)) / 1024 + " MiB" : "heap: " + info;
    }

    private static String run(String... command)
            throws Exception
    {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        process.waitFor(30, TimeUnit.SECONDS);
        return output;
    }

    private NewUser newUser(AccountId account, String user)
    {
        ApiKey key = keys.random();
        return new NewUser(new User(account, UserId.of(user), Role.USER, key.keyId(), clock.instant()), hasher.hash(key.secret()));
    }
}

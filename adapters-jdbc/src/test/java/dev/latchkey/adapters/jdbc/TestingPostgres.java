package dev.latchkey.adapters.jdbc;

import io.zonky.test.db.postgres.embedded.DefaultPostgresBinaryResolver;
import io.zonky.test.db.postgres.util.ArchUtils;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * A real PostgreSQL server for tests, with no Docker and nothing installed: the binaries come from the
 * {@code io.zonky.test.postgres} jars on the test class path, unpacked once per machine into the temporary
 * directory.
 *
 * <p>{@code initdb} and {@code postgres} refuse to run as root. When the tests run as root (CI, these machines),
 * the server runs as an unprivileged user instead: {@code postgres} (system property
 * {@code latchkey.test.postgres.user} names another), through {@code setpriv} (or {@code runuser}), in a directory
 * that user owns. As any other user, it runs as that user. The server listens on 127.0.0.1 only, with trust
 * authentication, as superuser {@code postgres}.
 *
 * <p>{@link #shared()} is one server per JVM, for tests that only need a fresh database ({@link #createDatabase()});
 * tests that stop and restart the server start their own ({@link #start}). Every server is stopped when the JVM
 * exits.
 */
public final class TestingPostgres
        implements AutoCloseable
{
    public static final String SUPERUSER = "postgres";
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration POLL = Duration.ofMillis(20);
    private static final AtomicInteger DATABASES = new AtomicInteger();
    private static final List<TestingPostgres> RUNNING = new ArrayList<>();
    private static TestingPostgres shared;

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(TestingPostgres::stopAll, "testing-postgres-shutdown"));
    }

    private final Path binaries;
    private final Path directory;
    private final Path dataDirectory;
    private final int port;
    private final boolean durable;
    private final List<String> runAs;
    private Process process;

    private TestingPostgres(Path binaries, Path directory, int port, boolean durable, List<String> runAs)
    {
        this.binaries = binaries;
        this.directory = directory;
        this.dataDirectory = directory.resolve("data");
        this.port = port;
        this.durable = durable;
        this.runAs = runAs;
    }

    /**
     * The JVM's shared server, started on first use.
     */
    public static synchronized TestingPostgres shared()
    {
        if (shared == null) {
            shared = start(false);
        }
        return shared;
    }

    /**
     * A server of its own, in a new directory.
     *
     * @param durable true for the settings of a real deployment (fsync and synchronous commit, for measurements);
     *         false for speed (no fsync: a crash of the machine may lose data, a crash of the server does not)
     */
    public static TestingPostgres start(boolean durable)
    {
        try {
            Path binaries = unpackedBinaries();
            List<String> runAs = runAsPrefix();
            Path directory = Files.createTempDirectory("latchkey-postgres-");
            Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
            Path data = Files.createDirectory(directory.resolve("data"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            if (!runAs.isEmpty()) {
                UserPrincipalLookupService users = data.getFileSystem().getUserPrincipalLookupService();
                Files.setOwner(data, users.lookupPrincipalByName(serverUser()));
            }
            TestingPostgres server = new TestingPostgres(binaries, directory, freePort(), durable, runAs);
            server.initdb();
            server.startServer();
            synchronized (TestingPostgres.class) {
                RUNNING.add(server);
            }
            return server;
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int port()
    {
        return port;
    }

    /**
     * The JDBC URL of a database on this server.
     */
    public String url(String database)
    {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
    }

    /**
     * Creates a new, empty database and returns its JDBC URL (connect as {@link #SUPERUSER}, no password).
     */
    public String createDatabase()
    {
        String name = "latchkey_" + ProcessHandle.current().pid() + "_" + DATABASES.incrementAndGet();
        execute("CREATE DATABASE " + name);
        return url(name);
    }

    /**
     * Runs one statement in the {@code postgres} database as the superuser.
     */
    public void execute(String sql)
    {
        try (Connection connection = DriverManager.getConnection(url("postgres"), SUPERUSER, "");
                Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
        catch (SQLException e) {
            throw new IllegalStateException("cannot run " + sql + ": " + e.getMessage(), e);
        }
    }

    /**
     * Stops the server (fast shutdown: clients are disconnected, nothing committed is lost) and waits until it is
     * gone.
     */
    public synchronized void stop()
    {
        if (process == null) {
            return;
        }
        signal("INT");
        try {
            if (!process.waitFor(SHUTDOWN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                process.waitFor(SHUTDOWN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            }
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        awaitPostmasterGone();
        process = null;
    }

    /**
     * Starts the stopped server again, on the same port with the same data.
     */
    public synchronized void restart()
    {
        if (process != null) {
            throw new IllegalStateException("the server is running");
        }
        startServer();
    }

    @Override
    public void close()
    {
        stop();
        synchronized (TestingPostgres.class) {
            RUNNING.remove(this);
        }
        deleteRecursively(directory);
    }

    private void initdb()
    {
        List<String> command = new ArrayList<>(runAs);
        command.addAll(List.of(binaries.resolve("bin/initdb").toString(), "-D", dataDirectory.toString(), "-U", SUPERUSER,
                "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"));
        Path log = directory.resolve("initdb.log");
        try {
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).directory(directory.toFile());
            builder.environment().put("LC_ALL", "C");
            Process initdb = builder.start();
            if (!initdb.waitFor(STARTUP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS) || initdb.exitValue() != 0) {
                initdb.destroyForcibly();
                throw new IllegalStateException("initdb failed: " + Files.readString(log, StandardCharsets.UTF_8));
            }
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private synchronized void startServer()
    {
        List<String> command = new ArrayList<>(runAs);
        command.addAll(List.of(binaries.resolve("bin/postgres").toString(), "-D", dataDirectory.toString(), "-p", Integer.toString(port),
                "-c", "listen_addresses=127.0.0.1",
                "-c", "unix_socket_directories=",
                "-c", "max_connections=300",
                "-c", "shared_buffers=64MB",
                "-c", "log_min_messages=warning"));
        if (!durable) {
            command.addAll(List.of("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"));
        }
        try {
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(directory.resolve("postgres.log").toFile()))
                    .directory(directory.toFile());
            builder.environment().put("LC_ALL", "C");
            process = builder.start();
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        long deadline = System.nanoTime() + STARTUP_TIMEOUT.toNanos();
        while (true) {
            try (Connection connection = DriverManager.getConnection(url("postgres"), SUPERUSER, "")) {
                connection.isValid(1);
                return;
            }
            catch (SQLException e) {
                if (!process.isAlive() || System.nanoTime() - deadline > 0) {
                    process.destroyForcibly();
                    throw new IllegalStateException("PostgreSQL did not start: " + log(), e);
                }
                LockSupport.parkNanos(POLL.toNanos());
            }
        }
    }

    private String log()
    {
        try {
            return Files.readString(directory.resolve("postgres.log"), StandardCharsets.UTF_8);
        }
        catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /**
     * Signals the postmaster (whose pid is the first line of postmaster.pid: through runuser it is not our child).
     */
    private void signal(String name)
    {
        try {
            Path pidFile = dataDirectory.resolve("postmaster.pid");
            String pid = Files.exists(pidFile) ? Files.readAllLines(pidFile).get(0).trim() : Long.toString(process.pid());
            Process kill = new ProcessBuilder("kill", "-s", name, pid).redirectErrorStream(true).start();
            kill.waitFor(10, TimeUnit.SECONDS);
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void awaitPostmasterGone()
    {
        long deadline = System.nanoTime() + SHUTDOWN_TIMEOUT.toNanos();
        while (Files.exists(dataDirectory.resolve("postmaster.pid")) && System.nanoTime() - deadline < 0) {
            LockSupport.parkNanos(POLL.toNanos());
        }
    }

    private static synchronized void stopAll()
    {
        for (TestingPostgres server : List.copyOf(RUNNING)) {
            server.close();
        }
    }

    // --- who runs the server

    private static boolean runningAsRoot()
    {
        try {
            Path probe = Files.createTempFile("latchkey-uid-", ".probe");
            try {
                return ((Integer) Files.getAttribute(probe, "unix:uid")) == 0;
            }
            finally {
                Files.delete(probe);
            }
        }
        catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    private static String serverUser()
    {
        return System.getProperty("latchkey.test.postgres.user", "postgres");
    }

    /**
     * The command prefix that runs a program as the unprivileged server user; empty when not root.
     */
    private static List<String> runAsPrefix()
    {
        if (!runningAsRoot()) {
            return List.of();
        }
        String user = serverUser();
        String uid = idOf(user, "-u");
        String gid = idOf(user, "-g");
        if (onPath("setpriv")) {
            // exec's the program: the server is our child, and dies of the signals we send it
            return List.of("setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups", "--");
        }
        if (onPath("runuser")) {
            return List.of("runuser", "-u", user, "--");
        }
        throw new IllegalStateException("running as root, PostgreSQL must run as another user, but neither setpriv nor runuser is installed");
    }

    private static String idOf(String user, String option)
    {
        try {
            Process id = new ProcessBuilder("id", option, user).redirectErrorStream(true).start();
            String output = new String(id.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!id.waitFor(10, TimeUnit.SECONDS) || id.exitValue() != 0) {
                throw new IllegalStateException("running as root, PostgreSQL must run as an unprivileged user, but there is no user '" + user
                        + "': create one (useradd --system --user-group " + user + ") or name another with -Dlatchkey.test.postgres.user=NAME");
            }
            return output;
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static boolean onPath(String program)
    {
        String path = System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        return Stream.of(path.split(":")).anyMatch(directory -> Files.isExecutable(Path.of(directory, program)));
    }

    // --- binaries

    /**
     * The PostgreSQL binaries for this machine, unpacked once into the temporary directory (a directory named after
     * the digest of the archive, moved into place whole so that concurrent JVMs never see half of it).
     */
    private static synchronized Path unpackedBinaries()
            throws IOException
    {
        byte[] archive;
        try (InputStream in = DefaultPostgresBinaryResolver.INSTANCE.getPgBinary(operatingSystem(), ArchUtils.normalize(System.getProperty("os.arch")))) {
            archive = in.readAllBytes();
        }
        Path target = Path.of(System.getProperty("java.io.tmpdir"), "latchkey-postgres-binaries-" + digest(archive));
        if (Files.isExecutable(target.resolve("bin/postgres"))) {
            return target;
        }
        Path unpacking = Files.createTempDirectory(target.getParent(), target.getFileName() + ".unpacking-");
        try {
            unpack(archive, unpacking);
            Files.setPosixFilePermissions(unpacking, PosixFilePermissions.fromString("rwxr-xr-x"));
            try {
                Files.move(unpacking, target, StandardCopyOption.ATOMIC_MOVE);
            }
            catch (FileAlreadyExistsException | DirectoryNotEmptyException | AtomicMoveNotSupportedException e) {
                // another JVM unpacked them first
                if (!Files.isExecutable(target.resolve("bin/postgres"))) {
                    throw e;
                }
            }
        }
        finally {
            deleteRecursively(unpacking);
        }
        return target;
    }

    private static void unpack(byte[] archive, Path directory)
            throws IOException
    {
        try (TarArchiveInputStream tar = new TarArchiveInputStream(new XZCompressorInputStream(new ByteArrayInputStream(archive)))) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                Path path = directory.resolve(entry.getName()).normalize();
                if (!path.startsWith(directory)) {
                    throw new IOException("archive entry outside the directory: " + entry.getName());
                }
                if (entry.isDirectory()) {
                    Files.createDirectories(path);
                    Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rwxr-xr-x"));
                }
                else if (entry.isSymbolicLink()) {
                    Files.createDirectories(path.getParent());
                    Files.createSymbolicLink(path, Path.of(entry.getLinkName()));
                }
                else {
                    Files.createDirectories(path.getParent());
                    Files.copy(tar, path);
                    Files.setPosixFilePermissions(path, (entry.getMode() & 0100) != 0
                            ? Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE,
                                    PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ,
                                    PosixFilePermission.OTHERS_EXECUTE)
                            : PosixFilePermissions.fromString("rw-r--r--"));
                }
            }
        }
    }

    private static String operatingSystem()
    {
        String name = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        if (name.contains("mac")) {
            return "Darwin";
        }
        if (name.contains("win")) {
            return "Windows";
        }
        return "Linux";
    }

    private static String digest(byte[] bytes)
    {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)).substring(0, 16);
        }
        catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int freePort()
            throws IOException
    {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static void deleteRecursively(Path directory)
    {
        if (!Files.exists(directory)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(directory)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
        catch (IOException e) {
            // a temporary directory left behind is harmless
        }
    }
}

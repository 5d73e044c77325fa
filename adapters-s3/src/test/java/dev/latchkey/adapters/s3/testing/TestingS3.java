package dev.latchkey.adapters.s3.testing;

import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Exception;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static java.util.Objects.requireNonNull;

/**
 * A real S3-compatible server for tests, with no Docker: Adobe S3Mock, run from its runnable jar as a separate JVM
 * ({@code java -jar s3mock.jar}, with the {@code java} of this JVM), listening on free ports with its objects in a
 * new temporary directory.
 *
 * <p>The jar is the one the adapters-s3 build copies to {@code adapters-s3/target/s3mock/s3mock.jar} (phase
 * {@code generate-test-resources}); system property {@value #JAR_PROPERTY} names another. Relative to the working
 * directory it is looked up as {@code target/s3mock/s3mock.jar} (tests of adapters-s3) and then as
 * {@code ../adapters-s3/target/s3mock/s3mock.jar} (tests of a sibling module).
 *
 * <p>S3Mock checks no signatures and accepts any credentials; {@link #newClient()} signs with {@value #ACCESS_KEY} /
 * {@value #SECRET_KEY} in {@code us-east-1}, path-style ({@code http://127.0.0.1:port/bucket/key}). It serves plain
 * HTTP on {@link #endpoint()} and HTTPS with a self-signed certificate on another port, which the tests do not use
 * (its HTTP connector listens on every interface: S3Mock has no setting for that; clients use 127.0.0.1). Its
 * output goes to {@code s3mock.log} in its directory ({@link #log()}), not to the test's.
 *
 * <p>Starting S3Mock takes seconds, so test classes share {@link #shared()} (bucket {@value #SHARED_BUCKET}) and keep
 * apart by writing under a {@link #uniquePrefix(String)} each; tests that pause, or need buckets of their own, start
 * their own ({@link #start(String...)}). Every server is stopped when the JVM exits. A started server has answered
 * a few rounds of every kind of request the tests make: its first answers, before its JIT and its lazily
 * initialized parts are warm, take hundreds of milliseconds (measured: 330 ms for the first PUT, 20 ms later), longer
 * than a client's attempt timeout on a loaded machine, and no S3 is that slow.
 *
 * <p>S3Mock answers conditional requests ({@code If-None-Match: *} and {@code If-Match} on PutObject and
 * DeleteObject) correctly one at a time, but does not make them atomic under concurrency; put a
 * {@link #serializingProxy()} in front of it for tests that race writers on one key.
 */
public final class TestingS3
        implements AutoCloseable
{
    /**
     * The system property that names the S3Mock runnable jar.
     */
    public static final String JAR_PROPERTY = "latchkey.s3mock.jar";
    /**
     * When {@code true}, S3Mock is run for peak speed (every tier of the JIT compiler) rather than for a quick start
     * (the first tier only): what a load measurement wants once it has warmed S3Mock up.
     */
    public static final String PEAK_SPEED_PROPERTY = "latchkey.s3mock.peak-speed";
    public static final String SHARED_BUCKET = "latchkey-test";
    public static final String ACCESS_KEY = "test";
    public static final String SECRET_KEY = "test";
    public static final Region REGION = Region.US_EAST_1;

    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(15);
    private static final Duration POLL = Duration.ofMillis(50);
    private static final Duration PAUSE_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);
    private static final Duration SOCKET_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);
    private static final int PORT_ATTEMPTS = 3;
    private static final int LOG_TAIL_LINES = 40;
    private static final int WARM_UP_ROUNDS = 5;
    private static final Pattern BUCKET_NAME = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
    private static final List<TestingS3> RUNNING = new ArrayList<>();
    private static TestingS3 shared;

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(TestingS3::stopAll, "testing-s3-shutdown"));
    }

    private final Process process;
    private final Path directory;
    private final URI endpoint;
    private final List<String> buckets;
    private SerializingS3Proxy proxy;
    private boolean paused;
    private boolean closed;

    private TestingS3(Process process, Path directory, URI endpoint, List<String> buckets)
    {
        this.process = requireNonNull(process, "process is null");
        this.directory = requireNonNull(directory, "directory is null");
        this.endpoint = requireNonNull(endpoint, "endpoint is null");
        this.buckets = List.copyOf(buckets);
    }

    /**
     * The JVM's shared server, with bucket {@value #SHARED_BUCKET}, started on first use and stopped when the JVM
     * exits. Do not pause or close it; write under a {@link #uniquePrefix(String)}.
     */
    public static synchronized TestingS3 shared()
    {
        if (shared == null) {
            shared = start(SHARED_BUCKET);
        }
        return shared;
    }

    /**
     * Starts a server of its own, with these buckets (empty), and waits until it answers for each of them.
     *
     * @throws IllegalStateException if the jar is not found, or the server does not answer within a minute (the
     *         message carries the end of its log)
     */
    public static TestingS3 start(String... buckets)
    {
        List<String> names = List.of(buckets);
        if (names.isEmpty()) {
            throw new IllegalArgumentException("at least one bucket is needed");
        }
        for (String name : names) {
            if (!BUCKET_NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("not a valid bucket name: " + name);
            }
        }
        Path jar = jar();
        Path directory;
        try {
            directory = Files.createTempDirectory("latchkey-s3mock-");
            Files.createDirectory(directory.resolve("store"));
            Files.createDirectory(directory.resolve("tmp"));
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            for (int attempt = 1; ; attempt++) {
                int httpPort = freePort();
                int httpsPort = freePort();
                Process process = launch(jar, directory, httpPort, httpsPort, names);
                URI endpoint = URI.create("http://127.0.0.1:" + httpPort);
                if (awaitReady(process, endpoint, names, directory)) {
                    try {
                        warmUp(endpoint, names.get(0));
                    }
                    catch (RuntimeException e) {
                        stopProcess(process);
                        throw new IllegalStateException("S3Mock failed its warm-up requests; log:\n" + logTail(directory), e);
                    }
                    TestingS3 server = new TestingS3(process, directory, endpoint, names);
                    synchronized (TestingS3.class) {
                        RUNNING.add(server);
                    }
                    return server;
                }
                if (attempt == PORT_ATTEMPTS) {
                    throw new IllegalStateException("S3Mock did not start: its ports were taken " + PORT_ATTEMPTS + " times; log:\n" + logTail(directory));
                }
            }
        }
        catch (RuntimeException | Error e) {
            deleteRecursively(directory);
            throw e;
        }
    }

    /**
     * A key prefix no other test uses: {@code name-<random>/}.
     */
    public static String uniquePrefix(String name)
    {
        requireNonNull(name, "name is null");
        return name + "-" + UUID.randomUUID().toString().substring(0, 8) + "/";
    }

    /**
     * A client of the S3 server at this endpoint: path-style, region us-east-1, credentials
     * {@value #ACCESS_KEY}/{@value #SECRET_KEY}, the JDK's HTTP client, timeouts of seconds (connect 2 s, read 10 s,
     * whole call 30 s). Close it after use.
     */
    public static S3Client newClient(URI endpoint)
    {
        requireNonNull(endpoint, "endpoint is null");
        return S3Client.builder()
                .endpointOverride(endpoint)
                .region(REGION)
                .forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
                .httpClientBuilder(UrlConnectionHttpClient.builder()
                        .connectionTimeout(CONNECT_TIMEOUT)
                        .socketTimeout(SOCKET_TIMEOUT))
                .overrideConfiguration(configuration -> configuration.apiCallTimeout(CALL_TIMEOUT))
                .build();
    }

    /**
     * The plain-HTTP endpoint, {@code http://127.0.0.1:port}.
     */
    public URI endpoint()
    {
        return endpoint;
    }

    /**
     * The first bucket.
     */
    public String bucket()
    {
        return buckets.get(0);
    }

    public List<String> buckets()
    {
        return buckets;
    }

    /**
     * The process id of the server's JVM.
     */
    public long pid()
    {
        return process.pid();
    }

    /**
     * A new client of {@link #endpoint()} (see {@link #newClient(URI)}).
     */
    public S3Client newClient()
    {
        return newClient(endpoint);
    }

    /**
     * This server's {@link SerializingS3Proxy}, started (and warmed up, as the server is) on first use and closed with the server.
     */
    public synchronized SerializingS3Proxy serializingProxy()
    {
        checkOpen();
        if (proxy == null) {
            proxy = SerializingS3Proxy.start(endpoint);
            warmUp(proxy.endpoint(), bucket());
        }
        return proxy;
    }

    /**
     * Stops the server's JVM with SIGSTOP: it keeps its ports and accepts connections (the kernel completes them),
     * but answers nothing until {@link #resume()}, as a hung or partitioned server looks to a client. Requests sent
     * meanwhile are answered after the resume.
     */
    public synchronized void pause()
    {
        checkOpen();
        signal("STOP");
        paused = true;
        // SIGSTOP takes effect when each of S3Mock's threads next enters the kernel: without this wait, a request sent
        // at once was seen answered 20 ms later on a busy machine
        long deadline = System.nanoTime() + PAUSE_TIMEOUT.toNanos();
        while (!stopped(process.pid())) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("S3Mock (pid " + process.pid() + ") did not stop within " + PAUSE_TIMEOUT + " of SIGSTOP");
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
    }

    /**
     * Lets a {@link #pause() paused} server run again (SIGCONT).
     */
    public synchronized void resume()
    {
        checkOpen();
        signal("CONT");
        paused = false;
    }

    /**
     * Everything the server has logged (warnings and errors: its log level is WARN).
     */
    public String log()
    {
        try {
            return Files.readString(directory.resolve("s3mock.log"), StandardCharsets.UTF_8);
        }
        catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /**
     * Stops the server (and its proxy), waiting for its JVM to exit, and deletes its directory with every object.
     */
    @Override
    public void close()
    {
        SerializingS3Proxy proxyToClose;
        boolean wasPaused;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            proxyToClose = proxy;
            proxy = null;
            wasPaused = paused;
        }
        try {
            if (proxyToClose != null) {
                proxyToClose.close();
            }
            if (wasPaused) {
                // a stopped process takes SIGTERM only once it runs again
                signal("CONT");
            }
            stopProcess(process);
        }
        finally {
            synchronized (TestingS3.class) {
                RUNNING.remove(this);
                if (shared == this) {
                    shared = null;
                }
            }
            deleteRecursively(directory);
        }
    }

    @Override
    public String toString()
    {
        return "S3Mock " + endpoint + " (pid " + process.pid() + ", buckets " + buckets + ")";
    }

    private void checkOpen()
    {
        if (closed) {
            throw new IllegalStateException("closed: " + this);
        }
    }

    private void signal(String name)
    {
        try {
            Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).redirectErrorStream(true).start();
            String output = new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
                throw new IllegalStateException("kill -" + name + " " + process.pid() + " failed: " + output);
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

    private static synchronized void stopAll()
    {
        for (TestingS3 server : List.copyOf(RUNNING)) {
            server.close();
        }
    }

    // --- the process

    private static Path jar()
    {
        String configured = System.getProperty(JAR_PROPERTY);
        if (configured != null) {
            Path jar = Path.of(configured);
            if (!Files.isRegularFile(jar)) {
                throw new IllegalStateException("system property " + JAR_PROPERTY + " names " + jar.toAbsolutePath() + ", which is not a file");
            }
            return jar.toAbsolutePath();
        }
        List<Path> candidates = List.of(Path.of("target/s3mock/s3mock.jar"), Path.of("../adapters-s3/target/s3mock/s3mock.jar"));
        for (Path candidate : candidates) {
            if (Files.isRegularFile(candidate)) {
                return candidate.toAbsolutePath().normalize();
            }
        }
        throw new IllegalStateException("S3Mock's runnable jar is not at " + candidates.stream().map(path -> path.toAbsolutePath().normalize().toString()).toList()
                + ": build it with ./mvnw -pl adapters-s3 -am -DskipTests install (the build copies it to adapters-s3/target/s3mock/s3mock.jar),"
                + " or name it with -D" + JAR_PROPERTY + "=PATH");
    }

    private static Process launch(Path jar, Path directory, int httpPort, int httpsPort, List<String> buckets)
    {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m",
                "-Xss512k"));
        if (!Boolean.getBoolean(PEAK_SPEED_PROPERTY)) {
            // start-up time over peak speed: the compiler's first tier only
            command.add("-XX:TieredStopAtLevel=1");
        }
        command.addAll(List.of(
                // few threads on a small machine
                "-XX:+UseSerialGC",
                "-XX:-UsePerfData",
                // Tomcat's work directories
                "-Djava.io.tmpdir=" + directory.resolve("tmp"),
                "-jar", jar.toString(),
                "--com.adobe.testing.s3mock.http-port=" + httpPort,
                "--server.port=" + httpsPort,
                "--server.address=127.0.0.1",
                "--com.adobe.testing.s3mock.store.root=" + directory.resolve("store"),
                "--com.adobe.testing.s3mock.store.initial-buckets=" + String.join(",", buckets),
                "--com.adobe.testing.s3mock.store.retain-files-on-exit=false",
                "--logging.level.root=WARN",
                "--spring.main.banner-mode=off"));
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(directory.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(directory.resolve("s3mock.log").toFile()));
        // S3Mock and Spring Boot also read their settings from the environment
        builder.environment().keySet().removeIf(name -> {
            String upper = name.toUpperCase(Locale.ROOT);
            return upper.startsWith("COM_ADOBE_TESTING_S3MOCK") || upper.startsWith("SPRING_") || upper.startsWith("SERVER_") || upper.startsWith("LOGGING_")
                    || List.of("root", "initialBuckets", "retainFilesOnExit", "validKmsKeys").contains(name);
        });
        try {
            return builder.start();
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Waits until the server answers a HEAD of each bucket with 200 (S3Mock creates its initial buckets on the first
     * request).
     *
     * @return false if the server exited because a port was taken (the caller tries other ports)
     */
    private static boolean awaitReady(Process process, URI endpoint, List<String> buckets, Path directory)
    {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).version(HttpClient.Version.HTTP_1_1).build();
        long deadline = System.nanoTime() + STARTUP_TIMEOUT.toNanos();
        int ready = 0;
        while (ready < buckets.size()) {
            if (!process.isAlive()) {
                String log = logTail(directory);
                if (log.contains("already in use")) {
                    return false;
                }
                throw new IllegalStateException("S3Mock exited with status " + process.exitValue() + " while starting; log:\n" + log);
            }
            if (System.nanoTime() - deadline > 0) {
                stopProcess(process);
                throw new IllegalStateException("S3Mock did not answer at " + endpoint + " within " + STARTUP_TIMEOUT + "; log:\n" + logTail(directory));
            }
            try {
                HttpRequest head = HttpRequest.newBuilder(endpoint.resolve("/" + buckets.get(ready)))
                        .method("HEAD", HttpRequest.BodyPublishers.noBody())
                        .timeout(Duration.ofSeconds(10))
                        .build();
                if (http.send(head, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    ready++;
                    continue;
                }
            }
            catch (IOException e) {
                // not listening yet
            }
            catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                stopProcess(process);
                throw new IllegalStateException("interrupted", e);
            }
            LockSupport.parkNanos(POLL.toNanos());
        }
        return true;
    }

    private static void warmUp(URI endpoint, String bucket)
    {
        String prefix = uniquePrefix("warm-up");
        try (S3Client client = newClient(endpoint)) {
            for (int round = 0; round < WARM_UP_ROUNDS; round++) {
                String key = prefix + round;
                String etag = client.putObject(request -> request.bucket(bucket).key(key).ifNoneMatch("*"), RequestBody.fromString("warm-up")).eTag();
                expectFailure(() -> client.putObject(request -> request.bucket(bucket).key(key).ifNoneMatch("*"), RequestBody.fromString("again")));
                String replaced = client.putObject(request -> request.bucket(bucket).key(key).ifMatch(etag), RequestBody.fromString("replaced")).eTag();
                client.getObjectAsBytes(request -> request.bucket(bucket).key(key));
                expectFailure(() -> client.getObjectAsBytes(request -> request.bucket(bucket).key(key).ifNoneMatch(replaced)));
                expectFailure(() -> client.getObjectAsBytes(request -> request.bucket(bucket).key(prefix + "missing")));
                client.listObjectsV2(request -> request.bucket(bucket).prefix(prefix).delimiter("/"));
                client.deleteObject(request -> request.bucket(bucket).key(key));
            }
        }
    }

    private static void expectFailure(Runnable request)
    {
        try {
            request.run();
        }
        catch (S3Exception e) {
            // 412, 304 or 404: what the round asks for
        }
    }

    private static void stopProcess(Process process)
    {
        process.destroy();
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
    }

    private static String logTail(Path directory)
    {
        try {
            List<String> lines = Files.readAllLines(directory.resolve("s3mock.log"), StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()));
        }
        catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    private static int freePort()
    {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
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

    /**
     * Whether every thread of the process is stopped (by SIGSTOP), from {@code /proc/<pid>/task/<tid>/stat}.
     */
    private static boolean stopped(long pid)
    {
        try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            return tasks.allMatch(task -> {
                try {
                    String stat = Files.readString(task.resolve("stat"), StandardCharsets.US_ASCII);
                    // "tid (name) state ...": the name may hold spaces and parentheses
                    char state = stat.charAt(stat.lastIndexOf(')') + 2);
                    return state == 'T' || state == 't';
                }
                catch (NoSuchFileException e) {
                    // a thread that ended meanwhile
                    return true;
                }
                catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

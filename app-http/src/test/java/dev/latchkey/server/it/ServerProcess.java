package dev.latchkey.server.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * One real Latchkey server, {@code java -jar latchkey.jar}, on a free port and a given filesystem store, with its
 * log (standard error and output) in a file. Started with {@link #launch} (returns at once, so several can boot
 * together) and {@link #awaitReady}; stopped with SIGTERM by {@link #close()} or with SIGKILL by {@link #kill()}.
 */
final class ServerProcess
        implements AutoCloseable
{
    static final String JAR_PROPERTY = "latchkey.jar";

    private static final Pattern LISTENING = Pattern.compile("listening on 127\\.0\\.0\\.1:(\\d+)");
    private static final Duration POLL = Duration.ofMillis(20);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    private static final HttpClient HEALTH_CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final String name;
    private final Process process;
    private final Path log;
    private volatile URI baseUri;

    private ServerProcess(String name, Process process, Path log)
    {
        this.name = requireNonNull(name, "name is null");
        this.process = requireNonNull(process, "process is null");
        this.log = requireNonNull(log, "log is null");
    }

    /**
     * The jar under test, from the {@value #JAR_PROPERTY} system property that failsafe sets.
     */
    static Path jar()
    {
        String jar = System.getProperty(JAR_PROPERTY);
        assertThat(jar).as("system property %s (run through failsafe: ./mvnw verify)", JAR_PROPERTY).isNotBlank();
        Path path = Path.of(jar);
        assertThat(path).as("the server jar (build it first: ./mvnw install -DskipTests)").isRegularFile();
        return path;
    }

    /**
     * Starts a server process on any free port, with the default poll interval and negative-cache period, and
     * returns without waiting for it to serve. Its log goes to {@code <logDirectory>/<name>.log}.
     */
    static ServerProcess launch(String name, Path storeDirectory, String rootKey, Path logDirectory)
    {
        return launch(name, Map.of("LATCHKEY_FS_DIR", storeDirectory.toString()), rootKey, logDirectory);
    }

    /**
     * Starts a server process as {@link #launch(String, Path, String, Path)} does, on the store that the
     * {@code LATCHKEY_*} variables given name (with the {@code AWS_*} credentials it needs, and any other setting).
     */
    static ServerProcess launch(String name, Map<String, String> store, String rootKey, Path logDirectory)
    {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx256m");
        command.add("-XX:+UseSerialGC");
        command.add("-jar");
        command.add(jar().toString());
        try {
            Files.createDirectories(logDirectory);
            Path log = logDirectory.resolve(name + ".log");
            ProcessBuilder builder = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()));
            Map<String, String> environment = builder.environment();
            // only the settings given: none inherited from the environment of the build (AWS_ ones are settings too)
            environment.keySet().removeIf(variable -> variable.startsWith("LATCHKEY_") || variable.startsWith("AWS_"));
            environment.put("LATCHKEY_HTTP_PORT", "0");
            environment.putAll(store);
            environment.put("LATCHKEY_ROOT_KEY", rootKey);
            return new ServerProcess(name, builder.start(), log);
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Waits until the process has logged its port and answers {@code GET /health} with 200, failing the test past
     * the deadline or if the process exits.
     */
    ServerProcess awaitReady(Duration timeout)
    {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (baseUri == null) {
            listeningPort().ifPresent(port -> baseUri = URI.create("http://127.0.0.1:" + port));
            awaitAgain(deadline, timeout, "its port in the log");
        }
        while (!healthy()) {
            awaitAgain(deadline, timeout, "GET /health to answer 200");
        }
        return this;
    }

    private void awaitAgain(long deadline, Duration timeout, String what)
    {
        if (!process.isAlive()) {
            fail("%s exited with status %s while waiting for %s; log %s:%n%s", name, process.exitValue(), what, log, logText());
        }
        if (System.nanoTime() - deadline > 0) {
            fail("%s: waited %s for %s; log %s:%n%s", name, timeout, what, log, logText());
        }
        LockSupport.parkNanos(POLL.toNanos());
    }

    private Optional<Integer> listeningPort()
    {
        Matcher matcher = LISTENING.matcher(logText());
        return matcher.find() ? Optional.of(Integer.parseInt(matcher.group(1))) : Optional.empty();
    }

    private boolean healthy()
    {
        HttpRequest request = HttpRequest.newBuilder(uri("/health")).timeout(Duration.ofSeconds(2)).GET().build();
        try {
            return HEALTH_CLIENT.send(request, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        }
        catch (IOException e) {
            return false;
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for " + name, e);
        }
    }

    String name()
    {
        return name;
    }

    /**
     * The address of a path on this server.
     */
    URI uri(String pathAndQuery)
    {
        URI base = baseUri;
        if (base == null) {
            throw new IllegalStateException(name + " is not ready");
        }
        return base.resolve(pathAndQuery);
    }

    /**
     * Everything the process wrote so far, standard error and output together.
     */
    String logText()
    {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        }
        catch (IOException e) {
            return "(log unreadable: " + e.getMessage() + ")";
        }
    }

    /**
     * SIGTERM, as a service manager stops a service, without waiting for the process to exit.
     */
    void terminate()
    {
        process.destroy();
    }

    /**
     * Waits for the process to exit and returns its exit status; fails the test past the deadline.
     */
    int awaitExit(Duration timeout)
            throws InterruptedException
    {
        assertThat(process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)).as("%s exited within %s; log:%n%s", name, timeout, logText()).isTrue();
        return process.exitValue();
    }

    /**
     * The loopback port the process serves on (once {@link #awaitReady} returned).
     */
    int port()
    {
        return uri("/").getPort();
    }

    /**
     * SIGSTOP: the process stays, answering nothing, as a frozen VM or a long GC pause would ({@link #resume}).
     */
    void pause()
    {
        signal("STOP");
    }

    /**
     * SIGCONT, after {@link #pause}.
     */
    void resume()
    {
        signal("CONT");
    }

    private void signal(String signal)
    {
        try {
            Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).redirectErrorStream(true).start();
            assertThat(kill.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)).as("kill -%s %s", signal, this).isTrue();
            assertThat(kill.exitValue()).as("kill -%s %s", signal, this).isZero();
        }
        catch (IOException e) {
            throw new UncheckedIOException("kill -" + signal + " failed", e);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /**
     * SIGKILL, as a crash or the OOM killer would: no shutdown hook runs.
     */
    void kill()
            throws InterruptedException
    {
        process.destroyForcibly();
        assertThat(process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)).as("%s died after SIGKILL", name).isTrue();
    }

    /**
     * SIGTERM (a clean stop), then SIGKILL if the process has not exited within the stop timeout.
     */
    @Override
    public void close()
    {
        process.destroy();
        try {
            if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                System.out.printf("%s did not stop within %s of SIGTERM; killing it%n", name, STOP_TIMEOUT);
                process.destroyForcibly().waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            }
        }
        catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString()
    {
        return name + " (pid " + process.pid() + ", " + (baseUri == null ? "starting" : baseUri) + ")";
    }
}

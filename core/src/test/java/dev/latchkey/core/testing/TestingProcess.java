package dev.latchkey.core.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A test program (a class with a {@code main}, on this JVM's class path) running in its own JVM, with its output
 * lines collected as they arrive and a way to send it lines: the store adapters' multi-process tests (writers racing
 * on one store, writers killed mid-burst, a resolver in another process).
 */
public final class TestingProcess
        implements AutoCloseable
{
    private static final Duration POLL = Duration.ofMillis(5);

    private final Process process;
    private final Path logFile;
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final Thread reader;

    private final Path outputFile;

    private TestingProcess(Process process, Path logFile, Path outputFile)
    {
        this.process = process;
        this.logFile = logFile;
        this.outputFile = outputFile;
        this.reader = new Thread(this::readLines, "workload-output-" + process.pid());
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * @param logFile where the program's standard error goes; its standard output goes to the same name with
     *         {@code .out} appended, and is read from there: a pipe's last lines can be lost when the process is
     *         killed while they are read, a file keeps everything the process wrote
     */
    public static TestingProcess start(Class<?> main, Path logFile, String... arguments)
    {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx128m");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(main.getName());
        command.addAll(List.of(arguments));
        try {
            Path outputFile = logFile.resolveSibling(logFile.getFileName() + ".out");
            Process process = new ProcessBuilder(command).redirectError(logFile.toFile()).redirectOutput(outputFile.toFile()).start();
            return new TestingProcess(process, logFile, outputFile);
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Follows the output file until the process has exited and everything it wrote has been read.
     */
    private void readLines()
    {
        ByteArrayOutputStream partial = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        try (InputStream output = Files.newInputStream(outputFile)) {
            while (true) {
                boolean exited = !process.isAlive();
                int read = output.read(buffer);
                if (read > 0) {
                    for (int i = 0; i < read; i++) {
                        if (buffer[i] == '\n') {
                            lines.add(partial.toString(StandardCharsets.UTF_8));
                            partial.reset();
                        }
                        else {
                            partial.write(buffer[i]);
                        }
                    }
                    continue;
                }
                if (exited) {
                    return;
                }
                LockSupport.parkNanos(POLL.toNanos());
            }
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Waits until the process has printed a line that matches, failing the test past the deadline.
     */
    public void awaitLines(Predicate<String> matching, int count, Duration timeout)
    {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (lines.stream().filter(matching).count() < count) {
            assertThat(System.nanoTime() - deadline).as("waited %s for %s lines; the process printed %s", timeout, count, lines).isNegative();
            assertThat(process.isAlive() || lines.stream().filter(matching).count() >= count)
                    .as("process exited early: %s; its standard error: %s", lines, errorOutput())
                    .isTrue();
            LockSupport.parkNanos(POLL.toNanos());
        }
    }

    /**
     * Sends one line to the process's standard input.
     */
    public void send(String line)
    {
        try {
            process.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
            process.getOutputStream().flush();
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Sends a line and waits for the next line of output, which it returns.
     */
    public String request(String line, Duration timeout)
    {
        int before = lines.size();
        send(line);
        awaitLines(ignored -> true, before + 1, timeout);
        return lines.get(before);
    }

    /**
     * Waits for the process to exit by itself and for all of its output.
     */
    public List<String> awaitExit(Duration timeout)
            throws InterruptedException
    {
        assertThat(process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)).as("process finished in time").isTrue();
        reader.join(timeout.toMillis());
        assertThat(process.exitValue()).as("exit status; output: %s; standard error: %s", lines, errorOutput()).isZero();
        return List.copyOf(lines);
    }

    /**
     * Kills the process with SIGKILL, as a crash or an OOM killer would, and returns everything it printed.
     */
    public List<String> kill(Duration timeout)
            throws InterruptedException
    {
        process.destroyForcibly();
        assertThat(process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)).as("process died in time").isTrue();
        reader.join(timeout.toMillis());
        return List.copyOf(lines);
    }

    private String errorOutput()
    {
        try {
            return Files.readString(logFile, StandardCharsets.UTF_8);
        }
        catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    @Override
    public void close()
    {
        process.destroyForcibly();
    }
}

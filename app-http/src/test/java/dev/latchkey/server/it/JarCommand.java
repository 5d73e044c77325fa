package dev.latchkey.server.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One run of the built jar as a command ({@code java -jar latchkey.jar ARGS}), as an operator runs it: a process of
 * its own, with only the settings given (no {@code LATCHKEY_*} or {@code AWS_*} variable of the build's environment),
 * waited for with a deadline.
 */
final class JarCommand
{
    private JarCommand() {}

    /**
     * What the command printed and how it exited.
     */
    record Run(int exitCode, String out, String err) {}

    /**
     * @param directory where its output is kept until read
     */
    static Run run(Path directory, Map<String, String> environment, Duration timeout, String... args)
    {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m", "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1", "-jar", ServerProcess.jar().toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().keySet().removeIf(variable -> variable.startsWith("LATCHKEY_") || variable.startsWith("AWS_"));
        builder.environment().putAll(environment);
        try {
            Path out = Files.createTempFile(directory, "out", ".txt");
            Path err = Files.createTempFile(directory, "err", ".txt");
            Process process = builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("latchkey " + String.join(" ", args) + " did not finish within " + timeout);
            }
            return new Run(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}

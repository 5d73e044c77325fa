package dev.latchkey.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.latchkey.core.error.LatchkeyException;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * What every admin command takes: where the server is, whose key to call it with, how long to wait, and how to
 * print. The key comes from {@code LATCHKEY_ADMIN_KEY} or {@code --key-file}, never from a command-line value
 * (which {@code ps} would show to every user of the machine).
 */
public final class AdminConnection
{
    /** The variable the command line reads the admin key from (a setting of the client, not of the server). */
    public static final String KEY_VARIABLE = "LATCHKEY_ADMIN_KEY";

    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--url", paramLabel = "URL", defaultValue = "http://127.0.0.1:1933", description = "the server (default: ${DEFAULT-VALUE})")
    String url;

    @Option(names = "--key-file", paramLabel = "FILE", description = "a file holding the admin key (default: the " + KEY_VARIABLE + " variable)")
    Path keyFile;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "10", description = "how long to wait for the server, in seconds (default: ${DEFAULT-VALUE})")
    int timeoutSeconds;

    @Option(names = "--json", description = "print the server's result as JSON, for scripts")
    boolean json;

    /** The environment, replaceable in tests. */
    Map<String, String> environment = System.getenv();

    /**
     * Runs one call against the server and prints what it returns; prints the error and returns its exit code
     * ({@link ExitCodes}) otherwise. Never prints a stack trace.
     *
     * @param call makes the call and returns its result
     * @param human prints the result for a person (when not {@code --json})
     */
    int run(Function<AdminClient, JsonNode> call, Human human)
    {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try {
            JsonNode result = call.apply(client());
            if (json) {
                out.println(result.toPrettyString());
            }
            else {
                human.print(result, out);
            }
            out.flush();
            return ExitCodes.OK;
        }
        catch (LatchkeyException e) {
            err.println("latchkey: " + e.getMessage());
            err.flush();
            return ExitCodes.of(e.code());
        }
        catch (UsageException e) {
            err.println("latchkey: " + e.getMessage());
            err.flush();
            return ExitCodes.USAGE;
        }
    }

    /**
     * Prints a result for a person.
     */
    interface Human
    {
        void print(JsonNode result, PrintWriter out);
    }

    private AdminClient client()
    {
        if (timeoutSeconds < 1) {
            throw new UsageException("--timeout must be at least 1 second");
        }
        return new AdminClient(baseUri(), key(), Duration.ofSeconds(timeoutSeconds));
    }

    /**
     * The server's base URL: {@code --url}, with a slash at the end of its path.
     */
    URI baseUri()
    {
        try {
            URI uri = new URI(url);
            if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null || uri.getRawQuery() != null || uri.getRawFragment() != null) {
                throw new UsageException("--url must be an http:// or https:// URL with a host (and no query), not " + url);
            }
            // a base path (a server behind a path prefix) ends with a slash, so that the API paths resolve under it
            return url.endsWith("/") ? uri : new URI(url + "/");
        }
        catch (URISyntaxException e) {
            throw new UsageException("--url is not a URL: " + url);
        }
    }

    private String key()
    {
        if (keyFile != null) {
            try {
                String key = Files.readString(keyFile, StandardCharsets.UTF_8).strip();
                if (key.isEmpty()) {
                    throw new UsageException("the key file " + keyFile + " is empty");
                }
                return key;
            }
            catch (NoSuchFileException e) {
                throw new UsageException("the key file " + keyFile + " does not exist");
            }
            catch (IOException e) {
                throw new UsageException("cannot read the key file " + keyFile + ": " + e.getMessage());
            }
        }
        return Optional.ofNullable(environment.get(KEY_VARIABLE))
                .map(String::strip)
                .filter(key -> !key.isEmpty())
                .orElseThrow(() -> new UsageException("no admin key: set " + KEY_VARIABLE + " or give --key-file FILE"));
    }

    /**
     * A mistake on the command line that no server call can fix.
     */
    static final class UsageException
            extends RuntimeException
    {
        UsageException(String message)
        {
            super(message, null, false, false);
        }
    }

    /**
     * Reads a secret value (a seed) from a file, for options that must not take it on the command line.
     */
    static String readSecretFile(Path file, String what)
    {
        try {
            String value = Files.readString(file, StandardCharsets.UTF_8).strip();
            if (value.isEmpty()) {
                throw new UsageException("the " + what + " file " + file + " is empty");
            }
            return value;
        }
        catch (IOException e) {
            throw new UsageException("cannot read the " + what + " file " + file + ": " + e.getMessage());
        }
    }
}

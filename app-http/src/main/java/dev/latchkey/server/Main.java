package dev.latchkey.server;

import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.server.config.ConfigException;
import dev.latchkey.server.config.LogFormat;
import dev.latchkey.server.config.Settings;
import dev.latchkey.server.cli.AccountCommands;
import dev.latchkey.server.cli.KeyCommands;
import dev.latchkey.server.cli.StoreCommands;
import dev.latchkey.server.cli.UserCommands;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.Callable;

/**
 * {@code java -jar latchkey.jar [serve] [--config FILE]}: serves until SIGTERM (or SIGINT), then drains for
 * {@code LATCHKEY_SHUTDOWN_DRAIN} and stops; exits with status 2 on a bad setting, 1 when the store cannot be opened.
 * {@code account}, {@code user} and {@code key} call a running server's admin API
 * ({@link dev.latchkey.server.cli}); {@code generate-completion} prints a bash/zsh completion script.
 */
@Command(name = "latchkey", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "API-key authentication for services behind a load balancer. Without a sub-command, serves.",
        subcommands = {Main.Serve.class, AccountCommands.class, UserCommands.class, KeyCommands.class, StoreCommands.class, AutoComplete.GenerateCompletion.class})
public final class Main
        implements Callable<Integer>
{
    @Spec
    CommandSpec spec;

    // here and on serve: `--config FILE serve` and `serve --config FILE` both work (the admin commands take none)
    @Option(names = "--config", paramLabel = "FILE", description = "a properties file of LATCHKEY_* settings (the environment overrides it)")
    Path config;

    public static void main(String[] args)
    {
        System.exit(new CommandLine(new Main()).execute(args));
    }

    @Override
    public Integer call()
            throws InterruptedException
    {
        return serve(spec, config);
    }

    @Command(name = "serve", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, description = "Serve the HTTP API (the default).")
    static final class Serve
            implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @ParentCommand
        Main main;

        @Option(names = "--config", paramLabel = "FILE", description = "a properties file of LATCHKEY_* settings (the environment overrides it)")
        Path config;

        @Override
        public Integer call()
                throws InterruptedException
        {
            return serve(spec, configFile());
        }

        /**
         * The config file given after {@code serve}, else the one given before it; null when none was.
         */
        Path configFile()
        {
            return config != null ? config : main.config;
        }
    }

    private static int serve(CommandSpec spec, Path config)
            throws InterruptedException
    {
        LatchkeyServer server;
        try {
            Settings settings = Settings.load(Optional.ofNullable(config), System.getenv());
            LogFormat.from(settings).install();
            server = LatchkeyServer.start(settings);
        }
        catch (ConfigException e) {
            spec.commandLine().getErr().println("latchkey: " + e.getMessage());
            return 2;
        }
        catch (LatchkeyException e) {
            // the store could not be opened (unreachable, say): worth starting again later, unlike a bad setting
            spec.commandLine().getErr().println("latchkey: cannot start: " + e.getMessage());
            return 1;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::drainAndClose, "latchkey-shutdown"));
        server.awaitStop();
        return 0;
    }

    /**
     * The version of the build ({@code version.properties}), or {@code unknown} when the jar has none.
     */
    static String buildVersion()
    {
        Properties properties = new Properties();
        try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
            if (in != null) {
                properties.load(in);
            }
        }
        catch (IOException e) {
            // unknown below
        }
        return properties.getProperty("version", "unknown");
    }

    /**
     * The version of the build, which the build writes into {@code version.properties}.
     */
    static final class Version
            implements IVersionProvider
    {
        @Override
        public String[] getVersion()
                throws IOException
        {
            Properties properties = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
                if (in == null) {
                    throw new IOException("version.properties is missing from the jar");
                }
                properties.load(in);
            }
            return new String[] {"Latchkey " + properties.getProperty("version")};
        }
    }
}

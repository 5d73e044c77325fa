package dev.latchkey.server;

import dev.latchkey.server.config.ConfigException;
import dev.latchkey.server.config.Settings;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code java -jar latchkey.jar [serve] [--config FILE]}.
 */
@Command(name = "latchkey", mixinStandardHelpOptions = true, version = "Latchkey 0.1.0",
        description = "API-key authentication for services behind a load balancer. Without a sub-command, serves.",
        subcommands = Main.Serve.class)
public final class Main
        implements Callable<Integer>
{
    @Spec
    CommandSpec spec;

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

    @Command(name = "serve", mixinStandardHelpOptions = true, description = "Serve the HTTP API (the default).")
    static final class Serve
            implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Option(names = "--config", paramLabel = "FILE", description = "a properties file of LATCHKEY_* settings (the environment overrides it)")
        Path config;

        @Override
        public Integer call()
                throws InterruptedException
        {
            return serve(spec, config);
        }
    }

    private static int serve(CommandSpec spec, Path config)
            throws InterruptedException
    {
        LatchkeyServer server;
        try {
            server = LatchkeyServer.start(Settings.load(Optional.ofNullable(config), System.getenv()));
        }
        catch (ConfigException e) {
            spec.commandLine().getErr().println("latchkey: " + e.getMessage());
            return 2;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "latchkey-shutdown"));
        server.awaitStop();
        return 0;
    }
}

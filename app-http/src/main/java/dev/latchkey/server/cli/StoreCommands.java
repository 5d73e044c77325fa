package dev.latchkey.server.cli;

import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.server.config.ConfigException;
import dev.latchkey.server.config.Settings;
import dev.latchkey.server.transfer.StoreTransfer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Function;

/**
 * {@code latchkey store export|import}: moving a deployment between stores. The store is configured as for
 * {@code serve} (the {@code LATCHKEY_*} settings, or {@code --config FILE}); these commands open it directly, not
 * through a server.
 */
@Command(name = "store", mixinStandardHelpOptions = true, description = "Export a whole store to a file, or import one into an empty store.",
        subcommands = {StoreCommands.Export.class, StoreCommands.Import.class})
public final class StoreCommands
        implements Callable<Integer>
{
    @Spec
    CommandSpec spec;

    @Override
    public Integer call()
    {
        spec.commandLine().usage(spec.commandLine().getErr());
        return ExitCodes.USAGE;
    }

    @Command(name = "export", mixinStandardHelpOptions = true, description = "Write every account, user and live key (ids and hashes) to a JSON Lines file.")
    static final class Export
            implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Option(names = "--config", paramLabel = "FILE", description = "a properties file of LATCHKEY_* settings (the environment overrides it)")
        Path config;

        @Option(names = "--out", required = true, paramLabel = "FILE", description = "the export file (written whole, or not at all)")
        Path out;

        @Override
        public Integer call()
        {
            return transfer(spec, config, transfer -> {
                var counts = transfer.export(out);
                return "exported " + counts.accounts() + " accounts, " + counts.users() + " users and " + counts.keys() + " keys to " + out;
            });
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true, description = "Write an export file into an empty store, keeping every key id and hash.")
    static final class Import
            implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Option(names = "--config", paramLabel = "FILE", description = "a properties file of LATCHKEY_* settings (the environment overrides it)")
        Path config;

        @Option(names = "--in", required = true, paramLabel = "FILE", description = "the export file")
        Path in;

        @Option(names = "--threads", paramLabel = "N", defaultValue = "8", description = "users written side by side (default: ${DEFAULT-VALUE})")
        int threads;

        @Override
        public Integer call()
        {
            if (threads < 1 || threads > 64) {
                spec.commandLine().getErr().println("latchkey: --threads must be from 1 to 64");
                return ExitCodes.USAGE;
            }
            return transfer(spec, config, transfer -> {
                var counts = transfer.importFrom(in, threads);
                return "the store holds the " + counts.accounts() + " accounts, " + counts.users() + " users and " + counts.keys() + " keys of " + in;
            });
        }
    }

    private static int transfer(CommandSpec spec, Path config, Function<StoreTransfer, String> action)
    {
        PrintWriter err = spec.commandLine().getErr();
        try {
            Settings settings = Settings.load(Optional.ofNullable(config), System.getenv());
            String done = action.apply(new StoreTransfer(settings, Clock.systemUTC(), err));
            err.println("latchkey: " + done);
            return ExitCodes.OK;
        }
        catch (ConfigException e) {
            err.println("latchkey: " + e.getMessage());
            return ExitCodes.USAGE;
        }
        catch (LatchkeyException e) {
            err.println("latchkey: " + e.getMessage());
            return ExitCodes.of(e.code());
        }
        catch (UncheckedIOException e) {
            err.println("latchkey: " + e.getMessage());
            return ExitCodes.USAGE;
        }
        finally {
            err.flush();
        }
    }
}

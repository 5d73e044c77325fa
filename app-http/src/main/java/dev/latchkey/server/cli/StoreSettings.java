package dev.latchkey.server.cli;

import dev.latchkey.core.error.LatchkeyException;
import dev.latchkey.server.config.ConfigException;
import dev.latchkey.server.config.Settings;
import dev.latchkey.server.transfer.StoreTransfer;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import java.util.function.Function;

/**
 * What the store commands take to open a store: the settings of {@code serve} (the environment, and
 * {@code --config FILE}). Runs one transfer and prints its outcome, or its error with the exit code of its category.
 */
final class StoreSettings
{
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE", description = "a properties file of LATCHKEY_* settings (the environment overrides it)")
    Path config;

    /**
     * @param action does the transfer and says what it did
     */
    int transfer(Function<StoreTransfer, String> action)
    {
        PrintWriter err = spec.commandLine().getErr();
        try {
            Settings settings = Settings.load(Optional.ofNullable(config), System.getenv());
            String done = action.apply(new StoreTransfer(settings, Clock.systemUTC(), err));
            err.println("latchkey: " + done);
            return ExitCodes.OK;
        }
        catch (ConfigException | UncheckedIOException e) {
            err.println("latchkey: " + e.getMessage());
            return ExitCodes.USAGE;
        }
        catch (LatchkeyException e) {
            err.println("latchkey: " + e.getMessage());
            return ExitCodes.of(e.code());
        }
        finally {
            err.flush();
        }
    }
}

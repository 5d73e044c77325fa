package dev.latchkey.server.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code latchkey store export|import}: moving a deployment between stores. The store is configured as for
 * {@code serve} (the {@code LATCHKEY_*} settings, or {@code --config FILE}); these commands open it directly, not
 * through a server.
 */
@Command(name = "store", mixinStandardHelpOptions = true, description = "Export a whole store to a file, or import one into an empty store.",
        subcommands = {StoreCommands.Export.class, StoreCommands.Import.class})
public final class StoreCommands
        extends CommandGroup
{
    @Command(name = "export", mixinStandardHelpOptions = true, description = "Write every account, user and live key (ids and hashes) to a JSON Lines file.")
    static final class Export
            implements Callable<Integer>
    {
        @Mixin
        StoreSettings store;

        @Option(names = "--out", required = true, paramLabel = "FILE", description = "the export file (written whole, or not at all)")
        Path out;

        @Override
        public Integer call()
        {
            return store.transfer(transfer -> {
                var counts = transfer.export(out);
                return "exported " + counts.accounts() + " accounts, " + counts.users() + " users, " + counts.keys() + " keys and " + counts.auditRecords()
                        + " audit records to " + out;
            });
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true, description = "Write an export file into an empty store, keeping every key id and hash.")
    static final class Import
            implements Callable<Integer>
    {
        @Mixin
        StoreSettings store;

        @Option(names = "--in", required = true, paramLabel = "FILE", description = "the export file")
        Path in;

        @Option(names = "--threads", paramLabel = "N", defaultValue = "8", description = "users written side by side (default: ${DEFAULT-VALUE})")
        int threads;

        @Override
        public Integer call()
        {
            if (threads < 1 || threads > 64) {
                store.spec.commandLine().getErr().println("latchkey: --threads must be from 1 to 64");
                return ExitCodes.USAGE;
            }
            return store.transfer(transfer -> {
                var counts = transfer.importFrom(in, threads);
                return "the store holds the " + counts.accounts() + " accounts, " + counts.users() + " users and " + counts.keys() + " keys of " + in;
            });
        }
    }
}

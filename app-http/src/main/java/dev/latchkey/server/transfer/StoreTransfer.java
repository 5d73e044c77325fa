package dev.latchkey.server.transfer;

import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.server.config.ServerConfig;
import dev.latchkey.server.config.Settings;
import dev.latchkey.server.store.StoreModule;
import dev.latchkey.server.store.StoreModules;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;

import static java.util.Objects.requireNonNull;

/**
 * {@code latchkey store export} and {@code import}: a store opened as {@code serve} would open it (the same settings),
 * and a file.
 */
public final class StoreTransfer
{
    private final Settings settings;
    private final Clock clock;
    private final PrintWriter err;

    public StoreTransfer(Settings settings, Clock clock, PrintWriter err)
    {
        this.settings = requireNonNull(settings, "settings is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.err = requireNonNull(err, "err is null");
    }

    /**
     * Writes the whole store to {@code out}: to a temporary file beside it first, renamed to {@code out} once whole,
     * so that {@code out} is never a partial export.
     */
    public StoreExport.Counts export(Path out)
    {
        StoreModule module = StoreModules.select(settings.string(ServerConfig.STORE, "filesystem"), settings);
        Path partial = out.resolveSibling(out.getFileName() + ".partial");
        boolean written = false;
        try (IdentityStore store = module.open(clock)) {
            StoreExport.Counts counts;
            try (BufferedWriter writer = Files.newBufferedWriter(partial, StandardCharsets.UTF_8)) {
                counts = new StoreExport(store, clock).export(module.kind() + " at " + module.location(), writer, new Progress(err, "exported", System::nanoTime));
            }
            Files.move(partial, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            written = true;
            return counts;
        }
        catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
        finally {
            if (!written) {
                deleteQuietly(partial);
            }
        }
    }

    /**
     * Writes {@code in} into the store ({@link StoreImport}).
     */
    public StoreImport.Counts importFrom(Path in, int threads)
    {
        if (!Files.isRegularFile(in)) {
            throw ExportFormat.badFile(in + " is not a file");
        }
        StoreModule module = StoreModules.select(settings.string(ServerConfig.STORE, "filesystem"), settings);
        try (IdentityStore store = module.open(clock)) {
            return new StoreImport(store, clock, threads).importFrom(in, new Progress(err, "imported", System::nanoTime));
        }
    }

    private static void deleteQuietly(Path file)
    {
        try {
            Files.deleteIfExists(file);
        }
        catch (IOException e) {
            // the export failed already: that is the error to report
        }
    }
}

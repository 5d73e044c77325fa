package dev.latchkey.server.store;

import dev.latchkey.server.config.ConfigException;
import dev.latchkey.server.config.ServerConfig;
import dev.latchkey.server.config.Settings;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Picks the store adapter named by {@code LATCHKEY_STORE}.
 */
public final class StoreModules
{
    public static final String FS_DIR = "LATCHKEY_FS_DIR";
    /**
     * Every store kind, by its {@code LATCHKEY_STORE} name, in the order the error message lists them.
     */
    private static final Map<String, Function<Settings, StoreModule>> KINDS = kinds();

    /**
     * Every setting of every store (the {@code AWS_*} credentials included).
     */
    public static final List<String> SETTINGS = Stream.of(List.of(FS_DIR), S3StoreModule.SETTINGS, JdbcStoreModule.SETTINGS)
            .flatMap(List::stream)
            .toList();

    private StoreModules() {}

    public static StoreModule select(String kind, Settings settings)
    {
        Function<Settings, StoreModule> store = KINDS.get(kind);
        if (store == null) {
            throw new ConfigException(ServerConfig.STORE + " must be one of " + String.join(", ", KINDS.keySet()) + ", not '" + kind + "'");
        }
        return store.apply(settings);
    }

    private static Map<String, Function<Settings, StoreModule>> kinds()
    {
        Map<String, Function<Settings, StoreModule>> kinds = new LinkedHashMap<>();
        kinds.put("filesystem", settings -> new FileSystemStoreModule(fileSystemDirectory(settings)));
        kinds.put("s3", S3StoreModule::from);
        kinds.put("jdbc", JdbcStoreModule::from);
        return Collections.unmodifiableMap(kinds);
    }

    private static Path fileSystemDirectory(Settings settings)
    {
        String text = settings.string(FS_DIR, "./data");
        Path directory;
        try {
            directory = Path.of(text);
        }
        catch (InvalidPathException e) {
            throw new ConfigException(FS_DIR + " is not a valid path: " + e.getReason());
        }
        if (Files.exists(directory) && !Files.isDirectory(directory)) {
            throw new ConfigException(FS_DIR + " must be a directory, not the file " + directory.toAbsolutePath());
        }
        return directory;
    }
}

package dev.latchkey.server.store;

import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.latchkey.adapters.filesystem.FileSystemIdentityStore;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.server.Closer;

import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The filesystem store in {@code LATCHKEY_FS_DIR}; keeps a generated root key in {@code <dir>/root.key}.
 */
public final class FileSystemStoreModule
        extends StoreModule
{
    private final Path directory;

    public FileSystemStoreModule(Path directory)
    {
        this.directory = requireNonNull(directory, "directory is null").toAbsolutePath().normalize();
    }

    @Override
    protected void configure() {}

    @Provides
    @Singleton
    IdentityStore store(Clock clock, Closer closer)
    {
        return closer.register("store", open(clock));
    }

    @Override
    public IdentityStore open(Clock clock)
    {
        return FileSystemIdentityStore.open(directory, clock);
    }

    @Override
    public String kind()
    {
        return "filesystem";
    }

    @Override
    public String location()
    {
        return directory.toString();
    }

    @Override
    public Optional<String> generatedRootKey()
    {
        return Optional.of(RootKeyFile.loadOrCreate(directory));
    }
}

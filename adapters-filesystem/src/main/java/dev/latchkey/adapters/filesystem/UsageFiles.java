package dev.latchkey.adapters.filesystem;

import dev.latchkey.core.domain.KeyId;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import static java.util.Objects.requireNonNull;

/**
 * When keys were last used, one file per instance, apart from the accounts, the feed and the store lock.
 *
 * <h2>Layout</h2>
 * <pre>
 * usage/&lt;instance&gt;.json   {"instance_id": "...", "last_used": {"&lt;keyId&gt;": "&lt;instant&gt;", ...}}: the latest use of
 *                         every key this instance has recorded
 * usage/&lt;instance&gt;.lock   the lock of that file, so that two handles reporting as the same instance never lose
 *                         each other's updates (an OS file lock, like {@code store.lock}; empty)
 * </pre>
 * The instance's name is encoded like every id ({@link FileNames}).
 *
 * <p>A flush takes its instance's lock (never the store's), reads its file, keeps the later instant of each key and
 * writes the file back atomically (temporary file, rename): one file read and one file written, whatever the number
 * of keys. Every instance writes only its own file, so instances never wait for each other. A read of the last uses
 * reads every instance's file and takes the latest instant of each key.
 */
final class UsageFiles
{
    private static final String JSON = ".json";

    private final Path directory;
    private final StoreFiles files;
    private final Duration lockTimeout;

    UsageFiles(Path directory, StoreFiles files, Duration lockTimeout)
            throws IOException
    {
        this.directory = requireNonNull(directory, "directory is null");
        this.files = requireNonNull(files, "files is null");
        this.lockTimeout = requireNonNull(lockTimeout, "lockTimeout is null");
        files.createDirectories(directory);
    }

    /**
     * Merges one instance's report into its file: per key, the later of the stored and the reported instant.
     */
    void record(String instanceId, Map<KeyId, Instant> lastUsed)
    {
        if (lastUsed.isEmpty()) {
            return;
        }
        String name = FileNames.encode(instanceId);
        Path file = directory.resolve(name + JSON);
        Path lockFile = directory.resolve(name + ".lock");
        try {
            files.createFileIfAbsent(lockFile);
        }
        catch (IOException e) {
            throw FileSystemIdentityStore.unavailable(e);
        }
        new StoreLock(lockFile, lockTimeout).call(() -> {
            Map<String, Instant> merged = new TreeMap<>(files.read(file, UsageFile.class).map(UsageFile::lastUsed).orElse(Map.of()));
            boolean changed = false;
            for (Map.Entry<KeyId, Instant> use : lastUsed.entrySet()) {
                String keyId = use.getKey().value();
                Instant at = requireNonNull(use.getValue(), "an instant of use is null");
                Instant stored = merged.get(keyId);
                if (stored == null || at.isAfter(stored)) {
                    merged.put(keyId, at);
                    changed = true;
                }
            }
            if (changed) {
                files.write(file, new UsageFile(instanceId, merged));
            }
            return null;
        });
    }

    /**
     * The latest recorded use of each of these keys, across every instance's file.
     */
    Map<KeyId, Instant> lastUsed(Collection<KeyId> keyIds)
            throws IOException
    {
        Map<KeyId, Instant> found = new HashMap<>();
        if (keyIds.isEmpty()) {
            return found;
        }
        for (String name : files.list(directory)) {
            if (!name.endsWith(JSON)) {
                continue;
            }
            Optional<UsageFile> usage = files.read(directory.resolve(name), UsageFile.class);
            if (usage.isEmpty()) {
                continue;
            }
            Map<String, Instant> uses = usage.get().lastUsed();
            for (KeyId keyId : keyIds) {
                Instant at = uses.get(keyId.value());
                if (at != null) {
                    found.merge(keyId, at, (a, b) -> a.isAfter(b) ? a : b);
                }
            }
        }
        return found;
    }

    /**
     * {@code usage/<instance>.json}.
     *
     * @param lastUsed the latest use of each key, by key id
     */
    record UsageFile(String instanceId, Map<String, Instant> lastUsed)
    {
        UsageFile
        {
            lastUsed = lastUsed == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(lastUsed));
        }
    }
}

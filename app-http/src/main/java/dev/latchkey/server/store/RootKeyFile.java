package dev.latchkey.server.store;

import dev.latchkey.core.key.Base62;
import dev.latchkey.server.config.ConfigException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.UUID;

/**
 * The root key generated on first start of a filesystem store, in {@code <dir>/root.key} (mode 0600, directory
 * 0700): the one secret Latchkey writes in plaintext. When several instances start at once on a fresh directory,
 * exactly one creates the file (an exclusive hard link of a complete temporary file) and the others read it. The
 * path is logged, never the key.
 */
final class RootKeyFile
{
    private static final Logger LOG = LoggerFactory.getLogger(RootKeyFile.class);
    private static final int LENGTH = 48;

    private RootKeyFile() {}

    static String loadOrCreate(Path directory)
    {
        Path file = directory.resolve("root.key");
        try {
            if (!Files.exists(file)) {
                create(directory, file);
            }
            String key = Files.readString(file, StandardCharsets.UTF_8).trim();
            if (key.length() < 32) {
                throw new ConfigException(file + " does not hold a root key of at least 32 characters");
            }
            return key;
        }
        catch (IOException e) {
            throw new ConfigException("cannot read or create the root key file " + file + ": " + e.getMessage());
        }
    }

    private static void create(Path directory, Path file)
            throws IOException
    {
        boolean posix = directory.getFileSystem().supportedFileAttributeViews().contains("posix");
        if (!Files.isDirectory(directory)) {
            Files.createDirectories(directory);
            if (posix) {
                Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwx------"));
            }
        }
        Path temporary = directory.resolve("root.key." + UUID.randomUUID() + ".tmp");
        try {
            if (posix) {
                Files.createFile(temporary, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            }
            Files.writeString(temporary, generate() + "\n", StandardCharsets.UTF_8);
            try {
                Files.createLink(file, temporary);
                LOG.info("generated a root key in {} (mode 0600); set LATCHKEY_ROOT_KEY to use your own", file);
            }
            catch (FileAlreadyExistsException e) {
                LOG.info("using the root key in {}", file);
            }
        }
        finally {
            Files.deleteIfExists(temporary);
        }
    }

    private static String generate()
    {
        SecureRandom random = new SecureRandom();
        StringBuilder key = new StringBuilder(LENGTH);
        for (int i = 0; i < LENGTH; i++) {
            key.append(Base62.ALPHABET.charAt(random.nextInt(Base62.ALPHABET.length())));
        }
        return key.toString();
    }
}

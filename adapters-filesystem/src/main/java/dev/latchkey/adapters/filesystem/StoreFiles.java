package dev.latchkey.adapters.filesystem;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.deser.std.FromStringDeserializer;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * Reads and writes the store's JSON files so that no reader ever sees a torn file: a write goes to a temporary
 * file in the same filesystem, is forced to disk, renamed atomically over its target, and the directory is forced
 * too. Files are created 0600 and directories 0700 where the filesystem has POSIX permissions.
 */
final class StoreFiles
{
    private static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> DIRECTORY_MODE = PosixFilePermissions.fromString("rwx------");

    private final ObjectMapper mapper = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            // instants as ISO-8601 text, as Instant.toString writes them
            .addModule(new SimpleModule("latchkey-filesystem")
                    .addSerializer(Instant.class, ToStringSerializer.instance)
                    .addDeserializer(Instant.class, new FromStringDeserializer<>(Instant.class)
                    {
                        @Override
                        protected Instant _deserialize(String value, DeserializationContext context)
                        {
                            return Instant.parse(value);
                        }
                    }))
            .defaultPropertyInclusion(JsonInclude.Value.construct(JsonInclude.Include.NON_NULL, JsonInclude.Include.NON_NULL))
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();
    private final ObjectWriter lineWriter = mapper.writer().without(SerializationFeature.INDENT_OUTPUT);
    private final Path temporaryDirectory;
    private final boolean posix;
    private final MutationHook beforeMutation;

    /**
     * Called before every write or delete of a store file; tests use it to stop a writer at a chosen step, as a
     * crash would.
     */
    interface MutationHook
    {
        MutationHook NONE = file -> {};

        void beforeMutation(Path file)
                throws IOException;
    }

    /**
     * A store file that exists but holds no valid value of its type: a failure of its content, not of the I/O.
     */
    static final class CorruptFileException
            extends IOException
    {
        CorruptFileException(Path file, Throwable cause)
        {
            super("corrupt store file " + file.getFileName(), cause);
        }
    }

    StoreFiles(Path root, MutationHook beforeMutation)
            throws IOException
    {
        this.beforeMutation = requireNonNull(beforeMutation, "beforeMutation is null");
        this.temporaryDirectory = requireNonNull(root, "root is null").resolve("tmp");
        this.posix = root.getFileSystem().supportedFileAttributeViews().contains("posix");
        createDirectories(root);
        createDirectories(temporaryDirectory);
    }

    <T> Optional<T> read(Path file, Class<T> type)
            throws IOException
    {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        }
        catch (NoSuchFileException e) {
            return Optional.empty();
        }
        try {
            return Optional.of(mapper.readValue(bytes, type));
        }
        catch (JacksonException e) {
            throw new CorruptFileException(file, e);
        }
    }

    void write(Path file, Object value)
            throws IOException
    {
        beforeMutation.beforeMutation(file);
        writeBytes(file, mapper.writeValueAsBytes(value));
    }

    /**
     * Reads a file of JSON lines, one value a line (blank lines skipped).
     *
     * @return empty when the file does not exist
     */
    <T> Optional<List<T>> readLines(Path file, Class<T> type)
            throws IOException
    {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        }
        catch (NoSuchFileException e) {
            return Optional.empty();
        }
        List<T> values = new ArrayList<>(lines.size());
        for (String line : lines) {
            if (line.isBlank()) {
                continue;
            }
            try {
                values.add(mapper.readValue(line, type));
            }
            catch (JacksonException e) {
                throw new CorruptFileException(file, e);
            }
        }
        return Optional.of(values);
    }

    /**
     * Writes values as JSON lines (one compact value a line), atomically as {@link #write} does.
     */
    void writeLines(Path file, List<?> values)
            throws IOException
    {
        beforeMutation.beforeMutation(file);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (Object value : values) {
            bytes.write(lineWriter.writeValueAsBytes(value));
            bytes.write('\n');
        }
        writeBytes(file, bytes.toByteArray());
    }

    /**
     * Creates an empty file (mode 0600) unless it exists: a lock file, which is no store data.
     */
    void createFileIfAbsent(Path file)
            throws IOException
    {
        if (Files.exists(file)) {
            return;
        }
        createDirectories(file.getParent());
        try {
            Files.createFile(file, fileAttributes(FILE_MODE));
        }
        catch (FileAlreadyExistsException e) {
            // created concurrently
        }
    }

    private void writeBytes(Path file, byte[] bytes)
            throws IOException
    {
        createDirectories(file.getParent());
        Path temporary = temporaryDirectory.resolve(UUID.randomUUID() + ".tmp");
        try (FileChannel channel = FileChannel.open(temporary, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), fileAttributes(FILE_MODE))) {
            channel.write(ByteBuffer.wrap(bytes));
            channel.force(true);
        }
        try {
            Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        finally {
            Files.deleteIfExists(temporary);
        }
        forceDirectory(file.getParent());
    }

    void delete(Path file)
            throws IOException
    {
        beforeMutation.beforeMutation(file);
        if (Files.deleteIfExists(file)) {
            forceDirectory(file.getParent());
        }
    }

    /**
     * Deletes an empty directory; does nothing when it is absent.
     */
    void deleteDirectory(Path directory)
            throws IOException
    {
        beforeMutation.beforeMutation(directory);
        try {
            Files.deleteIfExists(directory);
        }
        catch (DirectoryNotEmptyException e) {
            throw new IOException("directory not empty: " + directory.getFileName(), e);
        }
    }

    /**
     * The names of the entries of a directory, or none when it does not exist.
     */
    List<String> list(Path directory)
            throws IOException
    {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
            entries.forEach(entry -> names.add(entry.getFileName().toString()));
        }
        catch (NoSuchFileException e) {
            return List.of();
        }
        return names;
    }

    void createDirectories(Path directory)
            throws IOException
    {
        if (Files.isDirectory(directory)) {
            return;
        }
        createDirectories(directory.getParent());
        try {
            Files.createDirectory(directory, fileAttributes(DIRECTORY_MODE));
        }
        catch (FileAlreadyExistsException e) {
            if (!Files.isDirectory(directory)) {
                throw e;
            }
        }
    }

    /**
     * Removes temporary files that a killed writer left behind (older than the given age, so a live writer's file
     * is never touched).
     */
    void removeStaleTemporaryFiles(Instant now, Duration age)
    {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(temporaryDirectory)) {
            for (Path entry : entries) {
                if (Files.getLastModifiedTime(entry).toInstant().plus(age).isBefore(now)) {
                    Files.deleteIfExists(entry);
                }
            }
        }
        catch (IOException | UncheckedIOException e) {
            // best effort: stale temporary files are harmless
        }
    }

    private FileAttribute<?>[] fileAttributes(Set<PosixFilePermission> mode)
    {
        return posix ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(mode)} : new FileAttribute<?>[0];
    }

    private static void forceDirectory(Path directory)
    {
        try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
            channel.force(true);
        }
        catch (IOException e) {
            // some platforms cannot open or force a directory; the rename is still atomic there
        }
    }
}

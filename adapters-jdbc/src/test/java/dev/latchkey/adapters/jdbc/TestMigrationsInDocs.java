package dev.latchkey.adapters.jdbc;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The SQL in docs/sql/ (for DBAs who apply the schema themselves) is exactly what the jar migrates with.
 */
class TestMigrationsInDocs
{
    private static final Path DOCS = Path.of("..", "docs", "sql");
    private static final Path SOURCES = Path.of("src", "main", "resources", "dev", "latchkey", "adapters", "jdbc", "migration");

    @Test
    void theDocsHoldEveryMigrationOfTheJarUnchanged()
            throws IOException
    {
        for (String database : List.of("postgresql", "h2")) {
            List<Path> documented;
            try (Stream<Path> files = Files.list(DOCS.resolve(database))) {
                documented = files.sorted().toList();
            }
            List<Path> shippedFiles;
            try (Stream<Path> files = Files.list(SOURCES.resolve(database))) {
                shippedFiles = files.sorted().toList();
            }
            assertThat(documented).as("migrations documented for %s", database).isNotEmpty();
            assertThat(documented.stream().map(path -> path.getFileName().toString()).toList())
                    .as("every migration of %s is documented", database)
                    .isEqualTo(shippedFiles.stream().map(path -> path.getFileName().toString()).toList());
            for (Path file : documented) {
                String resource = "/dev/latchkey/adapters/jdbc/migration/" + database + "/" + file.getFileName();
                try (InputStream shipped = JdbcIdentityStore.class.getResourceAsStream(resource)) {
                    assertThat(shipped).as("%s in the jar", resource).isNotNull();
                    assertThat(Files.readString(file, StandardCharsets.UTF_8)).as(file.toString())
                            .isEqualTo(new String(shipped.readAllBytes(), StandardCharsets.UTF_8));
                }
            }
        }
    }
}

package dev.latchkey.server;

import dev.latchkey.server.cli.AdminConnection;
import org.commonmark.ext.heading.anchor.IdGenerator;
import org.commonmark.node.AbstractVisitor;
import org.commonmark.node.Code;
import org.commonmark.node.Heading;
import org.commonmark.node.Image;
import org.commonmark.node.Link;
import org.commonmark.node.Node;
import org.commonmark.node.Text;
import org.commonmark.parser.Parser;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Holds the repository's documentation to the code: every link of every Markdown file leads to a file of the
 * repository (and to a heading that exists, when it names one), {@code docs/configuration.md} lists exactly the
 * settings the server reads, and the README's first lines are still its two commands.
 */
public class TestDocumentation
{
    private static final Path REPOSITORY = repository();
    private static final Pattern SETTING = Pattern.compile("LATCHKEY_[A-Z0-9_]+");
    private static final Pattern SCHEME = Pattern.compile("[A-Za-z][A-Za-z0-9+.-]*:.*");
    private static final Set<String> SKIPPED_DIRECTORIES = Set.of(".git", "target", "node_modules", ".idea");
    private static final Parser PARSER = Parser.builder().build();

    @Test
    public void testEveryMarkdownLinkLeadsInsideTheRepository()
    {
        List<Path> files = markdownFiles();
        assertThat(files).as("Markdown files under %s", REPOSITORY).contains(REPOSITORY.resolve("README.md"), REPOSITORY.resolve("docs/configuration.md"));
        List<String> broken = new ArrayList<>();
        for (Path file : files) {
            for (String destination : links(file)) {
                problem(file, destination).ifPresent(problem -> broken.add(REPOSITORY.relativize(file) + ": (" + destination + ") " + problem));
            }
        }
        assertThat(broken).as("links that lead nowhere or out of the repository").isEmpty();
    }

    @Test
    public void testTheLinkCheckFindsBrokenLinks()
    {
        Path readme = REPOSITORY.resolve("README.md");
        assertThat(problem(readme, "../shared/spec/running.md")).hasValueSatisfying(problem -> assertThat(problem).contains("outside"));
        assertThat(problem(readme, "docs/no-such-file.md")).hasValueSatisfying(problem -> assertThat(problem).contains("no such file"));
        assertThat(problem(readme, "docs/configuration.md#no-such-heading")).hasValueSatisfying(problem -> assertThat(problem).contains("no heading"));
        assertThat(problem(readme, "docs/configuration.md")).isEmpty();
        assertThat(problem(readme, "https://example.com/")).isEmpty();
    }

    @Test
    public void testConfigurationDocumentsExactlyTheSettingsTheServerReads()
            throws IOException
    {
        Set<String> documented = settingsIn(Files.readString(REPOSITORY.resolve("docs/configuration.md"), StandardCharsets.UTF_8));
        Set<String> read = new TreeSet<>(LatchkeyServer.settingNames());
        read.removeIf(name -> !name.startsWith("LATCHKEY_"));

        assertThat(documented).as("the LATCHKEY_* names in docs/configuration.md").containsExactlyInAnyOrderElementsOf(read);
        String configuration = Files.readString(REPOSITORY.resolve("docs/configuration.md"), StandardCharsets.UTF_8);
        for (String name : LatchkeyServer.settingNames()) {
            assertThat(configuration).as("docs/configuration.md").contains("`" + name + "`");
        }
    }

    @Test
    public void testEverySettingNamedInTheCodeIsRegistered()
    {
        Set<String> named = new TreeSet<>();
        for (Path file : files(path -> path.toString().contains("/src/main/") && (path.toString().endsWith(".java") || path.toString().endsWith(".xml")))) {
            named.addAll(settingsIn(read(file)));
        }

        assertThat(named).as("LATCHKEY_* names in the main code").contains("LATCHKEY_HTTP_HOST", "LATCHKEY_JDBC_URL", "LATCHKEY_S3_BUCKET");
        // read by the admin command line, not by the server (docs/admin-cli.md documents it)
        assertThat(named.remove(AdminConnection.KEY_VARIABLE)).isTrue();
        assertThat(LatchkeyServer.settingNames()).as("the settings the server knows (and documents)").containsAll(named);
    }

    @Test
    public void testReadmeStartsWithItsTwoCommands()
            throws IOException
    {
        List<String> commands = Files.readAllLines(REPOSITORY.resolve("README.md"), StandardCharsets.UTF_8).stream()
                .filter(line -> line.startsWith("    "))
                .limit(2)
                .map(String::strip)
                .toList();

        assertThat(commands.get(0)).startsWith("./mvnw -q -DskipTests package && java -jar app-http/target/latchkey.jar");
        assertThat(commands.get(1)).startsWith("./mvnw verify");
        assertThat(read(REPOSITORY.resolve(".ci/run"))).as(".ci/run runs the README's test command").containsPattern("\n\\./mvnw [-A-Za-z ]*verify\n");
    }

    /**
     * What is wrong with a link, if anything: a relative link must name a file or directory inside the repository, and
     * a heading of that file when it has a {@code #fragment}.
     */
    private static Optional<String> problem(Path file, String destination)
    {
        if (SCHEME.matcher(destination).matches()) {
            return Optional.empty();
        }
        int hash = destination.indexOf('#');
        String path = URLDecoder.decode(hash < 0 ? destination : destination.substring(0, hash), StandardCharsets.UTF_8);
        String fragment = hash < 0 ? "" : destination.substring(hash + 1);
        Path target = path.isEmpty() ? file : file.getParent().resolve(path).normalize();
        if (!target.startsWith(REPOSITORY)) {
            return Optional.of("lies outside the repository");
        }
        if (!Files.exists(target)) {
            return Optional.of("no such file");
        }
        if (!fragment.isEmpty() && target.toString().endsWith(".md") && !headingIds(target).contains(fragment)) {
            return Optional.of("no heading with that anchor");
        }
        return Optional.empty();
    }

    private static List<String> links(Path file)
    {
        List<String> destinations = new ArrayList<>();
        PARSER.parse(read(file)).accept(new AbstractVisitor()
        {
            @Override
            public void visit(Link link)
            {
                destinations.add(link.getDestination());
                visitChildren(link);
            }

            @Override
            public void visit(Image image)
            {
                destinations.add(image.getDestination());
                visitChildren(image);
            }
        });
        return destinations;
    }

    /**
     * The anchors that GitHub gives the headings of a Markdown file.
     */
    private static Set<String> headingIds(Path file)
    {
        IdGenerator ids = IdGenerator.builder().build();
        Set<String> anchors = new HashSet<>();
        PARSER.parse(read(file)).accept(new AbstractVisitor()
        {
            @Override
            public void visit(Heading heading)
            {
                anchors.add(ids.generateId(text(heading)));
            }
        });
        return anchors;
    }

    private static String text(Node node)
    {
        StringBuilder text = new StringBuilder();
        for (Node child = node.getFirstChild(); child != null; child = child.getNext()) {
            if (child instanceof Text literal) {
                text.append(literal.getLiteral());
            }
            else if (child instanceof Code code) {
                text.append(code.getLiteral());
            }
            else {
                text.append(text(child));
            }
        }
        return text.toString();
    }

    private static Set<String> settingsIn(String text)
    {
        Set<String> names = new TreeSet<>();
        Matcher matcher = SETTING.matcher(text);
        while (matcher.find()) {
            names.add(matcher.group());
        }
        return names;
    }

    private static List<Path> markdownFiles()
    {
        return files(path -> path.getFileName().toString().endsWith(".md"));
    }

    private static List<Path> files(Predicate<Path> wanted)
    {
        try (Stream<Path> paths = Files.walk(REPOSITORY)) {
            return paths
                    .filter(Files::isRegularFile)
                    .filter(path -> !skipped(REPOSITORY.relativize(path)))
                    .filter(wanted)
                    .sorted()
                    .toList();
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static boolean skipped(Path relative)
    {
        for (Path name : relative) {
            if (SKIPPED_DIRECTORIES.contains(name.toString())) {
                return true;
            }
        }
        return false;
    }

    private static String read(Path file)
    {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path repository()
    {
        String property = System.getProperty("latchkey.repository");
        assertThat(property).as("system property latchkey.repository (set by the build)").isNotBlank();
        return Path.of(property).toAbsolutePath().normalize();
    }
}

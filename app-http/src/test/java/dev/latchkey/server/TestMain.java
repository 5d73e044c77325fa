package dev.latchkey.server;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The command line: {@code --version} prints the version of the build, on the top command and on {@code serve};
 * {@code --config} is taken before or after {@code serve}.
 */
public class TestMain
{
    @Test
    public void testVersionIsTheBuildsVersion()
    {
        String version = System.getProperty("latchkey.version");
        assertThat(version).as("system property latchkey.version (set by the build)").isNotBlank();

        assertThat(run("--version")).isEqualTo("Latchkey " + version);
        assertThat(run("serve", "--version")).isEqualTo("Latchkey " + version);
    }

    @Test
    public void testConfigFileIsTakenBeforeOrAfterServe()
    {
        for (List<String> arguments : List.of(List.of("--config", "a.properties"), List.of("--config", "a.properties", "serve"), List.of("serve", "--config", "a.properties"))) {
            Main main = new Main();
            ParseResult parsed = new CommandLine(main).parseArgs(arguments.toArray(String[]::new));
            Path config = parsed.hasSubcommand() ? ((Main.Serve) parsed.subcommand().commandSpec().userObject()).configFile() : main.config;
            assertThat(config).as("%s", arguments).isEqualTo(Path.of("a.properties"));
        }
    }

    @Test
    public void testTheAdminCommandsTakeNoConfigFile()
    {
        CommandLine command = new CommandLine(new Main());
        assertThatThrownBy(() -> command.parseArgs("account", "list", "--config", "a.properties")).isInstanceOf(CommandLine.UnmatchedArgumentException.class);
        assertThat(command.parseArgs("account", "list", "--json").subcommand().subcommand().matchedOption("--json")).isNotNull();
    }

    private static String run(String... arguments)
    {
        StringWriter out = new StringWriter();
        CommandLine command = new CommandLine(new Main());
        command.setOut(new PrintWriter(out));
        assertThat(command.execute(arguments)).isZero();
        return out.toString().strip();
    }
}

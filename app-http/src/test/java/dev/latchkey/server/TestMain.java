package dev.latchkey.server;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The command line: {@code --version} prints the version of the build, on the top command and on {@code serve}.
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

    private static String run(String... arguments)
    {
        StringWriter out = new StringWriter();
        CommandLine command = new CommandLine(new Main());
        command.setOut(new PrintWriter(out));
        assertThat(command.execute(arguments)).isZero();
        return out.toString().strip();
    }
}

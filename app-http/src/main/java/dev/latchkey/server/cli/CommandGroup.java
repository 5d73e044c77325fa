package dev.latchkey.server.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.util.concurrent.Callable;

/**
 * A command that only groups sub-commands ({@code account}, {@code user}, {@code key}, {@code store}): run alone,
 * it prints its usage on standard error and exits with the usage code.
 */
abstract class CommandGroup
        implements Callable<Integer>
{
    @Spec
    CommandSpec spec;

    @Override
    public Integer call()
    {
        spec.commandLine().usage(spec.commandLine().getErr());
        return ExitCodes.USAGE;
    }
}

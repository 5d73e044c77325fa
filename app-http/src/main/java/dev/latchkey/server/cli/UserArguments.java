package dev.latchkey.server.cli;

import picocli.CommandLine.Parameters;

/**
 * The first two arguments of a command about one user: its account and its id.
 */
final class UserArguments
{
    @Parameters(index = "0", paramLabel = "ACCOUNT", description = "the account")
    String account;

    @Parameters(index = "1", paramLabel = "USER", description = "the user's id")
    String user;

    String userPath()
    {
        return UserCommands.userPath(account, user);
    }
}

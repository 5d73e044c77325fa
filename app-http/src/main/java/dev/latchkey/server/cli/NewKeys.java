package dev.latchkey.server.cli;

import java.io.PrintWriter;

/**
 * How a new key is shown to a person: once, on a line of its own, with a warning that it is not shown again.
 */
final class NewKeys
{
    private NewKeys() {}

    static void print(String key, PrintWriter out)
    {
        out.println();
        out.println("New key (shown only now: store it in your secret store):");
        out.println();
        out.println("    " + key);
        out.println();
    }
}

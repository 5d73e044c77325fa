package dev.latchkey.server.cli;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code latchkey key create|list|delete|rotate}: a user's keys (root, an admin of the account, or the user itself;
 * {@code rotate}, the primary key's regenerate, root or an admin).
 */
@Command(name = "key", mixinStandardHelpOptions = true, description = "Create, list, delete and rotate a user's keys.",
        subcommands = {KeyCommands.Create.class, KeyCommands.ListKeys.class, KeyCommands.Delete.class, KeyCommands.Rotate.class})
public final class KeyCommands
        extends CommandGroup
{
    static String keysPath(UserArguments target)
    {
        return target.userPath() + "/keys";
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Issue a user one more key; prints it once.")
    static final class Create
            implements Callable<Integer>
    {
        @Mixin
        AdminConnection connection;

        @Mixin
        UserArguments target;

        @Option(names = "--name", paramLabel = "NAME", description = "a name, to tell keys apart in a listing")
        String name;

        @Option(names = "--scope", paramLabel = "SCOPE", description = "a scope the key holds (repeat for several; default: every scope)")
        List<String> scopes;

        @ArgGroup(exclusive = true)
        Expiry expiry;

        static final class Expiry
        {
            @Option(names = "--expires-at", paramLabel = "INSTANT", description = "when the key stops working (ISO-8601, 2027-01-01T00:00:00Z)")
            String expiresAt;

            @Option(names = "--ttl", paramLabel = "SECONDS", description = "instead of --expires-at: seconds from now until the key stops working")
            Long ttl;
        }

        @Override
        public Integer call()
        {
            return connection.run(client -> {
                Map<String, Object> body = new LinkedHashMap<>();
                if (name != null) {
                    body.put("name", name);
                }
                if (scopes != null) {
                    body.put("scopes", scopes);
                }
                if (expiry != null && expiry.expiresAt != null) {
                    body.put("expires_at", expiry.expiresAt);
                }
                if (expiry != null && expiry.ttl != null) {
                    body.put("ttl", expiry.ttl);
                }
                return client.post(keysPath(target), body);
            }, (result, out) -> {
                out.println("Created key " + result.path("key_id").asText() + " for user " + result.path("user_id").asText() + " of account "
                        + result.path("account_id").asText() + " (scopes " + Table.text(result.path("scopes")) + ", expires " + Table.text(result.path("expires_at")) + ").");
                NewKeys.print(result.path("user_key").asText(), out);
            });
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List a user's live keys, oldest first (never a secret).")
    static final class ListKeys
            implements Callable<Integer>
    {
        @Mixin
        AdminConnection connection;

        @Mixin
        UserArguments target;

        @Override
        public Integer call()
        {
            return connection.run(client -> client.get(keysPath(target), Map.of()),
                    (result, out) -> new Table("KEY ID", "key_id", "NAME", "name", "PRIMARY", "primary", "SCOPES", "scopes", "CREATED", "created_at", "EXPIRES", "expires_at", "LAST USED", "last_used_at")
                            .print(result, out));
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete one of a user's keys; its other keys keep working.")
    static final class Delete
            implements Callable<Integer>
    {
        @Mixin
        AdminConnection connection;

        @Mixin
        UserArguments target;

        @Parameters(index = "2", paramLabel = "KEY_ID", description = "the key id of `key list` (the part of the key after lk_)")
        String keyId;

        @Override
        public Integer call()
        {
            return connection.run(client -> client.delete(keysPath(target) + "/" + AdminClient.segment(keyId)),
                    (result, out) -> out.println("Deleted key " + keyId + " of user " + target.user + ": it stops working on every instance within the revocation bound."));
        }
    }

    @Command(name = "rotate", mixinStandardHelpOptions = true, description = "Give a user a new primary key; prints it once.")
    static final class Rotate
            implements Callable<Integer>
    {
        @Mixin
        AdminConnection connection;

        @Mixin
        UserArguments target;

        @Option(names = "--grace-period", paramLabel = "SECONDS", defaultValue = "0",
                description = "how long the old primary key keeps working, 0 to 604800 seconds (default: ${DEFAULT-VALUE}, it stops at once)")
        long gracePeriod;

        @Option(names = "--seed-file", paramLabel = "FILE", description = "a file holding a seed (16+ characters): the key is derived from it")
        Path seedFile;

        @Override
        public Integer call()
        {
            return connection.run(client -> {
                Map<String, Object> body = new LinkedHashMap<>();
                body.put("grace_period", gracePeriod);
                if (seedFile != null) {
                    body.put("seed", AdminConnection.readSecretFile(seedFile, "seed"));
                }
                return client.post(target.userPath() + "/key", body);
            }, (result, out) -> {
                out.println("Rotated the primary key of user " + target.user + " of account " + target.account + ".");
                if (result.hasNonNull("previous_key_expires_at")) {
                    out.println("The old primary key keeps working until " + result.path("previous_key_expires_at").asText() + ".");
                }
                else {
                    out.println("The old primary key, if any, stops working on every instance within the revocation bound.");
                }
                NewKeys.print(result.path("user_key").asText(), out);
            });
        }
    }
}

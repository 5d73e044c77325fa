package dev.latchkey.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code latchkey user add|list|remove|set-role}: the user calls of the root key or an account's admin.
 */
@Command(name = "user", mixinStandardHelpOptions = true, description = "Add, list and remove users, and set their role.",
        subcommands = {UserCommands.Add.class, UserCommands.ListUsers.class, UserCommands.Remove.class, UserCommands.SetRole.class})
public final class UserCommands
        extends CommandGroup
{
    /** The page size used to read every user. */
    static final int PAGE = 1000;

    static String usersPath(String account)
    {
        return "/api/v1/admin/accounts/" + AdminClient.segment(account) + "/users";
    }

    static String userPath(String account, String user)
    {
        return usersPath(account) + "/" + AdminClient.segment(user);
    }

    @Command(name = "add", mixinStandardHelpOptions = true, description = "Register a user; prints its new key once.")
    static final class Add
            implements Callable<Integer>
    {
        @Mixin
        AdminConnection connection;

        @Mixin
        UserArguments target;

        @Option(names = "--role", paramLabel = "ROLE", defaultValue = "user", description = "user or admin (default: ${DEFAULT-VALUE})")
        String role;

        @Option(names = "--seed-file", paramLabel = "FILE", description = "a file holding a seed (16+ characters): the key is derived from it")
        Path seedFile;

        @Override
        public Integer call()
        {
            return connection.run(client -> {
                Map<String, Object> body = new LinkedHashMap<>();
                body.put("user_id", target.user);
                body.put("role", role);
                if (seedFile != null) {
                    body.put("seed", AdminConnection.readSecretFile(seedFile, "seed"));
                }
                return client.post(usersPath(target.account), body);
            }, (result, out) -> {
                out.println("Added user " + result.path("user_id").asText() + " to account " + result.path("account_id").asText() + " as " + role + ".");
                NewKeys.print(result.path("user_key").asText(), out);
            });
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List an account's users (every page), sorted by id.")
    static final class ListUsers
            implements Callable<Integer>
    {
        @Mixin
        AdminConnection connection;

        @Parameters(index = "0", paramLabel = "ACCOUNT")
        String account;

        @Option(names = "--role", paramLabel = "ROLE", description = "only users of this role: user or admin")
        String role;

        @Option(names = "--name", paramLabel = "GLOB", description = "only user ids matching this glob (* any run, ? one character)")
        String name;

        @Override
        public Integer call()
        {
            return connection.run(client -> {
                ArrayNode all = JsonNodeFactory.instance.arrayNode();
                String cursor = null;
                while (true) {
                    Map<String, String> query = new LinkedHashMap<>();
                    query.put("limit", Integer.toString(PAGE));
                    if (role != null) {
                        query.put("role", role);
                    }
                    if (name != null) {
                        query.put("name", name);
                    }
                    if (cursor != null) {
                        query.put("cursor", cursor);
                    }
                    JsonNode page = client.get(usersPath(account), query);
                    page.forEach(all::add);
                    if (page.size() < PAGE) {
                        return all;
                    }
                    cursor = page.get(page.size() - 1).path("user_id").asText();
                }
            }, (result, out) -> new Table("USER", "user_id", "ROLE", "role", "PRIMARY KEY", "key_prefix", "CREATED", "created_at", "LAST USED", "last_used_at").print(result, out));
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true, description = "Remove a user; every one of its keys stops working.")
    static final class Remove
            implements Callable<Integer>
    {
        @Mixin
        AdminConnection connection;

        @Mixin
        UserArguments target;

        @Override
        public Integer call()
        {
            return connection.run(client -> client.delete(target.userPath()),
                    (result, out) -> out.println("Removed user " + target.user + " from account " + target.account + ": its keys stop working on every instance within the revocation bound."));
        }
    }

    @Command(name = "set-role", mixinStandardHelpOptions = true, description = "Make a user an admin, or an admin a user.")
    static final class SetRole
            implements Callable<Integer>
    {
        @Mixin
        AdminConnection connection;

        @Mixin
        UserArguments target;

        @Parameters(index = "2", paramLabel = "ROLE", description = "user or admin")
        String role;

        @Override
        public Integer call()
        {
            return connection.run(client -> client.put(target.userPath() + "/role", Map.of("role", role)),
                    (result, out) -> out.println("User " + result.path("user_id").asText() + " of account " + result.path("account_id").asText() + " is now " + result.path("role").asText() + "."));
        }
    }
}

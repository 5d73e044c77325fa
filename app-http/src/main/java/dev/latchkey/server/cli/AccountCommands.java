package dev.latchkey.server.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code latchkey account create|list|delete}: the root key's account calls.
 */
@Command(name = "account", mixinStandardHelpOptions = true, description = "Create, list and delete accounts (the root key).",
        subcommands = {AccountCommands.Create.class, AccountCommands.ListAccounts.class, AccountCommands.Delete.class})
public final class AccountCommands
        extends CommandGroup
{
    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create an account with its first admin; prints the admin's new key once.")
    static final class Create
            implements Callable<Integer>
    {
        @Mixin
        AdminConnection connection;

        @Parameters(index = "0", paramLabel = "ACCOUNT", description = "the new account's id")
        String account;

        @Option(names = "--admin", required = true, paramLabel = "USER", description = "the id of its first user, an admin")
        String admin;

        @Option(names = "--seed-file", paramLabel = "FILE", description = "a file holding a seed (16+ characters): the key is derived from it")
        Path seedFile;

        @Override
        public Integer call()
        {
            return connection.run(client -> {
                Map<String, Object> body = new LinkedHashMap<>();
                body.put("account_id", account);
                body.put("admin_user_id", admin);
                if (seedFile != null) {
                    body.put("seed", AdminConnection.readSecretFile(seedFile, "seed"));
                }
                return client.post("/api/v1/admin/accounts", body);
            }, (result, out) -> {
                out.println("Created account " + result.path("account_id").asText() + " with admin " + result.path("admin_user_id").asText() + ".");
                NewKeys.print(result.path("user_key").asText(), out);
            });
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List every account with its user count.")
    static final class ListAccounts
            implements Callable<Integer>
    {
        @Mixin
        AdminConnection connection;

        @Override
        public Integer call()
        {
            return connection.run(client -> client.get("/api/v1/admin/accounts", Map.of()),
                    (result, out) -> new Table("ACCOUNT", "account_id", "USERS", "user_count", "CREATED", "created_at").print(result, out));
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete an account, its users and every one of their keys.")
    static final class Delete
            implements Callable<Integer>
    {
        @Mixin
        AdminConnection connection;

        @Parameters(index = "0", paramLabel = "ACCOUNT")
        String account;

        @Override
        public Integer call()
        {
            return connection.run(client -> client.delete("/api/v1/admin/accounts/" + AdminClient.segment(account)),
                    (result, out) -> out.println("Deleted account " + account + ": its keys stop working on every instance within the revocation bound."));
        }
    }
}

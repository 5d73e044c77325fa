package dev.latchkey.server.config;

/**
 * A setting is missing or malformed; the message names the variable and is shown to the operator as is.
 */
public class ConfigException
        extends RuntimeException
{
    public ConfigException(String message)
    {
        super(message);
    }
}

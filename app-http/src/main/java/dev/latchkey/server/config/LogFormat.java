package dev.latchkey.server.config;

import static java.util.Objects.requireNonNull;

/**
 * How the server writes its log, {@code LATCHKEY_LOG_FORMAT}: lines of text (the default) or one JSON object per line
 * (Logback's own {@code JsonEncoder}). Each is a Logback configuration inside the jar; {@link #install()} picks one
 * before the first line is logged.
 */
public enum LogFormat
{
    TEXT("text", "logback.xml"),
    JSON("json", "logback-json.xml");

    public static final String SETTING = "LATCHKEY_LOG_FORMAT";
    private static final String LOGBACK_CONFIGURATION = "logback.configurationFile";

    private final String wireName;
    private final String configuration;

    LogFormat(String wireName, String configuration)
    {
        this.wireName = requireNonNull(wireName, "wireName is null");
        this.configuration = requireNonNull(configuration, "configuration is null");
    }

    public static LogFormat from(Settings settings)
    {
        String text = settings.string(SETTING, TEXT.wireName);
        for (LogFormat format : values()) {
            if (format.wireName.equals(text)) {
                return format;
            }
        }
        throw new ConfigException(SETTING + " must be text or json, not '" + text + "'");
    }

    /**
     * Points Logback at this format's configuration, unless the operator named one of their own
     * ({@code -Dlogback.configurationFile}). Takes effect only when it runs before anything creates a logger, which
     * is when Logback reads its configuration.
     */
    public void install()
    {
        if (System.getProperty(LOGBACK_CONFIGURATION) == null) {
            System.setProperty(LOGBACK_CONFIGURATION, configuration);
        }
    }
}

package dev.latchkey.server.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * The raw settings: an optional properties file whose keys are the variable names of running.md, overridden by
 * the environment. Typed reads fail with a {@link ConfigException} that names the variable.
 */
public final class Settings
{
    private static final String PREFIX = "LATCHKEY_";
    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");

    private final Map<String, String> values;

    private Settings(Map<String, String> values)
    {
        this.values = Map.copyOf(values);
    }

    /**
     * @param configFile a Java properties file, or empty
     * @param environment the process environment (variables not starting with {@code LATCHKEY_} or {@code AWS_}
     *         are ignored)
     */
    public static Settings load(Optional<Path> configFile, Map<String, String> environment)
    {
        requireNonNull(configFile, "configFile is null");
        Map<String, String> values = new HashMap<>();
        if (configFile.isPresent()) {
            Properties properties = new Properties();
            try (Reader reader = Files.newBufferedReader(configFile.get(), StandardCharsets.UTF_8)) {
                properties.load(reader);
            }
            catch (IOException e) {
                throw new ConfigException("cannot read the config file " + configFile.get() + ": " + e.getMessage());
            }
            properties.stringPropertyNames().forEach(name -> values.put(name, properties.getProperty(name).trim()));
        }
        environment.forEach((name, value) -> {
            if (name.startsWith(PREFIX) || name.startsWith("AWS_")) {
                values.put(name, value.trim());
            }
        });
        return new Settings(values);
    }

    public static Settings of(Map<String, String> values)
    {
        return new Settings(values);
    }

    /**
     * The {@code LATCHKEY_*} names set (in the file or the environment) that are not among these, sorted: typos, or
     * settings of another version.
     */
    public List<String> unknown(Collection<String> known)
    {
        return values.keySet().stream()
                .filter(name -> name.startsWith(PREFIX) && !known.contains(name))
                .sorted()
                .toList();
    }

    public Optional<String> optional(String name)
    {
        return Optional.ofNullable(values.get(name)).filter(value -> !value.isEmpty());
    }

    public String string(String name, String defaultValue)
    {
        return Optional.ofNullable(values.get(name)).orElse(defaultValue);
    }

    public int integer(String name, int defaultValue, int min, int max)
    {
        return optional(name).map(text -> {
            try {
                int value = Integer.parseInt(text);
                if (value < min || value > max) {
                    throw new ConfigException(name + " must be between " + min + " and " + max + ", not " + text);
                }
                return value;
            }
            catch (NumberFormatException e) {
                throw new ConfigException(name + " must be a whole number, not '" + text + "'");
            }
        }).orElse(defaultValue);
    }

    public long positiveLong(String name, long defaultValue)
    {
        return optional(name).map(text -> {
            try {
                long value = Long.parseLong(text);
                if (value < 1) {
                    throw new ConfigException(name + " must be positive, not " + text);
                }
                return value;
            }
            catch (NumberFormatException e) {
                throw new ConfigException(name + " must be a whole number, not '" + text + "'");
            }
        }).orElse(defaultValue);
    }

    /**
     * A duration written {@code 250ms}, {@code 2s}, {@code 10m}, {@code 1h}, {@code 90d} or {@code 0}.
     */
    public Duration duration(String name, Duration defaultValue)
    {
        return optional(name).map(text -> parseDuration(name, text)).orElse(defaultValue);
    }

    static Duration parseDuration(String name, String text)
    {
        if (text.equals("0")) {
            return Duration.ZERO;
        }
        Matcher matcher = DURATION.matcher(text);
        if (!matcher.matches()) {
            throw new ConfigException(name + " must be a duration such as 250ms, 2s, 10m, 1h, 90d or 0, not '" + text + "'");
        }
        try {
            long amount = Long.parseLong(matcher.group(1));
            Duration duration = switch (matcher.group(2)) {
                case "ms" -> Duration.ofMillis(amount);
                case "s" -> Duration.ofSeconds(amount);
                case "m" -> Duration.ofMinutes(amount);
                case "h" -> Duration.ofHours(amount);
                default -> Duration.ofDays(amount);
            };
            // schedulers and caches take durations in nanoseconds: anything longer (about 292 years) cannot be used
            duration.toNanos();
            return duration;
        }
        catch (NumberFormatException | ArithmeticException e) {
            throw new ConfigException(name + " is too large: '" + text + "'");
        }
    }
}

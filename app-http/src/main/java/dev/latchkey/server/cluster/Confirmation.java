package dev.latchkey.server.cluster;

import java.util.List;

import static java.util.Objects.requireNonNull;

/**
 * Which live instances confirmed having applied a feed position, and which did not (in time).
 *
 * @param applied the ids of the instances that have applied it, this one included when it has
 * @param lagging the ids of the live instances that did not confirm it
 */
public record Confirmation(List<String> applied, List<String> lagging)
{
    public Confirmation
    {
        applied = List.copyOf(requireNonNull(applied, "applied is null"));
        lagging = List.copyOf(requireNonNull(lagging, "lagging is null"));
    }

    /**
     * How many instances were live when asked.
     */
    public int live()
    {
        return applied.size() + lagging.size();
    }

    /**
     * {@code n/live}, as the {@code X-Latchkey-Applied} header says it.
     */
    public String fraction()
    {
        return applied.size() + "/" + live();
    }
}

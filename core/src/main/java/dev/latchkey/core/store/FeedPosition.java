package dev.latchkey.core.store;

/**
 * A position in a store's change feed: the number of the last change a reader has seen. Positions of committed
 * changes are 1, 2, 3, ... with no gaps; {@link #START} is before the first change.
 */
public record FeedPosition(long value)
        implements Comparable<FeedPosition>
{
    public static final FeedPosition START = new FeedPosition(0);

    public FeedPosition
    {
        if (value < 0) {
            throw new IllegalArgumentException("feed position is negative");
        }
    }

    public static FeedPosition of(long value)
    {
        return new FeedPosition(value);
    }

    public FeedPosition next()
    {
        return new FeedPosition(value + 1);
    }

    @Override
    public int compareTo(FeedPosition other)
    {
        return Long.compare(value, other.value);
    }

    @Override
    public String toString()
    {
        return Long.toString(value);
    }
}

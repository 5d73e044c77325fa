package dev.latchkey.adapters.s3;

import dev.latchkey.adapters.s3.S3Objects.Versioned;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * The reads the live views make (see {@link S3Objects} for what each answers).
 */
interface Reads
{
    Optional<Versioned> get(String key);

    Optional<Versioned> getIfChanged(String key, String etag);

    List<String> list(String directory);

    /**
     * Reads that answer each {@link #get} of an object with the first answer S3 gave (or with what this handle
     * wrote there since, {@link Remembering#remember}): for the attempts of one batch, whose reads are all checked by
     * the head's condition at its commit. Used from several threads.
     */
    static Remembering remembering(Reads reads)
    {
        return new Remembering(reads);
    }

    final class Remembering
            implements Reads
    {
        private final Reads reads;
        private final ConcurrentMap<String, Optional<Versioned>> answers = new ConcurrentHashMap<>();

        private Remembering(Reads reads)
        {
            this.reads = reads;
        }

        @Override
        public Optional<Versioned> get(String key)
        {
            Optional<Versioned> known = answers.get(key);
            if (known != null) {
                return known;
            }
            Optional<Versioned> read = reads.get(key);
            Optional<Versioned> raced = answers.putIfAbsent(key, read);
            return raced == null ? read : raced;
        }

        @Override
        public Optional<Versioned> getIfChanged(String key, String etag)
        {
            return reads.getIfChanged(key, etag);
        }

        @Override
        public List<String> list(String directory)
        {
            return reads.list(directory);
        }

        /**
         * Whether a {@link #get} of {@code key} would answer without asking S3.
         */
        boolean knows(String key)
        {
            return answers.containsKey(key);
        }

        /**
         * What this handle just wrote at {@code key}: later reads of it answer that.
         */
        void remember(String key, Versioned written)
        {
            answers.put(key, Optional.of(written));
        }
    }
}

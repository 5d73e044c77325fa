/**
 * An in-memory store: the reference implementation of the store port, for tests and benchmarks.
 * <p>
 * Null-marked: types are non-null unless annotated {@code @Nullable}; NullAway checks it when core compiles.
 */
@NullMarked
package dev.latchkey.core.store.memory;

import org.jspecify.annotations.NullMarked;

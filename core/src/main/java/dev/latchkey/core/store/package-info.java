/**
 * The store port: what every storage adapter implements, with its contract (atomicity, conflicts, the change feed,
 * which exception means unavailable).
 * <p>
 * Null-marked: types are non-null unless annotated {@code @Nullable}; NullAway checks it when core compiles.
 */
@NullMarked
package dev.latchkey.core.store;

import org.jspecify.annotations.NullMarked;

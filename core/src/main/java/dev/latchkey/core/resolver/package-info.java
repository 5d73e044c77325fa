/**
 * The resolver: judges a presented key from memory (caches kept true by the store's change feed) and looks it up in
 * the store only when memory cannot decide.
 * <p>
 * Null-marked: types are non-null unless annotated {@code @Nullable}; NullAway checks it when core compiles.
 */
@NullMarked
package dev.latchkey.core.resolver;

import org.jspecify.annotations.NullMarked;

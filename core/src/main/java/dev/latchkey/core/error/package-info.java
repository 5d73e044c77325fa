/**
 * The one error type of Latchkey and its codes, each with a category that app-http maps to an HTTP status.
 * <p>
 * Null-marked: types are non-null unless annotated {@code @Nullable}; NullAway checks it when core compiles.
 */
@NullMarked
package dev.latchkey.core.error;

import org.jspecify.annotations.NullMarked;

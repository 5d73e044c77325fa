/**
 * The admin rules: who may create, change and delete accounts, users and keys, and the checks every write passes
 * before it reaches the store.
 * <p>
 * Null-marked: types are non-null unless annotated {@code @Nullable}; NullAway checks it when core compiles.
 */
@NullMarked
package dev.latchkey.core.admin;

import org.jspecify.annotations.NullMarked;

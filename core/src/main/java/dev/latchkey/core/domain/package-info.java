/**
 * The domain values: accounts, users, roles, key ids and identities, as records with typed ids validated when
 * built.
 * <p>
 * Null-marked: types are non-null unless annotated {@code @Nullable}; NullAway checks it when core compiles.
 */
@NullMarked
package dev.latchkey.core.domain;

import org.jspecify.annotations.NullMarked;

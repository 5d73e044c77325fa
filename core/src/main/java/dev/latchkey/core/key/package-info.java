/**
 * The API key format (prefix, key id, secret, checksum), its generation, and the hashing and constant-time
 * comparison of secrets.
 * <p>
 * Null-marked: types are non-null unless annotated {@code @Nullable}; NullAway checks it when core compiles.
 */
@NullMarked
package dev.latchkey.core.key;

import org.jspecify.annotations.NullMarked;

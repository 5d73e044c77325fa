package dev.latchkey.adapters.filesystem;

/**
 * {@code accounts/<account>/users/<user>.json}.
 */
record UserFile(String accountId, String userId, String role, String keyId, String createdAt) {}

/**
 * The JDBC identity store: PostgreSQL for deployments of many instances, H2 for embedded use. See
 * {@link dev.latchkey.adapters.jdbc.JdbcIdentityStore} and docs/storage-jdbc.md.
 */
package dev.latchkey.adapters.jdbc;

/**
 * Identity store on PostgreSQL (and H2). Placeholder until the adapters-jdbc issue: nothing here yet.
 */
package dev.latchkey.adapters.jdbc;

/**
 * The filesystem identity store: a directory shared by many processes, on one host or over NFS.
 */
package dev.latchkey.adapters.filesystem;

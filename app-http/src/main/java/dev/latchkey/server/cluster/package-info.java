/**
 * How the instances of one store see each other: each publishes its presence and applied feed position in the
 * store's instance registry ({@link dev.latchkey.server.cluster.InstancePresence}), and an instance that made a write
 * asks the others, over HTTP, to confirm they have applied it ({@link dev.latchkey.server.cluster.Confirmations}).
 */
package dev.latchkey.server.cluster;

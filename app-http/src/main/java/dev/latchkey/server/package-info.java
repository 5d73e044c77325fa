/**
 * The standalone server. Placeholder until the app-http issue: nothing here yet.
 */
package dev.latchkey.server;

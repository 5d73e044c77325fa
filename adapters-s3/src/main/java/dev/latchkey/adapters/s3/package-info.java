/**
 * The identity store in an S3 bucket (or an S3-compatible server), on conditional PUTs alone: see
 * {@link dev.latchkey.adapters.s3.S3IdentityStore}.
 */
package dev.latchkey.adapters.s3;

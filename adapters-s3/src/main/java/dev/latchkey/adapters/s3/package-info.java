/**
 * Identity store on S3 conditional writes. Placeholder until the adapters-s3 issue: nothing here yet.
 */
package dev.latchkey.adapters.s3;

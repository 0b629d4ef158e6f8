/**
 * The last step of `ami-builder build` and `ami-builder local`: upload what ./prepare.ts planned, then start the
 * execution. Every check has run by then (./prepare.ts); what is uploaded here is deleted again when the start
 * fails or the user interrupts (SIGINT, SIGTERM) before it returns, so a run that never started leaves nothing
 * in the staging bucket.
 */
import type { PreparedExecution } from './prepare.js';
import { deleteStagedObjects, StagingInterruptedError, uploadStaging } from './stage.js';

/** Calls `handler` on SIGINT and SIGTERM (instead of exiting) until the returned function is called. */
export function onSignals(handler: () => void): () => void {
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

export interface StartHooks {
  /** Calls `handler` on SIGINT or SIGTERM; returns a function that stops listening. */
  onInterrupt: (handler: () => void) => () => void;
  /** Prints an indented `    <build>: …` line (the `Uploaded … to …` lines). */
  message: (text: string) => void;
  /** Prints a line on standard error (what could not be removed). */
  warn: (text: string) => void;
}

export interface Started<T> {
  started: T;
  /** The user interrupted while the start was under way: the caller stops what was started. */
  interrupted: boolean;
}

/**
 * Uploads the prepared objects, then calls `start`.
 *
 * - An interrupt during the upload stops it: the objects uploaded are deleted and `StagingInterruptedError`
 *   is thrown; `start` is never called.
 * - When `start` throws (StartExecution refused; for `local`, arming a fault failed), the objects are deleted and
 *   its error is thrown again.
 * - An interrupt while `start` runs cannot recall the request: the result says so, and the caller stops the
 *   execution (whose abort cleanup removes the staged files).
 *
 * What cannot be deleted is named (on standard error, or in the interruption's message), with the lifecycle rule
 * that expires it.
 */
export async function uploadThenStart<T>(
  prepared: Pick<PreparedExecution, 'staging' | 'target'>,
  start: () => Promise<T>,
  hooks: StartHooks,
): Promise<Started<T>> {
  let interrupted = false;
  const stopListening = hooks.onInterrupt(() => {
    interrupted = true;
  });
  const { staging, target } = prepared;
  try {
    const keys = await uploadStaging(staging, target.s3, {
      interrupted: () => interrupted,
      onUploaded: (file) => hooks.message(`Uploaded ${file.localPath} to ${file.uri}`),
    });
    let started: T;
    try {
      started = await start();
    } catch (error) {
      const left = await deleteStagedObjects(target.s3, staging.bucket, keys);
      reportLeft(hooks, left, keys.length);
      throw error;
    }
    return { started, interrupted };
  } finally {
    stopListening();
  }
}

function reportLeft(hooks: Pick<StartHooks, 'warn'>, left: readonly string[], total: number): void {
  if (left.length === 0) {
    if (total > 0) hooks.warn(`Removed the ${total} staged file(s): the build did not start.`);
    return;
  }
  hooks.warn(
    `Warning: ${left.length} staged file(s) could not be removed (${left.join(', ')}); the staging bucket's lifecycle rule expires them.`,
  );
}

/**
 * Deletes every object of the plan (a run interrupted before it started) and returns the error that says so.
 */
export async function discardStaged(
  prepared: Pick<PreparedExecution, 'staging' | 'target'>,
): Promise<StagingInterruptedError> {
  const { staging, target } = prepared;
  const keys = staging.objects.map((o) => o.key);
  const left = await deleteStagedObjects(target.s3, staging.bucket, keys);
  return new StagingInterruptedError(keys.length - left.length, left);
}

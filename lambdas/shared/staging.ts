/**
 * The layout of the staging bucket (docs/ARCHITECTURE.md, "Staged files and commands"):
 *
 * ```
 * staging/<execution name>/                                    one execution (Abort Cleanup deletes this)
 *   <build name>/                                              one build ({@link stagingPrefix})
 *     commands/01-provision-<NN>-a<attempt>/run.sh, scripts/…   one SSM command each ({@link commandFolder})
 *     commands/02-x509/run.sh, cert.pem, key.pem
 *     commands/03-bundle/run.sh
 *     commands/04-upload/run.sh
 *     commands/05-error-cleanup-a<attempt>/run.sh, …
 *     commands/06-test/run.sh, scripts/…                         the ami_test commands (on the test instance)
 *     commands/<folder>/sent.json                              written after SendCommand (idempotent resend)
 * ```
 *
 * Execution and build names become path segments through {@link safeSegment}, so that every key and the working
 * directory on the instance match the command document's `^/[A-Za-z0-9_./-]+$`.
 */
import { DeleteObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { listKeys } from './s3-list.js';
import { STAGING_ROOT, safeSegment, stagingPrefix } from './staging-paths.js';
import type { CommandKind } from './state.js';

// The key names, apart so that code that only names keys (the instance role's policy) imports no S3 client.
export { executionStagingPrefix, STAGING_ROOT, safeSegment, stagingPrefix } from './staging-paths.js';

/** Directory on the instance under which each command's folder is downloaded and run. */
export const INSTANCE_WORK_ROOT = '/var/lib/ami-builder';

/** Position of each command kind in a build, so a listing of `commands/` reads in build order. */
export const COMMAND_ORDER: Record<CommandKind, string> = {
  provision: '01',
  x509: '02',
  bundle: '03',
  upload: '04',
  'error-cleanup': '05',
  test: '06',
};

/** Identifies one staged command: its kind, the provisioner for `provision`, and the attempt (max_retries). */
export interface CommandKey {
  kind: CommandKind;
  /** Index in `config.provisioners`, for `provision`. */
  provisionerIndex?: number;
  /** 1-based attempt, for `provision` and `error-cleanup` (the only kinds that retry). */
  attempt: number;
}

/**
 * The folder name of one command: `01-provision-03-a1`, `02-x509`, `03-bundle`, `04-upload`,
 * `05-error-cleanup-a1`. Deterministic, so a retried Send task finds the folder (and `sent.json`) of its first try.
 */
export function commandFolderName(key: CommandKey): string {
  const order = COMMAND_ORDER[key.kind];
  switch (key.kind) {
    case 'provision':
      return `${order}-provision-${String(key.provisionerIndex ?? 0).padStart(2, '0')}-a${key.attempt}`;
    case 'error-cleanup':
      return `${order}-error-cleanup-a${key.attempt}`;
    default:
      return `${order}-${key.kind}`;
  }
}

/** `staging/<execution>/<build>/commands/<folder name>/`. */
export function commandFolder(build: Parameters<typeof stagingPrefix>[0], key: CommandKey): string {
  return `${stagingPrefix(build)}commands/${commandFolderName(key)}/`;
}

/** `/var/lib/ami-builder/<execution>/<folder name>`: where the instance downloads and runs one command. */
export function commandWorkingDirectory(executionName: string, key: CommandKey): string {
  return `${INSTANCE_WORK_ROOT}/${safeSegment(executionName)}/${commandFolderName(key)}`;
}

/**
 * The `aws:downloadContent` S3 path of a staged folder: `https://s3.<region>.amazonaws.com/<bucket>/<prefix>`
 * (`amazonaws.com.cn` in the China regions). A trailing `/` makes the agent download the whole folder.
 */
export function stagedFolderUrl(region: string, bucket: string, prefix: string): string {
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://s3.${region}.${suffix}/${bucket}/${prefix}`;
}

/** Every key under `prefix` in `bucket`. */
export const listStaged: (s3: S3Client, bucket: string, prefix: string) => Promise<string[]> = listKeys;

/** DeleteObjects takes at most this many keys per call. */
const DELETE_BATCH = 1000;

/**
 * Deletes every object under `prefix` and returns how many were deleted. Deleting an empty or missing prefix
 * returns 0, so cleanup can run twice. A prefix that does not end in `/` is refused: it could match other
 * builds' folders (`staging/run-1` also matches `staging/run-10/`).
 *
 * @throws Error when S3 refuses some deletions; the message names how many and the first key and error code.
 */
export async function deleteStaged(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  if (!prefix.startsWith(STAGING_ROOT) || !prefix.endsWith('/')) {
    throw new Error(`refusing to delete staged objects under "${prefix}": not a staging folder prefix`);
  }
  const keys = await listStaged(s3, bucket, prefix);
  let deleted = 0;
  for (let i = 0; i < keys.length; i += DELETE_BATCH) {
    const batch = keys.slice(i, i + DELETE_BATCH);
    const result = await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    const errors = result.Errors ?? [];
    deleted += batch.length - errors.length;
    const first = errors[0];
    if (first !== undefined) {
      throw new Error(
        `could not delete ${errors.length} staged object(s) in s3://${bucket}/${prefix} ` +
          `(first: ${first.Key ?? '?'}: ${first.Code ?? 'error'})`,
      );
    }
  }
  return deleted;
}

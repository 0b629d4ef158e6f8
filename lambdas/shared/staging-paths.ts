/**
 * The staging bucket's key names of executions and builds (layout: `staging.ts`), without any S3 call.
 */
import { createHash } from 'node:crypto';
import type { BuildState } from './state.js';

/** Top-level key prefix of everything staged for builds. */
export const STAGING_ROOT = 'staging/';

const SAFE_SEGMENT = /^[A-Za-z0-9_.-]+$/;

/**
 * Turns a name into one path segment made of `[A-Za-z0-9_.-]`. A name that is already such a segment (and not
 * `.` or `..`) is kept as it is; any other has its other characters replaced by `-` and gets a short hash of the
 * original, so that two different names never share a segment.
 */
export function safeSegment(name: string): string {
  if (SAFE_SEGMENT.test(name) && !/^\.+$/.test(name) && name.length <= 100) return name;
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 8);
  const readable = name
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 80);
  return readable === '' ? hash : `${readable}-${hash}`;
}

/** `staging/<execution name>/`: everything one execution staged, for every build. */
export function executionStagingPrefix(executionName: string): string {
  return `${STAGING_ROOT}${safeSegment(executionName)}/`;
}

/** `staging/<execution name>/<build name>/`: everything one build staged. Cleanup deletes this prefix. */
export function stagingPrefix(build: {
  execution: Pick<BuildState['execution'], 'name'>;
  config: Pick<BuildState['config'], 'name'>;
}): string {
  return `${executionStagingPrefix(build.execution.name)}${safeSegment(build.config.name)}/`;
}

// Whether dist/ (scripts/build-cli.mjs) is older than the sources it was compiled from, checked at every start of
// bin/ami-builder.mjs and bin/cdk-app.mjs: cheap, so that it costs a start next to nothing, and still right after
// edits and git checkouts in a development tree.
//
// The build writes dist/.built: the time it started and the paths it was compiled from: every source file, every
// directory walked to find them, and package.json. dist/ is stale when the stamp is missing or unreadable, or one of
// those paths is gone or was modified after the build started. A file edited in place has a newer mtime; a file
// added, removed or renamed (git writes a checkout that way, and many editors save that way) changes its
// directory's mtime. Statting a list of paths spares the directory walk.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The stamp's path below the repository root. */
export const STAMP_PATH = join('dist', '.built');

/**
 * Writes the stamp: `startedAt` (ms, taken before the build read any source, so an edit made during the build
 * counts as newer), the paths (relative to `root`) dist/ was built from, and apart the inputs of the quick bundle
 * (dist/quick/, the template-reading commands). A bundle's inputs are complete by construction (a new file
 * reaches it only through an edited one), so the quick commands check only those (about 120 paths, not 230).
 */
export function writeStamp(root, startedAt, paths, quick = paths) {
  writeFileSync(join(root, STAMP_PATH), `${JSON.stringify({ startedAt, paths, quick })}\n`);
}

/**
 * True when dist/ under `root` is missing, or older than a path its stamp lists (or one is gone): every path, or
 * with `part` = `quick`, the quick bundle's inputs.
 */
export function isStale(root, part = 'paths') {
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(join(root, STAMP_PATH), 'utf8'));
  } catch {
    return true;
  }
  const paths = stamp?.[part === 'quick' ? 'quick' : 'paths'];
  if (typeof stamp?.startedAt !== 'number' || !Array.isArray(paths) || paths.length === 0) return true;
  for (const path of paths) {
    const stat = statSync(join(root, path), { throwIfNoEntry: false });
    if (stat === undefined || stat.mtimeMs > stamp.startedAt) return true;
  }
  return false;
}

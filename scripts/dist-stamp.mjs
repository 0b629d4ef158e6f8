// Whether dist/ (scripts/build-cli.mjs) is older than the sources it was compiled from, checked at every start of
// bin/ami-builder.mjs and bin/cdk-app.mjs: cheap, so that it costs a start next to nothing, and still right after
// edits and git checkouts in a development tree.
//
// The build writes dist/.built: the time it started and the paths it was compiled from: every source file, every
// directory walked to find them, and package.json. dist/ is stale when the stamp is missing or unreadable, or one of
// those paths is gone or was modified after the build started. A file edited in place has a newer mtime; a file
// added, removed or renamed (git writes a checkout that way, and many editors save that way) changes its
// directory's mtime. Statting a list of paths costs about 1 ms, where walking the directories cost 7 to 50 ms.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The stamp's path below the repository root. */
export const STAMP_PATH = join('dist', '.built');

/**
 * Writes the stamp: `startedAt` (ms, taken before the build read any source, so an edit made during the build
 * counts as newer), and the paths (relative to `root`) dist/ was built from.
 */
export function writeStamp(root, startedAt, paths) {
  writeFileSync(join(root, STAMP_PATH), `${JSON.stringify({ startedAt, paths })}\n`);
}

/** True when dist/ under `root` is missing, or older than a path its stamp lists (or one is gone). */
export function isStale(root) {
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(join(root, STAMP_PATH), 'utf8'));
  } catch {
    return true;
  }
  if (typeof stamp?.startedAt !== 'number' || !Array.isArray(stamp.paths) || stamp.paths.length === 0)
    return true;
  for (const path of stamp.paths) {
    const stat = statSync(join(root, path), { throwIfNoEntry: false });
    if (stat === undefined || stat.mtimeMs > stamp.startedAt) return true;
  }
  return false;
}

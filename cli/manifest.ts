/**
 * Packer's `manifest` post-processor (packer `post-processor/manifest/post-processor.go`, reference §7.4): a JSON
 * file listing each build's artifact, which existing scripts read (`jq -r '.builds[-1].artifact_id' | cut -d: -f2`).
 * The file is written exactly as Packer writes it, so those consumers keep working:
 *
 * ```json
 * {
 *   "builds": [
 *     {
 *       "name": "amazon-instance",
 *       "builder_type": "amazon-instance",
 *       "build_time": 1752570842,
 *       "files": null,
 *       "artifact_id": "us-east-1:ami-0def,us-west-2:ami-0fed",
 *       "packer_run_uuid": "5f2c…",
 *       "custom_data": null
 *     }
 *   ],
 *   "last_run_uuid": "5f2c…"
 * }
 * ```
 *
 * As in Packer: builds are appended, whether of the same run or a new one; with `force`, a file written by another
 * run is truncated first; `build_time` is left out with `stripTime`; a lock file `<output>.lock` keeps two writers
 * apart. Unlike Packer, a lock that stays taken is an error rather than ignored.
 */
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/** Packer's default `output`. */
export const DEFAULT_MANIFEST_PATH = 'packer-manifest.json';

/** The builder type recorded for every build. */
export const MANIFEST_BUILDER_TYPE = 'amazon-instance';

/** One file of an artifact (`files[]`); amazon-instance artifacts have none (`files: null`). */
export interface ManifestArtifactFile {
  name: string;
  size: number;
}

/** One entry of `builds`, with Packer's JSON names. */
export interface ManifestEntry {
  name: string;
  builder_type: string;
  /** Unix seconds; absent with `strip_time` (Go's `omitempty` on 0). */
  build_time?: number;
  files: ManifestArtifactFile[] | null;
  artifact_id: string;
  packer_run_uuid: string;
  custom_data: Record<string, string> | null;
}

export interface ManifestFile {
  builds: ManifestEntry[];
  last_run_uuid: string;
}

/** A finished build to record. */
export interface ManifestBuild {
  name: string;
  /** Packer's artifact id, `region:ami,…` (lambdas/shared/artifact.ts). */
  artifactId: string;
  /** When the build finished, Unix seconds. */
  buildTime: number;
  /** The post-processor's `custom_data`. @default null */
  customData?: Record<string, string>;
}

export interface WriteManifestOptions {
  /** This run's id (Packer's `PACKER_RUN_UUID`): one per `build` / `local` invocation. */
  runUuid: string;
  builds: ManifestBuild[];
  /** `strip_time`: leave `build_time` out. @default false */
  stripTime?: boolean;
  /** `strip_path`: keep only file names in `files`; amazon-instance artifacts have no files. @default false */
  stripPath?: boolean;
  /** Packer's `-force`: start a new file when it was last written by another run. @default false */
  force?: boolean;
  /** Attempts at taking the lock, waiting 0, 200, 400 ms … before each (Packer's loop). @default 3 */
  lockAttempts?: number;
  /** Sleep, for tests. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
}

/** The manifest cannot be read, locked or written; the message says which file and why. */
export class ManifestError extends Error {
  override readonly name = 'ManifestError' as const;
}

const realSleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/**
 * Go's `json.MarshalIndent(v, "", "  ")`: the same layout as `JSON.stringify(v, null, 2)`, plus Go's HTML-safe
 * escapes of `<`, `>`, `&`, U+2028 and U+2029. Go writes no trailing newline.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value, null, 2)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function sortedMap(map: Record<string, string> | null | undefined): Record<string, string> | null {
  if (map === null || map === undefined) return null;
  // Go marshals map keys sorted.
  return Object.fromEntries(
    Object.keys(map)
      .sort()
      .map((k) => [k, map[k] ?? '']),
  );
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** One entry as Go decodes it into Packer's struct: unknown fields dropped, missing ones zero. */
function decodeEntry(value: unknown, path: string, index: number): ManifestEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ManifestError(`Unable to parse content from ${path}: builds[${index}] is not an object`);
  }
  const v = value as Record<string, unknown>;
  const entry: ManifestEntry = {
    name: str(v.name),
    builder_type: str(v.builder_type),
    files: Array.isArray(v.files)
      ? v.files.map((f) => {
          const file = (typeof f === 'object' && f !== null ? f : {}) as Record<string, unknown>;
          return { name: str(file.name), size: typeof file.size === 'number' ? file.size : 0 };
        })
      : null,
    artifact_id: str(v.artifact_id),
    packer_run_uuid: str(v.packer_run_uuid),
    custom_data:
      typeof v.custom_data === 'object' && v.custom_data !== null && !Array.isArray(v.custom_data)
        ? sortedMap(
            Object.fromEntries(
              Object.entries(v.custom_data as Record<string, unknown>).map(([k, x]) => [k, str(x)]),
            ),
          )
        : null,
  };
  if (typeof v.build_time === 'number' && v.build_time !== 0) {
    return { name: entry.name, builder_type: entry.builder_type, build_time: v.build_time, ...rest(entry) };
  }
  return entry;
}

// Keeps Packer's field order: name, builder_type, build_time, files, artifact_id, packer_run_uuid, custom_data.
function rest(entry: ManifestEntry): Omit<ManifestEntry, 'name' | 'builder_type' | 'build_time'> {
  return {
    files: entry.files,
    artifact_id: entry.artifact_id,
    packer_run_uuid: entry.packer_run_uuid,
    custom_data: entry.custom_data,
  };
}

/** Reads a manifest; a missing or empty file is an empty manifest. */
export async function readManifest(path: string): Promise<ManifestFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return { builds: [], last_run_uuid: '' };
    throw new ManifestError(`Unable to open ${path} for reading: ${(error as Error).message}`);
  }
  if (text.length === 0) return { builds: [], last_run_uuid: '' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (error) {
    throw new ManifestError(`Unable to parse content from ${path}: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ManifestError(`Unable to parse content from ${path}: expected a JSON object`);
  }
  const record = parsed as Record<string, unknown>;
  const builds = record.builds;
  if (builds !== undefined && builds !== null && !Array.isArray(builds)) {
    throw new ManifestError(`Unable to parse content from ${path}: "builds" is not a list`);
  }
  return {
    builds: (builds ?? []).map((b, i) => decodeEntry(b, path, i)),
    last_run_uuid: str(record.last_run_uuid),
  };
}

/** The manifest entry of one build. */
export function manifestEntry(build: ManifestBuild, runUuid: string, stripTime: boolean): ManifestEntry {
  const entry: ManifestEntry = {
    name: build.name,
    builder_type: MANIFEST_BUILDER_TYPE,
    files: null,
    artifact_id: build.artifactId,
    packer_run_uuid: runUuid,
    custom_data: sortedMap(build.customData),
  };
  if (stripTime || build.buildTime === 0) return entry;
  return { name: entry.name, builder_type: entry.builder_type, build_time: build.buildTime, ...rest(entry) };
}

async function lock(path: string, attempts: number, sleep: (ms: number) => Promise<void>): Promise<string> {
  const lockPath = `${path}.lock`;
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    await sleep(i * 200);
    try {
      const handle = await open(lockPath, 'wx', 0o644);
      await handle.close();
      return lockPath;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EEXIST') {
        throw new ManifestError(`Unable to lock ${path} (${lockPath}): ${(error as Error).message}`);
      }
      last = error;
    }
  }
  throw new ManifestError(
    `Unable to lock ${path}: ${lockPath} exists (${(last as Error).message}); another build may be writing ` +
      'the manifest. Remove the lock file if no build is running.',
  );
}

/**
 * Appends the builds to the manifest at `path` (created, with its directory, when missing) and returns what was
 * written. With `force`, a manifest whose `last_run_uuid` is another run's is started afresh.
 *
 * @throws ManifestError when the file cannot be locked, read, parsed or written.
 */
export async function writeManifest(path: string, options: WriteManifestOptions): Promise<ManifestFile> {
  const sleep = options.sleep ?? realSleep;
  await mkdir(dirname(path), { recursive: true });
  const lockPath = await lock(path, options.lockAttempts ?? 3, sleep);
  try {
    let manifest = await readManifest(path);
    if (options.force === true && manifest.last_run_uuid !== options.runUuid) {
      manifest = { builds: [], last_run_uuid: '' };
    }
    const stripTime = options.stripTime ?? false;
    manifest.builds.push(...options.builds.map((b) => manifestEntry(b, options.runUuid, stripTime)));
    manifest.last_run_uuid = options.runUuid;
    // Written beside the file and renamed over it, so a reader never sees half a manifest.
    const temporary = `${dirname(path)}/.${basename(path)}.${process.pid}.tmp`;
    try {
      await writeFile(temporary, goJson(manifest), { mode: 0o664 });
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw new ManifestError(`Unable to write ${path}: ${(error as Error).message}`);
    }
    return manifest;
  } finally {
    await rm(lockPath, { force: true });
  }
}

/**
 * What `ami-builder build` and `ami-builder local` share once a build has run: the `--manifest [path]` flag and
 * the Packer manifests written for the builds that succeeded.
 */

import { resolve } from 'node:path';
import type { BuildConfig } from '../lambdas/shared/config.js';
import { costCustomData } from '../lambdas/shared/cost/estimate.js';
import { isSuccessfulStatus } from '../lambdas/shared/state.js';
import { type FlagSpec, type ParsedArgs, parseArgs } from './args.js';
import { DEFAULT_MANIFEST_PATH, type ManifestBuild, writeManifest } from './manifest.js';
import type { WorkflowOutput } from './progress/printer.js';

/** Usage line of the manifest flag. */
export const MANIFEST_USAGE = `  ${'-manifest[=path]'.padEnd(28)} Write or append ${DEFAULT_MANIFEST_PATH} (Packer's manifest) for the builds that succeed.`;

/** Takes `-manifest`, `-manifest=path` or `-manifest path` out of argv (the flag parser has no optional values). */
function takeManifestFlag(argv: readonly string[]): {
  rest: string[];
  manifest?: string;
  candidate?: string;
} {
  const rest: string[] = [];
  let manifest: string | undefined;
  let candidate: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const match = /^--?manifest(?:=(.*))?$/.exec(arg);
    if (match === null) {
      rest.push(arg);
      continue;
    }
    manifest = match[1] ?? DEFAULT_MANIFEST_PATH;
    const next = argv[i + 1];
    if (match[1] === undefined && next !== undefined && !next.startsWith('-')) {
      candidate = next;
      i += 1;
    }
  }
  return { rest, manifest, candidate };
}

/**
 * Parses argv with `specs` plus the manifest flag, whose value is optional: `-manifest out.json TEMPLATE` names a
 * path, `-manifest TEMPLATE` does not (the one positional argument is the template).
 */
export function parseArgsWithManifest(
  argv: readonly string[],
  specs: Readonly<Record<string, FlagSpec>>,
): { parsed: ParsedArgs; manifest?: string } {
  const taken = takeManifestFlag(argv);
  let parsed = parseArgs(taken.rest, specs);
  let manifest = taken.manifest;
  if (taken.candidate !== undefined) {
    if (parsed.positional.length === 0) parsed = parseArgs([...taken.rest, taken.candidate], specs);
    else manifest = taken.candidate;
  }
  return { parsed, manifest };
}

/** Unix seconds of a build's finish time (its `timings.finished`), else `fallback`. */
function finishedAt(build: WorkflowOutput['builds'][number], fallback: Date): number {
  const finished = build.timings.finished;
  const time = finished === undefined ? Number.NaN : Date.parse(finished);
  return Math.floor((Number.isNaN(time) ? fallback.getTime() : time) / 1000);
}

export interface ManifestRequest {
  /** The `--manifest` path, when given. */
  manifest?: string;
  /** Base of relative paths. */
  cwd: string;
  now: Date;
  /** This run's id (Packer's `PACKER_RUN_UUID`). */
  runUuid: string;
}

/**
 * Writes the manifests of the builds that succeeded: each build's own `manifest` post-processor, and the file
 * `--manifest` names. Resolves to the paths written.
 */
export async function writeBuildManifests(
  output: WorkflowOutput,
  configs: readonly BuildConfig[],
  request: ManifestRequest,
): Promise<string[]> {
  const byPath = new Map<string, { builds: ManifestBuild[]; stripTime: boolean; stripPath: boolean }>();
  const add = (path: string, build: ManifestBuild, stripTime: boolean, stripPath: boolean) => {
    const entry = byPath.get(path) ?? { builds: [], stripTime, stripPath };
    if (!entry.builds.some((b) => b.name === build.name)) entry.builds.push(build);
    byPath.set(path, entry);
  };
  for (const build of output.builds.filter((b) => isSuccessfulStatus(b.status))) {
    const config = configs.find((c) => c.name === build.name);
    const post = config?.postProcessors.manifest;
    const record: ManifestBuild = {
      name: build.name,
      artifactId: build.artifactId,
      buildTime: finishedAt(build, request.now),
      customData: withCost(
        build.status === 'unchanged'
          ? { ...post?.customData, ami_builder_status: 'unchanged' }
          : post?.customData,
        build.cost,
      ),
    };
    if (post !== undefined) add(resolve(request.cwd, post.output), record, post.stripTime, post.stripPath);
    if (request.manifest !== undefined) add(resolve(request.cwd, request.manifest), record, false, false);
  }
  for (const [path, entry] of byPath) {
    await writeManifest(path, {
      runUuid: request.runUuid,
      builds: entry.builds,
      stripTime: entry.stripTime,
      stripPath: entry.stripPath,
    });
  }
  return [...byPath.keys()];
}

/** A manifest's `custom_data` with the build's cost estimate added, when there is one. */
function withCost(
  customData: Record<string, string> | undefined,
  cost: WorkflowOutput['builds'][number]['cost'],
): Record<string, string> | undefined {
  return cost === undefined ? customData : { ...customData, ...costCustomData(cost) };
}

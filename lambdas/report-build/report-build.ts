/**
 * Report Build / Report Failed Build: the last state of a build, whose output is the build's entry in the
 * execution output (issue step 18). It is small and readable: no stack trace, no command output.
 *
 * As in Packer, a failed build has no artifact (reference §1: "no artifact is produced"), even when an AMI was
 * registered or copied before the failure. Those AMIs are not deregistered (Packer keeps them, reference §1.3),
 * so the report lists them under `cleanup.kept`, with the command that removes them, for the user to decide.
 */
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import * as z from 'zod/mini';
import '../shared/zod-english.js';
import { artifactId } from '../shared/artifact.js';
import { buildArtifacts } from '../shared/build-artifacts.js';
import {
  awsErrorCode,
  emptyCleanupReport,
  keptImage,
  leakedInstance,
  leakedInstanceRole,
  leakedSecurityGroup,
  mergeCleanupReports,
} from '../shared/cleanup-report.js';
import type { CostEstimate } from '../shared/cost/estimate.js';
import type { PathMachine } from '../shared/cost/path.js';
import { formatDuration, millisecondsBetween } from '../shared/duration.js';
import { describeRetentionPolicy } from '../shared/retention-policy.js';
import { type Clients, type Clock, TagKeys, type TaskEnvironment } from '../shared/runtime.js';
import type {
  BuildOutput,
  BuildState,
  CleanupReport,
  ImageInfo,
  LeakedResource,
  TaskEvent,
} from '../shared/state.js';

export const reportBuildArgsSchema = z.object({
  status: z.enum(['succeeded', 'failed']),
  /** The build's part of the definition, pruned (lambdas/shared/cost/path.ts), as JSON: for the cost estimate. */
  path: z.optional(z.string()),
});
export type ReportBuildArgs = z.infer<typeof reportBuildArgsSchema>;

export interface ReportBuildDeps {
  clients: Pick<Clients, 'ec2'>;
  env: Pick<TaskEnvironment, 'stackName'>;
  clock: Clock;
  /** Where Packer's `Build '…' finished after …` line goes (the function's log). */
  log: (message: string) => void;
  /** Estimates what the build cost (./cost.ts); without it the output has no `cost`. */
  cost?: (build: BuildState, path: PathMachine | undefined, failed: boolean) => Promise<CostEstimate>;
}

/**
 * Longest error cause kept in the output. A Fail state's cause may hold 32,768 characters and a template may
 * have several builds, so each build's share stays well below that.
 */
export const MAX_CAUSE_CHARS = 4000;

/** Cuts the middle out of a long text: the head says what failed, the tail where to look (log group, exit code). */
export function truncateMiddle(text: string, max: number = MAX_CAUSE_CHARS): string {
  if (text.length <= max) return text;
  const marker = (cut: number) => `\n… (${cut} characters cut) …\n`;
  const budget = max - marker(text.length).length;
  const head = Math.ceil(budget * 0.4);
  const tail = budget - head;
  return `${text.slice(0, head)}${marker(text.length - head - tail)}${text.slice(text.length - tail)}`;
}

const lambdaCause = z.object({ errorType: z.optional(z.string()), errorMessage: z.string() });

/**
 * Makes Step Functions' `{ Error, Cause }` readable. A Lambda error's Cause is the JSON text
 * `{"errorType","errorMessage","trace"}`: only the message is kept, and the trace is dropped. Any other cause
 * (a `States.*` error's text) is kept as it is. Long causes are shortened in the middle.
 */
export function readableError(error: { Error: string; Cause?: string }): { Error: string; Cause: string } {
  const cause = error.Cause ?? '';
  let name = error.Error;
  let message = cause;
  try {
    const parsed = lambdaCause.safeParse(JSON.parse(cause));
    if (parsed.success) {
      message = parsed.data.errorMessage;
      if (name === '' && parsed.data.errorType !== undefined) name = parsed.data.errorType;
    }
  } catch {
    // Not JSON: a States.* error's plain text.
  }
  return { Error: name, Cause: truncateMiddle(message) };
}

/** Warnings a task recorded at `$.warnings` (none does today; the field is read when present). */
function recordedWarnings(build: BuildState): string[] {
  const value = (build as BuildState & { warnings?: unknown }).warnings;
  return Array.isArray(value) ? value.filter((w): w is string => typeof w === 'string') : [];
}

/**
 * The AMIs a failed build left: those in the state (`$.image`, `$.copies`) and, since a copy still in flight
 * when another step failed is in no state, those tagged with this execution and build in every target region.
 * A region that cannot be searched becomes a warning: the report must not fail the failure path.
 */
async function leftoverImages(
  build: BuildState,
  deps: ReportBuildDeps,
): Promise<{ images: ImageInfo[]; warnings: string[] }> {
  const found = new Map<string, ImageInfo>();
  const add = (image: ImageInfo) => found.set(`${image.region}:${image.imageId}`, image);
  if (build.image !== undefined) add(build.image);
  for (const copy of build.copies ?? []) add(copy);

  const warnings: string[] = [];
  const regions = [...new Set([build.config.region, ...build.config.amiRegions])];
  await Promise.all(
    regions.map(async (region) => {
      try {
        let nextToken: string | undefined;
        do {
          const page = await deps.clients.ec2(region).send(
            new DescribeImagesCommand({
              Owners: ['self'],
              Filters: [
                { Name: `tag:${TagKeys.stack}`, Values: [deps.env.stackName] },
                { Name: `tag:${TagKeys.execution}`, Values: [build.execution.id] },
                { Name: `tag:${TagKeys.build}`, Values: [build.config.name] },
              ],
              NextToken: nextToken,
            }),
          );
          for (const image of page.Images ?? []) {
            if (image.ImageId !== undefined) add({ region, imageId: image.ImageId });
          }
          nextToken = page.NextToken;
        } while (nextToken !== undefined);
      } catch (error) {
        warnings.push(
          `could not look for AMIs this build registered in ${region} (${awsErrorCode(error) ?? 'error'}); ` +
            `look for AMIs tagged ${TagKeys.execution}=${build.execution.id}`,
        );
      }
    }),
  );
  const images = [...found.values()].sort((a, b) =>
    `${a.region}:${a.imageId}` < `${b.region}:${b.imageId}` ? -1 : 1,
  );
  return { images, warnings: warnings.sort() };
}

/**
 * What the build created (instance, temporary security group, temporary instance role) that no cleanup step
 * accounts for, as removed, kept or left behind: a cleanup state that failed outright (its Catch stored
 * `$.cleanupError`) reported nothing. Each is left behind, and the cleanup's own error says why.
 */
export function unaccountedResources(build: BuildState, report: CleanupReport): LeakedResource[] {
  const cleanupError = build.cleanupError === undefined ? undefined : readableError(build.cleanupError);
  const why =
    cleanupError === undefined
      ? 'cleanup did not report it removed'
      : `cleanup failed: ${cleanupError.Error}: ${cleanupError.Cause}`;
  const accounted = (id: string, removed: readonly string[]) =>
    removed.includes(id) ||
    report.kept.some((k) => k.resource.includes(id)) ||
    (report.leaked ?? []).some((l) => l.id === id);
  const region = build.config.region;
  const leaked: LeakedResource[] = [];
  const instanceId = build.instance?.instanceId;
  if (instanceId !== undefined && !accounted(instanceId, report.terminatedInstances)) {
    leaked.push(leakedInstance(region, instanceId, why));
  }
  const groupId = build.network?.temporarySecurityGroupId;
  if (groupId !== undefined && !accounted(groupId, report.deletedSecurityGroups)) {
    leaked.push(leakedSecurityGroup(region, groupId, why));
  }
  // The ami_test instance (Terminate Test Instance reports it in $.testCleanup).
  const testInstanceId = build.testInstance?.instanceId;
  if (testInstanceId !== undefined && !accounted(testInstanceId, report.terminatedInstances)) {
    leaked.push(leakedInstance(region, testInstanceId, why));
  }
  const roleName = build.instanceRole?.temporary === true ? build.instanceRole.roleName : undefined;
  if (roleName !== undefined && !accounted(roleName, report.deletedInstanceRoles ?? [])) {
    leaked.push(leakedInstanceRole(roleName, why));
  }
  return leaked;
}

/** What Apply Retention did, or its error (the build itself succeeded); undefined when it did not run. */
export function retentionOutput(build: BuildState): BuildOutput['retention'] {
  if (build.retention !== undefined) return build.retention;
  const policy = build.config.retention;
  if (build.retentionError === undefined || policy === undefined) return undefined;
  return {
    family: build.config.family ?? build.config.name,
    policy,
    summary: describeRetentionPolicy(policy),
    dryRun: false,
    regions: [...new Set([build.config.region, ...build.config.amiRegions])].sort(),
    builds: 0,
    actions: [],
    error: readableError(build.retentionError),
  };
}

/**
 * Builds the build's output entry.
 *
 * - `succeeded`: artifacts (build region + copies), Packer's artifact id, the manifest location, the cleanup;
 *   `unchanged` instead when Check Unchanged found the AMI already built (its artifacts, no manifest location).
 * - `failed`: no artifacts; the readable error; the cleanup, plus any AMI left behind in `cleanup.kept`. The
 *   manifest location is given only when an AMI was registered from it (the bundle is in S3 then).
 * - Either way, `cleanup.leaked` lists what cleanup could not remove, including what a failed cleanup state
 *   never reported ({@link unaccountedResources}).
 *
 * Timings run from the execution's start: builds start together, as in Packer.
 */
export async function reportBuild(
  event: TaskEvent<ReportBuildArgs>,
  deps: ReportBuildDeps,
): Promise<BuildOutput> {
  const { build, args } = event;
  const succeeded = args.status === 'succeeded';
  const finished = deps.clock.now();
  const total = formatDuration(millisecondsBetween(build.execution.startTime, finished));

  const artifacts = succeeded ? buildArtifacts(build) : {};
  const warnings = recordedWarnings(build);
  // $.testCleanup: the ami_test instance's termination and, after a failed test, the AMI's fate.
  let cleanup: CleanupReport = mergeCleanupReports(build.testCleanup, build.cleanup);
  const unaccounted = unaccountedResources(build, cleanup);
  if (unaccounted.length > 0)
    cleanup = mergeCleanupReports(cleanup, { ...emptyCleanupReport(), leaked: unaccounted });
  if (!succeeded) {
    const leftovers = await leftoverImages(build, deps);
    cleanup = mergeCleanupReports(cleanup, {
      ...emptyCleanupReport(),
      kept: leftovers.images
        // An AMI kept after its failed ami_test is already reported, with why; a deregistered one is gone.
        .filter(
          (i) =>
            !cleanup.kept.some((k) => k.resource.includes(i.imageId)) &&
            !cleanup.deregisteredImages.includes(i.imageId),
        )
        .map((i) => keptImage(i.region, i.imageId, 'registered before the build failed')),
    });
    warnings.push(...leftovers.warnings);
  }

  const unchanged = succeeded ? build.fingerprint?.unchanged : undefined;
  const output: BuildOutput = {
    name: build.config.name,
    status: unchanged === undefined ? args.status : 'unchanged',
    artifacts,
    artifactId: artifactId(artifacts),
    warnings,
    timings: { started: build.execution.startTime, finished: finished.toISOString(), total },
    cleanup,
  };
  const bundleDeleted = build.image !== undefined && cleanup.deregisteredImages.includes(build.image.imageId);
  if (build.bucket !== undefined && (succeeded || build.image !== undefined) && !bundleDeleted) {
    output.manifestLocation = `s3://${build.bucket.manifestLocation}`;
  }
  const retention = retentionOutput(build);
  if (succeeded && retention !== undefined) {
    output.retention = retention;
    if (retention.error !== undefined) {
      warnings.push(
        `retention of family ${retention.family} failed: ${retention.error.Error}: ${retention.error.Cause}`,
      );
    }
    for (const a of retention.actions.filter((x) => x.action === 'failed')) {
      warnings.push(`retention could not retire ${a.imageId} in ${a.region}: ${a.reason}`);
    }
  }
  const sourceAmi = build.source?.imageId ?? build.config.sourceAmi;
  if (sourceAmi !== undefined) output.sourceAmi = sourceAmi;
  if (build.fingerprint !== undefined) output.fingerprint = build.fingerprint.value;

  if (deps.cost !== undefined) {
    const path = args.path === undefined ? undefined : (JSON.parse(args.path) as PathMachine);
    output.cost = await deps.cost(build, path, !succeeded);
  }

  if (unchanged !== undefined) {
    deps.log(
      `Build '${output.name}' finished after ${total}: nothing changed since ${unchanged.image.imageId} was built, nothing was launched.`,
    );
  } else if (succeeded) {
    deps.log(`Build '${output.name}' finished after ${total}.`);
  } else {
    output.error = readableError(build.error ?? { Error: 'BuildFailed', Cause: 'the build failed' });
    deps.log(`Build '${output.name}' errored after ${total}: ${output.error.Cause}`);
  }
  return output;
}

/**
 * The usage half of the cost estimate (README.md, "Cost estimate"): what one build used, read from its state, the
 * definition's path and the resources it made. Prices are applied by `estimateCost`.
 */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { type BuildUsage, type CostEstimate, estimateCost } from '../shared/cost/estimate.js';
import { countBuildPath, type PathMachine } from '../shared/cost/path.js';
import type { Clients } from '../shared/runtime.js';
import type { BuildState } from '../shared/state.js';

/** Memory of every task function, MB (infra/constructs/task-function.ts). */
export const TASK_MEMORY_MB = 256;
/**
 * Billed duration assumed per task invocation, ms: the state does not hold each invocation's billed duration (a
 * check is one or two API calls; cold starts bill their initialization).
 */
export const ASSUMED_BILLED_MS = 300;

export interface CostDeps {
  clients: Pick<Clients, 'ec2' | 's3'>;
  /** The state machine's (and the task functions') region. */
  workflowRegion: string;
  now: Date;
}

/** `User initiated (2026-12-02 10:00:00 GMT)` → that time; EC2's reason for a stop or termination. */
export function transitionTime(reason: string | undefined): Date | undefined {
  const m = /\((\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) (GMT|UTC)\)/.exec(reason ?? '');
  return m === null ? undefined : new Date(`${m[1]}T${m[2]}Z`);
}

/** How many times each Check state ran: the state's poll results plus the Map iterations' outputs. */
export function checkCounts(build: BuildState): Record<string, number> {
  const counts: Record<string, number> = {};
  const add = (c: Record<string, number> | undefined) => {
    for (const [name, n] of Object.entries(c ?? {})) counts[name] = (counts[name] ?? 0) + n;
  };
  for (const poll of Object.values(build.poll ?? {})) add(poll?.counts);
  for (const poll of build.provisioned ?? []) add(poll?.counts ?? undefined);
  for (const copy of build.copies ?? []) add(copy?.counts);
  return counts;
}

async function instanceUsage(build: BuildState, deps: CostDeps, usage: BuildUsage): Promise<void> {
  const instanceId = build.instance?.instanceId;
  if (instanceId === undefined) return;
  const region = build.config.region;
  try {
    const page = await deps.clients
      .ec2(region)
      .send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = page.Reservations?.flatMap((r) => r.Instances ?? []).find(
      (i) => i.InstanceId === instanceId,
    );
    if (instance?.LaunchTime === undefined) {
      usage.unknown.push(`instance time: ${instanceId} was not found`);
      return;
    }
    const state = instance.State?.Name;
    const ended =
      state === 'terminated' || state === 'shutting-down'
        ? (transitionTime(instance.StateTransitionReason) ??
          (build.poll.instanceTerminated?.done
            ? new Date(build.poll.instanceTerminated.checkedAt ?? '')
            : undefined))
        : undefined;
    const end = ended !== undefined && !Number.isNaN(ended.getTime()) ? ended : deps.now;
    if (ended === undefined)
      usage.unknown.push(`instance time: ${instanceId} is ${state ?? 'running'}, counted to now`);
    usage.instance = {
      type: instance.InstanceType ?? build.config.instanceType,
      region,
      seconds: Math.max(0, (end.getTime() - new Date(instance.LaunchTime).getTime()) / 1000),
    };
  } catch (error) {
    usage.unknown.push(`instance time: DescribeInstances failed (${(error as Error).name})`);
  }
}

async function bundleBytes(
  build: BuildState,
  deps: CostDeps,
  usage: BuildUsage,
): Promise<number | undefined> {
  const bucket = build.bucket;
  if (bucket === undefined) return undefined;
  const key = bucket.manifestLocation.slice(bucket.manifestLocation.indexOf('/') + 1);
  const prefix = key.replace(/manifest\.xml$/, '');
  try {
    let bytes = 0;
    let objects = 0;
    let token: string | undefined;
    do {
      const page = await deps.clients
        .s3(bucket.region)
        .send(new ListObjectsV2Command({ Bucket: bucket.name, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        bytes += object.Size ?? 0;
        objects += 1;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return objects === 0 ? undefined : bytes;
  } catch (error) {
    usage.unknown.push(
      `bundle size: listing s3://${bucket.name}/${prefix} failed (${(error as Error).name})`,
    );
    return undefined;
  }
}

/** What the build used. */
export async function buildUsage(
  build: BuildState,
  path: PathMachine | undefined,
  failed: boolean,
  deps: CostDeps,
): Promise<BuildUsage> {
  const usage: BuildUsage = {
    stepFunctions: { region: deps.workflowRegion, transitions: 0 },
    lambda: { region: deps.workflowRegion, requests: 0, gbSeconds: 0 },
    transfers: [],
    unknown: [],
  };
  if (path === undefined) {
    usage.unknown.push('Step Functions and Lambda: the definition was not given to Report Build');
  } else {
    const count = countBuildPath(path, build, checkCounts(build), failed);
    usage.stepFunctions.transitions = count.transitions;
    usage.lambda.requests = count.invocations;
    usage.lambda.gbSeconds = count.invocations * (ASSUMED_BILLED_MS / 1000) * (TASK_MEMORY_MB / 1024);
    if (count.unrecorded.length > 0) {
      usage.unknown.push(`poll checks not recorded for ${count.unrecorded.join(', ')} (counted once each)`);
    }
  }
  await instanceUsage(build, deps, usage);
  const bytes = await bundleBytes(build, deps, usage);
  if (bytes !== undefined) {
    const from = build.bucket?.region ?? build.config.region;
    const copies = (build.copies ?? []).filter((c) => typeof c?.region === 'string' && c.region !== from);
    usage.bundle = { bytes, regions: [from, ...copies.map((c) => c.region)] };
    usage.transfers = copies.map((c) => ({ from, to: c.region, bytes }));
  }
  return usage;
}

/** The build's estimate: its usage at the shipped prices. */
export async function buildCost(
  build: BuildState,
  path: PathMachine | undefined,
  failed: boolean,
  deps: CostDeps,
): Promise<CostEstimate> {
  return estimateCost(await buildUsage(build, path, failed, deps));
}

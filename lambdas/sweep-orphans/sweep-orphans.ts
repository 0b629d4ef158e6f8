/**
 * Sweep Orphans: the daily backstop behind every build's own cleanup and Abort Cleanup. It finds what this
 * stack's ownership tags (and paths) mark, in every enabled region, groups it by the execution that created it,
 * and asks Step Functions whether that execution still runs. For every execution that ended (or that Step
 * Functions no longer knows) more than a grace period ago:
 * - its instances, security groups, temporary instance roles and profiles and staged files are handed to Abort
 *   Cleanup, the same code that runs when an execution is stopped (what it keeps, it reports);
 * - the AMIs its failed builds registered (a failed execution's images that never reached Finish AMI, so
 *   without `ami-builder:finished`) are deregistered and their bundles deleted.
 *
 * Never touched: anything of a running execution, or of one that ended within the grace period (Abort Cleanup
 * may still be at work); anything without this stack's tag; resources tagged `ami-builder:on-error = keep`
 * (`on_error: abort` keeps them for debugging: they are reported); an image that went through Finish AMI (the
 * retention rules own it); an image an `ami_id_parameter` under the stack's prefix points to; an image whose
 * `ami_test` failed with `on_failure: keep` (tagged `ami-builder:ami-test=failed`: kept for inspection).
 *
 * With `dryRun`, nothing is changed and the report lists what would go.
 */
import {
  DeregisterImageCommand,
  DescribeImagesCommand,
  type DescribeImagesCommandOutput,
  DescribeInstancesCommand,
  DescribeRegionsCommand,
  DescribeSecurityGroupsCommand,
  type Image,
} from '@aws-sdk/client-ec2';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  ListInstanceProfilesCommand,
  type ListInstanceProfilesCommandOutput,
  ListRolesCommand,
  type ListRolesCommandOutput,
  ListRoleTagsCommand,
} from '@aws-sdk/client-iam';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand } from '@aws-sdk/client-sns';
import { GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import * as z from 'zod/mini';
import '../shared/zod-english.js';
import { deleteBundle } from '../shared/bundle-location.js';
import { awsErrorCode, emptyCleanupReport, mergeCleanupReports } from '../shared/cleanup-report.js';
import { TaskInputError } from '../shared/errors.js';
import { stackRolePath } from '../shared/instance-role.js';
import { isOwnedByStack, tagValue } from '../shared/ownership.js';
import { type Clients, type Clock, TagKeys, type TaskEnvironment } from '../shared/runtime.js';
import { STAGING_ROOT } from '../shared/staging-paths.js';
import type { CleanupReport } from '../shared/state.js';

/** The event of the schedule (`{}`), or of `ami-builder sweep` (`{ "dryRun": true }`). */
export const sweepRequestSchema = z.looseObject({
  /** List what would be removed, change nothing. */
  dryRun: z._default(z.boolean(), false),
  /** Sweep only these regions (default: every region enabled in the account). */
  regions: z.optional(z.array(z.string().check(z.regex(/^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/)))),
});

export type SweepRequest = z.infer<typeof sweepRequestSchema>;

/** Checks the event; an EventBridge scheduled event (with `detail-type`) is a plain sweep. */
export function parseSweepRequest(event: unknown): SweepRequest {
  const parsed = sweepRequestSchema.safeParse(event ?? {});
  if (!parsed.success) {
    throw new TaskInputError(
      `Sweep Orphans expects {"dryRun"?: boolean, "regions"?: [region, …]}: ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}

/** Where an execution stands, as far as the sweep is concerned. */
export type ExecutionState =
  | { status: 'RUNNING' | 'PENDING_REDRIVE' }
  | { status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED'; stopDate?: Date }
  /** Step Functions no longer knows it (history is kept 90 days), or the name was never started. */
  | { status: 'GONE' };

/** One resource the sweep found, and what it does with it. */
export interface SweptResource {
  type: 'instance' | 'security-group' | 'image' | 'instance-role' | 'staged-files';
  id: string;
  /** The region, or `global` (IAM). */
  region: string;
  /** The execution that created it (its ARN). */
  execution: string;
  /** `removed`, `would remove` (dry run), or `kept`. */
  action: 'removed' | 'would remove' | 'kept';
  /** Why: the execution's status, or why it is kept. */
  reason: string;
}

export interface SweepReport {
  dryRun: boolean;
  regions: string[];
  /** Every resource found that the sweep acted on, would act on, or kept. */
  resources: SweptResource[];
  /** What Abort Cleanup did for the ended executions, merged, and the images deregistered here. */
  cleanup: CleanupReport;
  /** Executions whose resources were left alone because they run or ended within the grace period. */
  skippedExecutions: { execution: string; reason: string }[];
}

export interface SweepDeps {
  clients: Pick<Clients, 'ec2' | 's3' | 'sfn' | 'iam' | 'ssm' | 'sts'>;
  env: Pick<TaskEnvironment, 'stackName' | 'stagingBucket' | 'amiParameterPrefix'> & {
    /** `STATE_MACHINE_NAME`: the build state machine, to name the executions of staged folders. */
    stateMachineName: string;
  };
  /** The stack's region: IAM, the staging bucket and the state machine are there. */
  homeRegion: string;
  clock: Clock;
  /**
   * Minutes after an execution ended before the sweep takes its resources: Abort Cleanup runs first.
   * @default 60
   */
  graceMinutes?: number;
  /** Cleans up after one ended execution as Abort Cleanup does (the handler invokes that function). */
  cleanExecution: (change: {
    detail: { executionArn: string; name: string; status: 'ABORTED' | 'FAILED' | 'TIMED_OUT' };
  }) => Promise<CleanupReport>;
  /** Where the one-line summary goes (the function's log). */
  log: (line: string) => void;
  /**
   * Where an execution stands.
   * @default {@link executionState} (Step Functions' DescribeExecution)
   */
  executionState?: (executionArn: string) => Promise<ExecutionState>;
}

export const DEFAULT_GRACE_MINUTES = 60;

/** What the sweep found of one execution. */
interface Found {
  resources: Omit<SweptResource, 'action' | 'reason'>[];
  /** Images, with what decides their fate. */
  images: { region: string; image: Image }[];
  /** The youngest creation time seen (for executions Step Functions does not know). */
  newest?: Date;
}

const STACK_FILTER = (stackName: string) => [{ Name: `tag:${TagKeys.stack}`, Values: [stackName] }];

function entry(found: Map<string, Found>, execution: string): Found {
  let value = found.get(execution);
  if (value === undefined) {
    value = { resources: [], images: [] };
    found.set(execution, value);
  }
  return value;
}

function seen(f: Found, when: Date | undefined) {
  if (when !== undefined && (f.newest === undefined || when > f.newest)) f.newest = when;
}

async function sweptRegions(request: SweepRequest, deps: SweepDeps): Promise<string[]> {
  if (request.regions !== undefined && request.regions.length > 0)
    return [...new Set(request.regions)].sort();
  const result = await deps.clients.ec2(deps.homeRegion).send(new DescribeRegionsCommand({}));
  const names = (result.Regions ?? []).map((r) => r.RegionName).filter((r): r is string => r !== undefined);
  return [...new Set([...names, deps.homeRegion])].sort();
}

async function findInRegion(region: string, deps: SweepDeps, found: Map<string, Found>): Promise<void> {
  const ec2 = deps.clients.ec2(region);
  const { stackName } = deps.env;
  let token: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          ...STACK_FILTER(stackName),
          {
            Name: 'instance-state-name',
            Values: ['pending', 'running', 'shutting-down', 'stopping', 'stopped'],
          },
        ],
        NextToken: token,
      }),
    );
    for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
      const execution = tagValue(instance.Tags, TagKeys.execution);
      if (instance.InstanceId === undefined || execution === undefined) continue;
      if (!isOwnedByStack(instance.Tags, stackName)) continue;
      const f = entry(found, execution);
      f.resources.push({ type: 'instance', id: instance.InstanceId, region, execution });
      seen(f, instance.LaunchTime);
    }
    token = page.NextToken;
  } while (token !== undefined);

  const groups = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: STACK_FILTER(stackName) }));
  for (const group of groups.SecurityGroups ?? []) {
    const execution = tagValue(group.Tags, TagKeys.execution);
    if (group.GroupId === undefined || execution === undefined || !isOwnedByStack(group.Tags, stackName))
      continue;
    entry(found, execution).resources.push({ type: 'security-group', id: group.GroupId, region, execution });
  }

  token = undefined;
  do {
    const page: DescribeImagesCommandOutput = await ec2.send(
      new DescribeImagesCommand({ Owners: ['self'], Filters: STACK_FILTER(stackName), NextToken: token }),
    );
    for (const image of page.Images ?? []) {
      const execution = tagValue(image.Tags, TagKeys.execution);
      if (image.ImageId === undefined || execution === undefined || !isOwnedByStack(image.Tags, stackName))
        continue;
      const f = entry(found, execution);
      f.images.push({ region, image });
      seen(f, image.CreationDate === undefined ? undefined : new Date(image.CreationDate));
    }
    token = page.NextToken;
  } while (token !== undefined);
}

/** Temporary instance roles under `/ami-builder/<stack>/`, by their execution tag. */
async function findRoles(deps: SweepDeps, found: Map<string, Found>): Promise<void> {
  const iam = deps.clients.iam(deps.homeRegion);
  const root = stackRolePath(deps.env.stackName);
  const roleNames = new Set<string>();
  let marker: string | undefined;
  do {
    const page: ListRolesCommandOutput = await iam.send(
      new ListRolesCommand({ PathPrefix: root, Marker: marker }),
    );
    for (const role of page.Roles ?? []) {
      if (role.RoleName === undefined || !role.Path?.startsWith(root)) continue;
      roleNames.add(role.RoleName);
      const tags = (await iam.send(new ListRoleTagsCommand({ RoleName: role.RoleName }))).Tags ?? [];
      const execution = tags.find((t) => t.Key === TagKeys.execution)?.Value;
      const stack = tags.find((t) => t.Key === TagKeys.stack)?.Value;
      if (execution === undefined || stack !== deps.env.stackName) continue;
      const f = entry(found, execution);
      f.resources.push({
        type: 'instance-role',
        id: `${role.Path}${role.RoleName}`,
        region: 'global',
        execution,
      });
      seen(f, role.CreateDate);
    }
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker !== undefined);
  // A profile whose role is gone has no tags to read: it is reported under its path, for Abort Cleanup of the
  // execution its path names (found through the staged folder or another resource), or left to the next sweep.
  marker = undefined;
  do {
    const page: ListInstanceProfilesCommandOutput = await iam.send(
      new ListInstanceProfilesCommand({ PathPrefix: root, Marker: marker }),
    );
    for (const profile of page.InstanceProfiles ?? []) {
      if (profile.InstanceProfileName === undefined || roleNames.has(profile.InstanceProfileName)) continue;
      deps.log(
        `Instance profile ${profile.Path}${profile.InstanceProfileName} has no role; its execution's cleanup removes it`,
      );
    }
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker !== undefined);
}

/** The ARN prefix of the build state machine's executions: `arn:<p>:states:<home>:<account>:execution:<name>:`. */
async function executionArnPrefix(deps: SweepDeps): Promise<string | undefined> {
  if (deps.env.stateMachineName === '') return undefined;
  const identity = await deps.clients.sts(deps.homeRegion).send(new GetCallerIdentityCommand({}));
  const partition = identity.Arn?.split(':')[1];
  if (partition === undefined || identity.Account === undefined) return undefined;
  return `arn:${partition}:states:${deps.homeRegion}:${identity.Account}:execution:${deps.env.stateMachineName}:`;
}

/** Staged folders `staging/<execution name>/`, with the newest object's time. */
async function findStaged(deps: SweepDeps, found: Map<string, Found>): Promise<void> {
  const bucket = deps.env.stagingBucket;
  if (bucket === '') return;
  const prefix = await executionArnPrefix(deps);
  if (prefix === undefined) return;
  const s3 = deps.clients.s3(deps.homeRegion);
  const folders: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: STAGING_ROOT,
        Delimiter: '/',
        ContinuationToken: token,
      }),
    );
    for (const p of page.CommonPrefixes ?? []) if (p.Prefix !== undefined) folders.push(p.Prefix);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  for (const folder of folders) {
    const name = folder.slice(STAGING_ROOT.length, -1);
    if (name === '') continue;
    const execution = `${prefix}${name}`;
    const f = entry(found, execution);
    f.resources.push({
      type: 'staged-files',
      id: `s3://${bucket}/${folder}`,
      region: deps.homeRegion,
      execution,
    });
    // The newest object decides: a CLI may be uploading for an execution it has not started yet.
    let objects: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: folder, ContinuationToken: objects }),
      );
      for (const object of page.Contents ?? []) seen(f, object.LastModified);
      objects = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (objects !== undefined);
  }
}

/** The execution's status from Step Functions; `GONE` when it does not exist (any other error is thrown). */
export async function executionState(
  arn: string,
  deps: Pick<SweepDeps, 'clients' | 'homeRegion'>,
): Promise<ExecutionState> {
  const region = arn.split(':')[3] || deps.homeRegion;
  try {
    const described = await deps.clients
      .sfn(region)
      .send(new DescribeExecutionCommand({ executionArn: arn }));
    const status = described.status;
    if (status === 'RUNNING' || status === 'PENDING_REDRIVE') return { status };
    if (status === 'SUCCEEDED' || status === 'FAILED' || status === 'TIMED_OUT' || status === 'ABORTED') {
      return { status, stopDate: described.stopDate };
    }
    return { status: 'RUNNING' };
  } catch (error) {
    const code = awsErrorCode(error);
    if (code === 'ExecutionDoesNotExist' || code === 'InvalidArn') return { status: 'GONE' };
    throw error;
  }
}

/** SSM parameters under the stack's AMI-id prefix, in one region: the image ids they hold. */
async function publishedImageIds(region: string, deps: SweepDeps): Promise<Set<string>> {
  const ids = new Set<string>();
  let token: string | undefined;
  do {
    const page = await deps.clients.ssm(region).send(
      new GetParametersByPathCommand({
        Path: deps.env.amiParameterPrefix,
        Recursive: true,
        NextToken: token,
      }),
    );
    for (const p of page.Parameters ?? []) if (p.Value !== undefined) ids.add(p.Value);
    token = page.NextToken;
  } while (token !== undefined);
  return ids;
}

function cleanupStatus(state: ExecutionState): 'ABORTED' | 'FAILED' | 'TIMED_OUT' {
  // Abort Cleanup only deletes staged files after SUCCEEDED; an ended execution that still has an instance
  // or a security group left them behind, whatever its status, so it is cleaned as a failed one (which never
  // deregisters an AMI).
  return state.status === 'ABORTED' || state.status === 'TIMED_OUT' ? state.status : 'FAILED';
}

const FAILED_STATUSES = new Set(['FAILED', 'ABORTED', 'TIMED_OUT']);

const lastSegment = (id: string): string =>
  id
    .split('/')
    .filter((s) => s !== '')
    .pop() ?? id;

/** True when Abort Cleanup's report says the resource is gone. */
function removedBy(cleaned: CleanupReport, r: Omit<SweptResource, 'action' | 'reason'>): boolean {
  switch (r.type) {
    case 'instance':
      return cleaned.terminatedInstances.includes(r.id);
    case 'security-group':
      return cleaned.deletedSecurityGroups.includes(r.id);
    case 'instance-role':
      return (cleaned.deletedInstanceRoles ?? []).includes(lastSegment(r.id));
    case 'staged-files':
      return !cleaned.kept.some((k) => k.resource.includes(r.id.replace(/\/$/, '')));
    default:
      return false;
  }
}

/** Finds what ended executions left, and removes it (or, with `dryRun`, says what would go). */
export async function sweepOrphans(request: SweepRequest, deps: SweepDeps): Promise<SweepReport> {
  const graceMs = (deps.graceMinutes ?? DEFAULT_GRACE_MINUTES) * 60_000;
  const now = deps.clock.now().getTime();
  const regions = await sweptRegions(request, deps);
  const found = new Map<string, Found>();
  for (const region of regions) await findInRegion(region, deps, found);
  await findRoles(deps, found);
  await findStaged(deps, found);

  const report: SweepReport = {
    dryRun: request.dryRun,
    regions,
    resources: [],
    cleanup: emptyCleanupReport(),
    skippedExecutions: [],
  };
  const published = new Map<string, Set<string>>();
  const cleanups: CleanupReport[] = [];

  for (const [execution, f] of [...found.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const state = await (deps.executionState ?? ((arn) => executionState(arn, deps)))(execution);
    if (state.status === 'RUNNING' || state.status === 'PENDING_REDRIVE') {
      report.skippedExecutions.push({ execution, reason: 'the execution is running' });
      continue;
    }
    const ended = state.status === 'GONE' ? f.newest : 'stopDate' in state ? state.stopDate : undefined;
    if (ended !== undefined && now - ended.getTime() < graceMs) {
      report.skippedExecutions.push({
        execution,
        reason:
          state.status === 'GONE'
            ? `unknown to Step Functions, but its newest resource is younger than ${graceMs / 60_000} minutes (a build may be starting)`
            : `ended (${state.status}) less than ${graceMs / 60_000} minutes ago: Abort Cleanup runs first`,
      });
      continue;
    }
    const why =
      state.status === 'GONE' ? 'its execution no longer exists' : `its execution ended ${state.status}`;

    // Instances, security groups, roles and staged files: Abort Cleanup's work.
    if (f.resources.length > 0) {
      if (request.dryRun) {
        for (const r of f.resources) report.resources.push({ ...r, action: 'would remove', reason: why });
      } else {
        const name = execution.split(':')[7] ?? '';
        const cleaned = await deps.cleanExecution({
          detail: { executionArn: execution, name, status: cleanupStatus(state) },
        });
        cleanups.push(cleaned);
        for (const r of f.resources) {
          const done = removedBy(cleaned, r);
          const keptEntry = cleaned.kept.find((k) => k.resource.includes(lastSegment(r.id)));
          report.resources.push({
            ...r,
            action: done ? 'removed' : 'kept',
            reason: done
              ? why
              : (keptEntry?.reason ?? 'not removed by Abort Cleanup; the next sweep tries again'),
          });
        }
      }
    }

    // Images: only those of failed executions that never went through Finish AMI.
    for (const { region, image } of f.images) {
      const id = image.ImageId as string;
      const base = { type: 'image' as const, id, region, execution };
      if (!FAILED_STATUSES.has(state.status)) continue;
      if (tagValue(image.Tags, TagKeys.finished) === 'true') continue;
      if (tagValue(image.Tags, TagKeys.onError) === 'keep') {
        report.resources.push({
          ...base,
          action: 'kept',
          reason: `tagged ${TagKeys.onError}=keep (on_error is abort)`,
        });
        continue;
      }
      if (tagValue(image.Tags, TagKeys.amiTest) === 'failed') {
        report.resources.push({
          ...base,
          action: 'kept',
          reason: `tagged ${TagKeys.amiTest}=failed (its ami_test failed and on_failure is keep): kept for inspection; deregister it when done`,
        });
        continue;
      }
      let ids = published.get(region);
      if (ids === undefined) {
        ids = await publishedImageIds(region, deps);
        published.set(region, ids);
      }
      if (ids.has(id)) {
        report.resources.push({
          ...base,
          action: 'kept',
          reason: `an ami_id_parameter under ${deps.env.amiParameterPrefix} points to it`,
        });
        continue;
      }
      if (request.dryRun) {
        report.resources.push({
          ...base,
          action: 'would remove',
          reason: `registered by a build that failed; ${why}`,
        });
        continue;
      }
      try {
        await deps.clients.ec2(region).send(new DeregisterImageCommand({ ImageId: id }));
        const deleted = await deleteBundle(image, deps.clients.s3(region));
        const bundle =
          deleted === undefined ? undefined : `${deleted.location} (${deleted.deleted} object(s))`;
        report.cleanup.deregisteredImages.push(id);
        report.resources.push({
          ...base,
          action: 'removed',
          reason: `registered by a build that failed; ${why}${bundle === undefined ? '' : `; deleted its bundle ${bundle}`}`,
        });
      } catch (error) {
        report.resources.push({
          ...base,
          action: 'kept',
          reason: `could not be removed (${awsErrorCode(error) ?? 'error'}): aws ec2 deregister-image --region ${region} --image-id ${id}`,
        });
      }
    }
  }
  report.cleanup = mergeCleanupReports(report.cleanup, ...cleanups);

  const count = (action: SweptResource['action']) =>
    report.resources.filter((r) => r.action === action).length;
  deps.log(
    `Sweep Orphans${request.dryRun ? ' (dry run)' : ''} in ${regions.length} region(s): ` +
      (request.dryRun ? `${count('would remove')} would be removed` : `${count('removed')} removed`) +
      `, ${count('kept')} kept, ${report.skippedExecutions.length} execution(s) left alone`,
  );
  return report;
}

/** The `detail-type` of the sweep's event (its `source` is the builds' own, `ami-builder`). */
export const SWEEP_DETAIL_TYPE = 'AMI Builder Sweep Completed';

export interface AnnounceDeps {
  clients: Pick<Clients, 'events' | 'sns'>;
  env: Pick<TaskEnvironment, 'eventBusName' | 'notificationTopicArn' | 'stackName'>;
  homeRegion: string;
}

/** A readable summary: one line per resource removed or kept, then the executions left alone. */
export function describeSweep(report: SweepReport, stackName: string): string {
  const lines = [
    `ami-builder stack ${stackName}: sweep of orphaned build resources${report.dryRun ? ' (dry run)' : ''}`,
    `Regions: ${report.regions.join(', ')}`,
    '',
  ];
  if (report.resources.length === 0) lines.push('Nothing left behind by ended builds.');
  for (const r of report.resources) {
    lines.push(`${r.action}: ${r.type} ${r.id} (${r.region}), execution ${r.execution}: ${r.reason}`);
  }
  for (const k of report.cleanup.kept) lines.push(`kept: ${k.resource}: ${k.reason}`);
  if (report.skippedExecutions.length > 0) {
    lines.push('', 'Left alone:');
    for (const s of report.skippedExecutions) lines.push(`  ${s.execution}: ${s.reason}`);
  }
  return lines.join('\n');
}

/**
 * Puts the sweep's event on the builds' bus, and its summary on the notification topic, when the sweep found
 * anything (a sweep that finds nothing stays quiet).
 */
export async function announceSweep(report: SweepReport, deps: AnnounceDeps): Promise<void> {
  if (report.resources.length === 0 && report.cleanup.kept.length === 0) return;
  const result = await deps.clients.events(deps.homeRegion).send(
    new PutEventsCommand({
      Entries: [
        {
          Source: 'ami-builder',
          DetailType: SWEEP_DETAIL_TYPE,
          EventBusName: deps.env.eventBusName,
          Detail: JSON.stringify({ stack: deps.env.stackName, ...report }),
        },
      ],
    }),
  );
  if ((result.FailedEntryCount ?? 0) > 0) {
    throw new Error(`the sweep's event was not put: ${result.Entries?.[0]?.ErrorCode ?? 'unknown error'}`);
  }
  if (deps.env.notificationTopicArn === undefined) return;
  const removed = report.resources.filter(
    (r) => r.action === 'removed' || r.action === 'would remove',
  ).length;
  await deps.clients.sns(deps.homeRegion).send(
    new PublishCommand({
      TopicArn: deps.env.notificationTopicArn,
      Subject:
        `ami-builder ${deps.env.stackName}: sweep ${report.dryRun ? 'would remove' : 'removed'} ${removed} orphaned resource(s)`.slice(
          0,
          100,
        ),
      Message: describeSweep(report, deps.env.stackName),
    }),
  );
}

/**
 * Abort Cleanup: the cleanup of an execution that ran no Catch. A stopped (ABORTED) or TIMED_OUT execution
 * skips "Clean Up After Failure", so an EventBridge rule on "Step Functions Execution Status Change" invokes
 * this task, which finds the execution's resources by tag and removes them, as Packer's cleanups run on Ctrl-C
 * (reference §1). For FAILED executions the failure path already cleaned up; this then only sweeps what is left.
 * Every step is idempotent, so a second invocation finds nothing to do.
 *
 * What it does, in every region the execution used:
 * - instances tagged `ami-builder:execution = <execution ARN>` and `ami-builder:stack = <stack>`: terminated,
 *   then waited for (a security group cannot be deleted while an instance uses it);
 * - security groups with the same tags: deleted, retrying `DependencyViolation` within the time budget;
 * - AMIs with the same tags: reported, never deregistered (Packer keeps registered AMIs, reference §1.3);
 * - staged objects under `staging/<execution name>/` in the staging bucket: deleted;
 * - temporary instance roles and profiles under `/ami-builder/<stack>/<execution name>/` (IAM) whose
 *   `ami-builder:execution` tag is the execution: deleted, after the instances are gone.
 * Resources tagged `ami-builder:on-error = keep` (`on_error: abort`) are kept and reported, as Packer's
 * `-on-error=abort` skips cleanup on cancel too (reference §5.3).
 */
import {
  DeleteSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeRegionsCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  type Filter,
  type Instance,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  type IAMClient,
  ListInstanceProfilesCommand,
  type ListInstanceProfilesCommandOutput,
  ListRolesCommand,
  type ListRolesCommandOutput,
  ListRoleTagsCommand,
} from '@aws-sdk/client-iam';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import * as z from 'zod/mini';
import '../shared/zod-english.js';
import {
  awsErrorCode,
  describeCleanup,
  emptyCleanupReport,
  type KeptResource,
  keptImage,
  keptInstance,
  keptInstanceRole,
  keptSecurityGroup,
  mergeCleanupReports,
} from '../shared/cleanup-report.js';
import { TaskInputError } from '../shared/errors.js';
import { executionRolePath, stackRolePath } from '../shared/instance-role.js';
import { deleteInstanceRole } from '../shared/instance-role-iam.js';
import { type Clients, type Clock, TagKeys, type TaskEnvironment } from '../shared/runtime.js';
import { deleteStaged, executionStagingPrefix } from '../shared/staging.js';
import type { CleanupReport } from '../shared/state.js';

/** How long the task waits, all within one Lambda invocation (infra gives it a 10-minute timeout). */
export interface AbortCleanupTiming {
  /**
   * Seconds between two checks of the terminating instances.
   * @default 5
   */
  pollIntervalSeconds: number;
  /**
   * Seconds to wait for the instances to reach `terminated`, from the start of the task.
   * @default 240
   */
  instanceWaitSeconds: number;
  /**
   * Further seconds to retry deleting a security group that is still in use (`DependencyViolation`).
   * @default 180
   */
  securityGroupWaitSeconds: number;
}

export const DEFAULT_ABORT_CLEANUP_TIMING: AbortCleanupTiming = {
  pollIntervalSeconds: 5,
  instanceWaitSeconds: 240,
  securityGroupWaitSeconds: 180,
};

export interface AbortCleanupDeps {
  clients: Pick<Clients, 'ec2' | 's3' | 'sfn' | 'iam'>;
  env: Pick<TaskEnvironment, 'stackName' | 'stagingBucket'>;
  /** The stack's own region (`AWS_REGION`): the staging bucket is there, and it is always swept. */
  homeRegion: string;
  clock: Clock;
  sleep: (milliseconds: number) => Promise<void>;
  /** Where the one-line summary goes (the function's log). */
  log: (line: string) => void;
  /** @default {@link DEFAULT_ABORT_CLEANUP_TIMING} */
  timing?: Partial<AbortCleanupTiming>;
}

/** The statuses the rule matches. Anything else (above all RUNNING) must not be swept. */
export const CLEANUP_STATUSES = ['ABORTED', 'TIMED_OUT', 'FAILED'] as const;

const statusChangeSchema = z.object({
  detail: z.looseObject({
    executionArn: z.string().check(z.startsWith('arn:')),
    stateMachineArn: z.optional(z.string()),
    name: z.optional(z.string()),
    status: z.string(),
    input: z.nullish(z.string()),
    inputDetails: z.nullish(z.looseObject({ included: z.optional(z.boolean()) })),
  }),
});

/** The part of the "Step Functions Execution Status Change" event this task reads. */
export type ExecutionStatusChange = z.infer<typeof statusChangeSchema>;

/** Checks the EventBridge event. */
export function parseStatusChange(event: unknown): ExecutionStatusChange {
  const parsed = statusChangeSchema.safeParse(event);
  if (!parsed.success) {
    throw new TaskInputError(
      `Abort Cleanup expects a "Step Functions Execution Status Change" event: ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}

// Region names: `us-east-1`, `us-gov-west-1`, `cn-north-1`, `eusc-de-east-1`.
const REGION = /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/;
const USER_VARIABLE = /\{\{\s*user\s+[`"]([^`"]+)[`"]\s*\}\}/g;
const MAX_NODES = 20_000;

/** What the execution input says about regions. */
export interface InputRegions {
  /** Valid region names found in `region` and `ami_regions` of `amazon-instance` builders. */
  regions: string[];
  /** How many `amazon-instance` builders were found. */
  builders: number;
  /** Region values that could not be resolved to a region name (a variable from the environment, say). */
  unresolved: string[];
}

/**
 * Finds the regions of the `amazon-instance` builders anywhere in the execution input, leniently: the template
 * may be the input itself, nested in it, or a JSON string in it; `{{user `x`}}` is resolved from any
 * `variables` object (the shallowest definition wins, so the execution's own variables beat the template's
 * defaults). The whole template is not validated: this runs after the build, whatever the input was.
 */
export function regionsFromInput(input: unknown): InputRegions {
  const rawRegions: string[] = [];
  const variables = new Map<string, string>();
  let builders = 0;
  let missingRegion = false;

  // Breadth first, so that shallower variables are seen first.
  const queue: unknown[] = [input];
  for (let visited = 0; queue.length > 0 && visited < MAX_NODES; visited++) {
    let node = queue.shift();
    if (typeof node === 'string') {
      const text = node.trim();
      if (!text.startsWith('{') && !text.startsWith('[')) continue;
      try {
        node = JSON.parse(text);
      } catch {
        continue;
      }
    }
    if (Array.isArray(node)) {
      queue.push(...node);
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    const record = node as Record<string, unknown>;

    for (const key of ['variables', 'vars']) {
      const vars = record[key];
      if (typeof vars !== 'object' || vars === null || Array.isArray(vars)) continue;
      for (const [name, value] of Object.entries(vars)) {
        if (typeof value === 'string' && !variables.has(name)) variables.set(name, value);
      }
    }
    if (record.type === 'amazon-instance') {
      builders++;
      if (typeof record.region === 'string') rawRegions.push(record.region);
      else missingRegion = true;
      const copies = record.ami_regions;
      if (Array.isArray(copies)) rawRegions.push(...copies.filter((r): r is string => typeof r === 'string'));
      else if (typeof copies === 'string') rawRegions.push(...copies.split(','));
    }
    queue.push(...Object.values(record));
  }

  const regions = new Set<string>();
  const unresolved: string[] = missingRegion ? ['(region not given)'] : [];
  for (const raw of rawRegions) {
    const value = raw.replace(USER_VARIABLE, (whole, name: string) => variables.get(name) ?? whole).trim();
    if (value === '') continue;
    for (const part of value.split(',').map((p) => p.trim())) {
      if (REGION.test(part)) regions.add(part);
      else if (part !== '') unresolved.push(raw);
    }
  }
  return { regions: [...regions].sort(), builders, unresolved: [...new Set(unresolved)] };
}

/** `arn:aws:states:<region>:<account>:execution:<state machine>:<name>` → region and name. */
export function parseExecutionArn(arn: string): { region?: string; name?: string } {
  const parts = arn.split(':');
  return { region: parts[3] || undefined, name: parts[7] || undefined };
}

interface RegionPlan {
  regions: string[];
  /** Why the plan is what it is, for the summary line. */
  note?: string;
  kept: KeptResource[];
}

/**
 * The regions to sweep: the builders' regions from the execution input, plus the home region. When the input
 * cannot be read, names no builder (a template kept elsewhere), or has a region value that cannot be resolved,
 * every region enabled in the account is swept instead: a missed region would leave a running instance.
 */
async function planRegions(change: ExecutionStatusChange, deps: AbortCleanupDeps): Promise<RegionPlan> {
  const { detail } = change;
  const home = deps.homeRegion;
  let inputText: string | undefined;
  if (typeof detail.input === 'string' && detail.inputDetails?.included !== false) {
    inputText = detail.input;
  } else {
    try {
      const sfnRegion = parseExecutionArn(detail.executionArn).region ?? home;
      const described = await deps.clients
        .sfn(sfnRegion)
        .send(new DescribeExecutionCommand({ executionArn: detail.executionArn }));
      inputText = described.input;
    } catch (error) {
      return allRegions(deps, `could not read the execution input (${awsErrorCode(error) ?? 'error'})`);
    }
  }

  let input: unknown;
  try {
    input = JSON.parse(inputText ?? '');
  } catch {
    // Template validation rejects input that is not JSON before anything is created.
    return { regions: [home], note: 'the execution input is not JSON', kept: [] };
  }
  const found = regionsFromInput(input);
  if (found.builders === 0) return allRegions(deps, 'the execution input names no amazon-instance builder');
  if (found.unresolved.length > 0) {
    return allRegions(
      deps,
      `cannot resolve region ${found.unresolved.map((r) => JSON.stringify(r)).join(', ')}`,
    );
  }
  return { regions: [...new Set([...found.regions, home])].sort(), kept: [] };
}

async function allRegions(deps: AbortCleanupDeps, why: string): Promise<RegionPlan> {
  const home = deps.homeRegion;
  try {
    const result = await deps.clients.ec2(home).send(new DescribeRegionsCommand({}));
    const names = (result.Regions ?? []).map((r) => r.RegionName).filter((r): r is string => r !== undefined);
    return {
      regions: [...new Set([...names, home])].sort(),
      note: `${why}: swept every enabled region`,
      kept: [],
    };
  } catch (error) {
    const code = awsErrorCode(error) ?? 'error';
    return {
      regions: [home],
      note: `${why}; could not list the regions (${code})`,
      kept: [
        {
          resource: 'other regions',
          reason:
            `${why} and the regions could not be listed (${code}): only ${home} was swept; look for resources ` +
            `tagged ${TagKeys.execution} in the build's regions`,
        },
      ],
    };
  }
}

function ownedBy(change: ExecutionStatusChange, env: AbortCleanupDeps['env']): Filter[] {
  return [
    { Name: `tag:${TagKeys.stack}`, Values: [env.stackName] },
    { Name: `tag:${TagKeys.execution}`, Values: [change.detail.executionArn] },
  ];
}

const isKept = (tags: { Key?: string; Value?: string }[] | undefined): boolean =>
  (tags ?? []).some((t) => t.Key === TagKeys.onError && t.Value === 'keep');

const KEEP_TAG = `tagged ${TagKeys.onError}=keep (on_error is abort): kept for debugging`;

async function describeInstances(ec2: EC2Client, filters: Filter[]): Promise<Instance[]> {
  const instances: Instance[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ec2.send(new DescribeInstancesCommand({ Filters: filters, NextToken: nextToken }));
    for (const reservation of page.Reservations ?? []) instances.push(...(reservation.Instances ?? []));
    nextToken = page.NextToken;
  } while (nextToken !== undefined);
  return instances;
}

const failure = (what: string, region: string, error: unknown): KeptResource => ({
  resource: `${what} (${region})`,
  reason: `could not be cleaned up (${awsErrorCode(error) ?? 'error'}); look for resources tagged ${TagKeys.execution}`,
});

interface Sweep {
  change: ExecutionStatusChange;
  deps: AbortCleanupDeps;
  timing: AbortCleanupTiming;
  /** Epoch ms after which instances are no longer waited for. */
  instanceDeadline: number;
  /** Epoch ms after which a security group in use is no longer retried. */
  groupDeadline: number;
}

/**
 * Terminates the execution's instances in one region and waits for them. Returns the report and the ids of the
 * instances that still hold their security groups (kept ones, and those not yet terminated).
 */
async function sweepInstances(
  sweep: Sweep,
  region: string,
): Promise<{ report: CleanupReport; groupsInUse: Map<string, string> }> {
  const { deps, timing } = sweep;
  const ec2 = deps.clients.ec2(region);
  const report = emptyCleanupReport();
  const groupsInUse = new Map<string, string>();
  const instances = await describeInstances(ec2, [
    ...ownedBy(sweep.change, deps.env),
    { Name: 'instance-state-name', Values: ['pending', 'running', 'shutting-down', 'stopping', 'stopped'] },
  ]);

  const waiting: Instance[] = [];
  for (const instance of instances) {
    if (instance.InstanceId === undefined) continue;
    if (isKept(instance.Tags)) {
      report.kept.push(keptInstance(region, instance.InstanceId, KEEP_TAG));
      for (const g of instance.SecurityGroups ?? [])
        if (g.GroupId) groupsInUse.set(g.GroupId, instance.InstanceId);
    } else {
      waiting.push(instance);
    }
  }
  const toTerminate = waiting.filter((i) => i.State?.Name !== 'shutting-down').map((i) => i.InstanceId!);
  if (toTerminate.length > 0) {
    try {
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: toTerminate }));
    } catch (error) {
      // One vanished instance fails the whole call; the others are terminated one by one below.
      if (awsErrorCode(error) !== 'InvalidInstanceID.NotFound') throw error;
      for (const id of toTerminate) {
        try {
          await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
        } catch (single) {
          if (awsErrorCode(single) !== 'InvalidInstanceID.NotFound') throw single;
        }
      }
    }
  }

  let pending = waiting;
  while (pending.length > 0) {
    const current = await describeInstances(ec2, [
      { Name: 'instance-id', Values: pending.map((i) => i.InstanceId!) },
    ]);
    pending = current.filter((i) => i.State?.Name !== 'terminated');
    if (pending.length === 0) break;
    const wait = timing.pollIntervalSeconds * 1000;
    if (deps.clock.now().getTime() + wait > sweep.instanceDeadline) break;
    await deps.sleep(wait);
  }
  const stillThere = new Set(pending.map((i) => i.InstanceId));
  for (const instance of waiting) {
    const id = instance.InstanceId!;
    if (!stillThere.has(id)) {
      report.terminatedInstances.push(id);
      continue;
    }
    const state = pending.find((i) => i.InstanceId === id)?.State?.Name ?? 'running';
    report.kept.push(keptInstance(region, id, `still ${state} after ${timing.instanceWaitSeconds} s`));
    for (const g of instance.SecurityGroups ?? []) if (g.GroupId) groupsInUse.set(g.GroupId, id);
  }
  return { report, groupsInUse };
}

/** Deletes one security group, retrying `DependencyViolation` with backoff until the deadline. */
async function deleteGroup(sweep: Sweep, region: string, groupId: string): Promise<'deleted' | 'in use'> {
  const { deps } = sweep;
  let delaySeconds = sweep.timing.pollIntervalSeconds;
  for (;;) {
    try {
      await deps.clients.ec2(region).send(new DeleteSecurityGroupCommand({ GroupId: groupId }));
      return 'deleted';
    } catch (error) {
      const code = awsErrorCode(error);
      if (code === 'InvalidGroup.NotFound') return 'deleted';
      if (code !== 'DependencyViolation') throw error;
    }
    if (deps.clock.now().getTime() + delaySeconds * 1000 > sweep.groupDeadline) return 'in use';
    await deps.sleep(delaySeconds * 1000);
    delaySeconds = Math.min(delaySeconds * 2, 30);
  }
}

async function sweepGroups(
  sweep: Sweep,
  region: string,
  groupsInUse: Map<string, string>,
): Promise<CleanupReport> {
  const { deps } = sweep;
  const report = emptyCleanupReport();
  const result = await deps.clients
    .ec2(region)
    .send(new DescribeSecurityGroupsCommand({ Filters: ownedBy(sweep.change, deps.env) }));
  for (const group of result.SecurityGroups ?? []) {
    const groupId = group.GroupId;
    if (groupId === undefined) continue;
    const user = groupsInUse.get(groupId);
    if (isKept(group.Tags)) {
      report.kept.push(keptSecurityGroup(region, groupId, KEEP_TAG));
    } else if (user !== undefined) {
      report.kept.push(
        keptSecurityGroup(region, groupId, `in use by instance ${user}, which is not terminated`),
      );
    } else if ((await deleteGroup(sweep, region, groupId)) === 'deleted') {
      report.deletedSecurityGroups.push(groupId);
    } else {
      report.kept.push(
        keptSecurityGroup(
          region,
          groupId,
          `still in use (DependencyViolation) after ${sweep.timing.securityGroupWaitSeconds} s`,
        ),
      );
    }
  }
  return report;
}

async function findImages(sweep: Sweep, region: string): Promise<CleanupReport> {
  const report = emptyCleanupReport();
  let nextToken: string | undefined;
  do {
    const page = await sweep.deps.clients.ec2(region).send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: ownedBy(sweep.change, sweep.deps.env),
        NextToken: nextToken,
      }),
    );
    for (const image of page.Images ?? []) {
      if (image.ImageId !== undefined) {
        report.kept.push(keptImage(region, image.ImageId, 'registered by this execution'));
      }
    }
    nextToken = page.NextToken;
  } while (nextToken !== undefined);
  return report;
}

/** One region: instances (then the wait), then security groups; AMIs are only listed. Failures are reported. */
async function sweepRegion(sweep: Sweep, region: string): Promise<CleanupReport> {
  const reports: CleanupReport[] = [];
  let groupsInUse = new Map<string, string>();
  try {
    const instances = await sweepInstances(sweep, region);
    reports.push(instances.report);
    groupsInUse = instances.groupsInUse;
  } catch (error) {
    reports.push({ ...emptyCleanupReport(), kept: [failure('instances', region, error)] });
  }
  try {
    reports.push(await sweepGroups(sweep, region, groupsInUse));
  } catch (error) {
    reports.push({ ...emptyCleanupReport(), kept: [failure('security groups', region, error)] });
  }
  try {
    reports.push(await findImages(sweep, region));
  } catch (error) {
    reports.push({ ...emptyCleanupReport(), kept: [failure('AMIs', region, error)] });
  }
  return mergeCleanupReports(...reports);
}

async function deleteExecutionStaging(
  change: ExecutionStatusChange,
  deps: AbortCleanupDeps,
): Promise<CleanupReport> {
  const report = emptyCleanupReport();
  if (deps.env.stagingBucket === '') return report;
  const name = change.detail.name ?? parseExecutionArn(change.detail.executionArn).name;
  if (name === undefined) return report;
  const prefix = executionStagingPrefix(name);
  try {
    report.deletedStagedObjects = await deleteStaged(
      deps.clients.s3(deps.homeRegion),
      deps.env.stagingBucket,
      prefix,
    );
  } catch (error) {
    report.kept.push({
      resource: `staged objects s3://${deps.env.stagingBucket}/${prefix}`,
      reason: `could not be deleted (${awsErrorCode(error) ?? 'error'}); the bucket's lifecycle rule expires them`,
    });
  }
  return report;
}

async function listRolesUnder(
  iam: IAMClient,
  path: string,
  deep = false,
): Promise<{ name: string; path: string }[]> {
  const roles: { name: string; path: string }[] = [];
  let marker: string | undefined;
  do {
    const page: ListRolesCommandOutput = await iam.send(
      new ListRolesCommand({ PathPrefix: path, Marker: marker }),
    );
    for (const r of page.Roles ?? []) {
      const under = deep ? r.Path?.startsWith(path) === true : r.Path === path;
      if (under && r.RoleName !== undefined && r.Path !== undefined)
        roles.push({ name: r.RoleName, path: r.Path });
    }
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker !== undefined);
  return roles;
}

async function listProfilesUnder(iam: IAMClient, path: string): Promise<string[]> {
  const names: string[] = [];
  let marker: string | undefined;
  do {
    const page: ListInstanceProfilesCommandOutput = await iam.send(
      new ListInstanceProfilesCommand({ PathPrefix: path, Marker: marker }),
    );
    for (const p of page.InstanceProfiles ?? []) {
      if (p.Path === path && p.InstanceProfileName !== undefined) names.push(p.InstanceProfileName);
    }
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker !== undefined);
  return names;
}

/**
 * The execution's temporary instance roles and profiles, found by their path. A role is this execution's only
 * when its `ami-builder:execution` tag says so (an execution name may be reused after 90 days); one tagged
 * `ami-builder:on-error = keep` stays with its kept instance. A profile whose role is gone is deleted as well.
 */
async function sweepInstanceRoles(
  change: ExecutionStatusChange,
  deps: AbortCleanupDeps,
): Promise<CleanupReport> {
  const report = emptyCleanupReport();
  const name = change.detail.name ?? parseExecutionArn(change.detail.executionArn).name;
  if (name === undefined) return report;
  const path = executionRolePath(deps.env.stackName, name);
  const iam = deps.clients.iam(deps.homeRegion);
  const deleted: string[] = [];
  try {
    // A resumed build adopted the role of the execution it resumed: that role stays under the failed
    // execution's path, tagged with this execution and ami-builder:resumed-from.
    const roles = await listRolesUnder(iam, stackRolePath(deps.env.stackName), true);
    const handled = new Set<string>();
    for (const role of roles) {
      const own = role.path === path;
      const tags = (await iam.send(new ListRoleTagsCommand({ RoleName: role.name }))).Tags ?? [];
      const tag = (key: string) => tags.find((t) => t.Key === key)?.Value;
      if (!own && tag(TagKeys.resumedFrom) === undefined) continue;
      if (own) handled.add(role.name);
      if (
        tag(TagKeys.execution) !== change.detail.executionArn ||
        tag(TagKeys.stack) !== deps.env.stackName
      ) {
        continue;
      }
      if (tag(TagKeys.onError) === 'keep') {
        report.kept.push(keptInstanceRole(role.name, role.path, KEEP_TAG));
        continue;
      }
      try {
        if (await deleteInstanceRole(iam, { roleName: role.name, path: role.path })) deleted.push(role.name);
      } catch (error) {
        report.kept.push(
          keptInstanceRole(role.name, role.path, `could not be deleted (${awsErrorCode(error) ?? 'error'})`),
        );
      }
    }
    for (const profile of await listProfilesUnder(iam, path)) {
      if (handled.has(profile)) continue;
      try {
        if (await deleteInstanceRole(iam, { roleName: profile, path })) deleted.push(profile);
      } catch (error) {
        report.kept.push(
          keptInstanceRole(profile, path, `could not be deleted (${awsErrorCode(error) ?? 'error'})`),
        );
      }
    }
  } catch (error) {
    report.kept.push({
      resource: `instance roles under ${path} (IAM)`,
      reason: `could not be listed (${awsErrorCode(error) ?? 'error'}); look for roles under ${path}`,
    });
  }
  if (deleted.length > 0) report.deletedInstanceRoles = deleted;
  return report;
}

/**
 * Cleans up after the execution named by the event. Returns what was done and kept, and logs it in one line.
 * After SUCCEEDED it only deletes the execution's staged files; an event for any other status (RUNNING, …)
 * changes nothing.
 */
export async function abortCleanup(
  change: ExecutionStatusChange,
  deps: AbortCleanupDeps,
): Promise<CleanupReport> {
  const { executionArn, status } = change.detail;
  if (status === 'SUCCEEDED') {
    // The builds removed their own resources; what is left is the files the CLI staged for the whole
    // execution (X.509 copies among them), which no single build may delete while others still run.
    const report = await deleteExecutionStaging(change, deps);
    deps.log(`Cleanup after ${executionArn} (SUCCEEDED): ${describeCleanup(report)}`);
    return report;
  }
  if (!(CLEANUP_STATUSES as readonly string[]).includes(status)) {
    deps.log(`Abort cleanup of ${executionArn}: status ${status} needs no cleanup`);
    return emptyCleanupReport();
  }
  const timing = { ...DEFAULT_ABORT_CLEANUP_TIMING, ...deps.timing };
  const start = deps.clock.now().getTime();
  const sweep: Sweep = {
    change,
    deps,
    timing,
    instanceDeadline: start + timing.instanceWaitSeconds * 1000,
    groupDeadline: start + (timing.instanceWaitSeconds + timing.securityGroupWaitSeconds) * 1000,
  };

  const plan = await planRegions(change, deps);
  const [staging, ...regions] = await Promise.all([
    deleteExecutionStaging(change, deps),
    ...plan.regions.map((region) => sweepRegion(sweep, region)),
  ]);
  // After the instances: a role still in use by a running instance would leave it without credentials.
  const roles = await sweepInstanceRoles(change, deps);
  const report = mergeCleanupReports(
    { ...emptyCleanupReport(), kept: plan.kept },
    staging,
    ...regions,
    roles,
  );

  const note = plan.note === undefined ? '' : ` (${plan.note})`;
  deps.log(
    `Abort cleanup of ${executionArn} (${status}) in ${plan.regions.join(', ')}${note}: ${describeCleanup(report)}`,
  );
  return report;
}

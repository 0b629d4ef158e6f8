/**
 * Apply Retention: what an image family keeps. A family is the images this stack built for one template build
 * (tag `ami-builder:family`); one build of it is one execution's images (the AMI and its copies, tag
 * `ami-builder:execution`). After each successful build (state "Apply Retention", the build's own family and
 * policy) and on the daily schedule or `ami-builder retention` (every family of the stack, each with the policy
 * its newest build's tag `ami-builder:retention` names, else the stack's `retention` default), the builds beyond
 * the policy are deprecated (with `deprecate_first_days`), then deregistered in every region, and their bundles
 * deleted.
 *
 * Never touched (checked in code here, and in IAM by the stack tag): an image without this stack's
 * `ami-builder:stack` tag; one that never went through Finish AMI (Sweep Orphans' business); an image an SSM
 * parameter under the stack's AMI-id prefix points to; an image a pending, running, stopping or stopped instance
 * was launched from, or that a launch template's default version names, in its region; the family's newest build.
 *
 * With `dryRun`, nothing changes and the report says what would go.
 */
import {
  DeregisterImageCommand,
  DescribeImagesCommand,
  type DescribeImagesCommandOutput,
  DescribeInstancesCommand,
  type DescribeInstancesCommandOutput,
  DescribeLaunchTemplateVersionsCommand,
  type DescribeLaunchTemplateVersionsCommandOutput,
  DescribeRegionsCommand,
  EnableImageDeprecationCommand,
  type Image,
} from '@aws-sdk/client-ec2';
import { GetParametersByPathCommand, type GetParametersByPathCommandOutput } from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';
import '../shared/zod-english.js';
import { deleteBundle } from '../shared/bundle-location.js';
import { awsErrorCode } from '../shared/cleanup-report.js';
import { TaskInputError } from '../shared/errors.js';
import { isOwnedByStack, tagValue } from '../shared/ownership.js';
import {
  type BuildRetention,
  decodeRetentionPolicy,
  describeFamilyRetention,
  describeRetentionPolicy,
  type RetentionPolicy,
} from '../shared/retention-policy.js';
import { type Clients, type Clock, isTransient, TagKeys, type TaskEnvironment } from '../shared/runtime.js';
import type {
  BuildState,
  FamilyRetentionReport,
  RetentionAction as StateRetentionAction,
} from '../shared/state.js';

const DAY_MS = 86_400_000;

export type RetentionAction = StateRetentionAction;
export type FamilyRetention = FamilyRetentionReport;

/** The schedule's event (`{}` or `{ "dryRun": false }`), or `ami-builder retention` (`{ "dryRun": true }`). */
export const retentionRequestSchema = z.looseObject({
  dryRun: z._default(z.boolean(), false),
  regions: z.optional(z.array(z.string().check(z.regex(/^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/)))),
});
export type RetentionRequest = z.infer<typeof retentionRequestSchema>;

/** The stack-wide run's report. */
export interface RetentionReport {
  dryRun: boolean;
  regions: string[];
  families: FamilyRetention[];
  /** Families left alone: no policy from a tag nor the stack. */
  skippedFamilies: string[];
}

export interface RetentionDeps {
  clients: Pick<Clients, 'ec2' | 's3' | 'ssm'>;
  env: Pick<TaskEnvironment, 'stackName' | 'amiParameterPrefix'>;
  clock: Clock;
  /** The stack's `retention` default (`RETENTION_DEFAULT`), if any. */
  stackDefault?: RetentionPolicy;
  /** The stack's region (DescribeRegions is asked there). */
  homeRegion: string;
  log: (line: string) => void;
}

/** Checks the schedule's or the CLI's event. */
export function parseRetentionRequest(event: unknown): RetentionRequest {
  const parsed = retentionRequestSchema.safeParse(event ?? {});
  if (!parsed.success) {
    throw new TaskInputError(
      `Apply Retention expects {"dryRun"?: boolean, "regions"?: [region, …]} or a build: ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}

/** Reads `RETENTION_DEFAULT` (the policy as the `ami-builder:retention` tag writes it; empty: none). */
export function readStackDefault(value: string | undefined): RetentionPolicy | undefined {
  if (value === undefined || value === '') return undefined;
  const policy = decodeRetentionPolicy(value);
  if (policy === undefined) throw new TaskInputError(`RETENTION_DEFAULT is not a retention policy: ${value}`);
  return policy;
}

/** One image of a family, as found in one region. */
interface Member {
  region: string;
  image: Image & { ImageId: string };
}

/** One build of a family: an execution's images in every region. */
interface Generation {
  execution: string;
  /** The oldest creation time among its images. */
  created: number;
  members: Member[];
}

/** The images of the stack in the regions, with `ami-builder:finished=true`; only those of `family` if given. */
async function findImages(
  regions: string[],
  family: string | undefined,
  deps: RetentionDeps,
): Promise<Member[]> {
  const found: Member[] = [];
  for (const region of regions) {
    let token: string | undefined;
    do {
      const page: DescribeImagesCommandOutput = await deps.clients.ec2(region).send(
        new DescribeImagesCommand({
          Owners: ['self'],
          Filters: [
            { Name: `tag:${TagKeys.stack}`, Values: [deps.env.stackName] },
            ...(family === undefined
              ? [{ Name: 'tag-key', Values: [TagKeys.family] }]
              : [{ Name: `tag:${TagKeys.family}`, Values: [family] }]),
          ],
          NextToken: token,
        }),
      );
      for (const image of page.Images ?? []) {
        if (image.ImageId === undefined || image.State !== 'available') continue;
        // The filters are the server's word; the tags are checked again here.
        if (!isOwnedByStack(image.Tags, deps.env.stackName)) continue;
        const tagged = tagValue(image.Tags, TagKeys.family);
        if (tagged === undefined || (family !== undefined && tagged !== family)) continue;
        if (tagValue(image.Tags, TagKeys.finished) !== 'true') continue;
        found.push({ region, image: { ...image, ImageId: image.ImageId } });
      }
      token = page.NextToken;
    } while (token !== undefined);
  }
  return found;
}

/** The family's builds, newest first (by the oldest creation time of each execution's images). */
export function generations(members: readonly Member[]): Generation[] {
  const byExecution = new Map<string, Generation>();
  for (const member of members) {
    const execution = tagValue(member.image.Tags, TagKeys.execution) ?? `image:${member.image.ImageId}`;
    const created = Date.parse(member.image.CreationDate ?? '') || 0;
    const g = byExecution.get(execution);
    if (g === undefined) byExecution.set(execution, { execution, created, members: [member] });
    else {
      g.members.push(member);
      g.created = Math.min(g.created, created);
    }
  }
  return [...byExecution.values()].sort(
    (a, b) => b.created - a.created || b.execution.localeCompare(a.execution),
  );
}

/**
 * The builds beyond the policy: not among the `keepLatest` newest, and not younger than `keepDays` (a rule not
 * set lets every build go). The newest build is never beyond.
 */
export function beyondPolicy(
  ordered: readonly Generation[],
  policy: RetentionPolicy,
  now: number,
): Generation[] {
  return ordered.filter((g, index) => {
    if (index === 0) return false;
    if (policy.keepLatest !== undefined && index < policy.keepLatest) return false;
    if (policy.keepDays !== undefined && now - g.created < policy.keepDays * DAY_MS) return false;
    return true;
  });
}

/** Why images must stay, per region: image id → reason. */
class Protections {
  private readonly byRegion = new Map<string, Map<string, string>>();
  constructor(private readonly deps: RetentionDeps) {}

  async reasonFor(region: string, imageId: string): Promise<string | undefined> {
    let map = this.byRegion.get(region);
    if (map === undefined) {
      map = await this.load(region);
      this.byRegion.set(region, map);
    }
    return map.get(imageId);
  }

  private async load(region: string): Promise<Map<string, string>> {
    const reasons = new Map<string, string>();
    const add = (id: string | undefined, reason: string) => {
      if (id !== undefined && !reasons.has(id)) reasons.set(id, reason);
    };
    const ssm = this.deps.clients.ssm(region);
    let token: string | undefined;
    do {
      const page: GetParametersByPathCommandOutput = await ssm.send(
        new GetParametersByPathCommand({
          Path: this.deps.env.amiParameterPrefix,
          Recursive: true,
          NextToken: token,
        }),
      );
      for (const p of page.Parameters ?? []) add(p.Value, `the parameter ${p.Name} points to it`);
      token = page.NextToken;
    } while (token !== undefined);

    const ec2 = this.deps.clients.ec2(region);
    token = undefined;
    do {
      const page: DescribeInstancesCommandOutput = await ec2.send(
        new DescribeInstancesCommand({
          Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }],
          NextToken: token,
        }),
      );
      for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        add(instance.ImageId, `instance ${instance.InstanceId} (${instance.State?.Name}) uses it`);
      }
      token = page.NextToken;
    } while (token !== undefined);

    token = undefined;
    do {
      const page: DescribeLaunchTemplateVersionsCommandOutput = await ec2.send(
        new DescribeLaunchTemplateVersionsCommand({
          Versions: ['$Default'],
          MaxResults: 200,
          NextToken: token,
        }),
      );
      for (const v of page.LaunchTemplateVersions ?? []) {
        add(
          v.LaunchTemplateData?.ImageId,
          `the default version (${v.VersionNumber}) of launch template ${v.LaunchTemplateName ?? v.LaunchTemplateId} uses it`,
        );
      }
      token = page.NextToken;
    } while (token !== undefined);
    return reasons;
  }
}

/** `DeprecateAt` for "now": EC2 refuses a time in the past and rounds to the minute, so the next whole minute. */
function nextMinute(now: number): Date {
  return new Date(Math.ceil((now + 1000) / 60_000) * 60_000);
}

/**
 * Applies one family's policy in the given regions.
 *
 * @param keepExecution an execution whose images are never touched (the build that just finished)
 */
export async function applyFamilyRetention(
  family: string,
  policy: FamilyRetention['policy'],
  regions: string[],
  request: { dryRun: boolean; keepExecution?: string; members?: Member[] },
  deps: RetentionDeps,
  protections: Protections = new Protections(deps),
): Promise<FamilyRetention> {
  const now = deps.clock.now().getTime();
  const members = request.members ?? (await findImages(regions, family, deps));
  const ordered = generations(members);
  const report: FamilyRetention = {
    family,
    policy,
    summary: describeRetentionPolicy(policy),
    dryRun: request.dryRun,
    regions,
    builds: ordered.length,
    actions: [],
  };
  const graceMs = (policy.deprecateFirstDays ?? 0) * DAY_MS;
  for (const g of beyondPolicy(ordered, policy, now)) {
    for (const { region, image } of g.members) {
      const base: Omit<RetentionAction, 'action' | 'reason'> = {
        imageId: image.ImageId,
        region,
        name: image.Name,
        execution: tagValue(image.Tags, TagKeys.execution),
        created: image.CreationDate,
      };
      if (g.execution === request.keepExecution) {
        report.actions.push({ ...base, action: 'kept', reason: 'built by this execution' });
        continue;
      }
      const protectedBy = await protections.reasonFor(region, image.ImageId);
      if (protectedBy !== undefined) {
        report.actions.push({ ...base, action: 'kept', reason: `beyond the policy, but ${protectedBy}` });
        continue;
      }
      const deprecatedAt =
        image.DeprecationTime === undefined ? undefined : Date.parse(image.DeprecationTime);
      const deprecated = deprecatedAt !== undefined && deprecatedAt <= now + 60_000;
      if (graceMs > 0 && !deprecated) {
        const at = nextMinute(now);
        const reason = `beyond the policy; deregistered ${policy.deprecateFirstDays} day(s) after its deprecation`;
        if (request.dryRun) {
          report.actions.push({ ...base, action: 'would deprecate', reason });
          continue;
        }
        try {
          await deps.clients
            .ec2(region)
            .send(new EnableImageDeprecationCommand({ ImageId: image.ImageId, DeprecateAt: at }));
          report.actions.push({
            ...base,
            action: 'deprecated',
            reason: `${reason} (deprecated at ${at.toISOString()})`,
          });
        } catch (error) {
          if (isTransient(error)) throw error;
          report.actions.push({
            ...base,
            action: 'failed',
            reason: failure('deprecate', error, region, image.ImageId),
          });
        }
        continue;
      }
      if (graceMs > 0 && deprecatedAt !== undefined && now - deprecatedAt < graceMs) {
        const due = new Date(deprecatedAt + graceMs).toISOString();
        report.actions.push({ ...base, action: 'kept', reason: `deprecated; deregistered from ${due}` });
        continue;
      }
      const reason =
        graceMs > 0
          ? `beyond the policy, deprecated more than ${policy.deprecateFirstDays} day(s) ago`
          : 'beyond the policy';
      if (request.dryRun) {
        const bundle =
          policy.deleteBundles && image.RootDeviceType === 'instance-store' ? image.ImageLocation : undefined;
        report.actions.push({
          ...base,
          action: 'would deregister',
          reason,
          ...(bundle === undefined ? {} : { bundle: `s3://${bundle}` }),
        });
        continue;
      }
      try {
        await deps.clients.ec2(region).send(new DeregisterImageCommand({ ImageId: image.ImageId }));
      } catch (error) {
        if (isTransient(error)) throw error;
        const code = awsErrorCode(error);
        if (code !== 'InvalidAMIID.NotFound' && code !== 'InvalidAMIID.Unavailable') {
          report.actions.push({
            ...base,
            action: 'failed',
            reason: failure('deregister', error, region, image.ImageId),
          });
          continue;
        }
      }
      const action: RetentionAction = { ...base, action: 'deregistered', reason };
      if (policy.deleteBundles) {
        try {
          const deleted = await deleteBundle(image, deps.clients.s3(region));
          if (deleted !== undefined) action.bundle = `${deleted.location} (${deleted.deleted} object(s))`;
        } catch (error) {
          if (isTransient(error)) throw error;
          action.reason += `; its bundle s3://${image.ImageLocation} was not deleted (${awsErrorCode(error) ?? (error as Error).message})`;
        }
      }
      report.actions.push(action);
    }
  }
  deps.log(
    `Retention of family ${family} (${report.summary}): ${ordered.length} build(s); ` +
      report.actions.map((a) => `${a.action} ${a.imageId} in ${a.region}`).join(', '),
  );
  return report;
}

function failure(what: string, error: unknown, region: string, imageId: string): string {
  const code = awsErrorCode(error) ?? (error instanceof Error ? error.name : 'error');
  const message = error instanceof Error ? `: ${error.message}` : '';
  return `could not ${what} (${code}${message}): aws ec2 ${what === 'deprecate' ? 'enable-image-deprecation' : 'deregister-image'} --region ${region} --image-id ${imageId}`;
}

/** After a build: its own family, its policy, its regions. */
export async function applyBuildRetention(build: BuildState, deps: RetentionDeps): Promise<FamilyRetention> {
  const retention = build.config.retention as BuildRetention | undefined;
  if (retention === undefined) {
    throw new TaskInputError(
      'Apply Retention runs only for a build with a retention policy ($.config.retention)',
    );
  }
  const regions = [...new Set([build.config.region, ...build.config.amiRegions])].sort();
  return applyFamilyRetention(
    build.config.family ?? build.config.name,
    retention,
    regions,
    { dryRun: false, keepExecution: build.execution.id },
    deps,
  );
}

/** The schedule and `ami-builder retention`: every family of the stack, in every region. */
export async function applyStackRetention(
  request: RetentionRequest,
  deps: RetentionDeps,
): Promise<RetentionReport> {
  const regions =
    request.regions !== undefined && request.regions.length > 0
      ? [...new Set(request.regions)].sort()
      : await enabledRegions(deps);
  const members = await findImages(regions, undefined, deps);
  const byFamily = new Map<string, Member[]>();
  for (const m of members) {
    const family = tagValue(m.image.Tags, TagKeys.family) as string;
    byFamily.set(family, [...(byFamily.get(family) ?? []), m]);
  }
  const report: RetentionReport = { dryRun: request.dryRun, regions, families: [], skippedFamilies: [] };
  const protections = new Protections(deps);
  for (const [family, familyMembers] of [...byFamily.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const newest = generations(familyMembers)[0];
    const tagged = newest?.members
      .map((m) => decodeRetentionPolicy(tagValue(m.image.Tags, TagKeys.retention)))
      .find((p) => p !== undefined);
    const policy: FamilyRetention['policy'] | undefined =
      tagged !== undefined
        ? { ...tagged, source: 'tag' }
        : deps.stackDefault !== undefined
          ? { ...deps.stackDefault, source: 'stack' }
          : undefined;
    if (policy === undefined) {
      report.skippedFamilies.push(family);
      continue;
    }
    report.families.push(
      await applyFamilyRetention(
        family,
        policy,
        regions,
        { dryRun: request.dryRun, members: familyMembers },
        deps,
        protections,
      ),
    );
  }
  return report;
}

async function enabledRegions(deps: RetentionDeps): Promise<string[]> {
  const result = await deps.clients.ec2(deps.homeRegion).send(new DescribeRegionsCommand({}));
  const names = (result.Regions ?? []).map((r) => r.RegionName).filter((r): r is string => r !== undefined);
  return [...new Set([...names, deps.homeRegion])].sort();
}

/** One line per action, for the CLI and summaries. */
export function describeRetention(report: RetentionReport, stackName: string): string {
  const lines = [
    `ami-builder stack ${stackName}: image retention${report.dryRun ? ' (dry run: nothing was changed)' : ''}`,
    `Regions: ${report.regions.join(', ')}`,
  ];
  if (report.families.length === 0) lines.push('', 'No family with a retention policy.');
  for (const f of report.families) lines.push('', ...describeFamilyRetention(f));
  if (report.skippedFamilies.length > 0)
    lines.push('', `Families without a policy (left alone): ${report.skippedFamilies.join(', ')}`);
  return lines.join('\n');
}

export { describeFamilyRetention };

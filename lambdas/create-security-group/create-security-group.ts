/**
 * Create Security Group: resolves the network (Packer's StepNetworkInfo) and the security groups (Packer's
 * StepSecurityGroup). The temporary group has no ingress rule at all: SSM Run Command needs only outbound HTTPS,
 * which the group's default egress rule allows, so nothing can reach the build instance from outside.
 */
import { createHash } from 'node:crypto';
import {
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  DescribeVpcsCommand,
  type EC2Client,
  type SecurityGroup,
  type Tag,
} from '@aws-sdk/client-ec2';
import type { BuildConfig } from '../shared/config.js';
import { NetworkConfigError } from '../shared/errors.js';
import {
  type Clients,
  isTransient,
  ownershipTags,
  TagKeys,
  type TaskEnvironment,
} from '../shared/runtime.js';
import type { BuildState, NetworkInfo, TaskEvent } from '../shared/state.js';
import { type ResolvedNetwork, resolveNetwork, toEc2Filters } from './network.js';

export interface CreateSecurityGroupDeps {
  clients: Pick<Clients, 'ec2'>;
  env: Pick<TaskEnvironment, 'stackName'>;
}

/**
 * The temporary group's name: stable for one execution and build, so that a retried invocation finds the group
 * its first attempt created instead of creating a second one.
 */
export function temporaryGroupName(executionId: string, buildName: string): string {
  const hash = createHash('sha256').update(`${executionId}/${buildName}`).digest('hex').slice(0, 16);
  return `ami-builder-${hash}`;
}

/** Group descriptions allow only `a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*` (max 255). */
function groupDescription(buildName: string): string {
  const safeName = buildName.replace(/[^a-zA-Z0-9. _\-:/()#,@[\]+=&;{}!$*]/g, '-');
  return `Temporary group for ami-builder build ${safeName} (no ingress: SSM needs none)`.slice(0, 255);
}

/** Run tags first, then the ownership tags, which no run tag may override (IAM conditions rely on them). */
export function groupTags(build: BuildState, env: Pick<TaskEnvironment, 'stackName'>): Tag[] {
  const runTags = build.source?.rendered.runTags ?? {};
  const ownership = ownershipTags(env, build.execution.id, build.config.name, build.config.onError);
  const owned = new Set(ownership.map((t) => t.Key));
  return [
    ...Object.entries(runTags)
      .filter(([Key]) => !owned.has(Key))
      .map(([Key, Value]) => ({ Key, Value })),
    ...ownership,
  ];
}

async function validateGroupIds(ec2: EC2Client, ids: string[], vpcId: string | undefined): Promise<string[]> {
  // A `group-id` filter (unlike GroupIds) returns the groups that exist instead of failing on the first missing
  // one, so the error can name every missing id.
  const out = await ec2.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: ids }] }),
  );
  const found = out.SecurityGroups ?? [];
  const foundIds = new Set(found.map((g) => g.GroupId));
  const missing = ids.filter((id) => !foundIds.has(id));
  if (missing.length > 0) {
    throw new NetworkConfigError(
      `Couldn't find specified security group(s): ${missing.join(', ')}. Check security_group_id(s) and the region.`,
    );
  }
  const elsewhere = found.filter((g) => vpcId !== undefined && g.VpcId !== vpcId);
  if (elsewhere.length > 0) {
    throw new NetworkConfigError(
      `Security group(s) ${elsewhere.map((g) => `${g.GroupId} (${g.VpcId ?? 'no VPC'})`).join(', ')} are not in ` +
        `the build's VPC ${vpcId}. Use groups of that VPC.`,
    );
  }
  return ids;
}

async function groupsFromFilter(
  ec2: EC2Client,
  filter: BuildConfig['network']['securityGroupFilter'] & object,
  vpcId: string | undefined,
): Promise<string[]> {
  const filters = toEc2Filters(vpcId === undefined ? filter : { ...filter, 'vpc-id': [vpcId] });
  const out = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: filters }));
  const ids = (out.SecurityGroups ?? []).map((g) => g.GroupId).filter((id): id is string => id !== undefined);
  if (ids.length === 0) {
    const described = filters.map((f) => `${f.Name}=[${(f.Values ?? []).join(', ')}]`).join(', ');
    throw new NetworkConfigError(`No security group was found matching filters: ${described}`);
  }
  return ids;
}

async function defaultVpc(ec2: EC2Client, region: string): Promise<string> {
  const out = await ec2.send(
    new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }),
  );
  const vpcId = out.Vpcs?.[0]?.VpcId;
  if (vpcId === undefined) {
    throw new NetworkConfigError(
      `${region} has no default VPC, so the build cannot choose a network. Set vpc_id with subnet_id or ` +
        'subnet_filter (or subnet_id alone).',
    );
  }
  return vpcId;
}

/** The group a previous attempt of this execution created, if any. */
async function findOwnGroup(
  ec2: EC2Client,
  groupName: string,
  vpcId: string,
  executionId: string,
): Promise<SecurityGroup | undefined> {
  const out = await ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'group-name', Values: [groupName] },
        { Name: 'vpc-id', Values: [vpcId] },
      ],
    }),
  );
  const group = out.SecurityGroups?.[0];
  if (group === undefined) return undefined;
  const ours = (group.Tags ?? []).some((t) => t.Key === TagKeys.execution && t.Value === executionId);
  if (!ours) {
    throw new NetworkConfigError(
      `A security group named ${groupName} (${group.GroupId}) exists in ${vpcId} but does not belong to this ` +
        'execution. Delete it or start a new execution.',
    );
  }
  return group;
}

async function createTemporaryGroup(
  ec2: EC2Client,
  build: BuildState,
  env: Pick<TaskEnvironment, 'stackName'>,
  vpcId: string,
): Promise<string> {
  const groupName = temporaryGroupName(build.execution.id, build.config.name);
  try {
    const out = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: groupName,
        Description: groupDescription(build.config.name),
        VpcId: vpcId,
        TagSpecifications: [{ ResourceType: 'security-group', Tags: groupTags(build, env) }],
      }),
    );
    if (out.GroupId === undefined) throw new NetworkConfigError(`CreateSecurityGroup returned no GroupId`);
    return out.GroupId;
  } catch (error) {
    if ((error as Error).name !== 'InvalidGroup.Duplicate') throw error;
    const existing = await findOwnGroup(ec2, groupName, vpcId, build.execution.id);
    if (existing?.GroupId === undefined) throw error;
    return existing.GroupId;
  }
}

/**
 * Resolves the network and the security groups the instance launches with.
 *
 * - `security_group_id(s)`: validated to exist (and to be in the build's VPC when it is known).
 * - `security_group_filter`: every matching group of the build's VPC.
 * - otherwise: a temporary group, with no ingress rule, in the resolved VPC or the default VPC, tagged with the
 *   run tags and the ownership tags. Cleanup deletes only this group.
 *
 * @throws NetworkConfigError when the network or the groups resolve to nothing usable.
 */
export async function createSecurityGroup(
  event: TaskEvent,
  deps: CreateSecurityGroupDeps,
): Promise<NetworkInfo> {
  const { build } = event;
  const { config } = build;
  const ec2 = deps.clients.ec2(config.region);
  const seed = `${build.execution.id}/${config.name}`;
  let network: ResolvedNetwork;
  try {
    network = await resolveNetwork(ec2, config, seed);
  } catch (error) {
    throw wrapped(error, 'Resolving the network');
  }
  const base: NetworkInfo = { ...network, securityGroupIds: [] };

  try {
    if (config.network.securityGroupIds.length > 0) {
      return {
        ...base,
        securityGroupIds: await validateGroupIds(ec2, config.network.securityGroupIds, network.vpcId),
      };
    }
    const filter = config.network.securityGroupFilter;
    if (filter !== undefined && Object.keys(filter).length > 0) {
      return { ...base, securityGroupIds: await groupsFromFilter(ec2, filter, network.vpcId) };
    }
    // A group created without VpcId lands in EC2-Classic on the oldest accounts: always name the VPC.
    const vpcId = network.vpcId ?? (await defaultVpc(ec2, config.region));
    const groupId = await createTemporaryGroup(ec2, build, deps.env, vpcId);
    return { ...base, vpcId, securityGroupIds: [groupId], temporarySecurityGroupId: groupId };
  } catch (error) {
    throw wrapped(error, 'Setting up the security group');
  }
}

/** Named errors and throttling pass through; any other AWS error becomes a NetworkConfigError with its message. */
function wrapped(error: unknown, doing: string): unknown {
  if (error instanceof NetworkConfigError || isTransient(error)) return error;
  const e = error as Error;
  return new NetworkConfigError(`${doing} failed: ${e.name}: ${e.message}`);
}

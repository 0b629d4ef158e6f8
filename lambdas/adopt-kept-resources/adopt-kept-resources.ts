/**
 * Adopt Kept Resources: the first state of a resumed build (`config.resume`, set by Validate Template). The
 * failed build kept its instance, security group and temporary role (`on_error: abort`); this task makes them
 * this execution's, so that this execution's cleanup, Abort Cleanup and Sweep Orphans treat them as its own:
 * - the instance and the temporary group get `ami-builder:execution = <this execution>`, its build and on-error
 *   tags, and `ami-builder:resumed-from = <failed execution>`; only when they carry this stack's tag and the
 *   failed (or this) execution's;
 * - the temporary role and profile get the same tags, and the role's own policy is written again for this
 *   execution's staged folder (the bundle prefix is the failed build's, as are the role's path and name).
 *
 * Its result replaces the state: the build as the skipped steps had left it (`source`, `bucket`, `network`,
 * `instanceRole`, `instance`).
 */
import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
} from '@aws-sdk/client-ec2';
import {
  ListRoleTagsCommand,
  PutRolePolicyCommand,
  TagInstanceProfileCommand,
  TagRoleCommand,
} from '@aws-sdk/client-iam';
import { ResourceNotOwnedError, TaskInputError } from '../shared/errors.js';
import {
  buildInstancePolicy,
  InstanceRolePolicyNames,
  instanceRoleIdentity,
  parsePolicyArn,
} from '../shared/instance-role.js';
import { type TagList, tagValue } from '../shared/ownership.js';
import { type Clients, ownershipTags, TagKeys, type TaskEnvironment } from '../shared/runtime.js';
import type { BuildState, TaskEvent } from '../shared/state.js';

export interface AdoptKeptResourcesDeps {
  clients: Pick<Clients, 'ec2' | 'iam'>;
  env: Pick<TaskEnvironment, 'stackName' | 'stagingBucket' | 'commandLogGroup' | 'instanceRoleBoundary'>;
  /** The stack's region: IAM, the staging bucket and the command log group. */
  homeRegion: string;
}

/** The tags that make a kept resource this build's. */
function adoptionTags(build: BuildState, from: string): { Key: string; Value: string }[] {
  return [
    ...ownershipTags({ stackName: '' }, build.execution.id, build.config.name, build.config.onError).filter(
      (t) => t.Key !== TagKeys.stack,
    ),
    { Key: TagKeys.resumedFrom, Value: from },
  ];
}

/**
 * Checks a kept resource's tags before it is re-tagged: this stack's, and the failed execution's (or already
 * this execution's: a retry).
 *
 * @throws ResourceNotOwnedError naming what does not match
 */
function checkKept(what: string, tags: TagList, build: BuildState, stackName: string): void {
  const from = build.config.resume?.from ?? '';
  const execution = tagValue(tags, TagKeys.execution);
  if (
    tagValue(tags, TagKeys.stack) === stackName &&
    (execution === from || execution === build.execution.id)
  ) {
    return;
  }
  throw new ResourceNotOwnedError(
    `Refusing to adopt ${what}: it does not carry ${TagKeys.stack}=${stackName} and ${TagKeys.execution}=${from} ` +
      `(found ${TagKeys.stack}=${tagValue(tags, TagKeys.stack) ?? 'none'}, ${TagKeys.execution}=${execution ?? 'none'})`,
  );
}

/** Makes the failed build's kept resources this build's and returns the state the skipped steps had produced. */
export async function adoptKeptResources(
  event: TaskEvent<Record<string, never>>,
  deps: AdoptKeptResourcesDeps,
): Promise<BuildState> {
  const { build } = event;
  const resume = build.config.resume;
  if (resume === undefined) {
    throw new TaskInputError('Adopt Kept Resources runs only for a resumed build ($.config.resume)');
  }
  const { kept } = resume;
  const region = build.config.region;
  const ec2 = deps.clients.ec2(region);
  const tags = adoptionTags(build, resume.from);

  const instanceId = kept.instance.instanceId;
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = (described.Reservations ?? [])
    .flatMap((r) => r.Instances ?? [])
    .find((i) => i.InstanceId === instanceId);
  checkKept(`instance ${instanceId} in ${region}`, instance?.Tags, build, deps.env.stackName);
  const resources = [instanceId];

  const groupId = kept.network.temporarySecurityGroupId;
  if (groupId !== undefined) {
    const groups = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
    const group = (groups.SecurityGroups ?? []).find((g) => g.GroupId === groupId);
    checkKept(`security group ${groupId} in ${region}`, group?.Tags, build, deps.env.stackName);
    resources.push(groupId);
  }
  await ec2.send(new CreateTagsCommand({ Resources: resources, Tags: tags }));

  if (kept.instanceRole?.temporary === true) {
    const boundary = parsePolicyArn(deps.env.instanceRoleBoundary);
    if (boundary === undefined || deps.env.stagingBucket === '') {
      throw new TaskInputError(
        'INSTANCE_ROLE_BOUNDARY (a managed policy ARN) and STAGING_BUCKET must be set in the task environment',
      );
    }
    const identity = instanceRoleIdentity(deps.env.stackName, build);
    const iam = deps.clients.iam(deps.homeRegion);
    const roleTags = (await iam.send(new ListRoleTagsCommand({ RoleName: identity.roleName }))).Tags;
    checkKept(`instance role ${identity.path}${identity.roleName}`, roleTags, build, deps.env.stackName);
    await iam.send(new TagRoleCommand({ RoleName: identity.roleName, Tags: tags }));
    await iam.send(
      new TagInstanceProfileCommand({
        InstanceProfileName: kept.instanceRole.instanceProfileName,
        Tags: tags,
      }),
    );
    // The instance downloads this execution's staged commands: its role's own policy names them now.
    const policy = buildInstancePolicy(build, {
      partition: boundary.partition,
      account: boundary.account,
      region: deps.homeRegion,
      stagingBucket: deps.env.stagingBucket,
      commandLogGroup: deps.env.commandLogGroup,
    });
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: identity.roleName,
        PolicyName: InstanceRolePolicyNames.build,
        PolicyDocument: JSON.stringify(policy),
      }),
    );
  }

  return {
    ...build,
    source: kept.source,
    bucket: kept.bucket,
    network: kept.network,
    ...(kept.instanceRole === undefined ? {} : { instanceRole: kept.instanceRole }),
    instance: kept.instance,
  };
}

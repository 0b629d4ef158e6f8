/**
 * Delete Temporary Resources (…After Failure): Packer's `StepSecurityGroup` cleanup (reference §1.1 step 5),
 * run after the instance is terminated, plus what this design adds: the build's staged files.
 *
 * - The temporary security group: only `$.network.temporarySecurityGroupId`, never a group the template named,
 *   and only when it carries this stack's tag.
 *   A group still attached to a terminating instance gives `DependencyViolation`; this task then throws
 *   {@link SecurityGroupInUseError} and the state machine retries it with backoff (Packer retries 5 × 5 s).
 *   Past those retries, Finish Cleanup runs this task again with `groupInUse: 'report'`: the group is then
 *   reported in `leaked`. A group whose instance was not terminated is not tried (it would stay in use).
 * - The staged objects under `staging/<execution>/<build>/` in the staging bucket: always, even when
 *   `on_error: abort` keeps the instance, because they hold copies of the X.509 certificate and key.
 * - The temporary instance role and its profile (Packer's `StepIamInstanceProfile` cleanup), found by their
 *   names, which derive from the execution and the build: so a Create Instance Role that failed halfway leaves
 *   nothing either. Kept with the instance when `on_error: abort` keeps it.
 *
 * A deletion that AWS refuses (any error but throttling and 5xx, which throw for the state's Retry) does not
 * stop the others: the resource is reported in `leaked`, with the error and the command that removes it.
 *
 * The bundle bucket is never touched: Packer leaves the S3 bundle in place (reference §1.1 step 16).
 */
import {
  DeleteSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import {
  awsErrorCode,
  type CleanupArgs,
  emptyCleanupReport,
  errorText,
  keptInstanceRole,
  keptSecurityGroup,
  leakedInstanceRole,
  leakedSecurityGroup,
  leakedStagedObjects,
  mergeCleanupReports,
  onErrorReason,
} from '../shared/cleanup-report.js';
import { keepsResourcesOnError } from '../shared/config.js';
import { ErrorNames, SecurityGroupInUseError } from '../shared/errors.js';
import { instanceRoleIdentity } from '../shared/instance-role.js';
import { deleteInstanceRole } from '../shared/instance-role-iam.js';
import { isOwnedByStack, notOwnedError, type TagList, tagValue } from '../shared/ownership.js';
import { type Clients, isTransient, TagKeys, type TaskEnvironment } from '../shared/runtime.js';
import { deleteStaged, stagingPrefix } from '../shared/staging.js';
import type { BuildState, CleanupReport, LeakedResource, TaskEvent } from '../shared/state.js';

export interface DeleteTemporaryResourcesDeps {
  clients: Pick<Clients, 'ec2' | 's3' | 'iam'>;
  env: Pick<TaskEnvironment, 'stagingBucket' | 'stackName'>;
  /** The stack's own region (`AWS_REGION`), where the staging bucket is. */
  homeRegion: string;
}

/**
 * Deletes the staged objects, then the temporary security group, and returns `$.cleanup` (Terminate
 * Instance's report) merged with what this task did. Staged objects go first so that a security group still in
 * use does not delay removing the X.509 copies.
 *
 * @throws SecurityGroupInUseError when the group is still in use (`DependencyViolation`) and `groupInUse` is
 *   `retry`.
 */
export async function deleteTemporaryResources(
  event: TaskEvent<CleanupArgs>,
  deps: DeleteTemporaryResourcesDeps,
): Promise<CleanupReport> {
  const { build, args } = event;
  const report = emptyCleanupReport();
  const leaked: LeakedResource[] = [];

  if (deps.env.stagingBucket !== '') {
    const prefix = stagingPrefix(build);
    try {
      report.deletedStagedObjects = await deleteStaged(
        deps.clients.s3(deps.homeRegion),
        deps.env.stagingBucket,
        prefix,
      );
    } catch (error) {
      if (isTransient(error)) throw error;
      leaked.push(
        leakedStagedObjects(
          deps.homeRegion,
          deps.env.stagingBucket,
          prefix,
          `not deleted: ${errorText(error)}`,
        ),
      );
    }
  }

  await deleteBuildInstanceRole(build, args, deps, report, leaked);

  const groupId = build.network?.temporarySecurityGroupId;
  const region = build.config.region;
  const instanceLeft = (build.cleanup?.leaked ?? []).find((l) => l.type === 'instance');
  if (groupId !== undefined) {
    if (args.reason === 'failure' && keepsResourcesOnError(build.config.onError)) {
      report.kept.push(keptSecurityGroup(region, groupId, onErrorReason(build.config.onError)));
    } else if (instanceLeft !== undefined) {
      leaked.push(
        leakedSecurityGroup(
          region,
          groupId,
          `not deleted: its instance ${instanceLeft.id} was not terminated`,
        ),
      );
    } else {
      const why = await deleteSecurityGroup(deps, region, groupId, args.groupInUse, build);
      if (why === undefined) report.deletedSecurityGroups.push(groupId);
      else leaked.push(leakedSecurityGroup(region, groupId, why));
    }
  }
  if (leaked.length > 0) report.leaked = leaked;
  return mergeCleanupReports(build.cleanup, report);
}

/**
 * Deletes the group.
 *
 * @returns undefined when the group is gone, else why it is still there
 */
async function deleteSecurityGroup(
  deps: DeleteTemporaryResourcesDeps,
  region: string,
  groupId: string,
  groupInUse: CleanupArgs['groupInUse'],
  build: BuildState,
): Promise<string | undefined> {
  try {
    // Gone already (a retry after a lost response, or a redrive): the goal is reached.
    if (!(await checkSecurityGroupOwned(deps.clients.ec2(region), groupId, region, deps.env.stackName))) {
      return undefined;
    }
    await deps.clients.ec2(region).send(new DeleteSecurityGroupCommand({ GroupId: groupId }));
    return undefined;
  } catch (error) {
    const code = awsErrorCode(error);
    // Already deleted (a retry after a lost response, or a redrive): the goal is reached.
    if (code === 'InvalidGroup.NotFound') return undefined;
    if (isTransient(error)) throw error;
    if (code !== 'DependencyViolation') return `not deleted: ${errorText(error)}`;
    if (groupInUse !== 'report') {
      throw new SecurityGroupInUseError(
        `security group ${groupId} in ${region} is still in use (DependencyViolation); ` +
          'the instance is probably still shutting down, retrying',
      );
    }
    const retries = build.cleanupError?.Error === ErrorNames.SecurityGroupInUse ? ' after every retry' : '';
    return `not deleted: still in use${retries} (${errorText(error)})`;
  }
}

/**
 * Checks that the security group carries this stack's tag before it is deleted.
 *
 * @returns false when the group does not exist (any more): there is nothing to delete
 * @throws ResourceNotOwnedError when the group exists without this stack's tag
 */
async function checkSecurityGroupOwned(
  ec2: EC2Client,
  groupId: string,
  region: string,
  stackName: string,
): Promise<boolean> {
  let tags: TagList;
  try {
    const out = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
    const group = (out.SecurityGroups ?? []).find((g) => g.GroupId === groupId);
    if (group === undefined) return false;
    tags = group.Tags;
  } catch (error) {
    if (awsErrorCode(error) === 'InvalidGroup.NotFound') return false;
    throw error;
  }
  if (!isOwnedByStack(tags, stackName)) {
    throw notOwnedError('security group', groupId, region, stackName, tagValue(tags, TagKeys.stack));
  }
  return true;
}

/**
 * The build's temporary role and profile: none when the template names its own `iam_instance_profile`; kept
 * with a kept instance (`on_error: abort`), which needs its role to stay reachable for debugging.
 */
async function deleteBuildInstanceRole(
  build: BuildState,
  args: CleanupArgs,
  deps: DeleteTemporaryResourcesDeps,
  report: CleanupReport,
  leaked: LeakedResource[],
): Promise<void> {
  if (build.config.iamInstanceProfile !== undefined) return;
  // A resumed build that failed before it adopted the kept role (Adopt Kept Resources) leaves it to the failed
  // execution it still belongs to.
  if (build.config.resume !== undefined && build.instanceRole === undefined) return;
  const identity = instanceRoleIdentity(deps.env.stackName, build);
  const instanceKept =
    args.reason === 'failure' && build.config.onError === 'abort' && build.instance?.instanceId !== undefined;
  if (instanceKept) {
    if (build.instanceRole?.temporary === true) {
      report.kept.push(keptInstanceRole(identity.roleName, identity.path));
    }
    return;
  }
  try {
    // A role this build created and that is gone now was deleted by an earlier attempt of this cleanup.
    const deleted = await deleteInstanceRole(deps.clients.iam(deps.homeRegion), identity);
    if (deleted || build.instanceRole?.temporary === true) report.deletedInstanceRoles = [identity.roleName];
  } catch (error) {
    if (isTransient(error)) throw error;
    leaked.push(leakedInstanceRole(identity.roleName, `not deleted: ${errorText(error)}`));
  }
}

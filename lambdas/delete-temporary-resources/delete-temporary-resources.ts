/**
 * Delete Temporary Resources (…After Failure): Packer's `StepSecurityGroup` cleanup (reference §1.1 step 5),
 * run after the instance is terminated, plus what this design adds: the build's staged files.
 *
 * - The temporary security group: only `$.network.temporarySecurityGroupId`, never a group the template named,
 *   and only when it carries this stack's tag (else `ResourceNotOwnedError`).
 *   A group still attached to a terminating instance gives `DependencyViolation`; this task then throws
 *   {@link SecurityGroupInUseError} and the state machine retries it with backoff (Packer retries 5 × 5 s).
 * - The staged objects under `staging/<execution>/<build>/` in the staging bucket: always, even when
 *   `on_error: abort` keeps the instance, because they hold copies of the X.509 certificate and key.
 * - The temporary instance role and its profile (Packer's `StepIamInstanceProfile` cleanup), found by their
 *   names, which derive from the execution and the build: so a Create Instance Role that failed halfway leaves
 *   nothing either. Kept with the instance when `on_error: abort` keeps it. A deletion that fails is reported
 *   in `kept` and does not fail the build's cleanup.
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
  keptInstanceRole,
  keptSecurityGroup,
  mergeCleanupReports,
  onErrorReason,
} from '../shared/cleanup-report.js';
import { keepsResourcesOnError } from '../shared/config.js';
import { SecurityGroupInUseError } from '../shared/errors.js';
import { instanceRoleIdentity } from '../shared/instance-role.js';
import { deleteInstanceRole } from '../shared/instance-role-iam.js';
import { isOwnedByStack, notOwnedError, type TagList, tagValue } from '../shared/ownership.js';
import { type Clients, TagKeys, type TaskEnvironment } from '../shared/runtime.js';
import { deleteStaged, stagingPrefix } from '../shared/staging.js';
import type { BuildState, CleanupReport, TaskEvent } from '../shared/state.js';

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
 * @throws SecurityGroupInUseError when the group is still in use (`DependencyViolation`).
 * @throws ResourceNotOwnedError when the group does not carry this stack's tag (it is not deleted).
 */
export async function deleteTemporaryResources(
  event: TaskEvent<CleanupArgs>,
  deps: DeleteTemporaryResourcesDeps,
): Promise<CleanupReport> {
  const { build, args } = event;
  const report = emptyCleanupReport();

  if (deps.env.stagingBucket !== '') {
    report.deletedStagedObjects = await deleteStaged(
      deps.clients.s3(deps.homeRegion),
      deps.env.stagingBucket,
      stagingPrefix(build),
    );
  }

  await deleteBuildInstanceRole(build, args, deps, report);

  const groupId = build.network?.temporarySecurityGroupId;
  const region = build.config.region;
  if (groupId !== undefined) {
    if (args.reason === 'failure' && keepsResourcesOnError(build.config.onError)) {
      report.kept.push(keptSecurityGroup(region, groupId, onErrorReason(build.config.onError)));
    } else {
      await deleteSecurityGroup(deps, region, groupId);
      report.deletedSecurityGroups.push(groupId);
    }
  }
  return mergeCleanupReports(build.cleanup, report);
}

async function deleteSecurityGroup(deps: DeleteTemporaryResourcesDeps, region: string, groupId: string) {
  // Gone already (a retry after a lost response, or a redrive): the goal is reached.
  if (!(await checkSecurityGroupOwned(deps.clients.ec2(region), groupId, region, deps.env.stackName))) return;
  try {
    await deps.clients.ec2(region).send(new DeleteSecurityGroupCommand({ GroupId: groupId }));
  } catch (error) {
    const code = awsErrorCode(error);
    // Already deleted (a retry after a lost response, or a redrive): the goal is reached.
    if (code === 'InvalidGroup.NotFound') return;
    if (code === 'DependencyViolation') {
      throw new SecurityGroupInUseError(
        `security group ${groupId} in ${region} is still in use (DependencyViolation); ` +
          'the instance is probably still shutting down, retrying',
      );
    }
    throw error;
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
): Promise<void> {
  if (build.config.iamInstanceProfile !== undefined) return;
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
    if (await deleteInstanceRole(deps.clients.iam(deps.homeRegion), identity)) {
      report.deletedInstanceRoles = [identity.roleName];
    }
  } catch (error) {
    report.kept.push(
      keptInstanceRole(
        identity.roleName,
        identity.path,
        `could not be deleted (${awsErrorCode(error) ?? 'error'}: ${(error as Error).message})`,
      ),
    );
  }
}

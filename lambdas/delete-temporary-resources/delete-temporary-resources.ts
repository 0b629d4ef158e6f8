/**
 * Delete Temporary Resources (…After Failure): Packer's `StepSecurityGroup` cleanup (reference §1.1 step 5),
 * run after the instance is terminated, plus what this design adds: the build's staged files.
 *
 * - The temporary security group: only `$.network.temporarySecurityGroupId`, never a group the template named.
 *   A group still attached to a terminating instance gives `DependencyViolation`; this task then throws
 *   {@link SecurityGroupInUseError} and the state machine retries it with backoff (Packer retries 5 × 5 s).
 * - The staged objects under `staging/<execution>/<build>/` in the staging bucket: always, even when
 *   `on_error: abort` keeps the instance, because they hold copies of the X.509 certificate and key.
 *
 * The bundle bucket is never touched: Packer leaves the S3 bundle in place (reference §1.1 step 16).
 */
import { DeleteSecurityGroupCommand } from '@aws-sdk/client-ec2';
import {
  awsErrorCode,
  type CleanupArgs,
  emptyCleanupReport,
  keptSecurityGroup,
  mergeCleanupReports,
  onErrorReason,
} from '../shared/cleanup-report.js';
import { keepsResourcesOnError } from '../shared/config.js';
import { SecurityGroupInUseError } from '../shared/errors.js';
import type { Clients, TaskEnvironment } from '../shared/runtime.js';
import { deleteStaged, stagingPrefix } from '../shared/staging.js';
import type { CleanupReport, TaskEvent } from '../shared/state.js';

export interface DeleteTemporaryResourcesDeps {
  clients: Pick<Clients, 'ec2' | 's3'>;
  env: Pick<TaskEnvironment, 'stagingBucket'>;
  /** The stack's own region (`AWS_REGION`), where the staging bucket is. */
  homeRegion: string;
}

/**
 * Deletes the staged objects, then the temporary security group, and returns `$.cleanup` (Terminate
 * Instance's report) merged with what this task did. Staged objects go first so that a security group still in
 * use does not delay removing the X.509 copies.
 *
 * @throws SecurityGroupInUseError when the group is still in use (`DependencyViolation`).
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

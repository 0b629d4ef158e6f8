/**
 * Terminate Instance / Clean Up After Failure (Packer's `StepRunSourceInstance` cleanup, reference §1.1 step 7a):
 * terminates the build instance. The wait for `terminated` is the state machine's poll loop (Check Instance with
 * `want: 'terminated'`), not a sleep here.
 *
 * With `on_error: abort` a failed build keeps its instance for debugging, as Packer's `-on-error=abort` does
 * (reference §5.3); the report says where it is and how to terminate it. A successful build always cleans up.
 */
import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import {
  awsErrorCode,
  type CleanupArgs,
  emptyCleanupReport,
  keptInstance,
  onErrorReason,
} from '../shared/cleanup-report.js';
import { keepsResourcesOnError } from '../shared/config.js';
import type { Clients } from '../shared/runtime.js';
import type { CleanupReport, TaskEvent } from '../shared/state.js';

export interface TerminateInstanceDeps {
  clients: Pick<Clients, 'ec2'>;
}

/**
 * Terminates `$.instance` in the build region and returns a fresh report for `$.cleanup`.
 *
 * - No `$.instance` (the build failed before launch): nothing to do.
 * - `reason: 'failure'` with `on_error: abort`: the instance is not terminated and is listed in `kept`.
 * - Otherwise `TerminateInstances`; an instance that is already gone (`InvalidInstanceID.NotFound`) counts as
 *   terminated, and terminating an instance again is harmless, so a retried or re-driven task does the same.
 *
 * The state machine must skip the termination wait when `terminatedInstances` is empty.
 */
export async function terminateInstance(
  event: TaskEvent<CleanupArgs>,
  deps: TerminateInstanceDeps,
): Promise<CleanupReport> {
  const { build, args } = event;
  const report = emptyCleanupReport();
  const instanceId = build.instance?.instanceId;
  if (instanceId === undefined) return report;

  const region = build.config.region;
  if (args.reason === 'failure' && keepsResourcesOnError(build.config.onError)) {
    report.kept.push(keptInstance(region, instanceId, onErrorReason(build.config.onError)));
    return report;
  }

  try {
    await deps.clients.ec2(region).send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  } catch (error) {
    if (awsErrorCode(error) !== 'InvalidInstanceID.NotFound') throw error;
  }
  report.terminatedInstances.push(instanceId);
  return report;
}

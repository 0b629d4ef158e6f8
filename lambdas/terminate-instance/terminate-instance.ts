/**
 * Terminate Instance / Clean Up After Failure (Packer's `StepRunSourceInstance` cleanup, reference §1.1 step 7a):
 * terminates the build instance. The wait for `terminated` is the state machine's poll loop (Check Instance with
 * `want: 'terminated'`), not a sleep here.
 *
 * With `on_error: abort` a failed build keeps its instance for debugging, as Packer's `-on-error=abort` does
 * (reference §5.3); the report says where it is and how to terminate it. A successful build always cleans up.
 */
import { DescribeInstancesCommand, type EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import * as z from 'zod/mini';
import {
  awsErrorCode,
  cleanupArgsSchema,
  emptyCleanupReport,
  errorText,
  keptInstance,
  leakedInstance,
  mergeCleanupReports,
  onErrorReason,
} from '../shared/cleanup-report.js';
import { keepsResourcesOnError } from '../shared/config.js';
import { isOwnedByStack, notOwnedError, type TagList, tagValue } from '../shared/ownership.js';
import { type Clients, isTransient, TagKeys, type TaskEnvironment } from '../shared/runtime.js';
import type { CleanupReport, TaskEvent } from '../shared/state.js';

/**
 * Terminate Instance's args: the cleanup args, and which instance (`test`: `$.testInstance`, the `ami_test`
 * instance, terminated on every path).
 */
export const terminateInstanceArgsSchema = z.extend(cleanupArgsSchema, {
  instance: z.optional(z.enum(['build', 'test'])),
});
export type TerminateInstanceArgs = z.infer<typeof terminateInstanceArgsSchema>;

export interface TerminateInstanceDeps {
  clients: Pick<Clients, 'ec2'>;
  /** The ownership tag's value: only an instance carrying it is terminated. */
  env: Pick<TaskEnvironment, 'stackName'>;
}

/**
 * Terminates `$.instance` in the build region and returns a fresh report for `$.cleanup`.
 *
 * - No `$.instance` (the build failed before launch): nothing to do.
 * - `reason: 'failure'` with `on_error: abort`: the instance is not terminated and is listed in `kept`.
 * - Otherwise, after checking that the instance carries this stack's tag, `TerminateInstances`; an instance that
 *   is already gone (`InvalidInstanceID.NotFound`) counts as terminated, and terminating an instance again is
 *   harmless, so a retried or re-driven task does the same.
 * - A refusal (`UnauthorizedOperation`, an instance without this stack's tag, any error a retry does not fix)
 *   does not fail the task: the instance is reported in `leaked` with the error and the command that
 *   terminates it, and the rest of the cleanup goes on. Throttling and 5xx still throw, for the state's Retry.
 *
 * - After a failure (`reason: 'failure'`), the `ami_test` instance (`$.testInstance`) is terminated too, always.
 * - `instance: 'test'` (Terminate Test Instance): only the `ami_test` instance.
 *
 * The state machine must skip the termination wait when `terminatedInstances` is empty.
 */
export async function terminateInstance(
  event: TaskEvent<TerminateInstanceArgs>,
  deps: TerminateInstanceDeps,
): Promise<CleanupReport> {
  const { build, args } = event;
  const region = build.config.region;
  if (args.instance === 'test') return terminate(build.testInstance?.instanceId, region, deps);

  // After a failure, the ami_test instance goes too, whatever on_error says: every failure path ends here, so the
  // test instance is terminated on every path (on_error: abort keeps only the build instance for debugging).
  const test =
    args.reason === 'failure' ? await terminate(build.testInstance?.instanceId, region, deps) : undefined;
  const instanceId = build.instance?.instanceId;
  let report = emptyCleanupReport();
  if (instanceId !== undefined) {
    if (args.reason === 'failure' && keepsResourcesOnError(build.config.onError)) {
      report.kept.push(keptInstance(region, instanceId, onErrorReason(build.config.onError)));
    } else {
      report = await terminate(instanceId, region, deps);
    }
  }
  return test === undefined ? report : mergeCleanupReports(report, test);
}

/** Terminates one instance (nothing when `instanceId` is undefined) and reports it. */
async function terminate(
  instanceId: string | undefined,
  region: string,
  deps: TerminateInstanceDeps,
): Promise<CleanupReport> {
  const report = emptyCleanupReport();
  if (instanceId === undefined) return report;
  const ec2 = deps.clients.ec2(region);
  try {
    if (await checkInstanceOwned(ec2, instanceId, region, deps.env.stackName)) {
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    }
  } catch (error) {
    if (isTransient(error)) throw error;
    if (awsErrorCode(error) !== 'InvalidInstanceID.NotFound') {
      report.leaked = [leakedInstance(region, instanceId, `not terminated: ${errorText(error)}`)];
      return report;
    }
  }
  report.terminatedInstances.push(instanceId);
  return report;
}

/**
 * Checks that the instance carries this stack's tag before it is terminated.
 *
 * @returns false when the instance does not exist (any more): there is nothing to terminate
 * @throws ResourceNotOwnedError when the instance exists without this stack's tag
 */
async function checkInstanceOwned(
  ec2: EC2Client,
  instanceId: string,
  region: string,
  stackName: string,
): Promise<boolean> {
  let tags: TagList;
  try {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = (out.Reservations ?? [])
      .flatMap((r) => r.Instances ?? [])
      .find((i) => i.InstanceId === instanceId);
    if (instance === undefined) return false;
    tags = instance.Tags;
  } catch (error) {
    if (awsErrorCode(error) === 'InvalidInstanceID.NotFound') return false;
    throw error;
  }
  if (!isOwnedByStack(tags, stackName)) {
    throw notOwnedError('instance', instanceId, region, stackName, tagValue(tags, TagKeys.stack));
  }
  return true;
}

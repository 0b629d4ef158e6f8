/**
 * Check Instance Running / Check Instance Terminated: one check of the waits that stand in for the SDK's
 * InstanceRunning and InstanceTerminated waiters Packer uses (reference §1.1 step 7a). Not there yet:
 * PollPendingError, and the state's Retry checks again on the poll schedule (lambdas/shared/poll.ts).
 */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { InstanceNotRunningError, InstanceNotTerminatedError, TaskInputError } from '../shared/errors.js';
import { checkProgress, nextAttempt, pending, pollResult } from '../shared/poll.js';
import type { Clients } from '../shared/runtime.js';
import type { PollResult, TaskEvent } from '../shared/state.js';
import { requireState } from '../shared/task-event.js';

export interface CheckInstanceArgs {
  want: 'running' | 'terminated';
  /**
   * Which instance: the build instance (`$.instance`, default) or the `ami_test` instance (`$.testInstance`,
   * `want: running` only).
   * @default 'build'
   */
  instance?: 'build' | 'test';
}

export interface CheckInstanceDeps {
  clients: Pick<Clients, 'ec2'>;
}

/**
 * The bound of each wait, in `aws_polling.delay_seconds`, as the SDK's InstanceRunning / InstanceTerminated
 * waiters (40 × 15 s = 10 min): the checks follow the poll schedule for 40 × delay seconds. The AMI's
 * `aws_polling.max_attempts` default (120) is for the image wait and does not apply here.
 */
export const INSTANCE_WAIT_MAX_ATTEMPTS = 40;

/** `$.poll` keys of the two waits. */
export const InstancePollKeys = { running: 'instanceRunning', terminated: 'instanceTerminated' } as const;

/** `$.poll` key of the wait for the `ami_test` instance to run. */
export const TEST_INSTANCE_POLL_KEY = 'testInstanceRunning';

/** The `$.poll` key of a check. */
export function instancePollKey(args: CheckInstanceArgs): string {
  return args.instance === 'test' ? TEST_INSTANCE_POLL_KEY : InstancePollKeys[args.want];
}

/** States from which an instance never reaches `running` (the waiter's failure states). */
const NOT_GOING_TO_RUN = new Set(['shutting-down', 'terminated', 'stopping', 'stopped']);

interface Observed {
  state: string;
  reason?: string;
}

async function observe(
  deps: CheckInstanceDeps,
  region: string,
  instanceId: string,
): Promise<Observed | undefined> {
  try {
    const out = await deps.clients
      .ec2(region)
      .send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = out.Reservations?.[0]?.Instances?.[0];
    if (instance === undefined) return undefined;
    const observed: Observed = { state: instance.State?.Name ?? 'unknown' };
    const reason = instance.StateReason?.Message ?? instance.StateTransitionReason;
    if (reason !== undefined && reason !== '') observed.reason = reason;
    return observed;
  } catch (error) {
    // Right after RunInstances, and some time after termination, EC2 does not know the id.
    if ((error as Error).name === 'InvalidInstanceID.NotFound') return undefined;
    throw error;
  }
}

/**
 * One check of the instance's state. Returns `done` when the wanted state is reached; otherwise throws
 * {@link PollPendingError} (checked again on the poll schedule) for at most
 * {@link INSTANCE_WAIT_MAX_ATTEMPTS} × `polling.delaySeconds` seconds per instance.
 *
 * For `terminated`, an instance EC2 no longer knows counts as terminated, a build without an instance has nothing
 * to wait for, and an instance the cleanup kept on purpose (`on_error: abort`) is not waited on.
 *
 * @throws PollPendingError while the wanted state is not reached yet.
 * @throws InstanceNotRunningError when the instance stops or terminates instead of running, or is still not
 *   running after the last check.
 * @throws InstanceNotTerminatedError when the instance is still not terminated after the last check.
 */
export async function checkInstance(
  event: TaskEvent<CheckInstanceArgs>,
  deps: CheckInstanceDeps,
): Promise<PollResult> {
  const { build, args } = event;
  const key = instancePollKey(args);
  const progress = checkProgress(event.check, key);
  const waitSeconds = progress.nextDelaySeconds;
  const boundSeconds = INSTANCE_WAIT_MAX_ATTEMPTS * build.config.polling.delaySeconds;

  if (args.want === 'terminated' && args.instance === 'test') {
    // Terminate Test Instance does not wait: the build's own cleanup outlasts the test instance's termination.
    throw new TaskInputError('Check Instance waits for the test instance to run, not to terminate');
  }
  if (args.want === 'terminated') {
    const instanceId = build.instance?.instanceId;
    if (instanceId === undefined) {
      return pollResult({ done: true, attempt: 1, waitSeconds, status: 'no instance', target: 'none' });
    }
    const attempt = nextAttempt(build, key, instanceId) + progress.attempt - 1;
    if (build.cleanup?.kept.some((k) => k.resource === instanceId)) {
      return pollResult({ done: true, attempt, waitSeconds, status: 'kept', target: instanceId });
    }
    const observed = await observe(deps, build.config.region, instanceId);
    const status = observed?.state ?? 'terminated';
    if (status === 'terminated')
      return pollResult({ done: true, attempt, waitSeconds, status, target: instanceId });
    if (progress.waitedSeconds >= boundSeconds) {
      throw new InstanceNotTerminatedError(
        `Instance ${instanceId} is still ${status} after ${attempt} checks (${Math.round(progress.waitedSeconds)} s). Terminate it ` +
          `in the EC2 console (region ${build.config.region}); the Abort Cleanup also removes it by its tags.`,
      );
    }
    throw pending(`Instance ${instanceId}`, status, progress);
  }

  const instanceId = requireState(build, args.instance === 'test' ? 'testInstance' : 'instance').instanceId;
  const attempt = nextAttempt(build, key, instanceId) + progress.attempt - 1;
  const observed = await observe(deps, build.config.region, instanceId);
  const status = observed?.state ?? 'pending';
  if (status === 'running')
    return pollResult({ done: true, attempt, waitSeconds, status, target: instanceId });
  if (NOT_GOING_TO_RUN.has(status)) {
    const reason = observed?.reason === undefined ? '' : `: ${observed.reason}`;
    throw new InstanceNotRunningError(
      `Instance ${instanceId} entered state "${status}" instead of running${reason}. Check the instance type's ` +
        'capacity and limits, the source AMI, and the launch block device mappings.',
    );
  }
  if (progress.waitedSeconds >= boundSeconds) {
    throw new InstanceNotRunningError(
      `Instance ${instanceId} is still ${status} after ${attempt} checks ` +
        `(${Math.round(progress.waitedSeconds)} s).`,
    );
  }
  throw pending(`Instance ${instanceId}`, status, progress);
}

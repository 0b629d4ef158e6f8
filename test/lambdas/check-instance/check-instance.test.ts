import { DescribeInstancesCommand, EC2Client, type InstanceStateName } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { CheckInstanceArgs } from '../../../lambdas/check-instance/check-instance.js';
import { checkInstance, INSTANCE_WAIT_MAX_ATTEMPTS } from '../../../lambdas/check-instance/check-instance.js';
import {
  InstanceNotRunningError,
  InstanceNotTerminatedError,
  PollPendingError,
  TaskInputError,
} from '../../../lambdas/shared/errors.js';
import { POLL_SCHEDULE, retriesFor, waitedSeconds } from '../../../lambdas/shared/poll.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import type { PollResult, TaskEvent } from '../../../lambdas/shared/state.js';
import { awsError, type BuildStateOverrides, makeBuildState, regionOf } from '../fixtures.js';

const ec2Mock = mockClient(EC2Client);
const deps = { clients: createClients({ ec2: EC2Client }) };

/** A check's event; `retryCount`: the Check state's retries so far (`$$.State.RetryCount`). */
function event(
  want: CheckInstanceArgs['want'],
  overrides: BuildStateOverrides = {},
  retryCount?: number,
): TaskEvent<CheckInstanceArgs> {
  return {
    build: makeBuildState({ instance: { instanceId: 'i-1', architecture: 'x86_64' }, ...overrides }),
    args: { want },
    ...(retryCount === undefined ? {} : { check: { retryCount, enteredTime: '2030-01-01T00:00:00.000Z' } }),
  };
}

/** The retries after which the schedule has waited the bound (40 × delay_seconds): the check then fails. */
const lastRetry = (delaySeconds = 15) => retriesFor(POLL_SCHEDULE, INSTANCE_WAIT_MAX_ATTEMPTS * delaySeconds);

function inState(name: InstanceStateName, reason?: string) {
  ec2Mock.on(DescribeInstancesCommand).resolves({
    Reservations: [
      {
        Instances: [
          {
            InstanceId: 'i-1',
            State: { Name: name },
            ...(reason === undefined ? {} : { StateReason: { Code: reason, Message: reason } }),
          },
        ],
      },
    ],
  });
}

const previous = (attempt: number, target = 'i-1'): PollResult => ({
  done: false,
  attempt,
  waitSeconds: 15,
  status: 'pending',
  target,
});

describe('checkInstance (running)', () => {
  beforeEach(() => {
    ec2Mock.reset();
  });

  it('is done when the instance runs', async () => {
    // Prepare
    inState('running');

    // Act
    const result = await checkInstance(event('running', { config: { region: 'eu-west-1' } }), deps);

    // Assess
    expect(result).toEqual({ done: true, attempt: 1, waitSeconds: 2, status: 'running', target: 'i-1' });
    const calls = ec2Mock.commandCalls(DescribeInstancesCommand);
    expect(calls[0]?.args[0].input).toEqual({ InstanceIds: ['i-1'] });
    expect(await regionOf(calls[0]!)).toBe('eu-west-1');
  });

  it('asks the state’s Retry to check again while the instance is pending, counting its checks', async () => {
    // Prepare
    inState('pending');

    // Act
    const result = checkInstance(event('running', {}, 3), deps);

    // Assess
    await expect(result).rejects.toThrow(PollPendingError);
    await expect(result).rejects.toThrow(
      `Instance i-1 is pending (check 4, next in ${Math.round(2 * 1.08 ** 3)} s).`,
    );
  });

  it('starts counting again for another instance', async () => {
    // Prepare
    inState('running');

    // Act
    const result = await checkInstance(
      event('running', { poll: { instanceRunning: previous(30, 'i-old') } }),
      deps,
    );

    // Assess
    expect(result.attempt).toBe(1);
  });

  it('treats an instance EC2 does not know yet as pending', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound', 'not found'));

    // Act
    const result = checkInstance(event('running'), deps);

    // Assess
    await expect(result).rejects.toThrow(PollPendingError);
    await expect(result).rejects.toThrow('Instance i-1 is pending (check 1');
  });

  it.each(['shutting-down', 'terminated', 'stopping', 'stopped'] as const)(
    'fails when the instance is %s instead of running, with the state reason',
    async (state) => {
      // Prepare
      inState(state, 'Server.InsufficientInstanceCapacity: Insufficient capacity.');

      // Act
      const result = checkInstance(event('running'), deps);

      // Assess
      await expect(result).rejects.toThrow(InstanceNotRunningError);
      await expect(result).rejects.toThrow(
        `Instance i-1 entered state "${state}" instead of running: Server.InsufficientInstanceCapacity: Insufficient capacity.`,
      );
    },
  );

  it('fails when the instance is still pending once the schedule waited 40 × delay_seconds', async () => {
    // Prepare
    inState('pending');

    // Act
    const result = checkInstance(event('running', {}, lastRetry()), deps);

    // Assess
    await expect(result).rejects.toThrow(InstanceNotRunningError);
    await expect(result).rejects.toThrow(
      `Instance i-1 is still pending after ${lastRetry() + 1} checks (${Math.round(waitedSeconds(POLL_SCHEDULE, lastRetry()))} s).`,
    );
  });

  it('makes the check before the last one without failing, and scales the bound with delay_seconds', async () => {
    // Prepare
    inState('pending');

    // Act
    const before = checkInstance(event('running', {}, lastRetry() - 1), deps);
    const shorter = checkInstance(
      event('running', { config: { polling: { delaySeconds: 5, maxAttempts: 40 } } }, lastRetry(5)),
      deps,
    );

    // Assess
    await expect(before).rejects.toThrow(PollPendingError);
    await expect(shorter).rejects.toThrow(InstanceNotRunningError);
    expect(lastRetry(5)).toBeLessThan(lastRetry());
  });

  it('fails when the state has no instance', async () => {
    // Act
    const result = checkInstance({ build: makeBuildState(), args: { want: 'running' } }, deps);

    // Assess
    await expect(result).rejects.toThrow(TaskInputError);
  });
});

describe('checkInstance (terminated)', () => {
  beforeEach(() => {
    ec2Mock.reset();
  });

  it('is done when the instance is terminated', async () => {
    // Prepare
    inState('terminated');

    // Act
    const result = await checkInstance(event('terminated'), deps);

    // Assess
    expect(result).toEqual({ done: true, attempt: 1, waitSeconds: 2, status: 'terminated', target: 'i-1' });
  });

  it('counts an instance EC2 no longer knows as terminated', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound', 'gone'));

    // Act
    const result = await checkInstance(event('terminated'), deps);

    // Assess
    expect(result).toMatchObject({ done: true, status: 'terminated' });
  });

  it('asks the state’s Retry to check again while the instance is shutting down', async () => {
    // Prepare
    inState('shutting-down');

    // Act
    const result = checkInstance(event('terminated', {}, 2), deps);

    // Assess
    await expect(result).rejects.toThrow(PollPendingError);
    await expect(result).rejects.toThrow('Instance i-1 is shutting-down (check 3');
  });

  it('is done at once when the build never launched an instance', async () => {
    // Act
    const result = await checkInstance({ build: makeBuildState(), args: { want: 'terminated' } }, deps);

    // Assess
    expect(result).toMatchObject({ done: true, status: 'no instance' });
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  it('does not wait for an instance the cleanup kept on purpose', async () => {
    // Act
    const result = await checkInstance(
      event('terminated', {
        cleanup: {
          terminatedInstances: [],
          deletedSecurityGroups: [],
          deletedStagedObjects: 0,
          deregisteredImages: [],
          kept: [{ resource: 'i-1', reason: 'on_error is abort' }],
        },
      }),
      deps,
    );

    // Assess
    expect(result).toMatchObject({ done: true, status: 'kept' });
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  it('fails when the instance is still not terminated at the last check', async () => {
    // Prepare
    inState('shutting-down');

    // Act
    const result = checkInstance(event('terminated', {}, lastRetry()), deps);

    // Assess
    await expect(result).rejects.toThrow(InstanceNotTerminatedError);
    await expect(result).rejects.toThrow(
      `Instance i-1 is still shutting-down after ${lastRetry() + 1} checks`,
    );
  });
});

describe('check-instance handler', () => {
  beforeEach(() => {
    ec2Mock.reset();
  });

  it('checks the wanted state from the Step Functions payload', async () => {
    // Prepare
    inState('running');
    const { handler } = await import('../../../lambdas/check-instance/handler.js');

    // Act
    const result = await handler(event('running'));

    // Assess
    expect(result).toMatchObject({ done: true, status: 'running', target: 'i-1' });
  });

  it('fails when args.want is neither running nor terminated', async () => {
    // Prepare
    const { handler } = await import('../../../lambdas/check-instance/handler.js');

    // Act
    const result = handler({ build: makeBuildState(), args: { want: 'stopped' } });

    // Assess
    await expect(result).rejects.toThrow(TaskInputError);
    expect(ec2Mock.calls()).toHaveLength(0);
  });
});

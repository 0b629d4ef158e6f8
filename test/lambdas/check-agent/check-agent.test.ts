import { DescribeInstancesCommand, EC2Client, type InstanceStateName } from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand, type PingStatus, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { checkAgent } from '../../../lambdas/check-agent/check-agent.js';
import {
  AgentNotOnlineError,
  InstanceNotRunningError,
  PollPendingError,
} from '../../../lambdas/shared/errors.js';
import { POLL_SCHEDULE, retriesFor, waitedSeconds } from '../../../lambdas/shared/poll.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import type { PollResult, TaskEvent } from '../../../lambdas/shared/state.js';
import {
  awsError,
  type BuildStateOverrides,
  makeBuildState,
  makeEnvironment,
  regionOf,
} from '../fixtures.js';

const ec2Mock = mockClient(EC2Client);
const ssmMock = mockClient(SSMClient);
const deps = { clients: createClients({ ec2: EC2Client, ssm: SSMClient }), env: makeEnvironment() };

/** A check's event; `retryCount`: the Check state's retries so far (`$$.State.RetryCount`). */
function event(overrides: BuildStateOverrides = {}, retryCount?: number): TaskEvent {
  return {
    build: makeBuildState({
      instance: { instanceId: 'i-1', architecture: 'x86_64' },
      instanceRole: { instanceProfileName: 'AmiBuilderInstanceProfile', temporary: true },
      ...overrides,
    }),
    args: {},
    ...(retryCount === undefined ? {} : { check: { retryCount, enteredTime: '2030-01-01T00:00:00.000Z' } }),
  };
}

function agent(status?: PingStatus) {
  ssmMock.on(DescribeInstanceInformationCommand).resolves({
    InstanceInformationList: status === undefined ? [] : [{ InstanceId: 'i-1', PingStatus: status }],
  });
}

function instance(state: InstanceStateName, reason?: string) {
  ec2Mock.on(DescribeInstancesCommand).resolves({
    Reservations: [
      {
        Instances: [
          {
            InstanceId: 'i-1',
            State: { Name: state },
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
  waitSeconds: 5,
  status: 'not registered',
  target,
});

/** The retries after which the poll schedule has waited `seconds`: the check then fails. */
const lastRetry = (seconds: number) => retriesFor(POLL_SCHEDULE, seconds);

describe('checkAgent', () => {
  beforeEach(() => {
    ec2Mock.reset();
    ssmMock.reset();
  });

  it('is done when the agent reports Online, without looking at the instance', async () => {
    // Prepare
    agent('Online');

    // Act
    const result = await checkAgent(event({ config: { region: 'eu-west-1' } }), deps);

    // Assess
    expect(result).toEqual({ done: true, attempt: 1, waitSeconds: 2, status: 'Online', target: 'i-1' });
    const calls = ssmMock.commandCalls(DescribeInstanceInformationCommand);
    expect(calls[0]?.args[0].input).toEqual({ Filters: [{ Key: 'InstanceIds', Values: ['i-1'] }] });
    expect(await regionOf(calls[0]!)).toBe('eu-west-1');
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  it('asks the state’s Retry to check again while the agent has not registered and the instance runs', async () => {
    // Prepare
    agent();
    instance('running');

    // Act
    const result = checkAgent(event({}, 4), deps);

    // Assess: check 5, the next one after the schedule's fifth delay
    await expect(result).rejects.toThrow(PollPendingError);
    await expect(result).rejects.toThrow(
      `The SSM agent of instance i-1 is not registered (check 5, next in ${Math.round(2 * 1.08 ** 4)} s).`,
    );
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[0]?.args[0].input).toEqual({
      InstanceIds: ['i-1'],
    });
  });

  it('reports the agent’s last ping status while it is not Online', async () => {
    // Prepare
    agent('ConnectionLost');
    instance('running');

    // Act
    const result = checkAgent(event(), deps);

    // Assess
    await expect(result).rejects.toThrow(/is ConnectionLost \(check 1, next in 2 s\)/);
  });

  it('counts the checks of the state’s retries in its result', async () => {
    // Prepare
    agent('Online');

    // Act
    const result = await checkAgent(event({}, 9), deps);

    // Assess
    expect(result).toMatchObject({ done: true, attempt: 10, status: 'Online' });
  });

  it('fails when the instance terminated while waiting for the agent', async () => {
    // Prepare
    agent();
    instance('terminated', 'Client.InternalError: Client error on launch');

    // Act
    const result = checkAgent(event(), deps);

    // Assess
    await expect(result).rejects.toThrow(InstanceNotRunningError);
    await expect(result).rejects.toThrow(
      'Instance i-1 entered state "terminated" while waiting for its SSM agent: Client.InternalError: Client error on launch.',
    );
  });

  it('fails when EC2 no longer knows the instance', async () => {
    // Prepare
    agent();
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound', 'gone'));

    // Act
    const result = checkAgent(event(), deps);

    // Assess
    await expect(result).rejects.toThrow(InstanceNotRunningError);
  });

  it('fails when the agent is not Online by the last check, explaining the usual causes', async () => {
    // Prepare
    agent();
    instance('running');

    // Act
    const result = checkAgent(event({ config: { agentTimeoutSeconds: 120 } }, lastRetry(120)), deps);

    // Assess
    await expect(result).rejects.toThrow(AgentNotOnlineError);
    await expect(result).rejects.toThrow(
      /did not report Online within 120 s \(ssh_timeout\); last status: not registered/,
    );
    await expect(result).rejects.toThrow(/no SSM agent/);
    await expect(result).rejects.toThrow(
      /"AmiBuilderInstanceProfile" is missing or its role lacks the SSM agent's permissions/,
    );
    await expect(result).rejects.toThrow(/public IP.*NAT gateway.*VPC interface endpoints/);
  });

  it('makes the check before the last one without failing', async () => {
    // Prepare
    agent();
    instance('running');

    // Act
    const result = checkAgent(event({ config: { agentTimeoutSeconds: 120 } }, lastRetry(120) - 1), deps);

    // Assess
    await expect(result).rejects.toThrow(PollPendingError);
  });

  it('starts counting again for another instance', async () => {
    // Prepare
    agent('Online');

    // Act
    const result = await checkAgent(event({ poll: { agent: previous(59, 'i-old') } }), deps);

    // Assess
    expect(result.attempt).toBe(1);
  });

  it('bounds the wait by ssh_timeout seconds of the poll schedule', () => {
    expect(waitedSeconds(POLL_SCHEDULE, lastRetry(120))).toBeGreaterThanOrEqual(120);
    expect(waitedSeconds(POLL_SCHEDULE, lastRetry(120) - 1)).toBeLessThan(120);
    expect(lastRetry(0)).toBe(0);
  });
});

import { DescribeInstancesCommand, EC2Client, type InstanceStateName } from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand, type PingStatus, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { agentMaxAttempts, checkAgent } from '../../../lambdas/check-agent/check-agent.js';
import { AgentNotOnlineError, InstanceNotRunningError } from '../../../lambdas/shared/errors.js';
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

function event(overrides: BuildStateOverrides = {}): TaskEvent {
  return {
    build: makeBuildState({
      instance: { instanceId: 'i-1', architecture: 'x86_64' },
      instanceRole: { instanceProfileName: 'AmiBuilderInstanceProfile', temporary: true },
      ...overrides,
    }),
    args: {},
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
    expect(result).toEqual({ done: true, attempt: 1, waitSeconds: 5, status: 'Online', target: 'i-1' });
    const calls = ssmMock.commandCalls(DescribeInstanceInformationCommand);
    expect(calls[0]?.args[0].input).toEqual({ Filters: [{ Key: 'InstanceIds', Values: ['i-1'] }] });
    expect(await regionOf(calls[0]!)).toBe('eu-west-1');
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  it('waits 5 s while the agent has not registered and the instance runs', async () => {
    // Prepare
    agent();
    instance('running');

    // Act
    const result = await checkAgent(event({ poll: { agent: previous(4) } }), deps);

    // Assess
    expect(result).toEqual({
      done: false,
      attempt: 5,
      waitSeconds: 5,
      status: 'not registered',
      target: 'i-1',
    });
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[0]?.args[0].input).toEqual({
      InstanceIds: ['i-1'],
    });
  });

  it('reports the agent’s last ping status while it is not Online', async () => {
    // Prepare
    agent('ConnectionLost');
    instance('running');

    // Act
    const result = await checkAgent(event(), deps);

    // Assess
    expect(result).toMatchObject({ done: false, attempt: 1, status: 'ConnectionLost' });
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
    const result = checkAgent(
      event({ config: { agentTimeoutSeconds: 120 }, poll: { agent: previous(23) } }),
      deps,
    );

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
    const result = await checkAgent(
      event({ config: { agentTimeoutSeconds: 120 }, poll: { agent: previous(22) } }),
      deps,
    );

    // Assess
    expect(result).toMatchObject({ done: false, attempt: 23 });
  });

  it('starts counting again for another instance', async () => {
    // Prepare
    agent();
    instance('pending');

    // Act
    const result = await checkAgent(event({ poll: { agent: previous(59, 'i-old') } }), deps);

    // Assess
    expect(result.attempt).toBe(1);
  });

  it('bounds the wait by ceil(ssh_timeout / 5) checks', () => {
    expect(agentMaxAttempts(300)).toBe(60);
    expect(agentMaxAttempts(301)).toBe(61);
    expect(agentMaxAttempts(0)).toBe(1);
  });
});

import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CleanupArgs } from '../../../lambdas/shared/cleanup-report.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import type { TaskEvent } from '../../../lambdas/shared/state.js';
import { terminateInstance } from '../../../lambdas/terminate-instance/terminate-instance.js';
import { awsError, type BuildStateOverrides, makeBuildState, regionOf } from '../fixtures.js';

const ec2Mock = mockClient(EC2Client);
const deps = { clients: createClients({ ec2: EC2Client }), env: { stackName: 'AmiBuilder' } };
const INSTANCE_ID = 'i-0123456789abcdef0';

/** DescribeInstances answers with the build instance carrying these tags. */
function instanceTagged(tags: { Key: string; Value: string }[]) {
  ec2Mock
    .on(DescribeInstancesCommand)
    .resolves({ Reservations: [{ Instances: [{ InstanceId: INSTANCE_ID, Tags: tags }] }] });
}

function event(reason: CleanupArgs['reason'], overrides: BuildStateOverrides = {}): TaskEvent<CleanupArgs> {
  return {
    build: makeBuildState({ instance: { instanceId: 'i-0123456789abcdef0' }, ...overrides }),
    args: { reason },
  };
}

describe('terminateInstance', () => {
  beforeEach(() => {
    ec2Mock.reset();
    instanceTagged([{ Key: 'ami-builder:stack', Value: 'AmiBuilder' }]);
  });
  afterEach(() => {
    ec2Mock.reset();
  });

  it('terminates the build instance in the build region', async () => {
    // Prepare
    ec2Mock.on(TerminateInstancesCommand).resolves({});

    // Act
    const report = await terminateInstance(event('success', { config: { region: 'eu-west-1' } }), deps);

    // Assess
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[0]?.args[0].input).toEqual({
      InstanceIds: [INSTANCE_ID],
    });
    const calls = ec2Mock.commandCalls(TerminateInstancesCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({ InstanceIds: ['i-0123456789abcdef0'] });
    expect(await regionOf(calls[0]!)).toBe('eu-west-1');
    expect(report).toEqual({
      terminatedInstances: ['i-0123456789abcdef0'],
      deletedSecurityGroups: [],
      deletedStagedObjects: 0,
      deregisteredImages: [],
      kept: [],
    });
  });

  it('does nothing when the build failed before an instance was launched', async () => {
    // Act
    const report = await terminateInstance(event('failure', { instance: undefined }), deps);

    // Assess
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(report.terminatedInstances).toEqual([]);
    expect(report.kept).toEqual([]);
  });

  it('keeps the instance of a failed build when on_error is abort and says how to terminate it', async () => {
    // Act
    const report = await terminateInstance(event('failure', { config: { onError: 'abort' } }), deps);

    // Assess
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(report.terminatedInstances).toEqual([]);
    expect(report.kept).toEqual([
      {
        resource: 'instance i-0123456789abcdef0 (us-east-1)',
        reason:
          'on_error is abort: kept for debugging; terminate it with: ' +
          'aws ec2 terminate-instances --region us-east-1 --instance-ids i-0123456789abcdef0',
      },
    ]);
  });

  it('terminates the instance of a successful build even when on_error is abort', async () => {
    // Prepare
    ec2Mock.on(TerminateInstancesCommand).resolves({});

    // Act
    const report = await terminateInstance(event('success', { config: { onError: 'abort' } }), deps);

    // Assess
    expect(ec2Mock.commandCalls(TerminateInstancesCommand)).toHaveLength(1);
    expect(report.terminatedInstances).toEqual(['i-0123456789abcdef0']);
    expect(report.kept).toEqual([]);
  });

  it('treats an instance that is already gone as terminated', async () => {
    // Prepare
    ec2Mock
      .on(TerminateInstancesCommand)
      .rejects(
        awsError('InvalidInstanceID.NotFound', "The instance ID 'i-0123456789abcdef0' does not exist"),
      );

    // Act
    const report = await terminateInstance(event('failure'), deps);

    // Assess
    expect(report.terminatedInstances).toEqual(['i-0123456789abcdef0']);
  });

  it('returns the same report when invoked again', async () => {
    // Prepare
    ec2Mock.on(TerminateInstancesCommand).resolves({});
    const first = await terminateInstance(event('success'), deps);

    // Act
    const second = await terminateInstance(event('success'), deps);

    // Assess
    expect(second).toEqual(first);
  });

  it('refuses to terminate an instance that does not carry this stack’s tag, and reports it left behind', async () => {
    // Prepare
    instanceTagged([{ Key: 'ami-builder:stack', Value: 'OtherStack' }]);

    // Act
    const report = await terminateInstance(event('success'), deps);

    // Assess
    expect(report.terminatedInstances).toEqual([]);
    expect(report.leaked).toEqual([
      {
        type: 'instance',
        id: INSTANCE_ID,
        region: 'us-east-1',
        reason:
          `not terminated: ResourceNotOwnedError: Refusing to touch instance ${INSTANCE_ID} in us-east-1: it does ` +
          "not carry ami-builder:stack=AmiBuilder (found 'OtherStack'), so this stack did not create it",
        hint: `aws ec2 terminate-instances --region us-east-1 --instance-ids ${INSTANCE_ID}`,
      },
    ]);
    expect(ec2Mock.commandCalls(TerminateInstancesCommand)).toHaveLength(0);
  });

  it('counts an instance that no longer exists as terminated, without calling TerminateInstances', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound', 'gone'));

    // Act
    const report = await terminateInstance(event('success'), deps);

    // Assess
    expect(report.terminatedInstances).toEqual([INSTANCE_ID]);
    expect(ec2Mock.commandCalls(TerminateInstancesCommand)).toHaveLength(0);
  });

  it('reports the instance left behind, with the error and the command, when TerminateInstances is refused', async () => {
    // Prepare
    ec2Mock.on(TerminateInstancesCommand).rejects(awsError('UnauthorizedOperation', 'not allowed', 403));

    // Act
    const report = await terminateInstance(event('failure'), deps);

    // Assess
    expect(report).toEqual({
      terminatedInstances: [],
      deletedSecurityGroups: [],
      deletedStagedObjects: 0,
      deregisteredImages: [],
      kept: [],
      leaked: [
        {
          type: 'instance',
          id: INSTANCE_ID,
          region: 'us-east-1',
          reason: 'not terminated: UnauthorizedOperation: not allowed',
          hint: `aws ec2 terminate-instances --region us-east-1 --instance-ids ${INSTANCE_ID}`,
        },
      ],
    });
  });

  it('fails when TerminateInstances is throttled, so that the state retries', async () => {
    // Prepare
    ec2Mock.on(TerminateInstancesCommand).rejects(awsError('RequestLimitExceeded', 'slow down', 503));

    // Act
    const result = terminateInstance(event('success'), deps);

    // Assess
    await expect(result).rejects.toMatchObject({ name: 'RequestLimitExceeded' });
  });
});

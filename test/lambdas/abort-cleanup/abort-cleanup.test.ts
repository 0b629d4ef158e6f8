import {
  DeleteSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeRegionsCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  type Filter,
  type Instance,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  DeleteInstanceProfileCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  IAMClient,
  ListInstanceProfilesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  RemoveRoleFromInstanceProfileCommand,
} from '@aws-sdk/client-iam';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AbortCleanupDeps,
  abortCleanup,
  parseExecutionArn,
  parseStatusChange,
  regionsFromInput,
} from '../../../lambdas/abort-cleanup/abort-cleanup.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import { awsError, EXECUTION_ID, makeEnvironment, regionOf } from '../fixtures.js';

const ec2Mock = mockClient(EC2Client);
const s3Mock = mockClient(S3Client);
const sfnMock = mockClient(SFNClient);
const iamMock = mockClient(IAMClient);

const HOME = 'us-east-1';
const TEMPLATE = {
  variables: { copy_region: 'eu-west-1' },
  builders: [
    { type: 'amazon-instance', region: 'us-west-2', ami_regions: ['{{user `copy_region`}}'], ami_name: 'x' },
  ],
};

/** The EventBridge event for the fixture execution. */
function statusChange(status = 'ABORTED', input: unknown = TEMPLATE, included = true) {
  return {
    version: '0',
    id: 'e1',
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    region: HOME,
    detail: {
      executionArn: EXECUTION_ID,
      stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:AmiBuilderStateMachine',
      name: 'build-2024-01-02',
      status,
      input: included ? JSON.stringify(input) : null,
      inputDetails: { included },
    },
  };
}

const tag = (Key: string, Value: string) => ({ Key, Value });
const OWNED = [tag('ami-builder:stack', 'AmiBuilder'), tag('ami-builder:execution', EXECUTION_ID)];

interface FakeInstance {
  id: string;
  state: string;
  groups: string[];
  keep?: boolean;
  /** How many DescribeInstances by id still show it shutting down after TerminateInstances. */
  shutdownChecks?: number;
}

/** A small EC2 world per region, answering the calls Abort Cleanup makes. */
class FakeEc2 {
  instances = new Map<string, FakeInstance[]>();
  groups = new Map<string, { id: string; keep?: boolean; inUseFor?: number }[]>();
  images = new Map<string, string[]>();
  failing = new Map<string, string>();

  install() {
    const regionOfClient = async (getClient: () => unknown) => (getClient() as EC2Client).config.region();
    const toInstance = (i: FakeInstance): Instance => ({
      InstanceId: i.id,
      State: { Name: i.state as never },
      SecurityGroups: i.groups.map((GroupId) => ({ GroupId })),
      Tags: [...OWNED, tag('ami-builder:on-error', i.keep ? 'keep' : 'cleanup')],
    });
    ec2Mock.on(DescribeInstancesCommand).callsFake(async (input: { Filters?: Filter[] }, getClient) => {
      const region = await regionOfClient(getClient);
      const failure = this.failing.get(region);
      if (failure !== undefined) throw awsError(failure, failure, 403);
      const all = this.instances.get(region) ?? [];
      const ids = input.Filters?.find((f) => f.Name === 'instance-id')?.Values;
      if (ids !== undefined) {
        const found = all.filter((i) => ids.includes(i.id));
        for (const i of found) {
          if (i.state === 'shutting-down') {
            if ((i.shutdownChecks ?? 0) <= 0) i.state = 'terminated';
            else i.shutdownChecks = (i.shutdownChecks ?? 0) - 1;
          }
        }
        return { Reservations: [{ Instances: found.map(toInstance) }] };
      }
      const states = input.Filters?.find((f) => f.Name === 'instance-state-name')?.Values ?? [];
      return { Reservations: [{ Instances: all.filter((i) => states.includes(i.state)).map(toInstance) }] };
    });
    ec2Mock.on(TerminateInstancesCommand).callsFake(async (input: { InstanceIds: string[] }, getClient) => {
      const region = await regionOfClient(getClient);
      for (const i of this.instances.get(region) ?? []) {
        if (input.InstanceIds.includes(i.id) && i.state !== 'terminated') i.state = 'shutting-down';
      }
      return {};
    });
    ec2Mock.on(DescribeSecurityGroupsCommand).callsFake(async (_input, getClient) => {
      const region = await regionOfClient(getClient);
      return {
        SecurityGroups: (this.groups.get(region) ?? []).map((g) => ({
          GroupId: g.id,
          Tags: [...OWNED, tag('ami-builder:on-error', g.keep ? 'keep' : 'cleanup')],
        })),
      };
    });
    ec2Mock.on(DeleteSecurityGroupCommand).callsFake(async (input: { GroupId: string }, getClient) => {
      const region = await regionOfClient(getClient);
      const groups = this.groups.get(region) ?? [];
      const group = groups.find((g) => g.id === input.GroupId);
      if (group === undefined) throw awsError('InvalidGroup.NotFound');
      if ((group.inUseFor ?? 0) > 0) {
        group.inUseFor = (group.inUseFor ?? 0) - 1;
        throw awsError('DependencyViolation', `resource ${group.id} has a dependent object`);
      }
      this.groups.set(
        region,
        groups.filter((g) => g !== group),
      );
      return {};
    });
    ec2Mock.on(DescribeImagesCommand).callsFake(async (_input, getClient) => {
      const region = await regionOfClient(getClient);
      return { Images: (this.images.get(region) ?? []).map((ImageId) => ({ ImageId })) };
    });
    ec2Mock.on(DescribeRegionsCommand).resolves({
      Regions: [{ RegionName: 'us-east-1' }, { RegionName: 'us-west-2' }, { RegionName: 'ap-south-1' }],
    });
  }
}

function makeDeps(overrides: Partial<AbortCleanupDeps> = {}) {
  let now = new Date('2024-01-02T01:00:00.000Z').getTime();
  const sleeps: number[] = [];
  const lines: string[] = [];
  const deps: AbortCleanupDeps = {
    clients: createClients({ ec2: EC2Client, s3: S3Client, sfn: SFNClient, iam: IAMClient }),
    env: makeEnvironment(),
    homeRegion: HOME,
    clock: { now: () => new Date(now) },
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    log: (line) => lines.push(line),
    ...overrides,
  };
  return { deps, sleeps, lines };
}

const STAGED_PREFIX = 'staging/build-2024-01-02/';

async function regionsCalled(command: Parameters<typeof ec2Mock.commandCalls>[0]): Promise<string[]> {
  const calls = ec2Mock.commandCalls(command);
  return [...new Set(await Promise.all(calls.map((c) => regionOf(c))))].sort();
}

describe('abortCleanup', () => {
  let world: FakeEc2;

  beforeEach(() => {
    ec2Mock.reset();
    s3Mock.reset();
    sfnMock.reset();
    iamMock.reset();
    iamMock.on(ListRolesCommand).resolves({ Roles: [], IsTruncated: false });
    iamMock.on(ListInstanceProfilesCommand).resolves({ InstanceProfiles: [], IsTruncated: false });
    world = new FakeEc2();
    world.install();
    s3Mock.on(ListObjectsV2Command).resolves({
      Contents: [
        { Key: `${STAGED_PREFIX}amazon-instance/commands/02-x509/cert.pem` },
        { Key: `${STAGED_PREFIX}a/b` },
      ],
      IsTruncated: false,
    });
    s3Mock.on(DeleteObjectsCommand).resolves({});
  });
  afterEach(() => {
    ec2Mock.reset();
    s3Mock.reset();
    sfnMock.reset();
    iamMock.reset();
  });

  describe('temporary instance roles', () => {
    const PATH = '/ami-builder/AmiBuilder/build-2024-01-02/';
    const role = (name: string, tags: Record<string, string>) => {
      iamMock.on(ListRoleTagsCommand, { RoleName: name }).resolves({
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      });
      return { RoleName: name, Path: PATH } as never;
    };
    const ours = { 'ami-builder:stack': 'AmiBuilder', 'ami-builder:execution': EXECUTION_ID };

    beforeEach(() => {
      iamMock.on(GetInstanceProfileCommand).callsFake(async (input: { InstanceProfileName: string }) => ({
        InstanceProfile: {
          InstanceProfileName: input.InstanceProfileName,
          Path: PATH,
          Roles: [{ RoleName: input.InstanceProfileName }],
        },
      }));
      iamMock.on(GetRoleCommand).callsFake(async (input: { RoleName: string }) => ({
        Role: { RoleName: input.RoleName, Path: PATH },
      }));
      iamMock.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['ami-builder-build'] });
      iamMock.on(RemoveRoleFromInstanceProfileCommand).resolves({});
      iamMock.on(DeleteInstanceProfileCommand).resolves({});
      iamMock.on(DeleteRolePolicyCommand).resolves({});
      iamMock.on(DeleteRoleCommand).resolves({});
    });

    it('deletes a role a resumed build adopted under the failed execution’s path, and no other execution’s', async () => {
      // Prepare
      const failedPath = '/ami-builder/AmiBuilder/failed-build/';
      const adopted = role('build-a-9', { ...ours, 'ami-builder:resumed-from': `${EXECUTION_ID}-failed` });
      const other = role('build-z-8', { ...ours, 'ami-builder:execution': `${EXECUTION_ID}-other` });
      iamMock.on(ListRolesCommand).resolves({
        Roles: [
          { ...(adopted as object), Path: failedPath },
          { ...(other as object), Path: '/ami-builder/AmiBuilder/other/' },
        ] as never,
        IsTruncated: false,
      });
      iamMock.on(GetRoleCommand, { RoleName: 'build-a-9' }).resolves({
        Role: { RoleName: 'build-a-9', Path: failedPath } as never,
      });
      iamMock.on(GetInstanceProfileCommand, { InstanceProfileName: 'build-a-9' }).resolves({
        InstanceProfile: {
          InstanceProfileName: 'build-a-9',
          Path: failedPath,
          Roles: [{ RoleName: 'build-a-9' }],
        } as never,
      });
      const { deps } = makeDeps();

      // Act
      const report = await abortCleanup(parseStatusChange(statusChange()), deps);

      // Assess
      expect(report.deletedInstanceRoles).toEqual(['build-a-9']);
      expect(iamMock.commandCalls(DeleteRoleCommand).map((c) => c.args[0].input.RoleName)).toEqual([
        'build-a-9',
      ]);
    });

    it('deletes the execution’s roles found under its path, and keeps those tagged keep', async () => {
      // Prepare
      iamMock.on(ListRolesCommand).resolves({
        Roles: [
          role('build-a-1', ours),
          role('build-b-2', { ...ours, 'ami-builder:on-error': 'keep' }),
          role('build-c-3', { ...ours, 'ami-builder:execution': `${EXECUTION_ID}-older` }),
        ],
        IsTruncated: false,
      });
      const { deps } = makeDeps();

      // Act
      const report = await abortCleanup(parseStatusChange(statusChange()), deps);

      // Assess
      expect(iamMock.commandCalls(ListRolesCommand)[0]?.args[0].input).toMatchObject({
        PathPrefix: '/ami-builder/AmiBuilder/',
      });
      expect(report.deletedInstanceRoles).toEqual(['build-a-1']);
      expect(iamMock.commandCalls(DeleteRoleCommand).map((c) => c.args[0].input.RoleName)).toEqual([
        'build-a-1',
      ]);
      expect(report.kept).toContainEqual({
        resource: `instance role and profile ${PATH}build-b-2 (IAM)`,
        reason: expect.stringContaining('kept for debugging'),
      });
    });

    it('reports the roles as not cleaned up when IAM cannot be listed', async () => {
      // Prepare
      iamMock.on(ListRolesCommand).rejects(awsError('AccessDenied', 'no', 403));
      const { deps } = makeDeps();

      // Act
      const report = await abortCleanup(parseStatusChange(statusChange()), deps);

      // Assess
      expect(report.kept).toContainEqual({
        resource: `instance roles under ${PATH} (IAM)`,
        reason: expect.stringContaining('AccessDenied'),
      });
      expect(report.terminatedInstances).toEqual([]);
    });
  });

  it('finds the execution’s resources by tag in every region it used and removes them', async () => {
    // Prepare
    world.instances.set('us-west-2', [{ id: 'i-1', state: 'running', groups: ['sg-1'], shutdownChecks: 1 }]);
    world.groups.set('us-west-2', [{ id: 'sg-1' }]);
    world.images.set('eu-west-1', ['ami-copy']);
    const { deps, sleeps, lines } = makeDeps();

    // Act
    const report = await abortCleanup(parseStatusChange(statusChange()), deps);

    // Assess
    expect(report).toEqual({
      terminatedInstances: ['i-1'],
      deletedSecurityGroups: ['sg-1'],
      deletedStagedObjects: 2,
      deregisteredImages: [],
      kept: [
        {
          resource: 'AMI ami-copy (eu-west-1)',
          reason:
            'registered by this execution; registered AMIs are kept, as Packer keeps them; remove it with: ' +
            'aws ec2 deregister-image --region eu-west-1 --image-id ami-copy',
        },
      ],
    });
    expect(await regionsCalled(DescribeInstancesCommand)).toEqual(['eu-west-1', 'us-east-1', 'us-west-2']);
    expect(await regionsCalled(DescribeSecurityGroupsCommand)).toEqual([
      'eu-west-1',
      'us-east-1',
      'us-west-2',
    ]);
    expect(ec2Mock.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input)).toEqual([
      { InstanceIds: ['i-1'] },
    ]);
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[0]?.args[0].input.Filters).toEqual([
      { Name: 'tag:ami-builder:stack', Values: ['AmiBuilder'] },
      { Name: 'tag:ami-builder:execution', Values: [EXECUTION_ID] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'shutting-down', 'stopping', 'stopped'] },
    ]);
    expect(ec2Mock.commandCalls(DescribeImagesCommand)[0]?.args[0].input).toMatchObject({ Owners: ['self'] });
    expect(sleeps).toEqual([5000]);
    expect(s3Mock.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toMatchObject({
      Bucket: 'staging-bucket',
      Prefix: STAGED_PREFIX,
    });
    expect(sfnMock.calls()).toHaveLength(0);
    expect(lines).toEqual([
      `Abort cleanup of ${EXECUTION_ID} (ABORTED) in eu-west-1, us-east-1, us-west-2: terminated instance i-1; ` +
        'deleted security group sg-1; deleted 2 staged objects; kept 1 resource',
    ]);
  });

  it('keeps resources tagged ami-builder:on-error=keep and the groups their instances use', async () => {
    // Prepare
    world.instances.set('us-west-2', [
      { id: 'i-keep', state: 'running', groups: ['sg-shared'], keep: true },
      { id: 'i-1', state: 'stopped', groups: ['sg-1'] },
    ]);
    world.groups.set('us-west-2', [{ id: 'sg-keep', keep: true }, { id: 'sg-shared' }, { id: 'sg-1' }]);
    const { deps } = makeDeps();

    // Act
    const report = await abortCleanup(parseStatusChange(statusChange('TIMED_OUT')), deps);

    // Assess
    expect(ec2Mock.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input)).toEqual([
      { InstanceIds: ['i-1'] },
    ]);
    expect(ec2Mock.commandCalls(DeleteSecurityGroupCommand).map((c) => c.args[0].input)).toEqual([
      { GroupId: 'sg-1' },
    ]);
    expect(report.terminatedInstances).toEqual(['i-1']);
    expect(report.deletedSecurityGroups).toEqual(['sg-1']);
    expect(report.kept.map((k) => k.resource)).toEqual([
      'instance i-keep (us-west-2)',
      'security group sg-keep (us-west-2)',
      'security group sg-shared (us-west-2)',
    ]);
    expect(report.kept[0]?.reason).toBe(
      'tagged ami-builder:on-error=keep (on_error is abort): kept for debugging; terminate it with: ' +
        'aws ec2 terminate-instances --region us-west-2 --instance-ids i-keep',
    );
    expect(report.kept[2]?.reason).toContain('in use by instance i-keep, which is not terminated');
  });

  it('retries a security group still in use, with backoff, until it can be deleted', async () => {
    // Prepare
    world.groups.set('us-west-2', [{ id: 'sg-1', inUseFor: 2 }]);
    const { deps, sleeps } = makeDeps();

    // Act
    const report = await abortCleanup(parseStatusChange(statusChange()), deps);

    // Assess
    expect(report.deletedSecurityGroups).toEqual(['sg-1']);
    expect(sleeps).toEqual([5000, 10_000]);
    expect(ec2Mock.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(3);
  });

  it('reports a security group that is still in use when the time budget runs out', async () => {
    // Prepare
    world.groups.set('us-west-2', [{ id: 'sg-1', inUseFor: 1000 }]);
    const { deps, sleeps } = makeDeps({
      timing: { instanceWaitSeconds: 10, securityGroupWaitSeconds: 60, pollIntervalSeconds: 5 },
    });

    // Act
    const report = await abortCleanup(parseStatusChange(statusChange()), deps);

    // Assess
    expect(sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(70_000);
    expect(report.deletedSecurityGroups).toEqual([]);
    expect(report.kept).toEqual([
      {
        resource: 'security group sg-1 (us-west-2)',
        reason:
          'still in use (DependencyViolation) after 60 s; delete it once its instance is terminated with: ' +
          'aws ec2 delete-security-group --region us-west-2 --group-id sg-1',
      },
    ]);
  });

  it('reports an instance that does not terminate in time and does not try to delete its group', async () => {
    // Prepare
    world.instances.set('us-west-2', [
      { id: 'i-slow', state: 'running', groups: ['sg-1'], shutdownChecks: 1000 },
    ]);
    world.groups.set('us-west-2', [{ id: 'sg-1' }]);
    const { deps, sleeps } = makeDeps();

    // Act
    const report = await abortCleanup(parseStatusChange(statusChange()), deps);

    // Assess
    expect(sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(240_000);
    expect(sleeps.length).toBeGreaterThan(40);
    expect(ec2Mock.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(0);
    expect(report.terminatedInstances).toEqual([]);
    expect(report.kept.map((k) => k.resource)).toEqual([
      'instance i-slow (us-west-2)',
      'security group sg-1 (us-west-2)',
    ]);
    expect(report.kept[0]?.reason).toMatch(/^still shutting-down after 240 s; terminate it with: /);
  });

  it('only sweeps what is left after a FAILED execution, and a second call does nothing', async () => {
    // Prepare: the failure path already terminated the instance and deleted the group.
    world.instances.set('us-west-2', [{ id: 'i-1', state: 'terminated', groups: ['sg-1'] }]);
    s3Mock.on(ListObjectsV2Command).resolves({ IsTruncated: false });
    const { deps, lines } = makeDeps();

    // Act
    const first = await abortCleanup(parseStatusChange(statusChange('FAILED')), deps);
    const second = await abortCleanup(parseStatusChange(statusChange('FAILED')), deps);

    // Assess
    expect(first).toEqual(second);
    expect(first).toEqual({
      terminatedInstances: [],
      deletedSecurityGroups: [],
      deletedStagedObjects: 0,
      deregisteredImages: [],
      kept: [],
    });
    expect(ec2Mock.commandCalls(TerminateInstancesCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(0);
    expect(s3Mock.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
    expect(lines[1]).toMatch(/\(FAILED\) in eu-west-1, us-east-1, us-west-2: nothing to clean up$/);
  });

  it('terminates the others when one found instance is already gone', async () => {
    // Prepare
    world.instances.set('us-west-2', [
      { id: 'i-1', state: 'running', groups: [] },
      { id: 'i-2', state: 'running', groups: [] },
    ]);
    ec2Mock.on(TerminateInstancesCommand).callsFake(async (input: { InstanceIds: string[] }) => {
      if (input.InstanceIds.includes('i-2')) throw awsError('InvalidInstanceID.NotFound');
      for (const i of world.instances.get('us-west-2') ?? [])
        if (input.InstanceIds.includes(i.id)) i.state = 'terminated';
      return {};
    });
    const { deps } = makeDeps();

    // Act
    const report = await abortCleanup(parseStatusChange(statusChange()), deps);

    // Assess
    expect(ec2Mock.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([
      ['i-1', 'i-2'],
      ['i-1'],
      ['i-2'],
    ]);
    expect(report.kept).toEqual([
      { resource: 'instance i-2 (us-west-2)', reason: expect.stringContaining('still running') },
    ]);
    expect(report.terminatedInstances).toEqual(['i-1']);
  });

  it('reads the input with DescribeExecution when the event does not include it', async () => {
    // Prepare
    sfnMock.on(DescribeExecutionCommand).resolves({ input: JSON.stringify(TEMPLATE) });
    const { deps } = makeDeps();

    // Act
    await abortCleanup(parseStatusChange(statusChange('ABORTED', TEMPLATE, false)), deps);

    // Assess
    const calls = sfnMock.commandCalls(DescribeExecutionCommand);
    expect(calls.map((c) => c.args[0].input)).toEqual([{ executionArn: EXECUTION_ID }]);
    expect(await regionOf(calls[0]!)).toBe('us-east-1');
    expect(await regionsCalled(DescribeInstancesCommand)).toEqual(['eu-west-1', 'us-east-1', 'us-west-2']);
  });

  it('sweeps every enabled region when a region cannot be resolved from the input', async () => {
    // Prepare
    const template = { builders: [{ type: 'amazon-instance', region: '{{env `AWS_REGION`}}' }] };
    world.instances.set('ap-south-1', [{ id: 'i-far', state: 'running', groups: [] }]);
    const { deps, lines } = makeDeps();

    // Act
    const report = await abortCleanup(parseStatusChange(statusChange('ABORTED', template)), deps);

    // Assess
    expect(await regionsCalled(DescribeInstancesCommand)).toEqual(['ap-south-1', 'us-east-1', 'us-west-2']);
    expect(report.terminatedInstances).toEqual(['i-far']);
    expect(lines[0]).toContain('cannot resolve region "{{env `AWS_REGION`}}": swept every enabled region');
  });

  it('sweeps every enabled region when the execution input cannot be read', async () => {
    // Prepare
    sfnMock.on(DescribeExecutionCommand).rejects(awsError('AccessDeniedException', 'no', 400));
    const { deps } = makeDeps();

    // Act
    await abortCleanup(parseStatusChange(statusChange('ABORTED', TEMPLATE, false)), deps);

    // Assess
    expect(ec2Mock.commandCalls(DescribeRegionsCommand)).toHaveLength(1);
    expect(await regionsCalled(DescribeInstancesCommand)).toEqual(['ap-south-1', 'us-east-1', 'us-west-2']);
  });

  it('reports a region it cannot sweep and still sweeps the others', async () => {
    // Prepare
    world.failing.set('eu-west-1', 'UnauthorizedOperation');
    world.instances.set('us-west-2', [{ id: 'i-1', state: 'running', groups: [] }]);
    const { deps } = makeDeps();

    // Act
    const report = await abortCleanup(parseStatusChange(statusChange()), deps);

    // Assess
    expect(report.terminatedInstances).toEqual(['i-1']);
    expect(report.kept).toEqual([
      {
        resource: 'instances (eu-west-1)',
        reason:
          'could not be cleaned up (UnauthorizedOperation); look for resources tagged ami-builder:execution',
      },
    ]);
  });

  it('deletes only the execution’s staged files after a successful execution', async () => {
    // Prepare
    world.instances.set('us-west-2', [{ id: 'i-1', state: 'running', groups: [] }]);
    const { deps } = makeDeps();

    // Act
    const report = await abortCleanup(parseStatusChange(statusChange('SUCCEEDED')), deps);

    // Assess
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(s3Mock.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toMatchObject({
      Prefix: expect.stringMatching(/^staging\/[^/]+\/$/),
    });
    expect(report.terminatedInstances).toEqual([]);
    expect(report.deletedStagedObjects).toBeGreaterThan(0);
  });

  it('changes nothing for an execution that is still running', async () => {
    // Prepare
    world.instances.set('us-west-2', [{ id: 'i-1', state: 'running', groups: [] }]);
    const { deps, lines } = makeDeps();

    // Act
    const report = await abortCleanup(parseStatusChange(statusChange('RUNNING')), deps);

    // Assess
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(s3Mock.calls()).toHaveLength(0);
    expect(report.terminatedInstances).toEqual([]);
    expect(lines).toEqual([`Abort cleanup of ${EXECUTION_ID}: status RUNNING needs no cleanup`]);
  });
});

describe('parseStatusChange', () => {
  it('fails when the event is not a status-change event', () => {
    expect(() => parseStatusChange({ build: {}, args: {} })).toThrow(
      expect.objectContaining({ name: 'TaskInputError' }),
    );
  });
});

describe('regionsFromInput', () => {
  it('finds the build region and the copy regions of every amazon-instance builder', () => {
    // Prepare
    const input = {
      builders: [
        { type: 'amazon-instance', region: 'us-east-1', ami_regions: ['us-west-2', 'eu-west-1'] },
        { type: 'amazon-instance', name: 'b', region: 'ap-southeast-2' },
        { type: 'amazon-ebs', region: 'sa-east-1' },
      ],
    };

    // Act
    const found = regionsFromInput(input);

    // Assess
    expect(found).toEqual({
      regions: ['ap-southeast-2', 'eu-west-1', 'us-east-1', 'us-west-2'],
      builders: 2,
      unresolved: [],
    });
  });

  it('reads a template nested in the input as a JSON string, with the execution’s variables first', () => {
    // Prepare
    const template = {
      variables: { region: 'us-east-1', copies: 'eu-west-1,eu-central-1' },
      builders: [
        { type: 'amazon-instance', region: '{{user `region`}}', ami_regions: '{{ user "copies" }}' },
      ],
    };
    const input = { template: JSON.stringify(template), variables: { region: 'us-gov-west-1' } };

    // Act
    const found = regionsFromInput(input);

    // Assess
    expect(found).toEqual({
      regions: ['eu-central-1', 'eu-west-1', 'us-gov-west-1'],
      builders: 1,
      unresolved: [],
    });
  });

  it('reports region values it cannot resolve', () => {
    // Act
    const found = regionsFromInput({
      builders: [{ type: 'amazon-instance', region: '{{user `nope`}}' }, { type: 'amazon-instance' }],
    });

    // Assess
    expect(found.regions).toEqual([]);
    expect(found.unresolved).toEqual(['(region not given)', '{{user `nope`}}']);
  });
});

describe('parseExecutionArn', () => {
  it('reads the region and the execution name', () => {
    expect(parseExecutionArn(EXECUTION_ID)).toEqual({ region: 'us-east-1', name: 'build-2024-01-02' });
  });
});

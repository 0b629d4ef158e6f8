/**
 * Sweep Orphans against the emulator: what a killed execution left is removed (through Abort Cleanup's code, as
 * the deployed function invokes it), and nothing else: a running execution's instance, another stack's, a
 * finished AMI, a published AMI, a build that ended minutes ago.
 */
import {
  CreateSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateRoleCommand, IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator, useEmulatorEnvironment } from '../../../emulator/index.js';
import { abortCleanup } from '../../../lambdas/abort-cleanup/abort-cleanup.js';
import { executionRolePath } from '../../../lambdas/shared/instance-role.js';
import { createClients, TagKeys } from '../../../lambdas/shared/runtime.js';
import {
  type ExecutionState,
  type SweepDeps,
  type SweepReport,
  sweepOrphans,
} from '../../../lambdas/sweep-orphans/sweep-orphans.js';
import { SIMULATED } from '../../emulator/clients.js';

const REGION = 'us-east-1';
const STACK = 'AmiBuilder';
const STAGING = 'sweep-staging';
const BUNDLES = 'ami-builder-bundles';
const ACCOUNT = '123456789012';
const NOW = new Date('2030-01-01T12:00:00Z');
const HOURS_AGO = (h: number) => new Date(NOW.getTime() - h * 3_600_000);
const arn = (name: string) => `arn:aws:states:${REGION}:${ACCOUNT}:execution:${STACK}-builds:${name}`;

const KILLED = arn('killed');
const RUNNING = arn('running');
const SUCCEEDED = arn('succeeded');
const PUBLISHED = arn('published');
const RECENT = arn('recent');

const STATES: Record<string, ExecutionState> = {
  [KILLED]: { status: 'ABORTED', stopDate: HOURS_AGO(3) },
  [RUNNING]: { status: 'RUNNING' },
  [SUCCEEDED]: { status: 'SUCCEEDED', stopDate: HOURS_AGO(5) },
  [PUBLISHED]: { status: 'FAILED', stopDate: HOURS_AGO(5) },
  [RECENT]: { status: 'FAILED', stopDate: new Date(NOW.getTime() - 10 * 60_000) },
};

let emulator: Emulator;
let restoreEnv: () => void;
let clients: SweepDeps['clients'] & ReturnType<typeof createClients<'events' | 'sns'>>;

beforeAll(async () => {
  emulator = await startEmulator(SIMULATED);
  restoreEnv = useEmulatorEnvironment(emulator.endpoint);
  clients = createClients({
    ec2: EC2Client,
    s3: S3Client,
    sfn: SFNClient,
    iam: IAMClient,
    ssm: SSMClient,
    sts: STSClient,
    events: EventBridgeClient,
    sns: SNSClient,
  });
});

afterAll(async () => {
  restoreEnv?.();
  await emulator?.stop();
});

const ownership = (execution: string, stack = STACK) => [
  { Key: TagKeys.stack, Value: stack },
  { Key: TagKeys.execution, Value: execution },
  { Key: TagKeys.build, Value: 'amazon-instance' },
  { Key: TagKeys.onError, Value: 'cleanup' },
];

async function instance(execution: string, stack = STACK): Promise<string> {
  const source = await emulator.seedImage({
    region: REGION,
    name: `source-${execution.length}-${Math.random()}`,
  });
  const { Instances } = await clients.ec2(REGION).send(
    new RunInstancesCommand({
      ImageId: source,
      InstanceType: 'm3.medium',
      MinCount: 1,
      MaxCount: 1,
      TagSpecifications: [{ ResourceType: 'instance', Tags: ownership(execution, stack) }],
    }),
  );
  return Instances?.[0]?.InstanceId ?? '';
}

async function bundle(prefix: string): Promise<void> {
  const s3 = clients.s3(REGION);
  for (const key of [`${prefix}.manifest.xml`, `${prefix}.part.0`, `${prefix}.part.1`, `${prefix}.notes`]) {
    await s3.send(new PutObjectCommand({ Bucket: BUNDLES, Key: key, Body: 'x' }));
  }
}

async function image(execution: string, name: string, extra: Record<string, string> = {}): Promise<string> {
  await bundle(`builds/${name}`);
  const tags = Object.fromEntries(ownership(execution).map((t) => [t.Key, t.Value]));
  return emulator.seedImage({
    region: REGION,
    name,
    tags: { ...tags, ...extra },
    imageLocation: `${BUNDLES}/builds/${name}.manifest.xml`,
    creationDate: HOURS_AGO(6).toISOString(),
  });
}

async function liveInstances(): Promise<string[]> {
  const result = await clients.ec2(REGION).send(
    new DescribeInstancesCommand({
      Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running'] }],
    }),
  );
  return (result.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId ?? '');
}

async function imageIds(): Promise<string[]> {
  const result = await clients.ec2(REGION).send(new DescribeImagesCommand({ Owners: ['self'] }));
  return (result.Images ?? []).map((i) => i.ImageId ?? '');
}

async function keys(bucket: string): Promise<string[]> {
  const result = await clients.s3(REGION).send(new ListObjectsV2Command({ Bucket: bucket }));
  return (result.Contents ?? []).map((o) => o.Key ?? '').sort();
}

interface World {
  killedInstance: string;
  killedGroup: string;
  runningInstance: string;
  foreignInstance: string;
  failedImage: string;
  finishedImage: string;
  publishedImage: string;
  recentInstance: string;
}

async function world(): Promise<World> {
  const ec2 = clients.ec2(REGION);
  const s3 = clients.s3(REGION);
  await s3.send(new CreateBucketCommand({ Bucket: STAGING }));
  await s3.send(new CreateBucketCommand({ Bucket: BUNDLES }));
  const killedInstance = await instance(KILLED);
  const { GroupId } = await ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: 'killed-build',
      Description: 'temporary',
      TagSpecifications: [{ ResourceType: 'security-group', Tags: ownership(KILLED) }],
    }),
  );
  await clients.iam(REGION).send(
    new CreateRoleCommand({
      RoleName: 'build-amazon-instance-killed',
      Path: executionRolePath(STACK, 'killed'),
      AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [] }),
      Tags: ownership(KILLED),
    }),
  );
  await s3.send(
    new PutObjectCommand({ Bucket: STAGING, Key: 'staging/killed/amazon-instance/run.sh', Body: 'x' }),
  );
  await s3.send(
    new PutObjectCommand({ Bucket: STAGING, Key: 'staging/running/amazon-instance/run.sh', Body: 'x' }),
  );
  const failedImage = await image(KILLED, 'failed-image');
  const finishedImage = await image(SUCCEEDED, 'finished-image', { [TagKeys.finished]: 'true' });
  const publishedImage = await image(PUBLISHED, 'published-image');
  await clients
    .ssm(REGION)
    .send(
      new PutParameterCommand({ Name: '/ami-builder/ami-ids/web', Type: 'String', Value: publishedImage }),
    );
  return {
    killedInstance,
    killedGroup: GroupId ?? '',
    runningInstance: await instance(RUNNING),
    foreignInstance: await instance(KILLED, 'OtherStack'),
    failedImage,
    finishedImage,
    publishedImage,
    recentInstance: await instance(RECENT),
  };
}

function deps(lines: string[] = []): SweepDeps {
  const env = { stackName: STACK, stagingBucket: STAGING, amiParameterPrefix: '/ami-builder/ami-ids/' };
  return {
    clients,
    env: { ...env, stateMachineName: `${STACK}-builds` },
    homeRegion: REGION,
    clock: { now: () => NOW },
    executionState: async (a) => STATES[a] ?? { status: 'GONE' },
    cleanExecution: (change) =>
      abortCleanup(change, {
        clients,
        env,
        homeRegion: REGION,
        clock: { now: () => new Date() },
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 20))),
        log: (line) => lines.push(line),
        timing: { pollIntervalSeconds: 0.05, instanceWaitSeconds: 5, securityGroupWaitSeconds: 5 },
      }),
    log: (line) => lines.push(line),
  };
}

const actionsOf = (report: SweepReport) =>
  report.resources.map((r) => `${r.action} ${r.type} ${r.execution.split(':').pop()}`).sort();

describe('Sweep Orphans', () => {
  beforeEach(async () => {
    await emulator.reset();
  });

  it('removes what a killed execution left, and nothing else', async () => {
    // Prepare
    const w = await world();

    // Act
    const report = await sweepOrphans({ dryRun: false, regions: [REGION] }, deps());

    // Assess: the killed execution's instance, group, role, staged files and failed image are gone.
    expect(await liveInstances()).not.toContain(w.killedInstance);
    expect(report.cleanup.terminatedInstances).toEqual([w.killedInstance]);
    expect(report.cleanup.deletedSecurityGroups).toEqual([w.killedGroup]);
    const groups = await clients.ec2(REGION).send(new DescribeSecurityGroupsCommand({}));
    expect((groups.SecurityGroups ?? []).map((g) => g.GroupId)).not.toContain(w.killedGroup);
    const roles = await clients.iam(REGION).send(new ListRolesCommand({ PathPrefix: '/ami-builder/' }));
    expect(roles.Roles ?? []).toEqual([]);
    expect(await keys(STAGING)).toEqual(['staging/running/amazon-instance/run.sh']);
    expect(await imageIds()).not.toContain(w.failedImage);
    expect(report.cleanup.deregisteredImages).toEqual([w.failedImage]);
    // Its bundle went with it, and only its bundle-shaped keys.
    expect(await keys(BUNDLES)).toEqual(
      [
        'builds/failed-image.notes',
        ...['finished-image', 'published-image'].flatMap((n) => [
          `builds/${n}.manifest.xml`,
          `builds/${n}.notes`,
          `builds/${n}.part.0`,
          `builds/${n}.part.1`,
        ]),
      ].sort(),
    );
    // Everything else is intact.
    const live = await liveInstances();
    expect(live).toEqual(expect.arrayContaining([w.runningInstance, w.foreignInstance, w.recentInstance]));
    expect(await imageIds()).toEqual(expect.arrayContaining([w.finishedImage, w.publishedImage]));
    expect(actionsOf(report)).toEqual(
      [
        'kept image published',
        'removed image killed',
        'removed instance killed',
        'removed instance-role killed',
        'removed security-group killed',
        'removed staged-files killed',
      ].sort(),
    );
    expect(report.skippedExecutions.map((s) => s.execution).sort()).toEqual([RECENT, RUNNING].sort());
  });

  it('changes nothing in a dry run, and lists what would go', async () => {
    // Prepare
    const w = await world();

    // Act
    const report = await sweepOrphans({ dryRun: true, regions: [REGION] }, deps());

    // Assess
    expect(await liveInstances()).toContain(w.killedInstance);
    expect(await imageIds()).toContain(w.failedImage);
    expect(await keys(STAGING)).toHaveLength(2);
    expect(actionsOf(report)).toEqual(
      [
        'kept image published',
        'would remove image killed',
        'would remove instance killed',
        'would remove instance-role killed',
        'would remove security-group killed',
        'would remove staged-files killed',
      ].sort(),
    );
  });

  it('is idempotent: a second sweep finds nothing left to remove', async () => {
    // Prepare
    await world();
    await sweepOrphans({ dryRun: false, regions: [REGION] }, deps());

    // Act
    const second = await sweepOrphans({ dryRun: false, regions: [REGION] }, deps());

    // Assess
    expect(second.resources.filter((r) => r.action === 'removed')).toEqual([]);
  });
});

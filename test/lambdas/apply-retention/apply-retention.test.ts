/**
 * Apply Retention's policy selection, with aws-sdk-client-mock: which builds of a family are beyond the policy,
 * what is never touched, the deprecate-then-deregister grace, and a dry run that calls nothing that changes.
 */
import {
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  EnableImageDeprecationCommand,
  type Image,
} from '@aws-sdk/client-ec2';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  applyFamilyRetention,
  applyStackRetention,
  beyondPolicy,
  generations,
  type RetentionDeps,
} from '../../../lambdas/apply-retention/apply-retention.js';
import {
  decodeRetentionPolicy,
  encodeRetentionPolicy,
  type RetentionPolicy,
} from '../../../lambdas/shared/retention-policy.js';
import { TagKeys } from '../../../lambdas/shared/runtime.js';

const REGION = 'us-east-1';
const STACK = 'AmiBuilder';
const NOW = new Date('2030-06-01T00:00:00Z');
const DAY = 86_400_000;
const daysAgo = (d: number) => new Date(NOW.getTime() - d * DAY).toISOString();

const ec2Mock = mockClient(EC2Client);
const s3Mock = mockClient(S3Client);
const ssmMock = mockClient(SSMClient);

function image(
  id: string,
  days: number,
  extra: Partial<Image> = {},
  tags: Record<string, string> = {},
): Image {
  return {
    ImageId: id,
    Name: `web ${id}`,
    State: 'available',
    CreationDate: daysAgo(days),
    RootDeviceType: 'instance-store',
    ImageLocation: `bundles/${id}.manifest.xml`,
    ...extra,
    Tags: Object.entries({
      [TagKeys.stack]: STACK,
      [TagKeys.family]: 'web',
      [TagKeys.finished]: 'true',
      [TagKeys.execution]: `exec-${id}`,
      ...tags,
    }).map(([Key, Value]) => ({ Key, Value })),
  };
}

function deps(stackDefault?: RetentionPolicy): RetentionDeps {
  return {
    clients: {
      ec2: () => new EC2Client({ region: REGION }),
      s3: () => new S3Client({ region: REGION }),
      ssm: () => new SSMClient({ region: REGION }),
    },
    env: { stackName: STACK, amiParameterPrefix: '/ami-builder/ami-ids/' },
    clock: { now: () => NOW },
    stackDefault,
    homeRegion: REGION,
    log: () => undefined,
  };
}

function given(
  images: Image[],
  protections: { parameter?: string; instance?: string; launchTemplate?: string } = {},
) {
  ec2Mock.on(DescribeImagesCommand).resolves({ Images: images });
  ssmMock.on(GetParametersByPathCommand).resolves({
    Parameters:
      protections.parameter === undefined
        ? []
        : [{ Name: '/ami-builder/ami-ids/web', Value: protections.parameter }],
  });
  ec2Mock.on(DescribeInstancesCommand).resolves({
    Reservations:
      protections.instance === undefined
        ? []
        : [
            {
              Instances: [
                { InstanceId: 'i-0abc', ImageId: protections.instance, State: { Name: 'running' } },
              ],
            },
          ],
  });
  ec2Mock.on(DescribeLaunchTemplateVersionsCommand).resolves({
    LaunchTemplateVersions:
      protections.launchTemplate === undefined
        ? []
        : [
            {
              LaunchTemplateName: 'web-lt',
              VersionNumber: 3,
              LaunchTemplateData: { ImageId: protections.launchTemplate },
            },
          ],
  });
  s3Mock.on(ListObjectsV2Command).callsFake((input: { Prefix: string }) => ({
    Contents: [
      { Key: `${input.Prefix}.manifest.xml` },
      { Key: `${input.Prefix}.part.0` },
      { Key: `${input.Prefix}.partial-notes` },
    ],
  }));
  s3Mock.on(DeleteObjectsCommand).resolves({});
}

const actionsOf = (r: { actions: { imageId: string; action: string }[] }) =>
  r.actions.map((a) => `${a.imageId}:${a.action}`).sort();

beforeEach(() => {
  ec2Mock.reset();
  s3Mock.reset();
  ssmMock.reset();
});
afterEach(() => {
  ec2Mock.reset();
});

describe('beyondPolicy', () => {
  const family = generations(
    [1, 5, 10, 40, 90].map((d) => ({
      region: REGION,
      image: image(`ami-${d}`, d) as Image & { ImageId: string },
    })),
  );
  const ids = (policy: RetentionPolicy) =>
    beyondPolicy(family, policy, NOW.getTime()).map((g) => g.members[0]?.image.ImageId);

  it('keeps the newest N builds with keep_latest', () => {
    expect(ids({ keepLatest: 2, deleteBundles: true })).toEqual(['ami-10', 'ami-40', 'ami-90']);
  });
  it('keeps builds younger than N days with keep_days', () => {
    expect(ids({ keepDays: 30, deleteBundles: true })).toEqual(['ami-40', 'ami-90']);
  });
  it('lets a build go only when both rules do', () => {
    expect(ids({ keepLatest: 4, keepDays: 7, deleteBundles: true })).toEqual(['ami-90']);
    expect(ids({ keepLatest: 1, keepDays: 60, deleteBundles: true })).toEqual(['ami-90']);
  });
  it('never lets the newest build go, however old', () => {
    const old = generations([
      { region: REGION, image: image('ami-old', 400) as Image & { ImageId: string } },
    ]);
    expect(beyondPolicy(old, { keepDays: 1, deleteBundles: true }, NOW.getTime())).toEqual([]);
  });
  it('groups an execution’s copies into one build', () => {
    const copies = generations([
      { region: REGION, image: image('ami-a', 3) as Image & { ImageId: string } },
      {
        region: 'eu-west-1',
        image: image('ami-b', 3, {}, { [TagKeys.execution]: 'exec-ami-a' }) as Image & { ImageId: string },
      },
    ]);
    expect(copies).toHaveLength(1);
    expect(copies[0]?.members.map((m) => m.region)).toEqual([REGION, 'eu-west-1']);
  });
});

describe('applyFamilyRetention', () => {
  it('deregisters what is beyond the policy and deletes only its bundle keys; keeps what is protected', async () => {
    // Prepare
    given(
      [
        image('ami-new', 1),
        image('ami-2', 2),
        image('ami-param', 3),
        image('ami-used', 4),
        image('ami-lt', 5),
        image('ami-gone', 6),
        image('ami-other', 7, {}, { [TagKeys.stack]: 'OtherStack' }),
        image('ami-unfinished', 8, {}, { [TagKeys.finished]: 'false' }),
        image('ami-pending', 9, { State: 'pending' }),
      ],
      { parameter: 'ami-param', instance: 'ami-used', launchTemplate: 'ami-lt' },
    );

    // Act
    const report = await applyFamilyRetention(
      'web',
      { keepLatest: 2, deleteBundles: true, source: 'template' },
      [REGION],
      { dryRun: false },
      deps(),
    );

    // Assess
    expect(actionsOf(report)).toEqual([
      'ami-gone:deregistered',
      'ami-lt:kept',
      'ami-param:kept',
      'ami-used:kept',
    ]);
    expect(report.builds).toBe(6);
    expect(ec2Mock.commandCalls(DeregisterImageCommand).map((c) => c.args[0].input.ImageId)).toEqual([
      'ami-gone',
    ]);
    const deleted = s3Mock
      .commandCalls(DeleteObjectsCommand)
      .flatMap((c) => c.args[0].input.Delete?.Objects ?? []);
    expect(deleted.map((o) => o.Key)).toEqual(['ami-gone.manifest.xml', 'ami-gone.part.0']);
    const reasons = Object.fromEntries(report.actions.map((a) => [a.imageId, a.reason]));
    expect(reasons['ami-param']).toContain('the parameter /ami-builder/ami-ids/web points to it');
    expect(reasons['ami-used']).toContain('instance i-0abc (running) uses it');
    expect(reasons['ami-lt']).toContain('launch template web-lt');
  });

  it('with deprecate_first_days: deprecates first, waits the grace, then deregisters', async () => {
    // Prepare: one not yet deprecated, one deprecated yesterday, one deprecated 10 days ago.
    given([
      image('ami-new', 1),
      image('ami-fresh', 20),
      image('ami-recent', 30, { DeprecationTime: daysAgo(1) }),
      image('ami-due', 40, { DeprecationTime: daysAgo(10) }),
    ]);
    ec2Mock.on(EnableImageDeprecationCommand).resolves({ Return: true });

    // Act
    const report = await applyFamilyRetention(
      'web',
      { keepLatest: 1, deprecateFirstDays: 7, deleteBundles: false, source: 'stack' },
      [REGION],
      { dryRun: false },
      deps(),
    );

    // Assess
    expect(actionsOf(report)).toEqual(['ami-due:deregistered', 'ami-fresh:deprecated', 'ami-recent:kept']);
    const deprecation = ec2Mock.commandCalls(EnableImageDeprecationCommand)[0]?.args[0].input;
    expect(deprecation?.ImageId).toBe('ami-fresh');
    expect(deprecation?.DeprecateAt?.toISOString()).toBe('2030-06-01T00:01:00.000Z');
    expect(s3Mock.commandCalls(DeleteObjectsCommand)).toEqual([]);
  });

  it('in a dry run, calls nothing that changes anything', async () => {
    // Prepare
    given([image('ami-new', 1), image('ami-2', 2), image('ami-3', 3)]);

    // Act
    const report = await applyFamilyRetention(
      'web',
      { keepLatest: 1, deprecateFirstDays: 0, deleteBundles: true, source: 'template' },
      [REGION],
      { dryRun: true },
      deps(),
    );

    // Assess
    expect(actionsOf(report)).toEqual(['ami-2:would deregister', 'ami-3:would deregister']);
    expect(ec2Mock.commandCalls(DeregisterImageCommand)).toEqual([]);
    expect(ec2Mock.commandCalls(EnableImageDeprecationCommand)).toEqual([]);
    expect(s3Mock.commandCalls(DeleteObjectsCommand)).toEqual([]);
  });

  it('reports an image it cannot deregister and goes on', async () => {
    // Prepare
    given([image('ami-new', 1), image('ami-locked', 2), image('ami-3', 3)]);
    ec2Mock
      .on(DeregisterImageCommand, { ImageId: 'ami-locked' })
      .rejects(Object.assign(new Error('protected'), { name: 'InvalidParameterValue' }))
      .on(DeregisterImageCommand, { ImageId: 'ami-3' })
      .resolves({});

    // Act
    const report = await applyFamilyRetention(
      'web',
      { keepLatest: 1, deleteBundles: true, source: 'template' },
      [REGION],
      { dryRun: false },
      deps(),
    );

    // Assess
    expect(actionsOf(report)).toEqual(['ami-3:deregistered', 'ami-locked:failed']);
    expect(report.actions.find((a) => a.imageId === 'ami-locked')?.reason).toContain(
      'aws ec2 deregister-image --region us-east-1 --image-id ami-locked',
    );
  });
});

describe('applyStackRetention', () => {
  it('applies each family’s tagged policy, else the stack default, and leaves families without either alone', async () => {
    // Prepare
    const tagged = { [TagKeys.retention]: encodeRetentionPolicy({ keepLatest: 1, deleteBundles: true }) };
    given([
      image('ami-a1', 1, {}, tagged),
      image('ami-a2', 2, {}, tagged),
      image('ami-b1', 1, {}, { [TagKeys.family]: 'db' }),
      image('ami-b2', 2, {}, { [TagKeys.family]: 'db' }),
      image('ami-b3', 3, {}, { [TagKeys.family]: 'db' }),
    ]);
    ec2Mock.on(DeregisterImageCommand).resolves({});

    // Act
    const withDefault = await applyStackRetention(
      { dryRun: true, regions: [REGION] },
      deps({ keepLatest: 2, deleteBundles: true }),
    );
    const withoutDefault = await applyStackRetention({ dryRun: true, regions: [REGION] }, deps());

    // Assess
    expect(withDefault.families.map((f) => [f.family, f.policy.source, actionsOf(f)])).toEqual([
      ['db', 'stack', ['ami-b3:would deregister']],
      ['web', 'tag', ['ami-a2:would deregister']],
    ]);
    expect(withoutDefault.skippedFamilies).toEqual(['db']);
    expect(ec2Mock.commandCalls(DeregisterImageCommand)).toEqual([]);
  });
});

describe('the policy tag', () => {
  it('reads back what it writes, and nothing else', () => {
    const policy = { keepLatest: 3, keepDays: 30, deprecateFirstDays: 7, deleteBundles: false };
    expect(decodeRetentionPolicy(encodeRetentionPolicy(policy))).toEqual(policy);
    expect(decodeRetentionPolicy('delete_bundles=true')).toBeUndefined();
    expect(decodeRetentionPolicy('keep_latest=0;delete_bundles=true')).toBeUndefined();
    expect(decodeRetentionPolicy('keep_latest=2;rm -rf=1;delete_bundles=true')).toBeUndefined();
  });
});

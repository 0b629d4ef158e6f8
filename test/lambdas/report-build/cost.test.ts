/** Report Build's usage reading: instance launch to termination, the bundle's keys, and what it cannot read. */
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { buildUsage, checkCounts, transitionTime } from '../../../lambdas/report-build/cost.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import { awsError, makeBuildState } from '../fixtures.js';

const ec2Mock = mockClient(EC2Client);
const s3Mock = mockClient(S3Client);
afterEach(() => {
  ec2Mock.reset();
  s3Mock.reset();
});

const NOW = new Date('2026-12-02T11:00:00Z');
const deps = () => ({
  clients: createClients({ ec2: EC2Client, s3: S3Client }),
  workflowRegion: 'us-east-1',
  now: NOW,
});
const build = () =>
  makeBuildState({
    config: { region: 'us-east-1', instanceType: 'm3.medium', amiRegions: ['us-west-2'] },
    instance: { instanceId: 'i-0abc' },
    bucket: {
      name: 'packer-images',
      keyPrefix: 'img',
      region: 'us-east-1',
      manifestLocation: 'packer-images/img/image.manifest.xml',
      created: false,
    },
    image: { region: 'us-east-1', imageId: 'ami-1' },
    copies: [{ region: 'us-west-2', imageId: 'ami-2', counts: { 'Check AMI Copy': 4 } }],
  });

describe('transitionTime', () => {
  it("reads EC2's termination time", () => {
    expect(transitionTime('User initiated (2026-12-02 10:30:00 GMT)')).toEqual(
      new Date('2026-12-02T10:30:00Z'),
    );
    expect(transitionTime('')).toBeUndefined();
  });
});

describe('buildUsage', () => {
  it('times the instance from launch to termination and sizes the bundle from its keys', async () => {
    ec2Mock.on(DescribeInstancesCommand, { InstanceIds: ['i-0abc'] }).resolves({
      Reservations: [
        {
          Instances: [
            {
              InstanceId: 'i-0abc',
              InstanceType: 'm3.medium',
              LaunchTime: new Date('2026-12-02T10:00:00Z'),
              State: { Name: 'terminated' },
              StateTransitionReason: 'User initiated (2026-12-02 10:45:30 GMT)',
            },
          ],
        },
      ],
    });
    s3Mock
      .on(ListObjectsV2Command, { Bucket: 'packer-images', Prefix: 'img/image.' })
      .resolvesOnce({
        Contents: [{ Key: 'img/image.part.0', Size: 1000 }],
        IsTruncated: true,
        NextContinuationToken: 't',
      })
      .resolvesOnce({ Contents: [{ Key: 'img/image.manifest.xml', Size: 24 }], IsTruncated: false });

    const usage = await buildUsage(build(), undefined, false, deps());

    expect(usage.instance).toEqual({ type: 'm3.medium', region: 'us-east-1', seconds: 45 * 60 + 30 });
    expect(usage.bundle).toEqual({ bytes: 1024, regions: ['us-east-1', 'us-west-2'] });
    expect(usage.transfers).toEqual([{ from: 'us-east-1', to: 'us-west-2', bytes: 1024 }]);
    expect(usage.unknown).toEqual([
      'Step Functions and Lambda: the definition was not given to Report Build',
    ]);
  });

  it('counts an instance still running to now, and says so; a failed listing leaves the bundle out', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            {
              InstanceId: 'i-0abc',
              InstanceType: 'm3.medium',
              LaunchTime: new Date('2026-12-02T10:00:00Z'),
              State: { Name: 'running' },
            },
          ],
        },
      ],
    });
    s3Mock.on(ListObjectsV2Command).rejects(awsError('AccessDenied', 'denied'));

    const usage = await buildUsage(build(), undefined, true, deps());

    expect(usage.instance?.seconds).toBe(3600);
    expect(usage.bundle).toBeUndefined();
    expect(usage.unknown).toEqual([
      'Step Functions and Lambda: the definition was not given to Report Build',
      'instance time: i-0abc is running, counted to now',
      'bundle size: listing s3://packer-images/img/image. failed (AccessDenied)',
    ]);
  });
});

describe('checkCounts', () => {
  it('adds the poll results, the provisioner iterations and the copies', () => {
    const state = {
      ...build(),
      poll: { command: { done: true, attempt: 1, waitSeconds: 1, counts: { 'Check Upload Bundle': 3 } } },
      provisioned: [
        { done: true, attempt: 2, waitSeconds: 1, counts: { 'Check Provisioner Command': 2 } },
        { done: true, attempt: 5, waitSeconds: 1, counts: { 'Check Provisioner Command': 5 } },
      ],
    };
    expect(checkCounts(state)).toEqual({
      'Check Upload Bundle': 3,
      'Check Provisioner Command': 7,
      'Check AMI Copy': 4,
    });
  });
});

import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MAX_CAUSE_CHARS,
  type ReportBuildArgs,
  readableError,
  reportBuild,
  truncateMiddle,
} from '../../../lambdas/report-build/report-build.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import type { CleanupReport, TaskEvent } from '../../../lambdas/shared/state.js';
import {
  awsError,
  type BuildStateOverrides,
  EXECUTION_ID,
  makeBuildState,
  makeEnvironment,
  regionOf,
} from '../fixtures.js';

const ec2Mock = mockClient(EC2Client);
const FINISHED = new Date('2024-01-02T00:14:02.500Z');

function makeDeps() {
  const lines: string[] = [];
  return {
    lines,
    deps: {
      clients: createClients({ ec2: EC2Client }),
      env: makeEnvironment(),
      clock: { now: () => FINISHED },
      log: (line: string) => lines.push(line),
    },
  };
}

const cleanup: CleanupReport = {
  terminatedInstances: ['i-0123456789abcdef0'],
  deletedSecurityGroups: ['sg-0123456789abcdef0'],
  deletedStagedObjects: 3,
  deregisteredImages: [],
  kept: [],
};

const lambdaCause = (errorType: string, errorMessage: string) =>
  JSON.stringify({
    errorType,
    errorMessage,
    trace: [`${errorType}: ${errorMessage}`, '    at checkCommand (/var/task/index.mjs:1:2345)'],
  });

function event(
  status: ReportBuildArgs['status'],
  overrides: BuildStateOverrides = {},
): TaskEvent<ReportBuildArgs> {
  return {
    build: makeBuildState({
      source: {
        imageId: 'ami-0source',
        name: 'source',
        ownerId: '123456789012',
        creationDate: '2023-01-01T00:00:00.000Z',
        tags: {},
        rootDeviceType: 'instance-store',
        architecture: 'x86_64',
        virtualizationType: 'paravirtual',
        accountId: '123456789012',
        rendered: { tags: {}, runTags: {} },
      },
      bucket: {
        name: 'my-bundles',
        keyPrefix: '',
        region: 'us-east-1',
        manifestLocation: 'my-bundles/image-1704153600.manifest.xml',
        created: false,
      },
      instance: { instanceId: 'i-0123456789abcdef0' },
      cleanup,
      ...overrides,
    }),
    args: { status },
  };
}

describe('reportBuild', () => {
  beforeEach(() => {
    ec2Mock.reset();
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [] });
  });
  afterEach(() => {
    ec2Mock.reset();
  });

  it('reports a succeeded build with its artifacts, Packer’s artifact id and timings', async () => {
    // Prepare
    const { deps, lines } = makeDeps();
    const input = event('succeeded', {
      config: { amiRegions: ['us-west-2', 'eu-west-1'] },
      image: { region: 'us-east-1', imageId: 'ami-0def' },
      copies: [
        { region: 'us-west-2', imageId: 'ami-0fed' },
        { region: 'eu-west-1', imageId: 'ami-0abc' },
      ],
    });

    // Act
    const output = await reportBuild(input, deps);

    // Assess
    expect(output).toEqual({
      name: 'amazon-instance',
      status: 'succeeded',
      artifacts: { 'us-east-1': 'ami-0def', 'us-west-2': 'ami-0fed', 'eu-west-1': 'ami-0abc' },
      artifactId: 'eu-west-1:ami-0abc,us-east-1:ami-0def,us-west-2:ami-0fed',
      manifestLocation: 's3://my-bundles/image-1704153600.manifest.xml',
      sourceAmi: 'ami-0source',
      warnings: [],
      timings: {
        started: '2024-01-02T00:00:00.000Z',
        finished: '2024-01-02T00:14:02.500Z',
        total: '14 minutes 2 seconds',
      },
      cleanup,
    });
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(lines).toEqual(["Build 'amazon-instance' finished after 14 minutes 2 seconds."]);
  });

  it('reports an unchanged build (skip_if_unchanged) with the AMI it found, its fingerprint and no manifest', async () => {
    // Prepare
    const { deps, lines } = makeDeps();
    const input = event('succeeded', {
      config: { amiRegions: ['eu-west-1'] },
      bucket: undefined,
      instance: undefined,
      fingerprint: {
        value: 'v1:abc',
        unchanged: {
          image: { region: 'us-east-1', imageId: 'ami-0old' },
          copies: [{ region: 'eu-west-1', imageId: 'ami-0oldcopy' }],
          executionId: 'arn:aws:states:us-east-1:123456789012:execution:m:earlier',
        },
      },
    });

    // Act
    const output = await reportBuild(input, deps);

    // Assess
    expect(output).toMatchObject({
      status: 'unchanged',
      artifacts: { 'us-east-1': 'ami-0old', 'eu-west-1': 'ami-0oldcopy' },
      artifactId: 'eu-west-1:ami-0oldcopy,us-east-1:ami-0old',
      fingerprint: 'v1:abc',
    });
    expect(output.manifestLocation).toBeUndefined();
    expect(lines[0]).toContain('nothing changed since ami-0old was built');
  });

  it('copies warnings a task recorded in the state', async () => {
    // Prepare
    const { deps } = makeDeps();
    const input = event('succeeded', { image: { region: 'us-east-1', imageId: 'ami-0def' } });
    Object.assign(input.build, { warnings: ['something to know'] });

    // Act
    const output = await reportBuild(input, deps);

    // Assess
    expect(output.warnings).toEqual(['something to know']);
  });

  it('reports a failed build with no artifact and the Lambda error without its trace', async () => {
    // Prepare
    const { deps, lines } = makeDeps();
    const input = event('failed', {
      error: {
        Error: 'ProvisionerFailedError',
        Cause: lambdaCause('ProvisionerFailedError', "Provisioner 'shell' (#1) exited with status 2"),
      },
    });

    // Act
    const output = await reportBuild(input, deps);

    // Assess
    expect(output.status).toBe('failed');
    expect(output.artifacts).toEqual({});
    expect(output.artifactId).toBe('');
    expect(output.manifestLocation).toBeUndefined();
    expect(output.error).toEqual({
      Error: 'ProvisionerFailedError',
      Cause: "Provisioner 'shell' (#1) exited with status 2",
    });
    expect(JSON.stringify(output)).not.toContain('index.mjs');
    expect(output.cleanup).toEqual(cleanup);
    expect(lines).toEqual([
      "Build 'amazon-instance' errored after 14 minutes 2 seconds: Provisioner 'shell' (#1) exited with status 2",
    ]);
  });

  it('lists what a cleanup state that failed outright never reported as left behind, with the cleanup error', async () => {
    // Prepare
    const { deps } = makeDeps();
    const input = event('failed', {
      network: { securityGroupIds: ['sg-0temp'], temporarySecurityGroupId: 'sg-0temp' },
      instanceRole: {
        instanceProfileName: 'role-1',
        temporary: true,
        roleName: 'role-1',
        path: '/ami-builder/',
      },
      error: { Error: 'ProvisionerFailedError', Cause: 'exit 1' },
      cleanupError: {
        Error: 'SecurityGroupInUseError',
        Cause: lambdaCause('SecurityGroupInUseError', 'security group sg-0temp in us-east-1 is still in use'),
      },
      cleanup: { ...cleanup, deletedSecurityGroups: [] },
    });

    // Act
    const output = await reportBuild(input, deps);

    // Assess
    const why =
      'cleanup failed: SecurityGroupInUseError: security group sg-0temp in us-east-1 is still in use';
    expect(output.cleanup?.leaked).toEqual([
      expect.objectContaining({ type: 'security group', id: 'sg-0temp', region: 'us-east-1', reason: why }),
      expect.objectContaining({ type: 'instance role', id: 'role-1', region: 'global', reason: why }),
    ]);
  });

  it('keeps what the cleanup states reported left behind in a succeeded build, and adds nothing they accounted for', async () => {
    // Prepare
    const { deps } = makeDeps();
    const leaked = {
      type: 'instance' as const,
      id: 'i-0123456789abcdef0',
      region: 'us-east-1',
      reason: 'not terminated: UnauthorizedOperation: no',
      hint: 'aws ec2 terminate-instances --region us-east-1 --instance-ids i-0123456789abcdef0',
    };
    const input = event('succeeded', {
      image: { region: 'us-east-1', imageId: 'ami-0new' },
      cleanup: { ...cleanup, terminatedInstances: [], leaked: [leaked] },
    });

    // Act
    const output = await reportBuild(input, deps);

    // Assess
    expect(output.status).toBe('succeeded');
    expect(output.cleanup?.leaked).toEqual([leaked]);
  });

  it('lists the AMIs a failed build registered or copied as kept, found in the state and by tag', async () => {
    // Prepare
    const { deps } = makeDeps();
    ec2Mock.on(DescribeImagesCommand).callsFake(async (_input, getClient) => {
      const region = await (getClient() as EC2Client).config.region();
      return region === 'us-west-2'
        ? { Images: [{ ImageId: 'ami-0copy' }] }
        : { Images: [{ ImageId: 'ami-0def' }] };
    });
    const input = event('failed', {
      config: { amiRegions: ['us-west-2'] },
      image: { region: 'us-east-1', imageId: 'ami-0def' },
      error: { Error: 'ImageCopyError', Cause: lambdaCause('ImageCopyError', 'copy to eu-west-1 failed') },
    });

    // Act
    const output = await reportBuild(input, deps);

    // Assess
    expect(output.artifacts).toEqual({});
    expect(output.manifestLocation).toBe('s3://my-bundles/image-1704153600.manifest.xml');
    expect(output.cleanup?.kept).toEqual([
      {
        resource: 'AMI ami-0def (us-east-1)',
        reason:
          'registered before the build failed; registered AMIs are kept, as Packer keeps them; remove it with: ' +
          'aws ec2 deregister-image --region us-east-1 --image-id ami-0def',
      },
      {
        resource: 'AMI ami-0copy (us-west-2)',
        reason:
          'registered before the build failed; registered AMIs are kept, as Packer keeps them; remove it with: ' +
          'aws ec2 deregister-image --region us-west-2 --image-id ami-0copy',
      },
    ]);
    const calls = ec2Mock.commandCalls(DescribeImagesCommand);
    expect(await Promise.all(calls.map((c) => regionOf(c)))).toEqual(
      expect.arrayContaining(['us-east-1', 'us-west-2']),
    );
    expect(calls[0]?.args[0].input).toEqual({
      Owners: ['self'],
      Filters: [
        { Name: 'tag:ami-builder:stack', Values: ['AmiBuilder'] },
        { Name: 'tag:ami-builder:execution', Values: [EXECUTION_ID] },
        { Name: 'tag:ami-builder:build', Values: ['amazon-instance'] },
      ],
      NextToken: undefined,
    });
  });

  it('turns a region it cannot search into a warning instead of failing', async () => {
    // Prepare
    const { deps } = makeDeps();
    ec2Mock.on(DescribeImagesCommand).rejects(awsError('UnauthorizedOperation', 'no', 403));
    const input = event('failed', { error: { Error: 'States.Timeout', Cause: '' } });

    // Act
    const output = await reportBuild(input, deps);

    // Assess
    expect(output.warnings).toEqual([
      `could not look for AMIs this build registered in us-east-1 (UnauthorizedOperation); look for AMIs tagged ami-builder:execution=${EXECUTION_ID}`,
    ]);
    expect(output.error).toEqual({ Error: 'States.Timeout', Cause: '' });
  });

  it('keeps the kept resources of an abort-mode cleanup', async () => {
    // Prepare
    const { deps } = makeDeps();
    const kept = [{ resource: 'instance i-1 (us-east-1)', reason: 'on_error is abort: kept for debugging' }];
    const input = event('failed', {
      cleanup: { ...cleanup, terminatedInstances: [], kept },
      error: { Error: 'AgentNotOnlineError', Cause: lambdaCause('AgentNotOnlineError', 'agent offline') },
    });

    // Act
    const output = await reportBuild(input, deps);

    // Assess
    expect(output.cleanup?.kept).toEqual(kept);
  });

  it('stays small for a build with a huge error message', async () => {
    // Prepare
    const { deps } = makeDeps();
    const input = event('failed', {
      error: {
        Error: 'ProvisionerFailedError',
        Cause: lambdaCause('ProvisionerFailedError', 'x'.repeat(200_000)),
      },
    });

    // Act
    const output = await reportBuild(input, deps);

    // Assess
    expect(output.error?.Cause.length).toBeLessThanOrEqual(MAX_CAUSE_CHARS);
    expect(JSON.stringify(output).length).toBeLessThan(6000);
  });

  it('fails when a succeeded build has no registered image', async () => {
    // Prepare
    const { deps } = makeDeps();

    // Act
    const result = reportBuild(event('succeeded'), deps);

    // Assess
    await expect(result).rejects.toMatchObject({ name: 'TaskInputError' });
  });
});

describe('readableError', () => {
  it('keeps the message of a Lambda error and drops its trace', () => {
    expect(
      readableError({ Error: 'X509UploadError', Cause: lambdaCause('X509UploadError', 'no key') }),
    ).toEqual({
      Error: 'X509UploadError',
      Cause: 'no key',
    });
  });

  it('keeps a States error’s plain-text cause as it is', () => {
    const error = { Error: 'States.Timeout', Cause: 'Task timed out after 900 seconds' };
    expect(readableError(error)).toEqual(error);
  });

  it('keeps JSON that is not a Lambda error as it is', () => {
    const error = { Error: 'States.TaskFailed', Cause: '{"status":400}' };
    expect(readableError(error)).toEqual(error);
  });
});

describe('truncateMiddle', () => {
  it('keeps the head and the tail of a long text and says how much was cut', () => {
    // Prepare
    const text = `HEAD${'-'.repeat(10_000)}TAIL`;

    // Act
    const short = truncateMiddle(text, 200);

    // Assess
    expect(short.length).toBeLessThanOrEqual(200);
    expect(short.startsWith('HEAD')).toBe(true);
    expect(short.endsWith('TAIL')).toBe(true);
    expect(short).toMatch(/\(\d+ characters cut\)/);
  });

  it('leaves a short text alone', () => {
    expect(truncateMiddle('short', 200)).toBe('short');
  });
});

import { CopyImageCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { type CopyImageDeps, copyClientToken, copyImage } from '../../../lambdas/copy-image/copy-image.js';
import { AwsTransientError, ImageCopyError, TaskInputError } from '../../../lambdas/shared/errors.js';
import { lambdaHandler } from '../../../lambdas/shared/runtime.js';
import type { BuildState, SourceInfo } from '../../../lambdas/shared/state.js';
import { type BuildStateOverrides, EXECUTION_ID, makeBuildState, makeEnvironment } from '../fixtures.js';

const AMI_NAME = 'my-ami-1704153600';

let clients: Record<string, EC2Client>;
let ec2: Record<string, AwsClientStub<EC2Client>>;
let messages: string[];
let deps: CopyImageDeps;

beforeEach(() => {
  clients = {
    'us-east-1': new EC2Client({ region: 'us-east-1' }),
    'eu-west-1': new EC2Client({ region: 'eu-west-1' }),
  };
  ec2 = Object.fromEntries(Object.entries(clients).map(([r, c]) => [r, mockClient(c)]));
  ec2['eu-west-1']?.on(DescribeImagesCommand).resolves({ Images: [] });
  ec2['eu-west-1']?.on(CopyImageCommand).resolves({ ImageId: 'ami-copy' });
  messages = [];
  deps = {
    clients: {
      ec2: (region) => {
        const client = clients[region];
        if (client === undefined) throw new Error(`no client for ${region}`);
        return client;
      },
    },
    env: makeEnvironment(),
    log: (message) => messages.push(message),
  };
});

/** The error a promise rejects with; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

function awsError(name: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode } });
}

const rendered = (amiDescription: string | null): SourceInfo['rendered'] =>
  amiDescription === null ? { tags: {}, runTags: {} } : { tags: {}, runTags: {}, amiDescription };

/** `description: null` stands for a template without ami_description. */
function state(
  overrides: BuildStateOverrides = {},
  description: string | null = 'Built from ami-src',
): BuildState {
  return makeBuildState({
    config: { amiRegions: ['eu-west-1'] },
    image: { region: 'us-east-1', imageId: 'ami-main' },
    source: {
      imageId: 'ami-src',
      name: 'source',
      ownerId: '123456789012',
      creationDate: '2024-01-01T00:00:00.000Z',
      tags: {},
      rootDeviceType: 'instance-store',
      architecture: 'x86_64',
      virtualizationType: 'paravirtual',
      accountId: '123456789012',
      rendered: rendered(description),
    },
    ...overrides,
  });
}

describe('copyClientToken', () => {
  it('is the same for the same execution, build and region, and at most 64 characters', () => {
    const token = copyClientToken({ id: EXECUTION_ID }, 'amazon-instance', 'eu-west-1');
    expect(token).toBe(copyClientToken({ id: EXECUTION_ID }, 'amazon-instance', 'eu-west-1'));
    expect(token).toMatch(/^[0-9a-f]{64}$/);
  });

  it('differs for another region, build or execution', () => {
    const token = copyClientToken({ id: EXECUTION_ID }, 'amazon-instance', 'eu-west-1');
    expect(copyClientToken({ id: EXECUTION_ID }, 'amazon-instance', 'eu-west-2')).not.toBe(token);
    expect(copyClientToken({ id: EXECUTION_ID }, 'other-build', 'eu-west-1')).not.toBe(token);
    expect(copyClientToken({ id: `${EXECUTION_ID}x` }, 'amazon-instance', 'eu-west-1')).not.toBe(token);
  });
});

describe('copyImage', () => {
  it('copies the AMI into the target region with Packer’s fields, a stable token and ownership tags', async () => {
    // Act
    const result = await copyImage({ build: state(), args: { region: 'eu-west-1' } }, deps);

    // Assess
    expect(result).toEqual({ region: 'eu-west-1', imageId: 'ami-copy' });
    expect(ec2['eu-west-1']?.commandCalls(CopyImageCommand).map((c) => c.args[0].input)).toEqual([
      {
        SourceRegion: 'us-east-1',
        SourceImageId: 'ami-main',
        Name: AMI_NAME,
        Description: 'Built from ami-src',
        ClientToken: copyClientToken({ id: EXECUTION_ID }, 'amazon-instance', 'eu-west-1'),
        CopyImageTags: true,
        TagSpecifications: [
          {
            ResourceType: 'image',
            Tags: [
              { Key: 'ami-builder:stack', Value: 'AmiBuilder' },
              { Key: 'ami-builder:execution', Value: EXECUTION_ID },
              { Key: 'ami-builder:build', Value: 'amazon-instance' },
              { Key: 'ami-builder:on-error', Value: 'cleanup' },
              { Key: 'ami-builder:family', Value: 'amazon-instance' },
            ],
          },
        ],
      },
    ]);
    expect(ec2['us-east-1']?.calls()).toHaveLength(0);
    expect(messages).toEqual(['Copying to: eu-west-1']);
  });

  it('sends no Description when ami_description is not set', async () => {
    // Act
    await copyImage({ build: state({}, null), args: { region: 'eu-west-1' } }, deps);

    // Assess
    expect(ec2['eu-west-1']?.commandCalls(CopyImageCommand)[0]?.args[0].input).not.toHaveProperty(
      'Description',
    );
  });

  it('sends the same request, token included, when invoked again', async () => {
    // Act
    await copyImage({ build: state(), args: { region: 'eu-west-1' } }, deps);
    await copyImage({ build: state(), args: { region: 'eu-west-1' } }, deps);

    // Assess
    const [first, second] =
      ec2['eu-west-1']?.commandCalls(CopyImageCommand).map((c) => c.args[0].input) ?? [];
    expect(second).toEqual(first);
  });

  it('returns the copy this execution already made in the region without copying again', async () => {
    // Prepare
    ec2['eu-west-1']
      ?.on(DescribeImagesCommand)
      .resolves({ Images: [{ ImageId: 'ami-earlier', State: 'pending' }] });

    // Act
    const result = await copyImage({ build: state(), args: { region: 'eu-west-1' } }, deps);

    // Assess
    expect(result).toEqual({ region: 'eu-west-1', imageId: 'ami-earlier' });
    expect(ec2['eu-west-1']?.commandCalls(DescribeImagesCommand)[0]?.args[0].input).toEqual({
      Owners: ['self'],
      Filters: [
        { Name: 'name', Values: [AMI_NAME] },
        { Name: 'tag:ami-builder:execution', Values: [EXECUTION_ID] },
      ],
    });
    expect(ec2['eu-west-1']?.commandCalls(CopyImageCommand)).toHaveLength(0);
  });

  it('fails when EC2 refuses the copy, naming the region', async () => {
    // Prepare
    ec2['eu-west-1']
      ?.on(CopyImageCommand)
      .rejects(awsError('InvalidRequest', 'The source image is not available'));

    // Act
    const act = copyImage({ build: state(), args: { region: 'eu-west-1' } }, deps);

    // Assess
    await expect(act).rejects.toThrow(ImageCopyError);
    await expect(act).rejects.toThrow(
      'Copying AMI ami-main (us-east-1) to eu-west-1 failed: InvalidRequest: The source image is not available',
    );
  });

  it('fails when the name is taken in the target region, saying how to replace it', async () => {
    // Prepare
    ec2['eu-west-1']
      ?.on(CopyImageCommand)
      .rejects(awsError('InvalidAMIName.Duplicate', 'AMI name is in use'));

    // Act
    const error = await rejection(copyImage({ build: state(), args: { region: 'eu-west-1' } }, deps));

    // Assess
    expect(error).toBeInstanceOf(ImageCopyError);
    expect(error.message).toContain(`An AMI named '${AMI_NAME}' already exists in eu-west-1`);
    expect(error.message).toContain('force_deregister');
  });

  it('fails when S3 access is missing, listing the permissions an instance-store copy needs', async () => {
    // Prepare
    ec2['eu-west-1']
      ?.on(CopyImageCommand)
      .rejects(awsError('AccessDenied', 'You do not have permission to access the storage of this ami'));

    // Act
    const error = await rejection(copyImage({ build: state(), args: { region: 'eu-west-1' } }, deps));

    // Assess
    expect(error).toBeInstanceOf(ImageCopyError);
    expect(error.message).toContain('needs S3 permissions in eu-west-1 (s3:CreateBucket');
  });

  it('fails when the state lacks the registered image', async () => {
    // Act
    const act = copyImage({ build: state({ image: undefined }), args: { region: 'eu-west-1' } }, deps);

    // Assess
    await expect(act).rejects.toThrow(TaskInputError);
  });

  it('lets throttling through unwrapped, so the handler turns it into AwsTransientError', async () => {
    // Prepare
    ec2['eu-west-1']?.on(CopyImageCommand).rejects(awsError('RequestLimitExceeded', 'slow down', 503));
    const task = lambdaHandler((build: BuildState) =>
      copyImage({ build, args: { region: 'eu-west-1' } }, deps),
    );

    // Act
    const act = task(state());

    // Assess
    await expect(act).rejects.toThrow(AwsTransientError);
  });
});

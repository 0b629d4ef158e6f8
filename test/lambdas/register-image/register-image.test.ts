import { DescribeImagesCommand, EC2Client, RegisterImageCommand } from '@aws-sdk/client-ec2';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type RegisterImageDeps,
  registerImage,
  registerImageInput,
  toEc2BlockDeviceMapping,
} from '../../../lambdas/register-image/register-image.js';
import {
  AmiNameInUseError,
  AwsTransientError,
  RegisterImageError,
  TaskInputError,
} from '../../../lambdas/shared/errors.js';
import { lambdaHandler } from '../../../lambdas/shared/runtime.js';
import type { BuildState, SourceInfo } from '../../../lambdas/shared/state.js';
import { type BuildStateOverrides, EXECUTION_ID, makeBuildState, makeEnvironment } from '../fixtures.js';

const AMI_NAME = 'my-ami-1704153600';
const OWNERSHIP = [
  { Key: 'ami-builder:stack', Value: 'AmiBuilder' },
  { Key: 'ami-builder:execution', Value: EXECUTION_ID },
  { Key: 'ami-builder:build', Value: 'amazon-instance' },
  { Key: 'ami-builder:on-error', Value: 'cleanup' },
  { Key: 'ami-builder:family', Value: 'amazon-instance' },
];

let ec2: AwsClientStub<EC2Client>;
let regions: string[];
let messages: string[];
let deps: RegisterImageDeps;

beforeEach(() => {
  const client = new EC2Client({ region: 'us-east-1' });
  ec2 = mockClient(client);
  ec2.on(DescribeImagesCommand).resolves({ Images: [] });
  ec2.on(RegisterImageCommand).resolves({ ImageId: 'ami-new' });
  regions = [];
  messages = [];
  deps = {
    clients: {
      ec2: (region) => {
        regions.push(region);
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

function source(overrides: Partial<SourceInfo> = {}): SourceInfo {
  return {
    imageId: 'ami-0123456789abcdef0',
    name: 'source',
    ownerId: '123456789012',
    creationDate: '2024-01-01T00:00:00.000Z',
    tags: {},
    rootDeviceType: 'instance-store',
    architecture: 'x86_64',
    virtualizationType: 'paravirtual',
    accountId: '123456789012',
    rendered: { tags: { Name: 'built from ami-0123456789abcdef0' }, runTags: {} },
    ...overrides,
  };
}

function state(overrides: BuildStateOverrides = {}): BuildState {
  return makeBuildState({
    source: source(),
    bucket: {
      name: 'my-bundles',
      keyPrefix: '',
      region: 'us-east-1',
      manifestLocation: 'my-bundles/image-1704153600.manifest.xml',
      created: false,
    },
    instance: { instanceId: 'i-0abc', architecture: 'i386' },
    ...overrides,
  });
}

describe('toEc2BlockDeviceMapping', () => {
  it('maps an EBS volume as Packer does: IOPS and throughput only for the types that take them', () => {
    expect(
      toEc2BlockDeviceMapping({
        deviceName: '/dev/sdb',
        volumeType: 'gp3',
        volumeSize: 20,
        iops: 4000,
        throughput: 250,
        deleteOnTermination: true,
        encrypted: true,
        kmsKeyId: 'alias/key',
        snapshotId: 'snap-1',
      }),
    ).toEqual({
      DeviceName: '/dev/sdb',
      Ebs: {
        DeleteOnTermination: true,
        VolumeType: 'gp3',
        VolumeSize: 20,
        Iops: 4000,
        Throughput: 250,
        SnapshotId: 'snap-1',
        Encrypted: true,
        KmsKeyId: 'alias/key',
      },
    });
    expect(
      toEc2BlockDeviceMapping({ deviceName: '/dev/sdc', volumeType: 'gp2', iops: 100, throughput: 200 }),
    ).toEqual({ DeviceName: '/dev/sdc', Ebs: { DeleteOnTermination: false, VolumeType: 'gp2' } });
  });

  it('maps no_device and ephemeral virtual names without an EBS block', () => {
    expect(toEc2BlockDeviceMapping({ deviceName: '/dev/sdd', noDevice: true, volumeSize: 8 })).toEqual({
      DeviceName: '/dev/sdd',
      NoDevice: '',
    });
    expect(toEc2BlockDeviceMapping({ deviceName: '/dev/sdb', virtualName: 'ephemeral0' })).toEqual({
      DeviceName: '/dev/sdb',
      VirtualName: 'ephemeral0',
    });
    // Packer ignores a virtual name that is not ephemeralN.
    expect(toEc2BlockDeviceMapping({ deviceName: '/dev/sde', virtualName: 'swap' })).toEqual({
      DeviceName: '/dev/sde',
    });
  });
});

describe('registerImage', () => {
  it('registers the bundle in the build region with the fields of Packer’s RegisterImage, tagged', async () => {
    // Prepare
    const build = state({
      config: {
        amiVirtualizationType: 'hvm',
        amiBlockDeviceMappings: [{ deviceName: '/dev/sdb', virtualName: 'ephemeral0' }],
        enaSupport: true,
        sriovSupport: true,
        tpmSupport: 'v2.0',
        amiDescription: 'not sent here',
        imdsSupport: 'v2.0',
      },
    });

    // Act
    const result = await registerImage({ build }, deps);

    // Assess
    expect(result).toEqual({ region: 'us-east-1', imageId: 'ami-new' });
    expect(regions.every((r) => r === 'us-east-1')).toBe(true);
    expect(ec2.commandCalls(RegisterImageCommand).map((c) => c.args[0].input)).toEqual([
      {
        ImageLocation: 'my-bundles/image-1704153600.manifest.xml',
        Name: AMI_NAME,
        Architecture: 'i386',
        VirtualizationType: 'hvm',
        BlockDeviceMappings: [{ DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' }],
        EnaSupport: true,
        SriovNetSupport: 'simple',
        TpmSupport: 'v2.0',
        TagSpecifications: [
          {
            ResourceType: 'image',
            Tags: [{ Key: 'Name', Value: 'built from ami-0123456789abcdef0' }, ...OWNERSHIP],
          },
        ],
      },
    ]);
    expect(messages).toEqual(['Registering the AMI...', 'AMI: ami-new']);
  });

  it('leaves out the optional fields that are not set, and Description and ImdsSupport always', () => {
    // Act
    const input = registerImageInput(state({ config: { enaSupport: false } }), makeEnvironment());

    // Assess
    expect(Object.keys(input).sort()).toEqual(['Architecture', 'ImageLocation', 'Name', 'TagSpecifications']);
  });

  it('uses the source architecture when the instance’s is unknown', () => {
    // Act
    const input = registerImageInput(state({ instance: { instanceId: 'i-0abc' } }), makeEnvironment());

    // Assess
    expect(input.Architecture).toBe('x86_64');
  });

  it('keeps the ownership tags when a template tag uses the same key', () => {
    // Prepare
    const build = state({
      source: source({
        rendered: { tags: { 'ami-builder:execution': 'spoofed', Team: 'core' }, runTags: {} },
      }),
      config: { onError: 'abort' },
    });

    // Act
    const input = registerImageInput(build, makeEnvironment());

    // Assess
    expect(input.TagSpecifications?.[0]?.Tags).toEqual([
      { Key: 'ami-builder:execution', Value: EXECUTION_ID },
      { Key: 'Team', Value: 'core' },
      { Key: 'ami-builder:stack', Value: 'AmiBuilder' },
      { Key: 'ami-builder:build', Value: 'amazon-instance' },
      { Key: 'ami-builder:on-error', Value: 'keep' },
      { Key: 'ami-builder:family', Value: 'amazon-instance' },
    ]);
  });

  it('tags the fingerprint only when Check Unchanged computed one (skip_if_unchanged)', () => {
    // Act
    const withFingerprint = registerImageInput(
      state({ fingerprint: { value: 'v1:0123abcd' } }),
      makeEnvironment(),
    );
    const without = registerImageInput(state(), makeEnvironment());

    // Assess
    expect(withFingerprint.TagSpecifications?.[0]?.Tags).toContainEqual({
      Key: 'ami-builder:fingerprint',
      Value: 'v1:0123abcd',
    });
    expect(without.TagSpecifications?.[0]?.Tags?.map((t) => t.Key)).not.toContain('ami-builder:fingerprint');
  });

  it('looks for an image of the same name first, owned by this account', async () => {
    // Act
    await registerImage({ build: state() }, deps);

    // Assess
    expect(ec2.calls().map((c) => c.args[0].constructor.name)).toEqual([
      'DescribeImagesCommand',
      'RegisterImageCommand',
    ]);
    expect(ec2.commandCalls(DescribeImagesCommand)[0]?.args[0].input).toEqual({
      Owners: ['self'],
      Filters: [{ Name: 'name', Values: [AMI_NAME] }],
    });
  });

  it('returns the image this execution registered earlier without registering again', async () => {
    // Prepare
    ec2.on(DescribeImagesCommand).resolves({
      Images: [{ ImageId: 'ami-earlier', Name: AMI_NAME, Tags: OWNERSHIP }],
    });

    // Act
    const result = await registerImage({ build: state() }, deps);

    // Assess
    expect(result).toEqual({ region: 'us-east-1', imageId: 'ami-earlier' });
    expect(ec2.commandCalls(RegisterImageCommand)).toHaveLength(0);
  });

  it('fails when another image already has the name, with Packer’s message', async () => {
    // Prepare
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        { ImageId: 'ami-other', Name: AMI_NAME, Tags: [{ Key: 'ami-builder:execution', Value: 'x' }] },
      ],
    });

    // Act
    const act = registerImage({ build: state() }, deps);

    // Assess
    await expect(act).rejects.toThrow(AmiNameInUseError);
    await expect(act).rejects.toThrow(
      `Error: AMI Name: '${AMI_NAME}' is used by an existing AMI: ami-other in us-east-1.`,
    );
    expect(ec2.commandCalls(RegisterImageCommand)).toHaveLength(0);
  });

  it('returns its own image when a concurrent attempt registered it first (InvalidAMIName.Duplicate)', async () => {
    // Prepare
    ec2
      .on(DescribeImagesCommand)
      .resolvesOnce({ Images: [] })
      .resolves({ Images: [{ ImageId: 'ami-race', Tags: OWNERSHIP }] });
    ec2.on(RegisterImageCommand).rejects(awsError('InvalidAMIName.Duplicate', 'AMI name is already in use'));

    // Act
    const result = await registerImage({ build: state() }, deps);

    // Assess
    expect(result).toEqual({ region: 'us-east-1', imageId: 'ami-race' });
  });

  it('fails when the duplicate name belongs to another image', async () => {
    // Prepare
    ec2
      .on(DescribeImagesCommand)
      .resolvesOnce({ Images: [] })
      .resolves({ Images: [{ ImageId: 'ami-other' }] });
    ec2.on(RegisterImageCommand).rejects(awsError('InvalidAMIName.Duplicate', 'AMI name is already in use'));

    // Act
    const act = registerImage({ build: state() }, deps);

    // Assess
    await expect(act).rejects.toThrow(AmiNameInUseError);
  });

  it('fails when the duplicate name is not visible yet', async () => {
    // Prepare
    ec2.on(RegisterImageCommand).rejects(awsError('InvalidAMIName.Duplicate', 'AMI name is already in use'));

    // Act
    const act = registerImage({ build: state() }, deps);

    // Assess
    await expect(act).rejects.toThrow(AmiNameInUseError);
    await expect(act).rejects.toThrow('(unknown id)');
  });

  it('fails when the manifest is in a bucket of another region, with the bucket-region hint', async () => {
    // Prepare
    ec2
      .on(RegisterImageCommand)
      .rejects(
        awsError(
          'InvalidManifest',
          'HTTP 301 (Moved Permanently) for URL my-bundles.s3.amazonaws.com/image.manifest.xml',
        ),
      );

    // Act
    const act = registerImage({ build: state() }, deps);

    // Assess
    await expect(act).rejects.toThrow(RegisterImageError);
    const error = await rejection(act);
    expect(error.message).toContain(
      "Error registering AMI 'my-ami-1704153600' from my-bundles/image-1704153600.manifest.xml in us-east-1: InvalidManifest: HTTP 301",
    );
    expect(error.message).toContain("The bundle bucket 'my-bundles' must be in the build region us-east-1");
    expect(error.message).not.toContain('aws-exec-read');
  });

  it('fails when EC2 cannot read the manifest, with the ACL and s3_bucket path hints', async () => {
    // Prepare
    ec2
      .on(RegisterImageCommand)
      .rejects(
        awsError(
          'InvalidManifest',
          'HTTP 403 (Forbidden) for URL my-bundles.s3.amazonaws.com/image.manifest.xml',
        ),
      );
    const build = state({ config: { bundle: { keyPrefix: 'builds/x' } } });

    // Act
    const error = await rejection(registerImage({ build }, deps));

    // Assess
    expect(error).toBeInstanceOf(RegisterImageError);
    expect(error.message).toContain('aws-exec-read');
    expect(error.message).toContain('-b my-bundles/builds/x');
    expect(error.message).toContain('packer#5231');
    expect(error.message).not.toContain('must be in the build region');
  });

  it('fails with EC2’s message for any other refusal', async () => {
    // Prepare
    ec2.on(RegisterImageCommand).rejects(awsError('InvalidParameterValue', 'Invalid architecture'));

    // Act
    const error = await rejection(registerImage({ build: state() }, deps));

    // Assess
    expect(error).toBeInstanceOf(RegisterImageError);
    expect(error.message).toBe(
      "Error registering AMI 'my-ami-1704153600' from my-bundles/image-1704153600.manifest.xml in us-east-1: InvalidParameterValue: Invalid architecture",
    );
  });

  it('fails when DescribeImages is refused', async () => {
    // Prepare
    ec2.on(DescribeImagesCommand).rejects(awsError('UnauthorizedOperation', 'no'));

    // Act
    const act = registerImage({ build: state() }, deps);

    // Assess
    await expect(act).rejects.toThrow(
      "Error describing AMI 'my-ami-1704153600' in us-east-1: UnauthorizedOperation: no",
    );
  });

  it('fails when an earlier step’s result is missing from the state', async () => {
    // Act
    const act = registerImage({ build: state({ bucket: undefined }) }, deps);

    // Assess
    await expect(act).rejects.toThrow(TaskInputError);
    await expect(act).rejects.toThrow('$.bucket');
  });

  it('lets throttling through unwrapped, so the handler turns it into AwsTransientError', async () => {
    // Prepare
    ec2.on(RegisterImageCommand).rejects(awsError('RequestLimitExceeded', 'slow down', 503));
    const task = lambdaHandler((build: BuildState) => registerImage({ build }, deps));

    // Act
    const act = task(state());

    // Assess
    await expect(act).rejects.toThrow(AwsTransientError);
  });
});

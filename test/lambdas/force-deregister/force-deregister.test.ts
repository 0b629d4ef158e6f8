import {
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  type DescribeSnapshotsCommandInput,
  EC2Client,
  type Image,
} from '@aws-sdk/client-ec2';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type ForceDeregisterDeps,
  forceDeregister,
  isBundleKey,
  manifestPartNames,
  parseBundleLocation,
} from '../../../lambdas/force-deregister/force-deregister.js';
import { AwsTransientError, ForeignImageError, RegisterImageError } from '../../../lambdas/shared/errors.js';
import { lambdaHandler } from '../../../lambdas/shared/runtime.js';
import type { BuildState } from '../../../lambdas/shared/state.js';
import { type BuildStateOverrides, type ConfigOverrides, EXECUTION_ID, makeBuildState } from '../fixtures.js';

const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'] as const;
const AMI_NAME = 'my-ami-1704153600';
const STACK = 'AmiBuilder';
/** The ownership tag of an image or snapshot this stack created. */
const OWNED = [{ Key: 'ami-builder:stack', Value: STACK }];

let ec2: Record<string, AwsClientStub<EC2Client>>;
let s3: Record<string, AwsClientStub<S3Client>>;
let deps: ForceDeregisterDeps;
let messages: string[];

beforeEach(() => {
  const ec2Clients = Object.fromEntries(REGIONS.map((r) => [r, new EC2Client({ region: r })]));
  const s3Clients = Object.fromEntries(REGIONS.map((r) => [r, new S3Client({ region: r })]));
  ec2 = Object.fromEntries(REGIONS.map((r) => [r, mockClient(ec2Clients[r] as EC2Client)]));
  s3 = Object.fromEntries(REGIONS.map((r) => [r, mockClient(s3Clients[r] as S3Client)]));
  for (const mock of Object.values(ec2)) {
    mock.on(DescribeImagesCommand).resolves({ Images: [] });
    // By default every snapshot is the stack's (EC2 applies the tag filter).
    mock.on(DescribeSnapshotsCommand).callsFake((input: DescribeSnapshotsCommandInput) => ({
      Snapshots: (input.SnapshotIds ?? []).map((SnapshotId) => ({ SnapshotId, Tags: OWNED })),
    }));
  }
  messages = [];
  deps = {
    clients: {
      ec2: (region) => ec2Clients[region] ?? fail(`no EC2 client for ${region}`),
      s3: (region) => s3Clients[region] ?? fail(`no S3 client for ${region}`),
    },
    env: { stackName: STACK, adoptForeignImages: false },
    log: (message) => messages.push(message),
  };
});

function fail(message: string): never {
  throw new Error(message);
}

function awsError(name: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode } });
}

function state(config: ConfigOverrides = {}, rest: Omit<BuildStateOverrides, 'config'> = {}): BuildState {
  return makeBuildState({
    config: { forceDeregister: true, amiRegions: ['us-west-2', 'eu-west-1'], ...config },
    ...rest,
  });
}

/** The bundle this build uploaded, at `my-bundles/<key>.manifest.xml`. */
function uploaded(key: string): Omit<BuildStateOverrides, 'config'> {
  return {
    bucket: {
      name: 'my-bundles',
      keyPrefix: '',
      region: 'us-east-1',
      manifestLocation: `my-bundles/${key}.manifest.xml`,
      created: false,
    },
  };
}

function body(text: string): GetObjectCommandOutput['Body'] {
  return { transformToString: async () => text } as unknown as GetObjectCommandOutput['Body'];
}

/** An ec2-upload-bundle manifest listing the given part files. */
function manifest(parts: string[]): string {
  const entries = parts
    .map(
      (name, i) =>
        `<part index="${i}"><filename>${name}</filename><digest algorithm="SHA1">00</digest></part>`,
    )
    .join('');
  return `<?xml version="1.0"?><manifest><version>2007-10-10</version><image><name>x</name></image><parts count="${parts.length}">${entries}</parts></manifest>`;
}

const deletedKeys = (region: string) =>
  (s3[region]?.commandCalls(DeleteObjectsCommand) ?? []).flatMap((c) =>
    (c.args[0].input.Delete?.Objects ?? []).map((o) => o.Key),
  );

const instanceStoreImage = (id: string, location: string): Image => ({
  ImageId: id,
  Name: AMI_NAME,
  RootDeviceType: 'instance-store',
  ImageLocation: location,
  Tags: OWNED,
});

describe('parseBundleLocation', () => {
  it('splits the bucket from the key prefix of an instance-store manifest location', () => {
    expect(parseBundleLocation('my-bundles/path/to/image-1.manifest.xml')).toEqual({
      bucket: 'my-bundles',
      prefix: 'path/to/image-1',
    });
    expect(parseBundleLocation('my-bundles/image-1.manifest.xml')).toEqual({
      bucket: 'my-bundles',
      prefix: 'image-1',
    });
  });

  it('returns undefined for an EBS image location or a malformed one', () => {
    expect(parseBundleLocation('123456789012/my-ami')).toBeUndefined();
    expect(parseBundleLocation('/image.manifest.xml')).toBeUndefined();
    expect(parseBundleLocation('bucket/.manifest.xml')).toBeUndefined();
    expect(parseBundleLocation(undefined)).toBeUndefined();
  });
});

describe('isBundleKey', () => {
  it('accepts only the manifest and the numbered parts of the bundle', () => {
    expect(isBundleKey('p/image.manifest.xml', 'p/image')).toBe(true);
    expect(isBundleKey('p/image.part.00', 'p/image')).toBe(true);
    expect(isBundleKey('p/image.part.117', 'p/image')).toBe(true);
    expect(isBundleKey('p/image.part.', 'p/image')).toBe(false);
    expect(isBundleKey('p/image.part.00.bak', 'p/image')).toBe(false);
    expect(isBundleKey('p/image-2.manifest.xml', 'p/image')).toBe(false);
    expect(isBundleKey('p/image.manifest.xml.old', 'p/image')).toBe(false);
  });
});

describe('manifestPartNames', () => {
  it('reads the part file names of an ec2-upload-bundle manifest', () => {
    expect(manifestPartNames(manifest(['image.part.0', 'image.part.1']))).toEqual([
      'image.part.0',
      'image.part.1',
    ]);
    expect(manifestPartNames('not xml')).toEqual([]);
  });
});

describe('forceDeregister ownership', () => {
  it('fails when a same-name image was not built by this stack, before deregistering any image', async () => {
    // Prepare
    ec2['us-west-2']?.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-ours', Tags: OWNED }] });
    ec2['us-east-1']?.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ImageId: 'ami-packer',
          Name: AMI_NAME,
          OwnerId: '123456789012',
          Tags: [{ Key: 'ami-builder:stack', Value: 'OtherStack' }],
        },
      ],
    });

    // Act
    const act = forceDeregister({ build: state({ forceDeleteSnapshot: true }) }, deps);

    // Assess
    await expect(act).rejects.toThrow(ForeignImageError);
    await expect(act).rejects.toThrow(
      `AMI ami-packer ('${AMI_NAME}') in us-east-1, owner 123456789012, built by stack 'OtherStack'`,
    );
    await expect(act).rejects.toThrow('-c adoptForeignImages=true');
    for (const region of REGIONS) {
      expect(ec2[region]?.commandCalls(DeregisterImageCommand), region).toHaveLength(0);
      expect(s3[region]?.calls(), region).toHaveLength(0);
    }
  });

  it('deregisters a foreign image and deletes its bundle when the stack adopts foreign images', async () => {
    // Prepare
    ec2['us-east-1']?.on(DescribeImagesCommand).resolves({
      Images: [{ ...instanceStoreImage('ami-packer', 'my-bundles/packer/image.manifest.xml'), Tags: [] }],
    });
    s3['us-east-1']
      ?.on(ListObjectsV2Command)
      .resolves({ Contents: [{ Key: 'packer/image.manifest.xml' }, { Key: 'packer/image.part.0' }] });
    s3['us-east-1']?.on(DeleteObjectsCommand).resolves({});

    // Act
    const result = await forceDeregister(
      { build: state({ amiRegions: [], forceDeleteSnapshot: true }) },
      { ...deps, env: { stackName: STACK, adoptForeignImages: true } },
    );

    // Assess
    expect(result.deregistered).toEqual([{ region: 'us-east-1', imageId: 'ami-packer' }]);
    expect(deletedKeys('us-east-1')).toEqual(['packer/image.manifest.xml', 'packer/image.part.0']);
    expect(messages.some((m) => m.startsWith('Adopting AMI ami-packer'))).toBe(true);
  });

  it('keeps snapshots that do not carry the stack tag, even of an image it deregisters', async () => {
    // Prepare
    ec2['us-east-1']?.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ImageId: 'ami-old',
          Tags: OWNED,
          BlockDeviceMappings: [{ Ebs: { SnapshotId: 'snap-user' } }, { Ebs: { SnapshotId: 'snap-ours' } }],
        },
      ],
    });
    ec2['us-east-1']
      ?.on(DescribeSnapshotsCommand)
      .resolves({ Snapshots: [{ SnapshotId: 'snap-ours', Tags: OWNED }] });

    // Act
    await forceDeregister({ build: state({ amiRegions: [], forceDeleteSnapshot: true }) }, deps);

    // Assess
    expect(ec2['us-east-1']?.commandCalls(DescribeSnapshotsCommand)[0]?.args[0].input).toEqual({
      SnapshotIds: ['snap-user', 'snap-ours'],
      Filters: [{ Name: 'tag:ami-builder:stack', Values: [STACK] }],
    });
    expect(ec2['us-east-1']?.commandCalls(DeleteSnapshotCommand).map((c) => c.args[0].input)).toEqual([
      { SnapshotId: 'snap-ours' },
    ]);
    expect(messages).toContain('Keeping snapshot snap-user: it does not carry ami-builder:stack=AmiBuilder');
  });

  it('keeps the keys of the bundle this build uploaded when the old bundle lies at the same keys', async () => {
    // Prepare: a rebuild with a fixed bundle_prefix; the old bundle had one part more than the new one.
    ec2['us-east-1']
      ?.on(DescribeImagesCommand)
      .resolves({ Images: [instanceStoreImage('ami-old', 'my-bundles/fixed/image.manifest.xml')] });
    s3['us-east-1']?.on(ListObjectsV2Command).resolves({
      Contents: [
        { Key: 'fixed/image.manifest.xml' },
        { Key: 'fixed/image.part.0' },
        { Key: 'fixed/image.part.1' },
        { Key: 'fixed/image.part.2' },
      ],
    });
    s3['us-east-1']
      ?.on(GetObjectCommand, { Bucket: 'my-bundles', Key: 'fixed/image.manifest.xml' })
      .resolves({ Body: body(manifest(['image.part.0', 'image.part.1'])) });
    s3['us-east-1']?.on(DeleteObjectsCommand).resolves({});

    // Act
    await forceDeregister(
      { build: state({ amiRegions: [], forceDeleteSnapshot: true }, uploaded('fixed/image')) },
      deps,
    );

    // Assess
    expect(deletedKeys('us-east-1')).toEqual(['fixed/image.part.2']);
    expect(messages).toContain(
      "Deleted bundle: s3://my-bundles/fixed/image.manifest.xml (1 object(s)); kept 3 object(s) at the same keys: this build's own bundle",
    );
  });

  it('deletes nothing at the new bundle’s keys when its manifest cannot be read', async () => {
    // Prepare
    ec2['us-east-1']
      ?.on(DescribeImagesCommand)
      .resolves({ Images: [instanceStoreImage('ami-old', 'my-bundles/fixed/image.manifest.xml')] });
    s3['us-east-1']?.on(ListObjectsV2Command).resolves({
      Contents: [{ Key: 'fixed/image.manifest.xml' }, { Key: 'fixed/image.part.0' }],
    });
    s3['us-east-1']?.on(GetObjectCommand).rejects(awsError('NoSuchKey', 'no such key', 404));

    // Act
    await forceDeregister(
      { build: state({ amiRegions: [], forceDeleteSnapshot: true }, uploaded('fixed/image')) },
      deps,
    );

    // Assess
    expect(s3['us-east-1']?.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
  });

  it('deletes an old bundle at other keys of the same bucket entirely', async () => {
    // Prepare
    ec2['us-east-1']
      ?.on(DescribeImagesCommand)
      .resolves({ Images: [instanceStoreImage('ami-old', 'my-bundles/image-1.manifest.xml')] });
    s3['us-east-1']?.on(ListObjectsV2Command).resolves({
      Contents: [{ Key: 'image-1.manifest.xml' }, { Key: 'image-1.part.0' }],
    });
    s3['us-east-1']?.on(GetObjectCommand).resolves({ Body: body(manifest(['image-2.part.0'])) });
    s3['us-east-1']?.on(DeleteObjectsCommand).resolves({});

    // Act
    await forceDeregister(
      { build: state({ amiRegions: [], forceDeleteSnapshot: true }, uploaded('image-2')) },
      deps,
    );

    // Assess
    expect(deletedKeys('us-east-1')).toEqual(['image-1.manifest.xml', 'image-1.part.0']);
  });
});

describe('forceDeregister', () => {
  it('deregisters the same-named images in ami_regions and the build region, as Packer', async () => {
    // Prepare
    ec2['us-west-2']
      ?.on(DescribeImagesCommand)
      .resolves({ Images: [{ ImageId: 'ami-west', Name: AMI_NAME, Tags: OWNED }] });
    ec2['us-east-1']?.on(DescribeImagesCommand).resolves({
      Images: [
        { ImageId: 'ami-east1', Tags: OWNED },
        { ImageId: 'ami-east2', Tags: OWNED },
      ],
    });

    // Act
    const result = await forceDeregister({ build: state() }, deps);

    // Assess
    expect(result).toEqual({
      deregistered: [
        { region: 'us-west-2', imageId: 'ami-west' },
        { region: 'us-east-1', imageId: 'ami-east1' },
        { region: 'us-east-1', imageId: 'ami-east2' },
      ],
    });
    for (const region of REGIONS) {
      expect(ec2[region]?.commandCalls(DescribeImagesCommand).map((c) => c.args[0].input)).toEqual([
        { Owners: ['self'], Filters: [{ Name: 'name', Values: [AMI_NAME] }] },
      ]);
    }
    expect(ec2['us-east-1']?.commandCalls(DeregisterImageCommand).map((c) => c.args[0].input)).toEqual([
      { ImageId: 'ami-east1' },
      { ImageId: 'ami-east2' },
    ]);
    expect(ec2['eu-west-1']?.commandCalls(DeregisterImageCommand)).toHaveLength(0);
    expect(messages).toContain(`Deregistered AMI ${AMI_NAME}, id: ami-west`);
    expect(messages).toContain(`Deregistered AMI ${AMI_NAME}, id: ami-east2`);
  });

  it('does nothing when force_deregister is not set', async () => {
    // Act
    const result = await forceDeregister({ build: state({ forceDeregister: false }) }, deps);

    // Assess
    expect(result).toEqual({ deregistered: [] });
    expect(ec2['us-east-1']?.calls()).toHaveLength(0);
  });

  it('keeps an image tagged with this execution, so a redrive after Register AMI keeps its own AMI', async () => {
    // Prepare
    ec2['us-east-1']?.on(DescribeImagesCommand).resolves({
      Images: [
        { ImageId: 'ami-ours', Tags: [...OWNED, { Key: 'ami-builder:execution', Value: EXECUTION_ID }] },
        {
          ImageId: 'ami-old',
          Tags: [...OWNED, { Key: 'ami-builder:execution', Value: `${EXECUTION_ID}-other` }],
        },
      ],
    });

    // Act
    const result = await forceDeregister({ build: state({ amiRegions: [] }) }, deps);

    // Assess
    expect(result.deregistered).toEqual([{ region: 'us-east-1', imageId: 'ami-old' }]);
    expect(ec2['us-east-1']?.commandCalls(DeregisterImageCommand).map((c) => c.args[0].input)).toEqual([
      { ImageId: 'ami-old' },
    ]);
  });

  it('keeps old snapshots and bundles unless force_delete_snapshot is set', async () => {
    // Prepare
    ec2['us-east-1']?.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ...instanceStoreImage('ami-old', 'my-bundles/image-1.manifest.xml'),
          BlockDeviceMappings: [{ DeviceName: '/dev/sdb', Ebs: { SnapshotId: 'snap-1' } }],
        },
      ],
    });

    // Act
    await forceDeregister({ build: state({ amiRegions: [] }) }, deps);

    // Assess
    expect(ec2['us-east-1']?.commandCalls(DeleteSnapshotCommand)).toHaveLength(0);
    expect(s3['us-east-1']?.calls()).toHaveLength(0);
  });

  it('deletes the old bundle (manifest and parts only) and EBS snapshots with force_delete_snapshot', async () => {
    // Prepare
    ec2['us-west-2']?.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ...instanceStoreImage('ami-old', 'my-bundles/builds/image-1.manifest.xml'),
          BlockDeviceMappings: [
            { DeviceName: '/dev/sdb', Ebs: { SnapshotId: 'snap-1' } },
            { DeviceName: '/dev/sdc', VirtualName: 'ephemeral0' },
          ],
        },
      ],
    });
    s3['us-west-2']
      ?.on(ListObjectsV2Command)
      .resolvesOnce({
        Contents: [
          { Key: 'builds/image-1.manifest.xml' },
          { Key: 'builds/image-1.part.00' },
          { Key: 'builds/image-1.part.01' },
        ],
        IsTruncated: true,
        NextContinuationToken: 'next',
      })
      .resolvesOnce({
        Contents: [{ Key: 'builds/image-1.part.02' }, { Key: 'builds/image-10.manifest.xml' }],
        IsTruncated: false,
      });
    s3['us-west-2']?.on(DeleteObjectsCommand).resolves({});

    // Act
    await forceDeregister({ build: state({ forceDeleteSnapshot: true }) }, deps);

    // Assess
    expect(s3['us-west-2']?.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input)).toEqual([
      { Bucket: 'my-bundles', Prefix: 'builds/image-1', ContinuationToken: undefined },
      { Bucket: 'my-bundles', Prefix: 'builds/image-1', ContinuationToken: 'next' },
    ]);
    expect(s3['us-west-2']?.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input)).toEqual([
      {
        Bucket: 'my-bundles',
        Delete: {
          Objects: [
            { Key: 'builds/image-1.manifest.xml' },
            { Key: 'builds/image-1.part.00' },
            { Key: 'builds/image-1.part.01' },
            { Key: 'builds/image-1.part.02' },
          ],
          Quiet: true,
        },
      },
    ]);
    expect(ec2['us-west-2']?.commandCalls(DeleteSnapshotCommand).map((c) => c.args[0].input)).toEqual([
      { SnapshotId: 'snap-1' },
    ]);
    expect(messages).toContain('Deleted snapshot: snap-1');
    // Deregister first, as Packer: a snapshot in use by a registered image cannot be deleted.
    const order = ec2['us-west-2']?.calls().map((c) => c.args[0].constructor.name);
    expect(order).toEqual([
      'DescribeImagesCommand',
      'DeregisterImageCommand',
      'DescribeSnapshotsCommand',
      'DeleteSnapshotCommand',
    ]);
  });

  it('deletes no S3 object for an EBS-backed image, only its snapshots', async () => {
    // Prepare
    ec2['us-east-1']?.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ImageId: 'ami-ebs',
          RootDeviceType: 'ebs',
          ImageLocation: '123456789012/my-ami',
          Tags: OWNED,
          BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-root' } }],
        },
      ],
    });

    // Act
    await forceDeregister({ build: state({ amiRegions: [], forceDeleteSnapshot: true }) }, deps);

    // Assess
    expect(s3['us-east-1']?.calls()).toHaveLength(0);
    expect(ec2['us-east-1']?.commandCalls(DeleteSnapshotCommand, { SnapshotId: 'snap-root' })).toHaveLength(
      1,
    );
  });

  it('treats an image or snapshot that is already gone as removed, so a retry succeeds', async () => {
    // Prepare
    ec2['us-east-1']?.on(DescribeImagesCommand).resolves({
      Images: [{ ImageId: 'ami-old', Tags: OWNED, BlockDeviceMappings: [{ Ebs: { SnapshotId: 'snap-1' } }] }],
    });
    ec2['us-east-1']?.on(DeregisterImageCommand).rejects(awsError('InvalidAMIID.Unavailable', 'gone'));
    ec2['us-east-1']?.on(DeleteSnapshotCommand).rejects(awsError('InvalidSnapshot.NotFound', 'gone'));

    // Act
    const result = await forceDeregister(
      { build: state({ amiRegions: [], forceDeleteSnapshot: true }) },
      deps,
    );

    // Assess
    expect(result.deregistered).toEqual([{ region: 'us-east-1', imageId: 'ami-old' }]);
  });

  it('fails when DescribeImages is refused, naming the region', async () => {
    // Prepare
    ec2['eu-west-1']?.on(DescribeImagesCommand).rejects(awsError('UnauthorizedOperation', 'not allowed'));

    // Act
    const act = forceDeregister({ build: state() }, deps);

    // Assess
    await expect(act).rejects.toThrow(RegisterImageError);
    await expect(act).rejects.toThrow(
      `Error describing AMI '${AMI_NAME}' in eu-west-1: UnauthorizedOperation: not allowed`,
    );
  });

  it('fails when an image cannot be deregistered, with Packer’s message', async () => {
    // Prepare
    ec2['us-east-1']?.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-old', Tags: OWNED }] });
    ec2['us-east-1']
      ?.on(DeregisterImageCommand)
      .rejects(awsError('OperationNotPermitted', 'deregistration protection is enabled'));

    // Act
    const act = forceDeregister({ build: state({ amiRegions: [] }) }, deps);

    // Assess
    await expect(act).rejects.toThrow(
      'Error deregistering existing AMI ami-old in us-east-1: OperationNotPermitted: deregistration protection is enabled',
    );
  });

  it('fails when a snapshot cannot be deleted', async () => {
    // Prepare
    ec2['us-east-1']?.on(DescribeImagesCommand).resolves({
      Images: [{ ImageId: 'ami-old', Tags: OWNED, BlockDeviceMappings: [{ Ebs: { SnapshotId: 'snap-1' } }] }],
    });
    ec2['us-east-1']?.on(DeleteSnapshotCommand).rejects(awsError('InvalidSnapshot.InUse', 'in use'));

    // Act
    const act = forceDeregister({ build: state({ amiRegions: [], forceDeleteSnapshot: true }) }, deps);

    // Assess
    await expect(act).rejects.toThrow(
      'Error deleting existing snapshot snap-1 in us-east-1: InvalidSnapshot.InUse: in use',
    );
  });

  it('fails when bundle objects cannot be deleted, naming the manifest', async () => {
    // Prepare
    ec2['us-east-1']
      ?.on(DescribeImagesCommand)
      .resolves({ Images: [instanceStoreImage('ami-old', 'my-bundles/image-1.manifest.xml')] });
    s3['us-east-1']?.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'image-1.manifest.xml' }] });
    s3['us-east-1']?.on(DeleteObjectsCommand).resolves({
      Errors: [{ Key: 'image-1.manifest.xml', Code: 'AccessDenied', Message: 'Access Denied' }],
    });

    // Act
    const act = forceDeregister({ build: state({ amiRegions: [], forceDeleteSnapshot: true }) }, deps);

    // Assess
    await expect(act).rejects.toThrow(RegisterImageError);
    await expect(act).rejects.toThrow(
      'Error deleting the bundle of existing AMI ami-old (s3://my-bundles/image-1.manifest.xml): 1 object(s) not deleted, first image-1.manifest.xml: AccessDenied Access Denied',
    );
  });

  it('fails when the bundle cannot be listed', async () => {
    // Prepare
    ec2['us-east-1']
      ?.on(DescribeImagesCommand)
      .resolves({ Images: [instanceStoreImage('ami-old', 'my-bundles/image-1.manifest.xml')] });
    s3['us-east-1']?.on(ListObjectsV2Command).rejects(awsError('AccessDenied', 'Access Denied', 403));

    // Act
    const act = forceDeregister({ build: state({ amiRegions: [], forceDeleteSnapshot: true }) }, deps);

    // Assess
    await expect(act).rejects.toThrow(
      'Error deleting the bundle of existing AMI ami-old (s3://my-bundles/image-1.manifest.xml): AccessDenied: Access Denied',
    );
  });

  it('lets throttling through unwrapped, so the handler turns it into AwsTransientError', async () => {
    // Prepare
    ec2['us-east-1']?.on(DescribeImagesCommand).rejects(awsError('RequestLimitExceeded', 'slow down', 503));
    const task = lambdaHandler((build: BuildState) => forceDeregister({ build }, deps));

    // Act
    const act = task(state({ amiRegions: [] }));

    // Assess
    await expect(act).rejects.toThrow(AwsTransientError);
  });
});

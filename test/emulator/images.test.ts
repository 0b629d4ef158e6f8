import {
  CopyImageCommand,
  CreateTagsCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  EnableImageDeprecationCommand,
  EnableImageDeregistrationProtectionCommand,
  ModifyImageAttributeCommand,
  RegisterImageCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../emulator/index.js';
import { emulatorClients, rejectionOf, SIMULATED } from './clients.js';

let emulator: Emulator;
let east: ReturnType<typeof emulatorClients>;
let west: ReturnType<typeof emulatorClients>;

beforeAll(async () => {
  emulator = await startEmulator(SIMULATED);
  east = emulatorClients(emulator.endpoint, 'us-east-1');
  west = emulatorClients(emulator.endpoint, 'eu-west-1');
});

afterAll(async () => {
  await emulator?.stop();
});

beforeEach(async () => {
  await emulator.reset();
});

async function describeImage(client: ReturnType<typeof emulatorClients>, imageId: string) {
  const { Images } = await client.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  expect(Images).toHaveLength(1);
  return Images![0]!;
}

async function registerInstanceStoreImage(name: string): Promise<string> {
  const { ImageId } = await east.ec2.send(
    new RegisterImageCommand({
      Name: name,
      ImageLocation: 'my-bundles/builds/image-1700000000.manifest.xml',
      Architecture: 'x86_64',
      VirtualizationType: 'hvm',
      Description: 'built by ami-builder',
      BlockDeviceMappings: [
        { DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' },
        { DeviceName: '/dev/sdc', VirtualName: 'ephemeral1' },
      ],
      EnaSupport: true,
      SriovNetSupport: 'simple',
      BootMode: 'legacy-bios',
      ImdsSupport: 'v2.0',
    }),
  );
  return ImageId!;
}

describe('seeded images', () => {
  it('keeps the chosen id and fields, in its own region only', async () => {
    // Prepare
    await emulator.seedImage({
      region: 'eu-west-1',
      imageId: 'ami-d9d6a6b0',
      name: 'ubuntu/images/ubuntu-precise-12.04-amd64-server-20130222',
      ownerId: '099720109477',
      ownerAlias: 'amazon',
      architecture: 'x86_64',
      virtualizationType: 'paravirtual',
      creationDate: '2013-02-22T10:00:00.000Z',
      tags: { distro: 'ubuntu' },
    });

    // Act
    const image = await describeImage(west, 'ami-d9d6a6b0');
    const elsewhere = await rejectionOf(
      east.ec2.send(new DescribeImagesCommand({ ImageIds: ['ami-d9d6a6b0'] })),
    );

    // Assess
    expect(image).toMatchObject({
      ImageId: 'ami-d9d6a6b0',
      Name: 'ubuntu/images/ubuntu-precise-12.04-amd64-server-20130222',
      OwnerId: '099720109477',
      ImageOwnerAlias: 'amazon',
      RootDeviceType: 'instance-store',
      Architecture: 'x86_64',
      VirtualizationType: 'paravirtual',
      CreationDate: '2013-02-22T10:00:00.000Z',
      State: 'available',
      Tags: [{ Key: 'distro', Value: 'ubuntu' }],
    });
    expect(elsewhere.name).toBe('InvalidAMIID.NotFound');
  });

  it('is found by the owner and name filters a source_ami_filter uses', async () => {
    // Prepare
    await emulator.seedImage({
      region: 'us-east-1',
      name: 'base-2024-01',
      ownerAlias: 'amazon',
      ownerId: '137112412989',
    });
    const newest = await emulator.seedImage({
      region: 'us-east-1',
      name: 'base-2024-02',
      ownerAlias: 'amazon',
      ownerId: '137112412989',
    });

    // Act
    const { Images } = await east.ec2.send(
      new DescribeImagesCommand({
        Owners: ['amazon'],
        Filters: [
          { Name: 'name', Values: ['base-2024-*'] },
          { Name: 'root-device-type', Values: ['instance-store'] },
        ],
      }),
    );

    // Assess
    expect(Images?.map((i) => i.Name).sort()).toEqual(['base-2024-01', 'base-2024-02']);
    expect(Images?.map((i) => i.ImageId)).toContain(newest);
  });

  it('fails when the seed is malformed', async () => {
    // Act
    const error = await rejectionOf(
      emulator.seedImage({ region: 'us-east-1', name: 'x', imageId: 'image-1' }),
    );

    // Assess
    expect(error.name).toBe('EmulatorControlError');
    expect(error.message).toContain('imageId must look like ami-');
  });
});

describe('RegisterImage', () => {
  it('keeps every field an instance-store registration sets', async () => {
    // Prepare
    const imageId = await registerInstanceStoreImage('ami-builder-test 1');

    // Act
    const image = await describeImage(east, imageId);

    // Assess
    expect(image).toMatchObject({
      Name: 'ami-builder-test 1',
      ImageLocation: 'my-bundles/builds/image-1700000000.manifest.xml',
      RootDeviceType: 'instance-store',
      Architecture: 'x86_64',
      VirtualizationType: 'hvm',
      Description: 'built by ami-builder',
      EnaSupport: true,
      SriovNetSupport: 'simple',
      BootMode: 'legacy-bios',
      ImdsSupport: 'v2.0',
      OwnerId: '123456789012',
      BlockDeviceMappings: [
        { DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' },
        { DeviceName: '/dev/sdc', VirtualName: 'ephemeral1' },
      ],
    });
  });

  it('registers an EBS root when no ImageLocation is given', async () => {
    // Act
    const { ImageId } = await east.ec2.send(
      new RegisterImageCommand({
        Name: 'ebs-image',
        RootDeviceName: '/dev/xvda',
        BlockDeviceMappings: [
          { DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-12345678', VolumeSize: 8 } },
        ],
      }),
    );
    const image = await describeImage(east, ImageId!);

    // Assess
    expect(image.RootDeviceType).toBe('ebs');
    expect(image.BlockDeviceMappings).toEqual([
      { DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-12345678', VolumeSize: 8 } },
    ]);
  });

  it('shows a new image pending once, then available', async () => {
    // Prepare
    const imageId = await registerInstanceStoreImage('pending-then-available');

    // Act
    const states = [];
    for (let i = 0; i < 3; i++) states.push((await describeImage(east, imageId)).State);

    // Assess
    expect(states).toEqual(['pending', 'available', 'available']);
  });

  it('stays pending for as many describes as configured', async () => {
    // Prepare
    await emulator.setOptions({ imageDescribesUntilAvailable: 3 });
    const imageId = await registerInstanceStoreImage('slow-image');

    // Act
    const states = [];
    for (let i = 0; i < 4; i++) states.push((await describeImage(east, imageId)).State);

    // Assess
    expect(states).toEqual(['pending', 'pending', 'pending', 'available']);
  });

  it('fails when the name is already taken in the account and region', async () => {
    // Prepare
    const first = await registerInstanceStoreImage('taken-name');

    // Act
    const error = await rejectionOf(registerInstanceStoreImage('taken-name'));

    // Assess
    expect(error.name).toBe('InvalidAMIName.Duplicate');
    expect(error.message).toContain(first);
  });

  it('fails when a virtual name is not ephemeralN', async () => {
    // Act
    const error = await rejectionOf(
      east.ec2.send(
        new RegisterImageCommand({
          Name: 'bad-mapping',
          ImageLocation: 'b/p.manifest.xml',
          BlockDeviceMappings: [{ DeviceName: '/dev/sdb', VirtualName: 'scratch' }],
        }),
      ),
    );

    // Assess
    expect(error.name).toBe('InvalidBlockDeviceMapping');
  });
});

describe('ModifyImageAttribute', () => {
  it('keeps description, product codes, IMDS support and every launch permission kind', async () => {
    // Prepare
    const imageId = await registerInstanceStoreImage('modified');
    const orgArn = 'arn:aws:organizations::111122223333:organization/o-abcdef1234';
    const ouArn = 'arn:aws:organizations::111122223333:ou/o-abcdef1234/ou-ab12-cdef5678';

    // Act: one call per attribute, as Packer makes them.
    await east.ec2.send(
      new ModifyImageAttributeCommand({ ImageId: imageId, Description: { Value: 'new text' } }),
    );
    await east.ec2.send(
      new ModifyImageAttributeCommand({ ImageId: imageId, ProductCodes: ['8fs7d9f8s7df'] }),
    );
    await east.ec2.send(
      new ModifyImageAttributeCommand({ ImageId: imageId, ImdsSupport: { Value: 'v2.0' } }),
    );
    await east.ec2.send(
      new ModifyImageAttributeCommand({
        ImageId: imageId,
        LaunchPermission: { Add: [{ UserId: '111122223333' }, { UserId: '444455556666' }] },
      }),
    );
    await east.ec2.send(
      new ModifyImageAttributeCommand({
        ImageId: imageId,
        Attribute: 'launchPermission',
        OperationType: 'add',
        UserGroups: ['all'],
        OrganizationArns: [orgArn],
        OrganizationalUnitArns: [ouArn],
      }),
    );
    const read = (Attribute: 'description' | 'productCodes' | 'imdsSupport' | 'launchPermission') =>
      east.ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute }));

    // Assess
    expect((await read('description')).Description).toEqual({ Value: 'new text' });
    expect((await read('productCodes')).ProductCodes).toEqual([
      { ProductCodeId: '8fs7d9f8s7df', ProductCodeType: 'marketplace' },
    ]);
    expect((await read('imdsSupport')).ImdsSupport).toEqual({ Value: 'v2.0' });
    expect((await read('launchPermission')).LaunchPermissions).toEqual([
      { UserId: '111122223333' },
      { UserId: '444455556666' },
      { Group: 'all' },
      { OrganizationArn: orgArn },
      { OrganizationalUnitArn: ouArn },
    ]);
    const image = await describeImage(east, imageId);
    expect(image).toMatchObject({ Description: 'new text', Public: true, ImdsSupport: 'v2.0' });
  });

  it('fails when a user id is not an account id', async () => {
    // Prepare
    const imageId = await registerInstanceStoreImage('bad-user');

    // Act
    const error = await rejectionOf(
      east.ec2.send(
        new ModifyImageAttributeCommand({
          ImageId: imageId,
          LaunchPermission: { Add: [{ UserId: 'alice' }] },
        }),
      ),
    );

    // Assess
    expect(error.name).toBe('InvalidAMIAttributeItemValue');
  });
});

describe('deprecation and deregistration protection', () => {
  it('shows both in DescribeImages', async () => {
    // Prepare
    const imageId = await registerInstanceStoreImage('protected');

    // Act
    await east.ec2.send(
      new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: new Date('2030-01-01T00:00:30Z') }),
    );
    const protection = await east.ec2.send(
      new EnableImageDeregistrationProtectionCommand({ ImageId: imageId, WithCooldown: true }),
    );
    const image = await describeImage(east, imageId);

    // Assess: AWS rounds the deprecation time up to the minute.
    expect(protection.Return).toBe('enabled-with-cooldown');
    expect(image.DeprecationTime).toBe('2030-01-01T00:01:00.000Z');
    expect(image.DeregistrationProtection).toBe('enabled-with-cooldown');
  });
});

describe('CopyImage', () => {
  it('copies to another region keeping the instance-store fields, pending then available', async () => {
    // Prepare
    const source = await registerInstanceStoreImage('to-copy');

    // Act
    const { ImageId } = await west.ec2.send(
      new CopyImageCommand({
        SourceImageId: source,
        SourceRegion: 'us-east-1',
        Name: 'to-copy',
        ClientToken: 'copy-1',
      }),
    );
    const first = await describeImage(west, ImageId!);
    const second = await describeImage(west, ImageId!);

    // Assess
    expect(first.State).toBe('pending');
    expect(second).toMatchObject({
      State: 'available',
      Name: 'to-copy',
      RootDeviceType: 'instance-store',
      ImageLocation: 'my-bundles/builds/image-1700000000.manifest.xml',
      Architecture: 'x86_64',
      VirtualizationType: 'hvm',
      EnaSupport: true,
      SourceImageId: source,
      SourceImageRegion: 'us-east-1',
    });
    expect(second.BlockDeviceMappings).toHaveLength(2);
  });

  it('returns the same image for the same client token', async () => {
    // Prepare
    const source = await registerInstanceStoreImage('idempotent-copy');
    const copy = () =>
      west.ec2.send(
        new CopyImageCommand({
          SourceImageId: source,
          SourceRegion: 'us-east-1',
          Name: 'c',
          ClientToken: 'tok-7',
        }),
      );

    // Act
    const first = await copy();
    const second = await copy();
    const { Images } = await west.ec2.send(
      new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: ['c'] }] }),
    );

    // Assess
    expect(second.ImageId).toBe(first.ImageId);
    expect(Images).toHaveLength(1);
  });

  it('copies tags only when CopyImageTags is set', async () => {
    // Prepare
    const source = await registerInstanceStoreImage('tagged');
    await east.ec2.send(new ModifyImageAttributeCommand({ ImageId: source, Description: { Value: 'd' } }));
    await east.ec2.send(
      new CreateTagsCommand({ Resources: [source], Tags: [{ Key: 'Team', Value: 'infra' }] }),
    );

    // Act
    const withTags = await west.ec2.send(
      new CopyImageCommand({
        SourceImageId: source,
        SourceRegion: 'us-east-1',
        Name: 'a',
        CopyImageTags: true,
      }),
    );
    const withoutTags = await west.ec2.send(
      new CopyImageCommand({ SourceImageId: source, SourceRegion: 'us-east-1', Name: 'b' }),
    );

    // Assess
    expect((await describeImage(west, withTags.ImageId!)).Tags).toEqual([{ Key: 'Team', Value: 'infra' }]);
    expect((await describeImage(west, withoutTags.ImageId!)).Tags ?? []).toEqual([]);
  });

  it('fails the copy into a region with a copy-fail fault', async () => {
    // Prepare
    const source = await registerInstanceStoreImage('copy-fails');
    await emulator.addFault({ type: 'copy-fail', region: 'eu-west-1', message: 'bucket policy denied' });

    // Act
    const { ImageId } = await west.ec2.send(
      new CopyImageCommand({ SourceImageId: source, SourceRegion: 'us-east-1', Name: 'copy-fails' }),
    );
    const states = [(await describeImage(west, ImageId!)).State];
    const final = await describeImage(west, ImageId!);

    // Assess
    expect(states).toEqual(['pending']);
    expect(final.State).toBe('failed');
    expect(final.StateReason).toEqual({ Code: 'Server.InternalError', Message: 'bucket policy denied' });
  });

  it('fails when the source image does not exist', async () => {
    // Act
    const error = await rejectionOf(
      west.ec2.send(
        new CopyImageCommand({ SourceImageId: 'ami-12345678', SourceRegion: 'us-east-1', Name: 'x' }),
      ),
    );

    // Assess
    expect(error.name).toBe('InvalidAMIID.NotFound');
  });
});

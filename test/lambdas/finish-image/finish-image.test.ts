import {
  CreateTagsCommand,
  DescribeImagesCommand,
  EC2Client,
  EnableImageDeprecationCommand,
  EnableImageDeregistrationProtectionCommand,
  ModifyImageAttributeCommand,
} from '@aws-sdk/client-ec2';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  attributeChanges,
  type FinishImageDeps,
  finishImage,
  NOT_FOUND_TRIES,
} from '../../../lambdas/finish-image/finish-image.js';
import { AwsTransientError, ImageFinishError } from '../../../lambdas/shared/errors.js';
import { lambdaHandler } from '../../../lambdas/shared/runtime.js';
import type { BuildState } from '../../../lambdas/shared/state.js';
import {
  type ConfigOverrides,
  EXECUTION_ID,
  makeBuildState,
  makeConfig,
  makeEnvironment,
} from '../fixtures.js';

const OWNERSHIP = [
  { Key: 'ami-builder:stack', Value: 'AmiBuilder' },
  { Key: 'ami-builder:execution', Value: EXECUTION_ID },
  { Key: 'ami-builder:build', Value: 'amazon-instance' },
  { Key: 'ami-builder:on-error', Value: 'cleanup' },
  { Key: 'ami-builder:family', Value: 'amazon-instance' },
];
/** What Finish AMI adds after the ownership tags: the image went through every step of its region. */
const FINISHED = { Key: 'ami-builder:finished', Value: 'true' };

let ec2: AwsClientStub<EC2Client>;
let regions: string[];
let messages: string[];
let sleeps: number[];
let deps: FinishImageDeps;

beforeEach(() => {
  const client = new EC2Client({ region: 'eu-west-1' });
  ec2 = mockClient(client);
  ec2
    .on(DescribeImagesCommand)
    .resolves({ Images: [{ ImageId: 'ami-copy', State: 'available', Tags: OWNERSHIP }] });
  regions = [];
  messages = [];
  sleeps = [];
  deps = {
    clients: {
      ec2: (region) => {
        regions.push(region);
        return client;
      },
    },
    env: makeEnvironment(),
    log: (message) => messages.push(message),
    sleep: async (milliseconds) => {
      sleeps.push(milliseconds);
    },
  };
});

function awsError(name: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode } });
}

function state(
  config: ConfigOverrides = {},
  tags: Record<string, string> = {},
  description?: string,
): BuildState {
  return makeBuildState({
    config,
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
      rendered:
        description === undefined
          ? { tags, runTags: {} }
          : { tags, runTags: {}, amiDescription: description },
    },
  });
}

const finish = (build: BuildState) =>
  finishImage({ build, args: { region: 'eu-west-1', imageId: 'ami-copy' } }, deps);

const everything: ConfigOverrides = {
  deprecateAt: '2030-01-01T00:00:00Z',
  deregistrationProtection: { enabled: true, withCooldown: true },
  amiGroups: ['all'],
  amiUsers: ['111122223333', '444455556666'],
  amiOrgArns: ['arn:aws:organizations::111122223333:organization/o-abc'],
  amiOuArns: ['arn:aws:organizations::111122223333:ou/o-abc/ou-def'],
  amiProductCodes: ['code1'],
  imdsSupport: 'v2.0',
};

describe('attributeChanges', () => {
  it('makes one change per attribute, in a fixed order, as Packer’s StepModifyAMIAttributes', () => {
    // Act
    const changes = attributeChanges(makeConfig(everything), 'Built from ami-src');

    // Assess
    expect(changes).toEqual([
      { name: 'description', input: { Description: { Value: 'Built from ami-src' } } },
      { name: 'groups', input: { UserGroups: ['all'], LaunchPermission: { Add: [{ Group: 'all' }] } } },
      {
        name: 'users',
        input: {
          UserIds: ['111122223333', '444455556666'],
          LaunchPermission: { Add: [{ UserId: '111122223333' }, { UserId: '444455556666' }] },
        },
      },
      {
        name: 'org arns',
        input: {
          LaunchPermission: {
            Add: [{ OrganizationArn: 'arn:aws:organizations::111122223333:organization/o-abc' }],
          },
        },
      },
      {
        name: 'ou arns',
        input: {
          LaunchPermission: {
            Add: [{ OrganizationalUnitArn: 'arn:aws:organizations::111122223333:ou/o-abc/ou-def' }],
          },
        },
      },
      { name: 'product codes', input: { ProductCodes: ['code1'] } },
      { name: 'imds_support', input: { ImdsSupport: { Value: 'v2.0' } } },
    ]);
  });

  it('makes no change when no attribute is set', () => {
    expect(attributeChanges(makeConfig(), undefined)).toEqual([]);
    expect(attributeChanges(makeConfig(), '')).toEqual([]);
  });

  it('leaves out imds_support and product codes the image already has', () => {
    // Act
    const changes = attributeChanges(
      makeConfig({ amiProductCodes: ['code1', 'code2'], imdsSupport: 'v2.0' }),
      '',
      {
        ImdsSupport: 'v2.0',
        ProductCodes: [{ ProductCodeId: 'code1', ProductCodeType: 'marketplace' }],
      },
    );

    // Assess
    expect(changes).toEqual([{ name: 'product codes', input: { ProductCodes: ['code2'] } }]);
  });
});

describe('finishImage', () => {
  it('finishes the AMI in its region in Packer’s order: deprecation, protection, attributes, tags', async () => {
    // Act
    const result = await finish(state(everything, { Name: 'web', Base: 'ami-src' }, 'Built from ami-src'));

    // Assess
    expect(result).toEqual({ region: 'eu-west-1', imageId: 'ami-copy' });
    expect(regions.every((r) => r === 'eu-west-1')).toBe(true);
    expect(ec2.calls().map((c) => c.args[0].constructor.name)).toEqual([
      'DescribeImagesCommand',
      'EnableImageDeprecationCommand',
      'EnableImageDeregistrationProtectionCommand',
      ...Array(7).fill('ModifyImageAttributeCommand'),
      'CreateTagsCommand',
    ]);
    expect(ec2.commandCalls(EnableImageDeprecationCommand)[0]?.args[0].input).toEqual({
      ImageId: 'ami-copy',
      DeprecateAt: new Date('2030-01-01T00:00:00Z'),
    });
    expect(ec2.commandCalls(EnableImageDeregistrationProtectionCommand)[0]?.args[0].input).toEqual({
      ImageId: 'ami-copy',
      WithCooldown: true,
    });
    const modified = ec2.commandCalls(ModifyImageAttributeCommand).map((c) => c.args[0].input);
    expect(modified.every((input) => input.ImageId === 'ami-copy')).toBe(true);
    expect(modified[0]).toEqual({ ImageId: 'ami-copy', Description: { Value: 'Built from ami-src' } });
    expect(modified[6]).toEqual({ ImageId: 'ami-copy', ImdsSupport: { Value: 'v2.0' } });
    expect(ec2.commandCalls(CreateTagsCommand)[0]?.args[0].input).toEqual({
      Resources: ['ami-copy'],
      Tags: [{ Key: 'Name', Value: 'web' }, { Key: 'Base', Value: 'ami-src' }, ...OWNERSHIP, FINISHED],
    });
    expect(messages).toContain('Modifying attributes on AMI (ami-copy)...');
    expect(messages).toContain('Modifying: users');
    expect(messages).toContain('Adding tag: "Name": "web"');
  });

  it('skips deprecation, protection and attributes that are not set, and still adds the ownership tags', async () => {
    // Act
    await finish(state());

    // Assess
    expect(ec2.calls().map((c) => c.args[0].constructor.name)).toEqual([
      'DescribeImagesCommand',
      'CreateTagsCommand',
    ]);
    expect(ec2.commandCalls(CreateTagsCommand)[0]?.args[0].input).toEqual({
      Resources: ['ami-copy'],
      Tags: [...OWNERSHIP, FINISHED],
    });
    expect(messages).toContain('Skipping Enable AMI deprecation...');
    expect(messages).toContain('Skipping Enable AMI deregistration protection...');
  });

  it('sends WithCooldown false when protection is enabled without cooldown', async () => {
    // Act
    await finish(state({ deregistrationProtection: { enabled: true, withCooldown: false } }));

    // Assess
    expect(ec2.commandCalls(EnableImageDeregistrationProtectionCommand)[0]?.args[0].input).toEqual({
      ImageId: 'ami-copy',
      WithCooldown: false,
    });
  });

  it('tags the AMI’s EBS snapshots with the template tags only, never with ownership tags', async () => {
    // Prepare
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ImageId: 'ami-copy',
          Tags: OWNERSHIP,
          BlockDeviceMappings: [
            { DeviceName: '/dev/sdb', Ebs: { SnapshotId: 'snap-1' } },
            { DeviceName: '/dev/sdc', VirtualName: 'ephemeral0' },
          ],
        },
      ],
    });

    // Act
    await finish(state({}, { Name: 'web' }));

    // Assess
    expect(ec2.commandCalls(CreateTagsCommand).map((c) => c.args[0].input)).toEqual([
      { Resources: ['ami-copy'], Tags: [{ Key: 'Name', Value: 'web' }, ...OWNERSHIP, FINISHED] },
      { Resources: ['snap-1'], Tags: [{ Key: 'Name', Value: 'web' }] },
    ]);
    expect(messages).toContain('Tagging snapshot: snap-1');
  });

  it('makes the same calls when invoked again, except the one-way attributes the image already has', async () => {
    // Prepare
    const build = state(everything, { Name: 'web' }, 'Built from ami-src');
    await finish(build);
    const first = ec2.calls().map((c) => c.args[0].input);
    ec2.resetHistory();
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ImageId: 'ami-copy',
          Tags: OWNERSHIP,
          ImdsSupport: 'v2.0',
          ProductCodes: [{ ProductCodeId: 'code1' }],
        },
      ],
    });

    // Act
    await finish(build);

    // Assess
    const second = ec2.calls().map((c) => c.args[0].input);
    expect(second).toEqual(first.filter((input) => !('ImdsSupport' in input) && !('ProductCodes' in input)));
  });

  it('retries a call while EC2 does not see the image yet', async () => {
    // Prepare
    ec2
      .on(CreateTagsCommand)
      .rejectsOnce(awsError('InvalidAMIID.NotFound', 'not found'))
      .rejectsOnce(awsError('InvalidAMIID.NotFound', 'not found'))
      .resolves({});

    // Act
    await finish(state());

    // Assess
    expect(ec2.commandCalls(CreateTagsCommand)).toHaveLength(3);
    expect(sleeps).toEqual([1000, 2000]);
  });

  it('retries when DescribeImages does not list the image yet', async () => {
    // Prepare
    ec2
      .on(DescribeImagesCommand)
      .resolvesOnce({ Images: [] })
      .resolves({ Images: [{ ImageId: 'ami-copy', Tags: OWNERSHIP }] });

    // Act
    await finish(state());

    // Assess
    expect(ec2.commandCalls(DescribeImagesCommand)).toHaveLength(2);
  });

  it('fails when the image stays invisible, after a bounded number of tries', async () => {
    // Prepare
    ec2.on(CreateTagsCommand).rejects(awsError('InvalidAMIID.NotFound', 'The image id does not exist'));

    // Act
    const act = finish(state());

    // Assess
    await expect(act).rejects.toThrow(ImageFinishError);
    await expect(act).rejects.toThrow(
      'Error setting tags on AMI ami-copy in eu-west-1: InvalidAMIID.NotFound: The image id does not exist',
    );
    expect(ec2.commandCalls(CreateTagsCommand)).toHaveLength(NOT_FOUND_TRIES);
  });

  it('fails when an attribute is refused, naming the region and the attribute', async () => {
    // Prepare
    ec2
      .on(ModifyImageAttributeCommand, { UserIds: ['111122223333', '444455556666'] })
      .rejects(awsError('InvalidUserID.Malformed', 'bad user'));

    // Act
    const act = finish(state(everything));

    // Assess
    await expect(act).rejects.toThrow(ImageFinishError);
    await expect(act).rejects.toThrow(
      'Error setting users on AMI ami-copy in eu-west-1: InvalidUserID.Malformed: bad user',
    );
  });

  it('fails when the image cannot be described, naming the region', async () => {
    // Prepare
    ec2.on(DescribeImagesCommand).rejects(awsError('UnauthorizedOperation', 'no'));

    // Act
    const act = finish(state());

    // Assess
    await expect(act).rejects.toThrow(ImageFinishError);
    await expect(act).rejects.toThrow(
      'Error describing AMI ami-copy in eu-west-1: UnauthorizedOperation: no',
    );
  });

  it('refuses to change an AMI that another execution or stack created, before any change', async () => {
    // Prepare
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ImageId: 'ami-copy',
          Name: 'web',
          OwnerId: '123456789012',
          Tags: [
            { Key: 'ami-builder:stack', Value: 'AmiBuilder' },
            { Key: 'ami-builder:execution', Value: 'another-execution' },
            { Key: 'ami-builder:build', Value: 'amazon-instance' },
          ],
        },
      ],
    });

    // Act
    const act = finish(
      state({ amiUsers: ['111122223333'], deprecateAt: '2030-01-01T00:00:00Z' }, { Name: 'x' }),
    );

    // Assess
    await expect(act).rejects.toMatchObject({ name: 'ResourceNotOwnedError' });
    await expect(act).rejects.toThrow(
      "Refusing to modify AMI ami-copy ('web') in eu-west-1, owner 123456789012, built by stack 'AmiBuilder'",
    );
    expect(ec2.calls().map((c) => c.args[0].constructor.name)).toEqual(['DescribeImagesCommand']);
  });

  it('fails when deprecation is refused, naming deprecate_at', async () => {
    // Prepare
    ec2.on(EnableImageDeprecationCommand).rejects(awsError('UnauthorizedOperation', 'no'));

    // Act
    const act = finish(state(everything));

    // Assess
    await expect(act).rejects.toThrow(
      'Error setting deprecate_at on AMI ami-copy in eu-west-1: UnauthorizedOperation: no',
    );
  });

  it('fails when deregistration protection is refused, naming deregistration_protection', async () => {
    // Prepare
    ec2.on(EnableImageDeregistrationProtectionCommand).rejects(awsError('UnauthorizedOperation', 'no'));

    // Act
    const act = finish(state(everything));

    // Assess
    await expect(act).rejects.toThrow(
      'Error setting deregistration_protection on AMI ami-copy in eu-west-1: UnauthorizedOperation: no',
    );
  });

  it('lets throttling through unwrapped, so the handler turns it into AwsTransientError', async () => {
    // Prepare
    ec2.on(CreateTagsCommand).rejects(awsError('RequestLimitExceeded', 'slow down', 503));
    const task = lambdaHandler(finish);

    // Act
    const act = task(state());

    // Assess
    await expect(act).rejects.toThrow(AwsTransientError);
    expect(sleeps).toEqual([]);
  });
});

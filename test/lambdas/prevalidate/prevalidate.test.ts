import { DescribeImagesCommand, DescribeRegionsCommand, EC2Client, type Image } from '@aws-sdk/client-ec2';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { prevalidate } from '../../../lambdas/prevalidate/prevalidate.js';
import {
  AmiNameInUseError,
  ForeignImageError,
  InvalidRegionError,
  SourceAmiNotFoundError,
  TemplateValidationError,
  UnsupportedInstanceTypeError,
} from '../../../lambdas/shared/errors.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import type { TaskEvent } from '../../../lambdas/shared/state.js';
import { awsError, type BuildStateOverrides, EXECUTION_ID, makeBuildState, regionOf } from '../fixtures.js';

const ec2Mock = mockClient(EC2Client);
const stsMock = mockClient(STSClient);
const deps = {
  clients: createClients({ ec2: EC2Client, sts: STSClient }),
  env: { stackName: 'AmiBuilder', adoptForeignImages: false },
};

const sourceImage: Image = {
  ImageId: 'ami-0123456789abcdef0',
  Name: 'base-instance-store-2023',
  OwnerId: '111122223333',
  ImageOwnerAlias: 'amazon',
  CreationDate: '2023-05-01T10:00:00.000Z',
  RootDeviceType: 'instance-store',
  Architecture: 'x86_64',
  VirtualizationType: 'paravirtual',
  Tags: [{ Key: 'os', Value: 'linux' }],
};

function event(overrides: BuildStateOverrides = {}): TaskEvent {
  return { build: makeBuildState(overrides), args: {} };
}

/** Regions exist, the AMI name is free, the source resolves, STS knows the account. */
function happyAws(images: Image[] = [sourceImage]) {
  stsMock.on(GetCallerIdentityCommand).resolves({ Account: '123456789012' });
  ec2Mock.on(DescribeRegionsCommand).resolves({
    Regions: [{ RegionName: 'us-east-1' }, { RegionName: 'us-west-2' }, { RegionName: 'eu-west-1' }],
  });
  ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({ Images: [] });
  ec2Mock.on(DescribeImagesCommand, { IncludeDeprecated: false }).resolves({ Images: images });
  ec2Mock.on(DescribeImagesCommand, { IncludeDeprecated: true }).resolves({ Images: images });
}

const sourceCalls = () =>
  ec2Mock.commandCalls(DescribeImagesCommand).filter((c) => c.args[0].input.IncludeDeprecated !== undefined);
const nameCalls = () =>
  ec2Mock.commandCalls(DescribeImagesCommand).filter((c) => c.args[0].input.Owners?.[0] === 'self');

describe('prevalidate', () => {
  beforeEach(() => {
    ec2Mock.reset();
    stsMock.reset();
  });

  it('resolves the source AMI and renders the late strings with the build variables', async () => {
    // Prepare
    happyAws();

    // Act
    const result = await prevalidate(
      event({
        config: {
          accountId: '123456789012',
          tags: { Name: '{{.SourceAMIName}}', 'built-from-{{.SourceAMITags.os}}': '{{.SourceAMI}}' },
          runTags: { Owner: '{{user `owner`}}' },
          amiDescription: 'from {{.SourceAMIOwnerName}} at {{.SourceAMICreationDate}} in {{.BuildRegion}}',
          lateVariables: { owner: 'images-team' },
        },
      }),
      deps,
    );

    // Assess
    expect(result).toEqual({
      imageId: 'ami-0123456789abcdef0',
      name: 'base-instance-store-2023',
      ownerId: '111122223333',
      ownerAlias: 'amazon',
      creationDate: '2023-05-01T10:00:00.000Z',
      tags: { os: 'linux' },
      rootDeviceType: 'instance-store',
      architecture: 'x86_64',
      virtualizationType: 'paravirtual',
      accountId: '123456789012',
      rendered: {
        tags: { Name: 'base-instance-store-2023', 'built-from-linux': 'ami-0123456789abcdef0' },
        runTags: { Owner: 'images-team' },
        amiDescription: 'from amazon at 2023-05-01T10:00:00.000Z in us-east-1',
      },
    });
    expect(stsMock.calls()).toHaveLength(0);
  });

  it('renders {{timestamp}} from the execution’s start and {{uuid}} the same way on every invocation', async () => {
    // Prepare
    happyAws();
    const e = event({ config: { runTags: { BuiltAt: '{{timestamp}}', Id: '{{uuid}}' } } });

    // Act
    const first = await prevalidate(e, deps);
    const again = await prevalidate(e, deps);
    const otherBuild = await prevalidate(
      event({ config: { name: 'other', runTags: { BuiltAt: '{{timestamp}}', Id: '{{uuid}}' } } }),
      deps,
    );

    // Assess
    expect(first.rendered.runTags.BuiltAt).toBe('1704153600');
    expect(first.rendered.runTags.Id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    expect(again.rendered).toEqual(first.rendered);
    expect(otherBuild.rendered.runTags.Id).not.toBe(first.rendered.runTags.Id);
  });

  it('fails when a late string names a source AMI tag the image does not have', async () => {
    // Prepare
    happyAws();

    // Act
    const result = prevalidate(event({ config: { tags: { Base: '{{.SourceAMITags.missing}}' } } }), deps);

    // Assess
    await expect(result).rejects.toThrow(TemplateValidationError);
    await expect(result).rejects.toThrow(/tags\["Base"\]: /);
  });

  it('omits the description when the template has none', async () => {
    // Prepare
    happyAws();

    // Act
    const result = await prevalidate(event(), deps);

    // Assess
    expect(result.rendered).toEqual({ tags: {}, runTags: {} });
  });

  it('takes the account id from STS when account_id is not set', async () => {
    // Prepare
    happyAws();
    stsMock.on(GetCallerIdentityCommand).resolves({ Account: '210987654321' });

    // Act
    const result = await prevalidate(event({ config: { region: 'eu-west-1' } }), deps);

    // Assess
    expect(result.accountId).toBe('210987654321');
    expect(await regionOf(stsMock.commandCalls(GetCallerIdentityCommand)[0]!)).toBe('eu-west-1');
  });

  it('fails when the build region or an ami_regions entry does not exist, with Packer’s message', async () => {
    // Prepare
    happyAws();

    // Act
    const result = prevalidate(
      event({ config: { region: 'us-east-1', amiRegions: ['us-west-2', 'mars-north-1'] } }),
      deps,
    );

    // Assess
    await expect(result).rejects.toThrow(InvalidRegionError);
    await expect(result).rejects.toThrow(
      'error validating regions: Invalid region(s): [mars-north-1], available regions: [us-east-1 us-west-2 eu-west-1]',
    );
  });

  it('skips the region check with skip_region_validation', async () => {
    // Prepare
    happyAws();

    // Act
    await prevalidate(event({ config: { skipRegionValidation: true, amiRegions: ['mars-north-1'] } }), deps);

    // Assess
    expect(ec2Mock.commandCalls(DescribeRegionsCommand)).toHaveLength(0);
  });

  it('checks the AMI name in the build region and every ami_regions region', async () => {
    // Prepare
    happyAws();

    // Act
    await prevalidate(event({ config: { amiRegions: ['us-west-2', 'eu-west-1'] } }), deps);

    // Assess
    const calls = nameCalls();
    expect(calls.map((c) => c.args[0].input)).toEqual(
      Array(3).fill({ Owners: ['self'], Filters: [{ Name: 'name', Values: ['my-ami-1704153600'] }] }),
    );
    expect(await Promise.all(calls.map(regionOf))).toEqual(['us-east-1', 'us-west-2', 'eu-west-1']);
  });

  it('fails when the AMI name is taken in a copy region, naming the region and the image', async () => {
    // Prepare
    happyAws();
    ec2Mock
      .on(DescribeImagesCommand, { Owners: ['self'] })
      .resolvesOnce({ Images: [] })
      .resolves({ Images: [{ ImageId: 'ami-0old', Name: 'my-ami-1704153600', Tags: [] }] });

    // Act
    const result = prevalidate(event({ config: { amiRegions: ['us-west-2'] } }), deps);

    // Assess
    await expect(result).rejects.toThrow(AmiNameInUseError);
    await expect(result).rejects.toThrow(
      "Error: AMI Name: 'my-ami-1704153600' is used by an existing AMI: ami-0old (region us-west-2).",
    );
  });

  it('accepts an image of the same name that this execution registered, so a redrive passes', async () => {
    // Prepare
    happyAws();
    ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({
      Images: [
        {
          ImageId: 'ami-0ours',
          Name: 'my-ami-1704153600',
          Tags: [{ Key: 'ami-builder:execution', Value: EXECUTION_ID }],
        },
      ],
    });
    const e = event();

    // Act
    const first = await prevalidate(e, deps);
    const second = await prevalidate(e, deps);

    // Assess
    expect(second).toEqual(first);
    expect(first.imageId).toBe('ami-0123456789abcdef0');
  });

  it('accepts, with force_deregister, a same-name AMI this stack built', async () => {
    // Prepare
    happyAws();
    ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({
      Images: [
        { ImageId: 'ami-0old', Name: 'my-ami', Tags: [{ Key: 'ami-builder:stack', Value: 'AmiBuilder' }] },
      ],
    });

    // Act
    const result = await prevalidate(event({ config: { forceDeregister: true } }), deps);

    // Assess
    expect(result.imageId).toBe('ami-0123456789abcdef0');
    expect(nameCalls()).toHaveLength(1);
  });

  it('fails, with force_deregister, when a same-name AMI was not built by this stack, naming it and the opt-in', async () => {
    // Prepare
    happyAws();
    ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({
      Images: [
        {
          ImageId: 'ami-0packer',
          Name: 'my-ami',
          OwnerId: '123456789012',
          Tags: [{ Key: 'Team', Value: 'x' }],
        },
      ],
    });

    // Act
    const act = prevalidate(event({ config: { forceDeregister: true, amiName: 'my-ami' } }), deps);

    // Assess
    await expect(act).rejects.toThrow(ForeignImageError);
    await expect(act).rejects.toThrow(
      "force_deregister: AMI ami-0packer ('my-ami') in us-east-1, owner 123456789012, no ami-builder:stack tag: " +
        'not built by this stack (no ami-builder:stack=AmiBuilder tag), so it is not deregistered.',
    );
    await expect(act).rejects.toThrow('-c adoptForeignImages=true');
    expect(sourceCalls()).toHaveLength(0);
  });

  it('accepts, with force_deregister, a foreign same-name AMI when the stack adopts foreign images', async () => {
    // Prepare
    happyAws();
    ec2Mock.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({
      Images: [{ ImageId: 'ami-0packer', Name: 'my-ami' }],
    });

    // Act
    const result = await prevalidate(event({ config: { forceDeregister: true } }), {
      ...deps,
      env: { stackName: 'AmiBuilder', adoptForeignImages: true },
    });

    // Assess
    expect(result.imageId).toBe('ami-0123456789abcdef0');
    expect(nameCalls()).toHaveLength(0);
  });

  it('queries source_ami by id', async () => {
    // Prepare
    happyAws();

    // Act
    await prevalidate(event(), deps);

    // Assess
    expect(sourceCalls()[0]?.args[0].input).toEqual({
      IncludeDeprecated: false,
      ImageIds: ['ami-0123456789abcdef0'],
    });
  });

  it('queries source_ami_filter with its filters, owners and include_deprecated, and picks the newest with most_recent', async () => {
    // Prepare
    const older = { ...sourceImage, ImageId: 'ami-0older', CreationDate: '2022-01-01T00:00:00.000Z' };
    const newer = { ...sourceImage, ImageId: 'ami-0newer', CreationDate: '2024-01-01T00:00:00.000Z' };
    happyAws([older, newer, { ...older, ImageId: 'ami-0oldest', CreationDate: '2020-01-01T00:00:00.000Z' }]);

    // Act
    const result = await prevalidate(
      event({
        config: {
          sourceAmi: undefined,
          sourceAmiFilter: {
            filters: { name: ['base-*', 'legacy-*'], 'root-device-type': ['instance-store'] },
            owners: ['111122223333', 'amazon'],
            mostRecent: true,
            includeDeprecated: true,
          },
        },
      }),
      deps,
    );

    // Assess
    expect(result.imageId).toBe('ami-0newer');
    expect(sourceCalls()[0]?.args[0].input).toEqual({
      IncludeDeprecated: true,
      Filters: [
        { Name: 'name', Values: ['base-*', 'legacy-*'] },
        { Name: 'root-device-type', Values: ['instance-store'] },
      ],
      Owners: ['111122223333', 'amazon'],
    });
  });

  it('fails when the filter matches several images without most_recent, with Packer’s message', async () => {
    // Prepare
    happyAws([sourceImage, { ...sourceImage, ImageId: 'ami-0other' }]);

    // Act
    const result = prevalidate(
      event({
        config: {
          sourceAmi: undefined,
          sourceAmiFilter: {
            filters: { name: ['base-*'] },
            owners: ['self'],
            mostRecent: false,
            includeDeprecated: false,
          },
        },
      }),
      deps,
    );

    // Assess
    await expect(result).rejects.toThrow(SourceAmiNotFoundError);
    await expect(result).rejects.toThrow(
      'Your query returned more than one result. Please try a more specific search, or set most_recent to true.',
    );
  });

  it('fails when nothing matches, with Packer’s message and the query', async () => {
    // Prepare
    happyAws([]);

    // Act
    const result = prevalidate(
      event({
        config: {
          sourceAmi: undefined,
          sourceAmiFilter: {
            filters: { name: ['nope-*'] },
            owners: ['self'],
            mostRecent: true,
            includeDeprecated: false,
          },
        },
      }),
      deps,
    );

    // Assess
    await expect(result).rejects.toThrow(
      'No AMI was found matching filters: {name: [nope-*], Owners: [self], IncludeDeprecated: false}',
    );
  });

  it('fails when source_ami does not exist', async () => {
    // Prepare
    happyAws();
    ec2Mock
      .on(DescribeImagesCommand, { IncludeDeprecated: false })
      .rejects(awsError('InvalidAMIID.NotFound', "The image id '[ami-0123456789abcdef0]' does not exist"));

    // Act
    const result = prevalidate(event(), deps);

    // Assess
    await expect(result).rejects.toThrow(
      'No AMI was found matching filters: {ImageIds: [ami-0123456789abcdef0], IncludeDeprecated: false}',
    );
  });

  it('fails when source_ami is malformed, with the AWS message', async () => {
    // Prepare
    happyAws();
    ec2Mock
      .on(DescribeImagesCommand, { IncludeDeprecated: false })
      .rejects(awsError('InvalidAMIID.Malformed', 'Invalid id: "ami-x"'));

    // Act
    const result = prevalidate(event({ config: { sourceAmi: 'ami-x' } }), deps);

    // Assess
    await expect(result).rejects.toThrow('Error querying AMI: InvalidAMIID.Malformed: Invalid id: "ami-x"');
  });

  it.each([
    [
      { enaSupport: true },
      "Cannot enable enhanced networking, source AMI 'ami-0123456789abcdef0' is not HVM",
    ],
    [
      { sriovSupport: true },
      "Cannot enable enhanced networking, source AMI 'ami-0123456789abcdef0' is not HVM",
    ],
    [
      { enaSupport: true, amiVirtualizationType: 'paravirtual' as const },
      "Cannot enable enhanced networking, AMIVirtType 'paravirtual' is not HVM",
    ],
  ])('fails when enhanced networking is asked for a paravirtual image (%o)', async (config, message) => {
    // Prepare
    happyAws();

    // Act
    const result = prevalidate(event({ config }), deps);

    // Assess
    await expect(result).rejects.toThrow(message);
  });

  it('allows enhanced networking when ami_virtualization_type is hvm', async () => {
    // Prepare
    happyAws();

    // Act
    const result = await prevalidate(
      event({ config: { enaSupport: true, amiVirtualizationType: 'hvm' } }),
      deps,
    );

    // Assess
    expect(result.imageId).toBe('ami-0123456789abcdef0');
  });

  it('fails when an instance-store source meets an instance type that cannot boot it, listing the families', async () => {
    // Prepare
    happyAws();

    // Act
    const result = prevalidate(event({ config: { instanceType: 't3.micro' } }), deps);

    // Assess
    await expect(result).rejects.toThrow(UnsupportedInstanceTypeError);
    await expect(result).rejects.toThrow(
      /instance-store root device, which launches only on the instance families C1, C3, D2, I2, M1, M2, M3, R3, X1; instance_type "t3.micro" is of family T3/,
    );
  });

  it.each([
    'c1.medium',
    'c3.large',
    'd2.xlarge',
    'i2.xlarge',
    'm1.small',
    'm2.xlarge',
    'm3.medium',
    'r3.large',
    'x1.16xlarge',
  ])('accepts %s for an instance-store source', async (instanceType) => {
    // Prepare
    happyAws();

    // Act
    const result = await prevalidate(event({ config: { instanceType } }), deps);

    // Assess
    expect(result.rootDeviceType).toBe('instance-store');
  });

  it('accepts any instance type for an EBS-backed source', async () => {
    // Prepare
    happyAws([{ ...sourceImage, RootDeviceType: 'ebs' }]);

    // Act
    const result = await prevalidate(event({ config: { instanceType: 't3.micro' } }), deps);

    // Assess
    expect(result.rootDeviceType).toBe('ebs');
  });

  it('passes throttling through untouched so that the state machine retries it', async () => {
    // Prepare
    const throttled = awsError('RequestLimitExceeded', 'slow down', 503);
    ec2Mock.on(DescribeRegionsCommand).rejects(throttled);

    // Act
    const result = prevalidate(event(), deps);

    // Assess
    await expect(result).rejects.toBe(throttled);
  });
});

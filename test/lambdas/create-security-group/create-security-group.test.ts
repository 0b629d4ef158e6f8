import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  createSecurityGroup,
  temporaryGroupName,
} from '../../../lambdas/create-security-group/create-security-group.js';
import { NetworkConfigError } from '../../../lambdas/shared/errors.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import type { SourceInfo, TaskEvent } from '../../../lambdas/shared/state.js';
import {
  awsError,
  type BuildStateOverrides,
  EXECUTION_ID,
  makeBuildState,
  makeEnvironment,
  regionOf,
} from '../fixtures.js';

const ec2Mock = mockClient(EC2Client);
const deps = { clients: createClients({ ec2: EC2Client }), env: makeEnvironment() };
const GROUP_NAME = temporaryGroupName(EXECUTION_ID, 'amazon-instance');

const source: SourceInfo = {
  imageId: 'ami-0123456789abcdef0',
  name: 'source',
  ownerId: '111122223333',
  creationDate: '2023-01-01T00:00:00.000Z',
  tags: {},
  rootDeviceType: 'instance-store',
  architecture: 'x86_64',
  virtualizationType: 'hvm',
  accountId: '123456789012',
  rendered: { tags: {}, runTags: { Team: 'images', 'ami-builder:stack': 'spoofed' } },
};

function event(overrides: BuildStateOverrides = {}): TaskEvent {
  return { build: makeBuildState({ source, ...overrides }), args: {} };
}

const subnet = (id: string, az: string, free: number, vpc = 'vpc-1') => ({
  SubnetId: id,
  AvailabilityZone: az,
  AvailableIpAddressCount: free,
  VpcId: vpc,
});

describe('createSecurityGroup', () => {
  beforeEach(() => {
    ec2Mock.reset();
  });

  it('creates a tagged temporary group with no ingress rule in the default VPC', async () => {
    // Prepare
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-default', IsDefault: true }] });
    ec2Mock.on(CreateSecurityGroupCommand).resolves({ GroupId: 'sg-temp' });

    // Act
    const result = await createSecurityGroup(event({ config: { region: 'eu-west-1' } }), deps);

    // Assess
    expect(result).toEqual({
      vpcId: 'vpc-default',
      securityGroupIds: ['sg-temp'],
      temporarySecurityGroupId: 'sg-temp',
    });
    expect(ec2Mock.commandCalls(DescribeVpcsCommand)[0]?.args[0].input).toEqual({
      Filters: [{ Name: 'is-default', Values: ['true'] }],
    });
    const create = ec2Mock.commandCalls(CreateSecurityGroupCommand);
    expect(create).toHaveLength(1);
    expect(await regionOf(create[0]!)).toBe('eu-west-1');
    expect(create[0]?.args[0].input).toEqual({
      GroupName: GROUP_NAME,
      Description: 'Temporary group for ami-builder build amazon-instance (no ingress: SSM needs none)',
      VpcId: 'vpc-default',
      TagSpecifications: [
        {
          ResourceType: 'security-group',
          Tags: [
            { Key: 'Team', Value: 'images' },
            { Key: 'ami-builder:stack', Value: 'AmiBuilder' },
            { Key: 'ami-builder:execution', Value: EXECUTION_ID },
            { Key: 'ami-builder:build', Value: 'amazon-instance' },
            { Key: 'ami-builder:on-error', Value: 'cleanup' },
          ],
        },
      ],
    });
    expect(ec2Mock.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(0);
  });

  it('derives a stable group name from the execution and the build', () => {
    expect(temporaryGroupName(EXECUTION_ID, 'a')).toBe(temporaryGroupName(EXECUTION_ID, 'a'));
    expect(temporaryGroupName(EXECUTION_ID, 'a')).not.toBe(temporaryGroupName(EXECUTION_ID, 'b'));
    expect(temporaryGroupName(EXECUTION_ID, 'a')).toMatch(/^ami-builder-[0-9a-f]{16}$/);
  });

  it('marks the group to keep when on_error is abort and cleans the build name for the description', async () => {
    // Prepare
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-default', IsDefault: true }] });
    ec2Mock.on(CreateSecurityGroupCommand).resolves({ GroupId: 'sg-temp' });

    // Act
    await createSecurityGroup(event({ config: { name: 'web "äöü"', onError: 'abort' } }), deps);

    // Assess
    const input = ec2Mock.commandCalls(CreateSecurityGroupCommand)[0]?.args[0].input;
    expect(input?.Description).toBe(
      'Temporary group for ami-builder build web ----- (no ingress: SSM needs none)',
    );
    expect(input?.TagSpecifications?.[0]?.Tags).toContainEqual({
      Key: 'ami-builder:on-error',
      Value: 'keep',
    });
  });

  it('reuses the group its earlier attempt created when invoked again', async () => {
    // Prepare
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-default', IsDefault: true }] });
    ec2Mock
      .on(CreateSecurityGroupCommand)
      .resolvesOnce({ GroupId: 'sg-first' })
      .rejects(awsError('InvalidGroup.Duplicate', `The security group '${GROUP_NAME}' already exists`));
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({
      SecurityGroups: [
        {
          GroupId: 'sg-first',
          GroupName: GROUP_NAME,
          Tags: [{ Key: 'ami-builder:execution', Value: EXECUTION_ID }],
        },
      ],
    });
    const e = event();

    // Act
    const first = await createSecurityGroup(e, deps);
    const second = await createSecurityGroup(e, deps);

    // Assess
    expect(second).toEqual(first);
    expect(ec2Mock.commandCalls(DescribeSecurityGroupsCommand)[0]?.args[0].input).toEqual({
      Filters: [
        { Name: 'group-name', Values: [GROUP_NAME] },
        { Name: 'vpc-id', Values: ['vpc-default'] },
      ],
    });
  });

  it('fails when a group of the same name belongs to something else', async () => {
    // Prepare
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-default', IsDefault: true }] });
    ec2Mock.on(CreateSecurityGroupCommand).rejects(awsError('InvalidGroup.Duplicate', 'exists'));
    ec2Mock
      .on(DescribeSecurityGroupsCommand)
      .resolves({ SecurityGroups: [{ GroupId: 'sg-other', Tags: [] }] });

    // Act
    const result = createSecurityGroup(event(), deps);

    // Assess
    await expect(result).rejects.toThrow(NetworkConfigError);
    await expect(result).rejects.toThrow(/sg-other.*does not belong to this execution/);
  });

  it('fails when the region has no default VPC and no network is configured', async () => {
    // Prepare
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [] });

    // Act
    const result = createSecurityGroup(event({ config: { region: 'ap-south-1' } }), deps);

    // Assess
    await expect(result).rejects.toThrow(/ap-south-1 has no default VPC/);
    expect(ec2Mock.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
  });

  it('takes the VPC and availability zone from a given subnet', async () => {
    // Prepare
    ec2Mock.on(DescribeSubnetsCommand).resolves({ Subnets: [subnet('subnet-1', 'us-east-1b', 10, 'vpc-9')] });
    ec2Mock.on(CreateSecurityGroupCommand).resolves({ GroupId: 'sg-temp' });

    // Act
    const result = await createSecurityGroup(event({ config: { network: { subnetId: 'subnet-1' } } }), deps);

    // Assess
    expect(result).toEqual({
      vpcId: 'vpc-9',
      subnetId: 'subnet-1',
      availabilityZone: 'us-east-1b',
      securityGroupIds: ['sg-temp'],
      temporarySecurityGroupId: 'sg-temp',
    });
    expect(ec2Mock.commandCalls(DescribeSubnetsCommand)[0]?.args[0].input).toEqual({
      SubnetIds: ['subnet-1'],
    });
    expect(ec2Mock.commandCalls(CreateSecurityGroupCommand)[0]?.args[0].input.VpcId).toBe('vpc-9');
    expect(ec2Mock.commandCalls(DescribeVpcsCommand)).toHaveLength(0);
  });

  it('accepts vpc_id without a subnet when it is the default VPC', async () => {
    // Prepare
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-d', IsDefault: true }] });
    ec2Mock.on(CreateSecurityGroupCommand).resolves({ GroupId: 'sg-temp' });

    // Act
    const result = await createSecurityGroup(event({ config: { network: { vpcId: 'vpc-d' } } }), deps);

    // Assess
    expect(result.vpcId).toBe('vpc-d');
    expect(ec2Mock.commandCalls(DescribeVpcsCommand)[0]?.args[0].input).toEqual({ VpcIds: ['vpc-d'] });
  });

  it('fails when vpc_id names a non-default VPC without a subnet, with Packer’s message', async () => {
    // Prepare
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-x', IsDefault: false }] });

    // Act
    const result = createSecurityGroup(event({ config: { network: { vpcId: 'vpc-x' } } }), deps);

    // Assess
    await expect(result).rejects.toThrow(
      'Error: subnet_id or subnet_filter must be provided for non-default VPCs (vpc-x)',
    );
  });

  it('resolves vpc_filter to its one VPC and filters subnets with it, the state and the zone', async () => {
    // Prepare
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-f' }] });
    ec2Mock.on(DescribeSubnetsCommand).resolves({ Subnets: [subnet('subnet-a', 'us-east-1a', 5, 'vpc-f')] });
    ec2Mock.on(CreateSecurityGroupCommand).resolves({ GroupId: 'sg-temp' });

    // Act
    const result = await createSecurityGroup(
      event({
        config: {
          network: {
            vpcFilter: { 'tag:Name': ['build'] },
            subnetFilter: { filters: { 'tag:Tier': ['private', 'build'] }, mostFree: false, random: false },
            availabilityZone: 'us-east-1a',
          },
        },
      }),
      deps,
    );

    // Assess
    expect(result).toMatchObject({ vpcId: 'vpc-f', subnetId: 'subnet-a', availabilityZone: 'us-east-1a' });
    expect(ec2Mock.commandCalls(DescribeVpcsCommand)[0]?.args[0].input).toEqual({
      Filters: [{ Name: 'tag:Name', Values: ['build'] }],
    });
    expect(ec2Mock.commandCalls(DescribeSubnetsCommand)[0]?.args[0].input).toEqual({
      Filters: [
        { Name: 'tag:Tier', Values: ['private', 'build'] },
        { Name: 'state', Values: ['available'] },
        { Name: 'vpc-id', Values: ['vpc-f'] },
        { Name: 'availabilityZone', Values: ['us-east-1a'] },
      ],
    });
  });

  it('fails when vpc_filter matches more than one VPC', async () => {
    // Prepare
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-1' }, { VpcId: 'vpc-2' }] });

    // Act
    const result = createSecurityGroup(
      event({ config: { network: { vpcFilter: { 'tag:Env': ['x'] } } } }),
      deps,
    );

    // Assess
    await expect(result).rejects.toThrow(
      /Exactly one VPC should match the filter, but 2 VPC's was found matching filters: tag:Env=\[x\]/,
    );
  });

  it('picks the subnet with the most free addresses with most_free', async () => {
    // Prepare
    ec2Mock.on(DescribeSubnetsCommand).resolves({
      Subnets: [
        subnet('subnet-a', 'az-a', 5),
        subnet('subnet-b', 'az-b', 50),
        subnet('subnet-c', 'az-c', 20),
      ],
    });
    ec2Mock.on(CreateSecurityGroupCommand).resolves({ GroupId: 'sg-temp' });

    // Act
    const result = await createSecurityGroup(
      event({ config: { network: { subnetFilter: { filters: {}, mostFree: true, random: false } } } }),
      deps,
    );

    // Assess
    expect(result).toMatchObject({ subnetId: 'subnet-b', availabilityZone: 'az-b', vpcId: 'vpc-1' });
  });

  it('picks the same random subnet for the same execution, whatever order EC2 lists them in', async () => {
    // Prepare
    const subnets = [
      subnet('subnet-a', 'az-a', 5),
      subnet('subnet-b', 'az-b', 5),
      subnet('subnet-c', 'az-c', 5),
    ];
    ec2Mock
      .on(DescribeSubnetsCommand)
      .resolvesOnce({ Subnets: subnets })
      .resolves({ Subnets: [...subnets].reverse() });
    ec2Mock.on(CreateSecurityGroupCommand).resolves({ GroupId: 'sg-temp' });
    const e = event({
      config: { network: { subnetFilter: { filters: {}, mostFree: false, random: true } } },
    });

    // Act
    const first = await createSecurityGroup(e, deps);
    const second = await createSecurityGroup(e, deps);

    // Assess
    expect(second.subnetId).toBe(first.subnetId);
    expect(['subnet-a', 'subnet-b', 'subnet-c']).toContain(first.subnetId);
  });

  it('fails when subnet_filter matches several subnets without most_free or random', async () => {
    // Prepare
    ec2Mock.on(DescribeSubnetsCommand).resolves({ Subnets: [subnet('s-1', 'a', 1), subnet('s-2', 'b', 1)] });

    // Act
    const result = createSecurityGroup(
      event({ config: { network: { subnetFilter: { filters: {}, mostFree: false, random: false } } } }),
      deps,
    );

    // Assess
    await expect(result).rejects.toThrow(
      'Your filter matched 2 Subnets. Please try a more specific search, or set random or most_free to true.',
    );
  });

  it('fails when subnet_filter matches no subnet', async () => {
    // Prepare
    ec2Mock.on(DescribeSubnetsCommand).resolves({ Subnets: [] });

    // Act
    const result = createSecurityGroup(
      event({
        config: { network: { subnetFilter: { filters: { 'tag:X': ['y'] }, mostFree: true, random: false } } },
      }),
      deps,
    );

    // Assess
    await expect(result).rejects.toThrow(
      /No Subnets was found matching filters: tag:X=\[y\], state=\[available\]/,
    );
  });

  it('finds a public subnet of the default VPC offering the instance type for associate_public_ip_address', async () => {
    // Prepare
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-1', IsDefault: true }] });
    ec2Mock.on(DescribeSubnetsCommand).resolves({
      Subnets: [
        subnet('subnet-a', 'az-a', 100),
        subnet('subnet-b', 'az-b', 10),
        subnet('subnet-c', 'az-c', 20),
      ],
    });
    ec2Mock.on(DescribeInstanceTypeOfferingsCommand).resolves({
      InstanceTypeOfferings: [
        { InstanceType: 'm3.medium', Location: 'az-b' },
        { InstanceType: 'm3.medium', Location: 'az-c' },
      ],
    });
    ec2Mock.on(CreateSecurityGroupCommand).resolves({ GroupId: 'sg-temp' });

    // Act
    const result = await createSecurityGroup(
      event({ config: { network: { associatePublicIpAddress: true } } }),
      deps,
    );

    // Assess
    expect(result).toMatchObject({ subnetId: 'subnet-c', availabilityZone: 'az-c', vpcId: 'vpc-1' });
    expect(ec2Mock.commandCalls(DescribeInstanceTypeOfferingsCommand)[0]?.args[0].input).toEqual({
      LocationType: 'availability-zone',
      Filters: [
        { Name: 'location', Values: ['az-a', 'az-b', 'az-c'] },
        { Name: 'instance-type', Values: ['m3.medium'] },
      ],
    });
  });

  it('lets EC2 choose the subnet when the public-subnet lookup fails, as Packer does', async () => {
    // Prepare
    ec2Mock
      .on(DescribeVpcsCommand)
      .rejectsOnce(awsError('UnauthorizedOperation', 'no'))
      .resolves({ Vpcs: [{ VpcId: 'vpc-1', IsDefault: true }] });
    ec2Mock.on(CreateSecurityGroupCommand).resolves({ GroupId: 'sg-temp' });

    // Act
    const result = await createSecurityGroup(
      event({ config: { network: { associatePublicIpAddress: false } } }),
      deps,
    );

    // Assess
    expect(result).toEqual({
      vpcId: 'vpc-1',
      securityGroupIds: ['sg-temp'],
      temporarySecurityGroupId: 'sg-temp',
    });
  });

  it('validates given security group ids and creates no group', async () => {
    // Prepare
    ec2Mock.on(DescribeSubnetsCommand).resolves({ Subnets: [subnet('subnet-1', 'az-a', 1, 'vpc-1')] });
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({
      SecurityGroups: [
        { GroupId: 'sg-1', VpcId: 'vpc-1' },
        { GroupId: 'sg-2', VpcId: 'vpc-1' },
      ],
    });

    // Act
    const result = await createSecurityGroup(
      event({ config: { network: { subnetId: 'subnet-1', securityGroupIds: ['sg-1', 'sg-2'] } } }),
      deps,
    );

    // Assess
    expect(result).toEqual({
      vpcId: 'vpc-1',
      subnetId: 'subnet-1',
      availabilityZone: 'az-a',
      securityGroupIds: ['sg-1', 'sg-2'],
    });
    expect(ec2Mock.commandCalls(DescribeSecurityGroupsCommand)[0]?.args[0].input).toEqual({
      Filters: [{ Name: 'group-id', Values: ['sg-1', 'sg-2'] }],
    });
    expect(ec2Mock.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
  });

  it('fails when given security groups do not exist, naming each missing id', async () => {
    // Prepare
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-2' }] });

    // Act
    const result = createSecurityGroup(
      event({ config: { network: { securityGroupIds: ['sg-1', 'sg-2', 'sg-3'] } } }),
      deps,
    );

    // Assess
    await expect(result).rejects.toThrow(NetworkConfigError);
    await expect(result).rejects.toThrow("Couldn't find specified security group(s): sg-1, sg-3.");
  });

  it('fails when given security groups are in another VPC than the subnet', async () => {
    // Prepare
    ec2Mock.on(DescribeSubnetsCommand).resolves({ Subnets: [subnet('subnet-1', 'az-a', 1, 'vpc-1')] });
    ec2Mock
      .on(DescribeSecurityGroupsCommand)
      .resolves({ SecurityGroups: [{ GroupId: 'sg-1', VpcId: 'vpc-2' }] });

    // Act
    const result = createSecurityGroup(
      event({ config: { network: { subnetId: 'subnet-1', securityGroupIds: ['sg-1'] } } }),
      deps,
    );

    // Assess
    await expect(result).rejects.toThrow(/sg-1 \(vpc-2\) are not in the build's VPC vpc-1/);
  });

  it('uses every group matching security_group_filter in the build VPC', async () => {
    // Prepare
    ec2Mock.on(DescribeSubnetsCommand).resolves({ Subnets: [subnet('subnet-1', 'az-a', 1, 'vpc-1')] });
    ec2Mock
      .on(DescribeSecurityGroupsCommand)
      .resolves({ SecurityGroups: [{ GroupId: 'sg-a' }, { GroupId: 'sg-b' }] });

    // Act
    const result = await createSecurityGroup(
      event({
        config: { network: { subnetId: 'subnet-1', securityGroupFilter: { 'tag:Role': ['build'] } } },
      }),
      deps,
    );

    // Assess
    expect(result.securityGroupIds).toEqual(['sg-a', 'sg-b']);
    expect(result.temporarySecurityGroupId).toBeUndefined();
    expect(ec2Mock.commandCalls(DescribeSecurityGroupsCommand)[0]?.args[0].input).toEqual({
      Filters: [
        { Name: 'tag:Role', Values: ['build'] },
        { Name: 'vpc-id', Values: ['vpc-1'] },
      ],
    });
  });

  it('fails when security_group_filter matches nothing', async () => {
    // Prepare
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });

    // Act
    const result = createSecurityGroup(
      event({ config: { network: { securityGroupFilter: { 'group-name': ['x'] } } } }),
      deps,
    );

    // Assess
    await expect(result).rejects.toThrow('No security group was found matching filters: group-name=[x]');
  });

  it('fails with a NetworkConfigError carrying the AWS message when a call is refused', async () => {
    // Prepare
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-default', IsDefault: true }] });
    ec2Mock
      .on(CreateSecurityGroupCommand)
      .rejects(awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.'));

    // Act
    const result = createSecurityGroup(event(), deps);

    // Assess
    await expect(result).rejects.toThrow(
      'Setting up the security group failed: UnauthorizedOperation: You are not authorized to perform this operation.',
    );
  });

  it('passes throttling through untouched so that the state machine retries it', async () => {
    // Prepare
    const throttled = awsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
    ec2Mock.on(DescribeVpcsCommand).rejects(throttled);

    // Act
    const result = createSecurityGroup(event(), deps);

    // Assess
    await expect(result).rejects.toBe(throttled);
  });
});

import { createHash } from 'node:crypto';
import {
  type ArchitectureValues,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { GetObjectCommand, type GetObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  encodeUserData,
  isBase64,
  launchClientToken,
  launchInstance,
} from '../../../lambdas/launch-instance/launch-instance.js';
import {
  AwsTransientError,
  InstanceLaunchError,
  InstanceProfileNotAllowedError,
  TaskInputError,
} from '../../../lambdas/shared/errors.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import type { NetworkInfo, SourceInfo, TaskEvent } from '../../../lambdas/shared/state.js';
import {
  awsError,
  type BuildStateOverrides,
  EXECUTION_ID,
  makeBuildState,
  makeEnvironment,
  regionOf,
} from '../fixtures.js';

const ec2Mock = mockClient(EC2Client);
const s3Mock = mockClient(S3Client);
const env = makeEnvironment({ allowedInstanceProfiles: ['TeamProfile'] });
const deps = { clients: createClients({ ec2: EC2Client, s3: S3Client }), env };

const source: SourceInfo = {
  imageId: 'ami-0123456789abcdef0',
  name: 'source',
  ownerId: '111122223333',
  creationDate: '2023-01-01T00:00:00.000Z',
  tags: {},
  rootDeviceType: 'instance-store',
  architecture: 'i386',
  virtualizationType: 'paravirtual',
  accountId: '123456789012',
  rendered: { tags: {}, runTags: { Team: 'images' } },
};
const network: NetworkInfo = {
  vpcId: 'vpc-1',
  subnetId: 'subnet-1',
  availabilityZone: 'us-east-1a',
  securityGroupIds: ['sg-temp'],
  temporarySecurityGroupId: 'sg-temp',
};
const ownership = [
  { Key: 'ami-builder:stack', Value: 'AmiBuilder' },
  { Key: 'ami-builder:execution', Value: EXECUTION_ID },
  { Key: 'ami-builder:build', Value: 'amazon-instance' },
  { Key: 'ami-builder:on-error', Value: 'cleanup' },
];

function event(overrides: BuildStateOverrides = {}): TaskEvent {
  const named = overrides.config?.iamInstanceProfile;
  const instanceRole =
    named === undefined
      ? { instanceProfileName: 'AmiBuilderInstanceProfile', temporary: true }
      : { instanceProfileName: named, temporary: false };
  return { build: makeBuildState({ source, network, instanceRole, ...overrides }), args: {} };
}

function launched(instanceId = 'i-0abc', architecture: ArchitectureValues = 'x86_64') {
  ec2Mock.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: instanceId }] });
  ec2Mock.on(DescribeInstancesCommand).resolves({
    Reservations: [{ Instances: [{ InstanceId: instanceId, Architecture: architecture }] }],
  });
}

const runInput = () => {
  const input = ec2Mock.commandCalls(RunInstancesCommand)[0]?.args[0].input;
  if (input === undefined) throw new Error('RunInstances was not called');
  return input;
};

describe('launchInstance', () => {
  beforeEach(() => {
    ec2Mock.reset();
    s3Mock.reset();
  });

  it('launches one instance with the idempotency token, profile, network and tags, and returns its architecture', async () => {
    // Prepare
    launched('i-0abc', 'x86_64');

    // Act
    const result = await launchInstance(event({ config: { region: 'eu-west-1' } }), deps);

    // Assess
    expect(result).toEqual({ instanceId: 'i-0abc', architecture: 'x86_64' });
    const tags = [
      { Key: 'Name', Value: 'ami-builder amazon-instance' },
      { Key: 'Team', Value: 'images' },
      ...ownership,
    ];
    expect(runInput()).toEqual({
      ClientToken: createHash('sha256').update(`${EXECUTION_ID}/amazon-instance`).digest('hex'),
      ImageId: 'ami-0123456789abcdef0',
      InstanceType: 'm3.medium',
      MinCount: 1,
      MaxCount: 1,
      EbsOptimized: false,
      EnclaveOptions: { Enabled: false },
      IamInstanceProfile: { Name: 'AmiBuilderInstanceProfile' },
      Placement: { AvailabilityZone: 'us-east-1a' },
      SubnetId: 'subnet-1',
      SecurityGroupIds: ['sg-temp'],
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
        { ResourceType: 'network-interface', Tags: tags },
      ],
    });
    expect(await regionOf(ec2Mock.commandCalls(RunInstancesCommand)[0]!)).toBe('eu-west-1');
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[0]?.args[0].input).toEqual({
      InstanceIds: ['i-0abc'],
    });
  });

  it('sends the same client token when invoked again for the same execution, so EC2 returns the same instance', async () => {
    // Prepare
    launched();
    const e = event();

    // Act
    const first = await launchInstance(e, deps);
    const second = await launchInstance(e, deps);

    // Assess
    const calls = ec2Mock.commandCalls(RunInstancesCommand);
    expect(second).toEqual(first);
    expect(calls[1]?.args[0].input.ClientToken).toBe(calls[0]?.args[0].input.ClientToken);
    expect(calls[0]?.args[0].input.ClientToken).toHaveLength(64);
  });

  it('derives different client tokens for other builds and executions', () => {
    expect(launchClientToken(EXECUTION_ID, 'a')).not.toBe(launchClientToken(EXECUTION_ID, 'b'));
    expect(launchClientToken(`${EXECUTION_ID}-2`, 'a')).not.toBe(launchClientToken(EXECUTION_ID, 'a'));
  });

  it('lets run tags set the Name tag but never the ownership tags, and keeps resources on on_error abort', async () => {
    // Prepare
    launched();
    const runTags = { Name: 'builder', 'ami-builder:execution': 'spoofed' };

    // Act
    await launchInstance(
      event({ source: { ...source, rendered: { tags: {}, runTags } }, config: { onError: 'abort' } }),
      deps,
    );

    // Assess
    expect(runInput().TagSpecifications?.[0]?.Tags).toEqual([
      { Key: 'Name', Value: 'builder' },
      { Key: 'ami-builder:stack', Value: 'AmiBuilder' },
      { Key: 'ami-builder:execution', Value: EXECUTION_ID },
      { Key: 'ami-builder:build', Value: 'amazon-instance' },
      { Key: 'ami-builder:on-error', Value: 'keep' },
    ]);
  });

  it('uses an allowed iam_instance_profile', async () => {
    // Prepare
    launched();

    // Act
    await launchInstance(event({ config: { iamInstanceProfile: 'TeamProfile' } }), deps);

    // Assess
    expect(runInput().IamInstanceProfile).toEqual({ Name: 'TeamProfile' });
  });

  it('fails when iam_instance_profile is not allowed by the stack, before launching anything', async () => {
    // Act
    const result = launchInstance(event({ config: { iamInstanceProfile: 'AdminProfile' } }), deps);

    // Assess
    await expect(result).rejects.toThrow(InstanceProfileNotAllowedError);
    await expect(result).rejects.toThrow(
      /"AdminProfile" is not allowed by this stack. Allowed profiles: TeamProfile/,
    );
    expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(0);
  });

  it('base64-encodes literal user data', async () => {
    // Prepare
    launched();

    // Act
    await launchInstance(event({ config: { userData: '#!/bin/sh\necho hi\n' } }), deps);

    // Assess
    expect(runInput().UserData).toBe(Buffer.from('#!/bin/sh\necho hi\n').toString('base64'));
  });

  it('sends user data that is already base64 as it is, as Packer does', async () => {
    // Prepare
    launched();
    const encoded = Buffer.from('#cloud-config\n').toString('base64');

    // Act
    await launchInstance(event({ config: { userData: encoded } }), deps);

    // Assess
    expect(runInput().UserData).toBe(encoded);
  });

  it('reads user_data_file from S3 in the build region', async () => {
    // Prepare
    launched();
    const body = { transformToByteArray: async () => new Uint8Array(Buffer.from('echo from s3\n')) };
    s3Mock.on(GetObjectCommand).resolves({ Body: body as unknown as GetObjectCommandOutput['Body'] });

    // Act
    await launchInstance(
      event({
        config: {
          region: 'eu-west-1',
          userDataFile: {
            kind: 's3',
            bucket: 'staging',
            key: 'files/ud.sh',
            uri: 's3://staging/files/ud.sh',
          },
        },
      }),
      deps,
    );

    // Assess
    const get = s3Mock.commandCalls(GetObjectCommand);
    expect(get[0]?.args[0].input).toEqual({ Bucket: 'staging', Key: 'files/ud.sh' });
    expect(await regionOf(get[0]!)).toBe('eu-west-1');
    expect(runInput().UserData).toBe(Buffer.from('echo from s3\n').toString('base64'));
  });

  it('fails when user_data_file is not an S3 object', async () => {
    // Act
    const result = launchInstance(
      event({ config: { userDataFile: { kind: 'local', path: './ud.sh', uri: './ud.sh' } } }),
      deps,
    );

    // Assess
    await expect(result).rejects.toThrow(TaskInputError);
  });

  it('maps launch block devices as Packer does', async () => {
    // Prepare
    launched();

    // Act
    await launchInstance(
      event({
        config: {
          launchBlockDeviceMappings: [
            { deviceName: '/dev/sdb', virtualName: 'ephemeral0' },
            { deviceName: '/dev/sdc', noDevice: true },
            {
              deviceName: '/dev/sdd',
              volumeType: 'gp3',
              volumeSize: 20,
              iops: 4000,
              throughput: 250,
              encrypted: true,
              kmsKeyId: 'alias/k',
            },
            { deviceName: '/dev/sde', volumeType: 'gp2', iops: 100, snapshotId: 'snap-1', encrypted: true },
            { deviceName: '/dev/sdf', deleteOnTermination: false },
          ],
        },
      }),
      deps,
    );

    // Assess
    expect(runInput().BlockDeviceMappings).toEqual([
      { DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' },
      { DeviceName: '/dev/sdc', NoDevice: '' },
      {
        DeviceName: '/dev/sdd',
        Ebs: {
          DeleteOnTermination: true,
          VolumeType: 'gp3',
          VolumeSize: 20,
          Iops: 4000,
          Throughput: 250,
          Encrypted: true,
          KmsKeyId: 'alias/k',
        },
      },
      { DeviceName: '/dev/sde', Ebs: { DeleteOnTermination: true, VolumeType: 'gp2', SnapshotId: 'snap-1' } },
      { DeviceName: '/dev/sdf', Ebs: { DeleteOnTermination: false } },
    ]);
  });

  it('sends placement, credits, enclave, capacity reservation, licenses and metadata options', async () => {
    // Prepare
    launched();

    // Act
    await launchInstance(
      event({
        config: {
          instanceType: 't3.micro',
          enableUnlimitedCredits: true,
          enableNitroEnclave: true,
          ebsOptimized: true,
          placement: {
            tenancy: 'host',
            hostResourceGroupArn: 'arn:aws:resource-groups:us-east-1:1:group/hosts',
          },
          capacityReservation: { id: 'cr-1' },
          licenseConfigurationArns: ['arn:aws:license-manager:us-east-1:1:license-configuration:lic-1'],
          metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2 },
        },
      }),
      deps,
    );

    // Assess
    expect(runInput()).toMatchObject({
      InstanceType: 't3.micro',
      EbsOptimized: true,
      EnclaveOptions: { Enabled: true },
      CreditSpecification: { CpuCredits: 'unlimited' },
      Placement: {
        AvailabilityZone: 'us-east-1a',
        Tenancy: 'host',
        HostResourceGroupArn: 'arn:aws:resource-groups:us-east-1:1:group/hosts',
      },
      CapacityReservationSpecification: { CapacityReservationTarget: { CapacityReservationId: 'cr-1' } },
      LicenseSpecifications: [
        { LicenseConfigurationArn: 'arn:aws:license-manager:us-east-1:1:license-configuration:lic-1' },
      ],
      MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 },
    });
  });

  it('sends standard credits for a burstable type and none for others', async () => {
    // Prepare
    launched();

    // Act
    await launchInstance(event({ config: { instanceType: 't2.small' } }), deps);
    await launchInstance(event({ config: { instanceType: 'c3.large' } }), deps);

    // Assess
    const calls = ec2Mock.commandCalls(RunInstancesCommand);
    expect(calls[0]?.args[0].input.CreditSpecification).toEqual({ CpuCredits: 'standard' });
    expect(calls[1]?.args[0].input.CreditSpecification).toBeUndefined();
    expect(calls[1]?.args[0].input.MetadataOptions).toBeUndefined();
  });

  it('launches through a network interface when associate_public_ip_address is set and a subnet is known', async () => {
    // Prepare
    launched();

    // Act
    await launchInstance(event({ config: { network: { associatePublicIpAddress: true } } }), deps);

    // Assess
    const input = runInput();
    expect(input.NetworkInterfaces).toEqual([
      {
        DeviceIndex: 0,
        AssociatePublicIpAddress: true,
        SubnetId: 'subnet-1',
        Groups: ['sg-temp'],
        DeleteOnTermination: true,
      },
    ]);
    expect(input.SubnetId).toBeUndefined();
    expect(input.SecurityGroupIds).toBeUndefined();
  });

  it('launches without a subnet when none was resolved', async () => {
    // Prepare
    launched();

    // Act
    await launchInstance(
      event({
        network: { vpcId: 'vpc-d', securityGroupIds: ['sg-1'] },
        config: { network: { associatePublicIpAddress: true } },
      }),
      deps,
    );

    // Assess
    const input = runInput();
    expect(input.NetworkInterfaces).toBeUndefined();
    expect(input.SubnetId).toBeUndefined();
    expect(input.SecurityGroupIds).toEqual(['sg-1']);
    expect(input.Placement).toBeUndefined();
  });

  it('takes the architecture from the source AMI when the new instance is not describable yet', async () => {
    // Prepare
    ec2Mock.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: 'i-0new' }] });
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound', 'not found'));

    // Act
    const result = await launchInstance(event(), deps);

    // Assess
    expect(result).toEqual({ instanceId: 'i-0new', architecture: 'i386' });
  });

  it('fails with InstanceProfileNotReadyError while IAM has not propagated the new profile', async () => {
    // Prepare
    ec2Mock
      .on(RunInstancesCommand)
      .rejects(
        awsError(
          'InvalidParameterValue',
          'Value (AmiBuilderInstanceProfile) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name',
        ),
      );

    // Act
    const result = launchInstance(event(), deps);

    // Assess
    await expect(result).rejects.toMatchObject({ name: 'InstanceProfileNotReadyError' });
  });

  it.each([
    ['InsufficientInstanceCapacity', 'We currently do not have sufficient m3.medium capacity'],
    ['InvalidGroup.NotFound', "The security group 'sg-temp' does not exist in VPC 'vpc-1'"],
  ])('fails with a retryable AwsTransientError on %s', async (name, message) => {
    // Prepare
    ec2Mock.on(RunInstancesCommand).rejects(awsError(name, message));

    // Act
    const result = launchInstance(event(), deps);

    // Assess
    await expect(result).rejects.toThrow(AwsTransientError);
    await expect(result).rejects.toThrow(`RunInstances: ${name}: ${message}`);
  });

  it('fails with an InstanceLaunchError carrying the AWS message for other errors', async () => {
    // Prepare
    ec2Mock
      .on(RunInstancesCommand)
      .rejects(awsError('InvalidParameterValue', 'Invalid value for instance type'));

    // Act
    const result = launchInstance(event(), deps);

    // Assess
    await expect(result).rejects.toThrow(InstanceLaunchError);
    await expect(result).rejects.toThrow(
      'Launching the source instance (ami-0123456789abcdef0, m3.medium) failed: InvalidParameterValue: Invalid value for instance type',
    );
  });

  it('fails with an explanation when the idempotency token was used with other parameters', async () => {
    // Prepare
    ec2Mock.on(RunInstancesCommand).rejects(awsError('IdempotentParameterMismatch', 'mismatch.'));

    // Act
    const result = launchInstance(event(), deps);

    // Assess
    await expect(result).rejects.toThrow(/different parameters.*Start a new execution/);
  });

  it('passes throttling through untouched so that the state machine retries it', async () => {
    // Prepare
    const throttled = awsError('RequestLimitExceeded', 'slow down', 503);
    ec2Mock.on(RunInstancesCommand).rejects(throttled);

    // Act
    const result = launchInstance(event(), deps);

    // Assess
    await expect(result).rejects.toBe(throttled);
  });

  it('fails when the state lacks the network', async () => {
    // Act
    const result = launchInstance(
      {
        build: makeBuildState({ source, instanceRole: { instanceProfileName: 'p', temporary: true } }),
        args: {},
      },
      deps,
    );

    // Assess
    await expect(result).rejects.toThrow(/lacks \$\.network/);
  });
});

describe('user data encoding', () => {
  it('recognizes base64 as Go’s StdEncoding does', () => {
    expect(isBase64('aGVsbG8=')).toBe(true);
    expect(isBase64('aGVs\nbG8=')).toBe(true);
    expect(isBase64('aGVsbG8')).toBe(false);
    expect(isBase64('echo hi')).toBe(false);
  });

  it('encodes text that is not base64', () => {
    expect(encodeUserData(Buffer.from('echo hi'))).toBe('ZWNobyBoaQ==');
    expect(encodeUserData(Buffer.from('ZWNobyBoaQ=='))).toBe('ZWNobyBoaQ==');
  });
});

import {
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../emulator/index.js';
import { emulatorClients, rejectionOf, SIMULATED } from './clients.js';

const SOURCE_AMI = 'ami-0a1b2c3d';
const PROFILE = 'ami-builder-build';

let emulator: Emulator;
let aws: ReturnType<typeof emulatorClients>;

beforeAll(async () => {
  emulator = await startEmulator(SIMULATED);
  aws = emulatorClients(emulator.endpoint, 'us-east-1');
});

afterAll(async () => {
  await emulator?.stop();
});

beforeEach(async () => {
  await emulator.reset();
  await emulator.seedImage({ region: 'us-east-1', imageId: SOURCE_AMI, name: 'instance-store-source' });
  await emulator.createInstanceProfile(PROFILE);
});

async function launch(extra: Partial<RunInstancesCommandInput> = {}): Promise<string> {
  const { Instances } = await aws.ec2.send(
    new RunInstancesCommand({
      ImageId: SOURCE_AMI,
      InstanceType: 'm3.medium',
      MinCount: 1,
      MaxCount: 1,
      IamInstanceProfile: { Name: PROFILE },
      ...extra,
    }),
  );
  return Instances![0]!.InstanceId!;
}

async function managedInstanceIds(filterIds?: string[]): Promise<string[]> {
  const { InstanceInformationList } = await aws.ssm.send(
    new DescribeInstanceInformationCommand(
      filterIds ? { InstanceInformationFilterList: [{ key: 'InstanceIds', valueSet: filterIds }] } : {},
    ),
  );
  return (InstanceInformationList ?? []).map((i) => i.InstanceId!);
}

describe('RunInstances', () => {
  it('accepts ephemeral block-device mappings and records the launch parameters', async () => {
    // Act
    const instanceId = await launch({
      BlockDeviceMappings: [
        { DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' },
        { DeviceName: '/dev/sdc', VirtualName: 'ephemeral1' },
      ],
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
      UserData: Buffer.from('#!/bin/sh\necho ready\n').toString('base64'),
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'Packer Builder' }] }],
    });
    const [launchRecord] = await emulator.launches();
    const { Reservations } = await aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = Reservations![0]!.Instances![0]!;

    // Assess
    expect(launchRecord).toMatchObject({
      instanceId,
      imageId: SOURCE_AMI,
      instanceType: 'm3.medium',
      iamInstanceProfile: { Name: PROFILE },
      metadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
      userData: '#!/bin/sh\necho ready\n',
      blockDeviceMappings: [
        { DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' },
        { DeviceName: '/dev/sdc', VirtualName: 'ephemeral1' },
      ],
      tags: { Name: 'Packer Builder' },
    });
    expect(instance.RootDeviceType).toBe('instance-store');
    expect(instance.IamInstanceProfile?.Arn).toContain(`instance-profile/${PROFILE}`);
    expect(instance.MetadataOptions?.HttpTokens).toBe('required');
  });

  it('returns the same instance for the same client token', async () => {
    // Act
    const first = await launch({ ClientToken: 'build-1-launch' });
    const second = await launch({ ClientToken: 'build-1-launch' });
    const other = await launch({ ClientToken: 'build-2-launch' });
    const { Reservations } = await aws.ec2.send(new DescribeInstancesCommand({}));

    // Assess
    expect(second).toBe(first);
    expect(other).not.toBe(first);
    expect(Reservations?.flatMap((r) => r.Instances ?? [])).toHaveLength(2);
  });

  it('goes from pending to running', async () => {
    // Act
    const { Instances } = await aws.ec2.send(
      new RunInstancesCommand({ ImageId: SOURCE_AMI, InstanceType: 'm3.medium', MinCount: 1, MaxCount: 1 }),
    );
    const { Reservations } = await aws.ec2.send(
      new DescribeInstancesCommand({ InstanceIds: [Instances![0]!.InstanceId!] }),
    );

    // Assess
    expect(Instances![0]!.State?.Name).toBe('pending');
    expect(Reservations![0]!.Instances![0]!.State?.Name).toBe('running');
  });

  it('fails when the image does not exist', async () => {
    // Act
    const error = await rejectionOf(launch({ ImageId: 'ami-00000000' }));

    // Assess
    expect(error.name).toBe('InvalidAMIID.NotFound');
  });

  it('fails when a virtual name is not ephemeralN', async () => {
    // Act
    const error = await rejectionOf(
      launch({ BlockDeviceMappings: [{ DeviceName: '/dev/sdb', VirtualName: 'swap' }] }),
    );

    // Assess
    expect(error.name).toBe('InvalidBlockDeviceMapping');
  });
});

describe('DescribeInstanceInformation', () => {
  it('keeps a new instance off the list until the agent delay has passed', async () => {
    // Prepare
    await emulator.setOptions({ agentOnlineDelayMs: 60_000 });
    const instanceId = await launch();

    // Act
    const before = await managedInstanceIds();
    await emulator.setOptions({ agentOnlineDelayMs: 0 });
    const after = await aws.ssm.send(new DescribeInstanceInformationCommand({}));

    // Assess
    expect(before).toEqual([]);
    expect(after.InstanceInformationList).toEqual([
      expect.objectContaining({
        InstanceId: instanceId,
        PingStatus: 'Online',
        PlatformType: 'Linux',
        ResourceType: 'EC2Instance',
        IamRole: PROFILE,
      }),
    ]);
  });

  it('lists an instance once the configured delay has passed', async () => {
    // Prepare
    await emulator.setOptions({ agentOnlineDelayMs: 200 });
    const launchedAt = Date.now();
    const instanceId = await launch();

    // Act
    let online: string[] = [];
    while (online.length === 0 && Date.now() - launchedAt < 10_000) {
      online = await managedInstanceIds([instanceId]);
      if (online.length === 0) await new Promise((resolve) => setTimeout(resolve, 25));
    }

    // Assess
    expect(online).toEqual([instanceId]);
    expect(Date.now() - launchedAt).toBeGreaterThanOrEqual(200);
  });

  it('filters by instance id, with either filter list', async () => {
    // Prepare
    await emulator.setOptions({ agentOnlineDelayMs: 0 });
    const first = await launch();
    const second = await launch();

    // Act
    const byFilterList = await managedInstanceIds([second]);
    const { InstanceInformationList } = await aws.ssm.send(
      new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [first] }] }),
    );

    // Assess
    expect(byFilterList).toEqual([second]);
    expect(InstanceInformationList?.map((i) => i.InstanceId)).toEqual([first]);
  });

  it('never lists instances without an instance profile, or that stopped running', async () => {
    // Prepare
    await emulator.setOptions({ agentOnlineDelayMs: 0 });
    const { Instances } = await aws.ec2.send(
      new RunInstancesCommand({ ImageId: SOURCE_AMI, InstanceType: 'm3.medium', MinCount: 1, MaxCount: 1 }),
    );
    const terminated = await launch();
    await aws.ec2.send(new TerminateInstancesCommand({ InstanceIds: [terminated] }));

    // Act
    const online = await managedInstanceIds();

    // Assess
    expect(Instances).toHaveLength(1);
    expect(online).toEqual([]);
  });

  it('keeps instances off the list under an agent-offline fault', async () => {
    // Prepare
    await emulator.setOptions({ agentOnlineDelayMs: 0 });
    const offline = await launch();
    const online = await launch();
    await emulator.addFault({ type: 'agent-offline', instanceId: offline });

    // Act
    const listedWithOneOffline = await managedInstanceIds();
    await emulator.addFault({ type: 'agent-offline' });
    const listedWithAllOffline = await managedInstanceIds();

    // Assess
    expect(listedWithOneOffline).toEqual([online]);
    expect(listedWithAllOffline).toEqual([]);
  });
});

describe('DeleteSecurityGroup', () => {
  it('fails with DependencyViolation while an instance uses the group, and succeeds after termination', async () => {
    // Prepare
    const { GroupId } = await aws.ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'packer_temp', Description: 'Temporary group for Packer' }),
    );
    const instanceId = await launch({ SecurityGroupIds: [GroupId!] });

    // Act
    const inUse = await rejectionOf(aws.ec2.send(new DeleteSecurityGroupCommand({ GroupId })));
    await aws.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    const deleted = await aws.ec2.send(new DeleteSecurityGroupCommand({ GroupId }));

    // Assess
    expect(inUse.name).toBe('DependencyViolation');
    expect(inUse.message).toBe(`resource ${GroupId} has a dependent object`);
    expect(deleted.$metadata.httpStatusCode).toBe(200);
  });
});

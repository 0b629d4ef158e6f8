/**
 * IAM policies, enforced for temporary credentials (emulator/patches/policy.py): resource ARNs, tag conditions,
 * permissions boundaries, explicit denies and the PassRole that RunInstances implies.
 */
import {
  CreateTagsCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { CreatePolicyCommand, CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../emulator/index.js';
import { emulatorClients, rejectionOf, SIMULATED } from './clients.js';

const REGION = 'us-east-1';
const SOURCE_AMI = 'ami-0a1b2c3d';
const PROFILE = 'iam-test-profile';
const ADMIN = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const LAMBDA_TRUST = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};

let emulator: Emulator;
let aws: ReturnType<typeof emulatorClients>;
let iam: IAMClient;
let sts: STSClient;
let roles = 0;

beforeAll(async () => {
  emulator = await startEmulator(SIMULATED);
  aws = emulatorClients(emulator.endpoint, REGION);
  iam = new IAMClient({ endpoint: emulator.endpoint, region: REGION, credentials: ADMIN });
  sts = new STSClient({ endpoint: emulator.endpoint, region: REGION, credentials: ADMIN });
});

afterAll(async () => {
  iam?.destroy();
  sts?.destroy();
  await emulator?.stop();
});

beforeEach(async () => {
  await emulator.reset();
  await emulator.seedImage({ region: REGION, imageId: SOURCE_AMI, name: 'instance-store-source' });
});

/** An EC2 client signed as a new role with these statements (and this boundary). */
async function ec2As(statements: unknown[], boundary?: unknown[]): Promise<EC2Client> {
  roles += 1;
  const name = `iam-test-${roles}`;
  let boundaryArn: string | undefined;
  if (boundary !== undefined) {
    const policy = await iam.send(
      new CreatePolicyCommand({
        PolicyName: `${name}-boundary`,
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: boundary }),
      }),
    );
    boundaryArn = policy.Policy?.Arn;
  }
  const role = await iam.send(
    new CreateRoleCommand({
      RoleName: name,
      AssumeRolePolicyDocument: JSON.stringify(LAMBDA_TRUST),
      ...(boundaryArn === undefined ? {} : { PermissionsBoundary: boundaryArn }),
    }),
  );
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: name,
      PolicyName: 'grants',
      PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: statements }),
    }),
  );
  const assumed = await sts.send(new AssumeRoleCommand({ RoleArn: role.Role?.Arn, RoleSessionName: 'test' }));
  const c = assumed.Credentials;
  return new EC2Client({
    endpoint: emulator.endpoint,
    region: REGION,
    maxAttempts: 1,
    credentials: {
      accessKeyId: c?.AccessKeyId ?? '',
      secretAccessKey: c?.SecretAccessKey ?? '',
      sessionToken: c?.SessionToken ?? '',
    },
  });
}

async function launchAsAdmin(tags: Record<string, string> = {}): Promise<string> {
  const { Instances } = await aws.ec2.send(
    new RunInstancesCommand({ ImageId: SOURCE_AMI, InstanceType: 'm3.medium', MinCount: 1, MaxCount: 1 }),
  );
  const id = Instances?.[0]?.InstanceId ?? '';
  if (Object.keys(tags).length > 0) {
    await aws.ec2.send(
      new CreateTagsCommand({
        Resources: [id],
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
  }
  return id;
}

const terminateOwned = {
  Effect: 'Allow',
  Action: 'ec2:TerminateInstances',
  Resource: `arn:aws:ec2:*:123456789012:instance/*`,
  Condition: { StringEquals: { 'ec2:ResourceTag/ami-builder:stack': 'AmiBuilder' } },
};

describe('IAM policies for assumed-role credentials', () => {
  it('allows an action on a resource whose tags meet the condition, and refuses it on another', async () => {
    // Prepare
    const ec2 = await ec2As([terminateOwned]);
    const owned = await launchAsAdmin({ 'ami-builder:stack': 'AmiBuilder' });
    const foreign = await launchAsAdmin({ 'ami-builder:stack': 'Other' });

    // Act
    const allowed = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [owned] }));
    const refused = await rejectionOf(ec2.send(new TerminateInstancesCommand({ InstanceIds: [foreign] })));

    // Assess
    expect(allowed.TerminatingInstances?.[0]?.InstanceId).toBe(owned);
    expect(refused.name).toBe('UnauthorizedOperation');
    expect(refused.message).toMatch(
      /assumed-role\/iam-test-\d+\/test is not authorized to perform: ec2:TerminateInstances/,
    );
    expect(refused.message).toContain(`on resource: arn:aws:ec2:${REGION}:123456789012:instance/${foreign}`);
    ec2.destroy();
  });

  it('refuses an action no statement grants, even with the resource in another statement', async () => {
    // Prepare
    const ec2 = await ec2As([terminateOwned]);
    const owned = await launchAsAdmin({ 'ami-builder:stack': 'AmiBuilder' });

    // Act
    const refused = await rejectionOf(
      ec2.send(new CreateTagsCommand({ Resources: [owned], Tags: [{ Key: 'k', Value: 'v' }] })),
    );

    // Assess
    expect(refused.name).toBe('UnauthorizedOperation');
    expect(refused.message).toContain('ec2:CreateTags');
    ec2.destroy();
  });

  it('refuses what the identity policy allows when the permissions boundary does not', async () => {
    // Prepare
    const ec2 = await ec2As([terminateOwned], [{ Effect: 'Allow', Action: 'ec2:Describe*', Resource: '*' }]);
    const owned = await launchAsAdmin({ 'ami-builder:stack': 'AmiBuilder' });

    // Act
    const refused = await rejectionOf(ec2.send(new TerminateInstancesCommand({ InstanceIds: [owned] })));

    // Assess
    expect(refused.name).toBe('UnauthorizedOperation');
    ec2.destroy();
  });

  it('lets an explicit Deny win over an Allow', async () => {
    // Prepare
    const ec2 = await ec2As([
      { Effect: 'Allow', Action: 'ec2:*', Resource: '*' },
      { Effect: 'Deny', Action: 'ec2:TerminateInstances', Resource: '*' },
    ]);
    const owned = await launchAsAdmin();

    // Act
    const refused = await rejectionOf(ec2.send(new TerminateInstancesCommand({ InstanceIds: [owned] })));

    // Assess
    expect(refused.name).toBe('UnauthorizedOperation');
    ec2.destroy();
  });

  it('requires iam:PassRole on the instance profile’s role for RunInstances, to ec2.amazonaws.com only', async () => {
    // Prepare
    await emulator.createInstanceProfile(PROFILE);
    const run = {
      Effect: 'Allow',
      Action: 'ec2:RunInstances',
      Resource: '*',
    };
    const withoutPass = await ec2As([run]);
    const passToLambda = await ec2As([
      run,
      {
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: `arn:aws:iam::123456789012:role/${PROFILE}`,
        Condition: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
      },
    ]);
    const passToEc2 = await ec2As([
      run,
      {
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: `arn:aws:iam::123456789012:role/${PROFILE}`,
        Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      },
    ]);
    const launch = (ec2: EC2Client) =>
      ec2.send(
        new RunInstancesCommand({
          ImageId: SOURCE_AMI,
          InstanceType: 'm3.medium',
          MinCount: 1,
          MaxCount: 1,
          IamInstanceProfile: { Name: PROFILE },
        }),
      );

    // Act
    const refused = await rejectionOf(launch(withoutPass));
    const wrongService = await rejectionOf(launch(passToLambda));
    const launched = await launch(passToEc2);

    // Assess
    expect(refused.name).toBe('UnauthorizedOperation');
    expect(refused.message).toContain('iam:PassRole');
    expect(wrongService.name).toBe('UnauthorizedOperation');
    expect(launched.Instances).toHaveLength(1);
    for (const c of [withoutPass, passToLambda, passToEc2]) c.destroy();
  });

  it('leaves the long-term testing keys unchecked, as the account’s administrator', async () => {
    // Prepare
    const id = await launchAsAdmin();

    // Act
    const terminated = await aws.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));

    // Assess
    expect(terminated.TerminatingInstances).toHaveLength(1);
  });
});

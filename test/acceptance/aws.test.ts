/**
 * The real-AWS acceptance test (`AMI_BUILDER_ACC=1`, like Packer's `PACKER_ACC=1`): what only AWS can confirm.
 * Never runs in CI or by default: without the variable the suite is skipped. README.md#acceptance-test-on-aws says
 * what it needs and what it costs.
 *
 * In the caller's account and region (the AWS SDK's default credentials and `AWS_REGION`), it:
 * 1. deploys the stack with the stock CDK CLI under a unique name (`AmiBuilderAcc<id>`), with a unique bundle
 *    bucket allowed;
 * 2. builds the Basic Example (examples/basic.json) with `ami-builder build`, on a current instance type that can
 *    run instance-store AMIs and the newest Amazon Linux instance-store source AMI (both overridable);
 * 3. checks that the AMI is registered from its bundle (instance-store root, `ImageLocation` naming the manifest
 *    the build uploaded) and that an instance launched from it passes EC2's status checks;
 * 4. on every path, terminates the test instance, deregisters the AMI, deletes the bundle and its bucket,
 *    destroys the stack, deletes the retained staging bucket, and then lists anything of the run still there.
 *    Leftovers fail the test, each named so it can be deleted by hand.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CloudWatchLogsClient,
  DeleteLogGroupCommand,
  DescribeLogGroupsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  type Image,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceStatusOk,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { IAMClient, ListInstanceProfilesCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import {
  DeleteBucketCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { writeX509Pair } from '../workflow/harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENABLED = process.env.AMI_BUILDER_ACC === '1';
const REGION = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
/**
 * Instance types that can boot an instance-store-backed AMI (its root device on instance store: C1, C3, D2, I2,
 * M1, M2, M3, R3, X1), cheapest first; the first one the region offers is used.
 */
const INSTANCE_TYPES = ['m3.medium', 'c3.large', 'm3.large', 'r3.large'];
/** Amazon Linux AMI's instance-store images: SSM agent and the EC2 AMI tools (`ec2-bundle-vol`) preinstalled. */
const SOURCE_AMI_NAME = 'amzn-ami-hvm-*-x86_64-s3';
/** The deploy, the build (about 20 minutes of bundling and upload), the boot and the teardown. */
const ACCEPTANCE_TIMEOUT_MS = 120 * 60_000;
/** How long the AMI's instance may take to pass both status checks. */
const BOOT_WAIT_SECONDS = 20 * 60;

interface Run {
  id: string;
  stackName: string;
  bucket: string;
  amiNamePrefix: string;
  account: string;
}

/** Runs a command from the repository root, streaming its output; rejects when it exits non-zero. */
function sh(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`)),
    );
  });
}

const cdk = (args: readonly string[]) => sh('npx', ['cdk', ...args]);

/** The first instance-store-capable type the region offers, or AMI_BUILDER_ACC_INSTANCE_TYPE. */
async function instanceType(ec2: EC2Client): Promise<string> {
  const wanted = process.env.AMI_BUILDER_ACC_INSTANCE_TYPE;
  if (wanted) return wanted;
  const offered = await ec2.send(
    new DescribeInstanceTypeOfferingsCommand({
      LocationType: 'region',
      Filters: [{ Name: 'instance-type', Values: INSTANCE_TYPES }],
    }),
  );
  const names = new Set((offered.InstanceTypeOfferings ?? []).map((o) => o.InstanceType));
  const found = INSTANCE_TYPES.find((t) => names.has(t as never));
  if (found === undefined) {
    throw new Error(
      `${REGION} offers none of ${INSTANCE_TYPES.join(', ')}: set AMI_BUILDER_ACC_INSTANCE_TYPE or another region`,
    );
  }
  return found;
}

/** The newest Amazon Linux instance-store AMI, or AMI_BUILDER_ACC_SOURCE_AMI. */
async function sourceAmi(ec2: EC2Client): Promise<string> {
  const wanted = process.env.AMI_BUILDER_ACC_SOURCE_AMI;
  if (wanted) return wanted;
  const images = await ec2.send(
    new DescribeImagesCommand({
      Owners: ['amazon'],
      Filters: [
        { Name: 'name', Values: [SOURCE_AMI_NAME] },
        { Name: 'root-device-type', Values: ['instance-store'] },
        { Name: 'architecture', Values: ['x86_64'] },
        { Name: 'state', Values: ['available'] },
      ],
    }),
  );
  const newest = (images.Images ?? []).sort((a, b) =>
    (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''),
  )[0];
  if (newest?.ImageId === undefined) {
    throw new Error(`no ${SOURCE_AMI_NAME} instance-store AMI in ${REGION}: set AMI_BUILDER_ACC_SOURCE_AMI`);
  }
  return newest.ImageId;
}

async function images(ec2: EC2Client, namePrefix: string): Promise<Image[]> {
  const found = await ec2.send(
    new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: [`${namePrefix}*`] }] }),
  );
  return found.Images ?? [];
}

async function emptyAndDeleteBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    for (;;) {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
      const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({
        Key: v.Key ?? '',
        VersionId: v.VersionId,
      }));
      if (objects.length === 0) break;
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects } }));
    }
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if ((error as Error).name !== 'NoSuchBucket') throw error;
  }
}

/** Runs every step even when one fails; returns the failures. */
async function everyStep(steps: [string, () => Promise<unknown>][]): Promise<string[]> {
  const failures: string[] = [];
  for (const [what, step] of steps) {
    try {
      await step();
    } catch (error) {
      failures.push(`${what}: ${(error as Error).message}`);
    }
  }
  return failures;
}

/** Everything of the run that still exists, one line each, to delete by hand. */
async function leftovers(r: Run, clients: Clients): Promise<string[]> {
  const { ec2, s3, iam, cloudformation, logs } = clients;
  const found: string[] = [];
  const stack = await cloudformation
    .send(new DescribeStacksCommand({ StackName: r.stackName }))
    .catch(() => undefined);
  for (const s of stack?.Stacks ?? []) {
    if (s.StackStatus !== 'DELETE_COMPLETE') found.push(`stack ${r.stackName} (${s.StackStatus})`);
  }
  for (const tag of ['ami-builder:stack', 'ami-builder:acceptance']) {
    const value = tag === 'ami-builder:stack' ? r.stackName : r.id;
    const reservations = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: `tag:${tag}`, Values: [value] }] }),
    );
    for (const i of (reservations.Reservations ?? []).flatMap((x) => x.Instances ?? [])) {
      if (i.State?.Name !== 'terminated') found.push(`instance ${i.InstanceId} (${i.State?.Name})`);
    }
  }
  const groups = await ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [{ Name: 'tag:ami-builder:stack', Values: [r.stackName] }],
    }),
  );
  for (const g of groups.SecurityGroups ?? []) found.push(`security group ${g.GroupId}`);
  for (const image of await images(ec2, r.amiNamePrefix)) found.push(`AMI ${image.ImageId} (${image.Name})`);
  for (const bucket of [r.bucket]) {
    const exists = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: 1 })).then(
      () => true,
      () => false,
    );
    if (exists) found.push(`bucket ${bucket}`);
  }
  const path = `/ami-builder/${r.stackName}/`;
  for (const role of (await iam.send(new ListRolesCommand({ PathPrefix: path }))).Roles ?? []) {
    found.push(`IAM role ${role.Path}${role.RoleName}`);
  }
  for (const p of (await iam.send(new ListInstanceProfilesCommand({ PathPrefix: path }))).InstanceProfiles ??
    []) {
    found.push(`instance profile ${p.Path}${p.InstanceProfileName}`);
  }
  const groupsLeft = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: r.stackName }));
  for (const g of groupsLeft.logGroups ?? []) found.push(`log group ${g.logGroupName}`);
  return found;
}

interface Clients {
  ec2: EC2Client;
  s3: S3Client;
  iam: IAMClient;
  cloudformation: CloudFormationClient;
  logs: CloudWatchLogsClient;
}

describe.skipIf(!ENABLED)('acceptance on AWS (AMI_BUILDER_ACC=1)', () => {
  it(
    'deploys the stack, builds the Basic Example into an instance-store AMI that boots, and removes everything',
    async () => {
      // Prepare
      const clients: Clients = {
        ec2: new EC2Client({ region: REGION }),
        s3: new S3Client({ region: REGION }),
        iam: new IAMClient({ region: REGION }),
        cloudformation: new CloudFormationClient({ region: REGION }),
        logs: new CloudWatchLogsClient({ region: REGION }),
      };
      const { ec2, s3 } = clients;
      const identity = await new STSClient({ region: REGION }).send(new GetCallerIdentityCommand({}));
      const account = identity.Account ?? '';
      const id = randomBytes(4).toString('hex');
      const r: Run = {
        id,
        account,
        stackName: `AmiBuilderAcc${id}`,
        bucket: `ami-builder-acc-${account}-${id}`,
        amiNamePrefix: `ami-builder-acc-${id}`,
      };
      const dir = mkdtempSync(join(tmpdir(), 'ami-builder-acc-'));
      const context = [
        '-c',
        `stackName=${r.stackName}`,
        '-c',
        `allowedBucketPatterns=${JSON.stringify([r.bucket])}`,
      ];
      let stagingBucket: string | undefined;
      let imageId: string | undefined;
      let bootedInstance: string | undefined;
      console.info(`acceptance run ${id}: stack ${r.stackName}, bucket ${r.bucket}, region ${REGION}`);

      try {
        // Act: deploy, build.
        await cdk([
          'deploy',
          r.stackName,
          ...context,
          '--require-approval',
          'never',
          '--output',
          join(dir, 'cdk.out'),
        ]);
        const outputs = await clients.cloudformation.send(
          new DescribeStacksCommand({ StackName: r.stackName }),
        );
        stagingBucket = outputs.Stacks?.[0]?.Outputs?.find(
          (o) => o.OutputKey === 'StagingBucketName',
        )?.OutputValue;
        const pair = await writeX509Pair(dir, 'ami-builder acceptance test');
        const template = {
          ...JSON.parse(readFileSync(join(ROOT, 'examples', 'basic.json'), 'utf8')),
          region: REGION,
          source_ami: await sourceAmi(ec2),
          instance_type: await instanceType(ec2),
          ssh_username: 'ec2-user',
          account_id: account,
          s3_bucket: r.bucket,
          x509_cert_path: pair.cert,
          x509_key_path: pair.key,
          ami_name: `${r.amiNamePrefix} {{timestamp}}`,
        };
        const templatePath = join(dir, 'basic.json');
        writeFileSync(templatePath, JSON.stringify(template, null, 2));
        const manifestPath = join(dir, 'packer-manifest.json');
        await sh(process.execPath, [
          join(ROOT, 'bin', 'ami-builder.mjs'),
          'build',
          '--stack',
          r.stackName,
          `-manifest=${manifestPath}`,
          templatePath,
        ]);

        // Assess: registered from its bundle.
        const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
          builds: { artifact_id: string }[];
        };
        imageId = manifest.builds[0]?.artifact_id.split(':')[1];
        const [image] =
          (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId ?? ''] }))).Images ?? [];
        expect(image).toMatchObject({ State: 'available', RootDeviceType: 'instance-store' });
        const location = image?.ImageLocation ?? '';
        expect(location).toMatch(new RegExp(`^${r.bucket}/.+\\.manifest\\.xml$`));
        const key = location.slice(r.bucket.length + 1);
        await s3.send(new HeadObjectCommand({ Bucket: r.bucket, Key: key }));

        // Assess: an instance boots from it and passes EC2's status checks.
        const launched = await ec2.send(
          new RunInstancesCommand({
            ImageId: imageId,
            InstanceType: template.instance_type as never,
            MinCount: 1,
            MaxCount: 1,
            TagSpecifications: [
              { ResourceType: 'instance', Tags: [{ Key: 'ami-builder:acceptance', Value: id }] },
            ],
          }),
        );
        bootedInstance = launched.Instances?.[0]?.InstanceId;
        await waitUntilInstanceStatusOk(
          { client: ec2, maxWaitTime: BOOT_WAIT_SECONDS },
          { InstanceIds: [bootedInstance ?? ''] },
        );
      } finally {
        // Every path: remove what the run created, then report what is left.
        const failures = await everyStep([
          [
            `terminate ${bootedInstance}`,
            async () => {
              if (bootedInstance === undefined) return;
              await ec2.send(new TerminateInstancesCommand({ InstanceIds: [bootedInstance] }));
              await waitUntilInstanceTerminated(
                { client: ec2, maxWaitTime: 600 },
                { InstanceIds: [bootedInstance] },
              );
            },
          ],
          [
            'deregister the AMIs',
            async () => {
              for (const image of await images(ec2, r.amiNamePrefix)) {
                await ec2.send(new DeregisterImageCommand({ ImageId: image.ImageId }));
              }
            },
          ],
          [`delete bucket ${r.bucket}`, () => emptyAndDeleteBucket(s3, r.bucket)],
          [
            `destroy stack ${r.stackName}`,
            () => cdk(['destroy', r.stackName, ...context, '--force', '--output', join(dir, 'cdk.out')]),
          ],
          [
            'delete the retained staging bucket',
            async () => {
              if (stagingBucket !== undefined) await emptyAndDeleteBucket(s3, stagingBucket);
            },
          ],
          [
            'delete retained log groups',
            async () => {
              const groups = await clients.logs.send(
                new DescribeLogGroupsCommand({ logGroupNamePrefix: r.stackName }),
              );
              for (const g of groups.logGroups ?? []) {
                await clients.logs.send(new DeleteLogGroupCommand({ logGroupName: g.logGroupName }));
              }
            },
          ],
        ]);
        rmSync(dir, { recursive: true, force: true });
        const left = await leftovers(r, clients);
        for (const line of [...failures, ...left.map((l) => `left behind: ${l}`)]) console.error(line);
        expect({ cleanupFailures: failures, leftovers: left }).toEqual({
          cleanupFailures: [],
          leftovers: [],
        });
      }
    },
    ACCEPTANCE_TIMEOUT_MS,
  );
});

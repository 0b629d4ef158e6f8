/**
 * Sandbox mode: each emulated instance boots a sandbox (its own namespaces over a copy-on-write root) where the
 * SSM agent emulation runs commands for real, with an instance metadata service and the AMI tool stand-ins.
 * These tests run where sandboxes can be made (Linux, root or unprivileged user namespaces), as in CI.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  GetLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  CopyImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  RegisterImageCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  CancelCommandCommand,
  CreateDocumentCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../emulator/index.js';
import { COMMAND_STEP_DOWNLOAD, commandDocumentContent } from '../../lambdas/shared/command-document.js';
import { emulatorClients, rejectionOf } from './clients.js';

const run = promisify(execFile);
const REGION = 'us-east-1';
const SOURCE = 'ami-0a1b2c3d';
const PROFILE = 'build-profile';
const DOCUMENT = 'AmiBuilder-Command';
const LOG_GROUP = 'ami-builder-commands';
const BUCKET = 'sandbox-test-bundles';
const ACCOUNT = '123456789012';

let emulator: Emulator;
let aws: ReturnType<typeof emulatorClients>;
let logs: CloudWatchLogsClient;
let iam: IAMClient;
let certPem: string;
let keyPem: string;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  emulator = await startEmulator({ agentOnlineDelayMs: 0, instanceStartMs: 300, instanceStopMs: 300 });
  aws = emulatorClients(emulator.endpoint, REGION);
  iam = new IAMClient({
    endpoint: emulator.endpoint,
    region: REGION,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  logs = new CloudWatchLogsClient({
    endpoint: emulator.endpoint,
    region: REGION,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const dir = await mkdtemp(join(tmpdir(), 'ami-builder-sandbox-x509-'));
  try {
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=sandbox test',
    ]);
    certPem = await readFile(join(dir, 'cert.pem'), 'utf8');
    keyPem = await readFile(join(dir, 'key.pem'), 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);

afterAll(async () => {
  logs?.destroy();
  iam?.destroy();
  await emulator?.stop();
});

async function launch(): Promise<string> {
  const { Instances } = await aws.ec2.send(
    new RunInstancesCommand({
      ImageId: SOURCE,
      InstanceType: 'm3.medium',
      MinCount: 1,
      MaxCount: 1,
      IamInstanceProfile: { Name: PROFILE },
      MetadataOptions: { HttpTokens: 'required' },
    }),
  );
  return Instances![0]!.InstanceId!;
}

async function instanceState(instanceId: string): Promise<string | undefined> {
  const out = await aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

async function waitOnline(instanceId: string): Promise<void> {
  for (let i = 0; i < 300; i += 1) {
    const out = await aws.ssm.send(
      new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }),
    );
    if ((out.InstanceInformationList ?? []).length > 0) return;
    await sleep(100);
  }
  throw new Error(`${instanceId} never came online`);
}

/** Runs shell lines with AWS-RunShellScript and waits for the end; returns the final invocation. */
async function shell(
  instanceId: string,
  commands: string[],
  extra: { timeoutSeconds?: number; onRunning?: (commandId: string) => Promise<void> } = {},
): Promise<GetCommandInvocationCommandOutput> {
  const sent = await aws.ssm.send(
    new SendCommandCommand({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: [instanceId],
      Parameters: {
        commands,
        ...(extra.timeoutSeconds ? { executionTimeout: [String(extra.timeoutSeconds)] } : {}),
      },
      CloudWatchOutputConfig: { CloudWatchLogGroupName: LOG_GROUP, CloudWatchOutputEnabled: true },
    }),
  );
  const commandId = sent.Command!.CommandId!;
  let running = false;
  for (let i = 0; i < 600; i += 1) {
    const invocation = await aws.ssm.send(
      new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
    );
    if (invocation.Status === 'InProgress' && !running && extra.onRunning) {
      running = true;
      await extra.onRunning(commandId);
    }
    if (!['Pending', 'InProgress', 'Delayed', 'Cancelling'].includes(invocation.Status ?? ''))
      return invocation;
    await sleep(100);
  }
  throw new Error(`command ${commandId} did not end`);
}

/** The messages written so far to one of a command's CloudWatch streams. */
async function logLines(
  commandId: string,
  instanceId: string,
  stream: 'stdout' | 'stderr',
): Promise<string[]> {
  try {
    const out = await logs.send(
      new GetLogEventsCommand({
        logGroupName: LOG_GROUP,
        logStreamName: `${commandId}/${instanceId}/aws-runShellScript/${stream}`,
      }),
    );
    return (out.events ?? []).map((e) => e.message ?? '');
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return [];
    throw error;
  }
}

describe.runIf(process.platform === 'linux')('sandbox mode', () => {
  let instanceId: string;

  beforeEach(async () => {
    await emulator.reset();
    await emulator.setOptions({ agentOnlineDelayMs: 0, instanceStartMs: 300, instanceStopMs: 300 });
    await emulator.seedImage({ region: REGION, imageId: SOURCE, name: 'source', architecture: 'x86_64' });
    await emulator.createInstanceProfile(PROFILE);
    // The emulator enforces the role's policies on the instance's credentials: grant what the commands do.
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: PROFILE,
        PolicyName: 'sandbox-test',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: [
                's3:GetObject',
                's3:PutObject',
                's3:PutObjectAcl',
                's3:ListBucket',
                's3:GetBucketLocation',
              ],
              Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`],
            },
            {
              Effect: 'Allow',
              Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
              Resource: '*',
            },
          ],
        }),
      }),
    );
    await aws.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await logs.send(new CreateLogGroupCommand({ logGroupName: LOG_GROUP }));
    instanceId = await launch();
    await waitOnline(instanceId);
  }, 60_000);

  it('is the mode the emulator runs in on Linux', () => {
    // Assess
    expect(emulator.mode).toBe('sandbox');
  });

  it('keeps an instance pending while it boots and shutting-down before it is terminated', async () => {
    // Prepare
    await emulator.setOptions({ instanceStartMs: 3000, instanceStopMs: 3000 });
    const second = await launch();

    // Act
    const atLaunch = await instanceState(second);
    await aws.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    const afterTerminate = await instanceState(instanceId);
    await sleep(3500);
    const later = await instanceState(instanceId);

    // Assess
    expect(atLaunch).toBe('pending');
    expect(afterTerminate).toBe('shutting-down');
    expect(later).toBe('terminated');
  });

  it('runs commands as root in the instance, and what they write never reaches the host', async () => {
    // Prepare
    const marker = `/etc/ami-builder-sandbox-${Date.now()}`;

    // Act
    const written = await shell(instanceId, [`echo provisioned > ${marker}`, 'id -un']);
    const readBack = await shell(instanceId, [`cat ${marker}`]);

    // Assess
    expect(written).toMatchObject({ Status: 'Success', ResponseCode: 0, StandardOutputContent: 'root\n' });
    expect(readBack.StandardOutputContent).toBe('provisioned\n');
    expect(existsSync(marker)).toBe(false);
  });

  it('serves IMDSv2 tokens, the instance identity and the role credentials, and refuses IMDSv1 when tokens are required', async () => {
    // Act
    const result = await shell(instanceId, [
      'T=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token)',
      'M=http://169.254.169.254/latest/meta-data',
      'curl -sf -H "X-aws-ec2-metadata-token: $T" $M/instance-id; echo',
      'curl -sf -H "X-aws-ec2-metadata-token: $T" $M/placement/region; echo',
      'ROLE=$(curl -sf -H "X-aws-ec2-metadata-token: $T" $M/iam/security-credentials/)',
      'echo "role=$ROLE"',
      'curl -sf -H "X-aws-ec2-metadata-token: $T" $M/iam/security-credentials/$ROLE | grep -c ASIA',
      'curl -s -o /dev/null -w "v1=%{http_code}\\n" $M/instance-id',
    ]);

    // Assess
    expect(result.Status).toBe('Success');
    expect(result.StandardOutputContent).toBe(`${instanceId}\n${REGION}\nrole=${PROFILE}\n1\nv1=401\n`);
  });

  it('reaches nothing but the metadata service and the emulated AWS endpoint', async () => {
    // Act
    const result = await shell(instanceId, [
      'curl -s -o /dev/null -m 2 http://93.184.216.34/ && echo internet || echo no-internet',
      `curl -s -o /dev/null -w "%{http_code}\\n" ${emulator.endpoint}/_ami-builder/health`,
    ]);

    // Assess
    expect(result.StandardOutputContent).toBe('no-internet\n200\n');
  });

  it('fails with the exit code and says so on stderr as the agent does', async () => {
    // Act
    const result = await shell(instanceId, ['echo before', 'echo oops >&2', 'exit 3']);

    // Assess
    expect(result).toMatchObject({
      Status: 'Failed',
      ResponseCode: 3,
      StandardOutputContent: 'before\n',
      StandardErrorContent: 'oops\nfailed to run commands: exit status 3\n',
    });
  });

  it('writes each output line to CloudWatch Logs while the command runs', async () => {
    // Prepare
    let seenWhileRunning: string[] = [];

    // Act
    const result = await shell(instanceId, ['echo first line', 'sleep 2', 'echo second line'], {
      onRunning: async (commandId) => {
        for (let i = 0; i < 15 && seenWhileRunning.length === 0; i += 1) {
          await sleep(100);
          seenWhileRunning = await logLines(commandId, instanceId, 'stdout');
        }
      },
    });

    // Assess
    expect(result.Status).toBe('Success');
    expect(seenWhileRunning).toEqual(['first line']);
    expect(await logLines(result.CommandId!, instanceId, 'stdout')).toEqual(['first line', 'second line']);
  });

  it('caps the output at 24,000 characters of stdout and 8,000 of stderr', async () => {
    // Act
    const result = await shell(instanceId, [
      "head -c 30000 /dev/zero | tr '\\0' a",
      "head -c 9000 /dev/zero | tr '\\0' b >&2",
    ]);

    // Assess
    expect(result.StandardOutputContent).toHaveLength(24_000);
    expect(result.StandardErrorContent).toHaveLength(8_000);
  });

  it('times a command out after its executionTimeout', async () => {
    // Act
    const result = await shell(instanceId, ['sleep 30'], { timeoutSeconds: 1 });

    // Assess
    expect(result).toMatchObject({ Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut' });
  });

  it('stops a command that CancelCommand cancels', async () => {
    // Prepare
    const started = Date.now();

    // Act
    const result = await shell(instanceId, ['sleep 30'], {
      onRunning: async (commandId) => {
        await aws.ssm.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [instanceId] }));
      },
    });

    // Assess
    expect(result.Status).toBe('Cancelled');
    expect(Date.now() - started).toBeLessThan(20_000); // the script was killed, not waited for
  });

  it("downloads the stack document's staged folder with the instance role and runs its run.sh there", async () => {
    // Prepare
    await aws.ssm.send(
      new CreateDocumentCommand({
        Name: DOCUMENT,
        Content: JSON.stringify(commandDocumentContent),
        DocumentType: 'Command',
        DocumentFormat: 'JSON',
      }),
    );
    const folder = 'staging/exec-1/build/01-provision-1/';
    await aws.s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `${folder}run.sh`,
        Body: 'pwd\nfind . -type f | LC_ALL=C sort\ncat files/0\nexit 4\n',
      }),
    );
    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${folder}files/0`, Body: 'staged\n' }));

    // Act
    const sent = await aws.ssm.send(
      new SendCommandCommand({
        DocumentName: DOCUMENT,
        InstanceIds: [instanceId],
        Parameters: {
          sourceInfo: [JSON.stringify({ path: `https://s3.${REGION}.amazonaws.com/${BUCKET}/${folder}` })],
          workingDirectory: ['/var/lib/ami-builder/exec-1/01-provision-1'],
        },
      }),
    );
    let invocation: GetCommandInvocationCommandOutput | undefined;
    for (let i = 0; i < 200; i += 1) {
      invocation = await aws.ssm.send(
        new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId!, InstanceId: instanceId }),
      );
      if (!['Pending', 'InProgress'].includes(invocation.Status ?? '')) break;
      await sleep(100);
    }
    const download = await aws.ssm.send(
      new GetCommandInvocationCommand({
        CommandId: sent.Command!.CommandId!,
        InstanceId: instanceId,
        PluginName: COMMAND_STEP_DOWNLOAD,
      }),
    );

    // Assess
    expect(download).toMatchObject({ Status: 'Success', ResponseCode: 0 });
    expect(invocation).toMatchObject({ Status: 'Failed', ResponseCode: 4 });
    expect(invocation?.StandardOutputContent).toBe(
      '/var/lib/ami-builder/exec-1/01-provision-1\n./files/0\n./run.sh\nstaged\n',
    );
  });

  describe('the AMI tool stand-ins', () => {
    const installX509 = () => [
      'mkdir -p -m 0700 /tmp/x509',
      `printf '%s' '${certPem}' > /tmp/x509/cert.pem`,
      `printf '%s' '${keyPem}' > /tmp/x509/key.pem`,
    ];
    const bundle = (extra = '') =>
      `sudo -i -n ec2-bundle-vol -k /tmp/x509/key.pem -u ${ACCOUNT} -c /tmp/x509/cert.pem -r x86_64 ` +
      `-e /tmp/x509/* -d /tmp -p image --batch --no-filter ${extra}`;
    const credentials = [
      'T=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token)',
      'C=$(curl -sf -H "X-aws-ec2-metadata-token: $T" http://169.254.169.254/latest/meta-data/iam/security-credentials/build-profile)',
      'get() { printf "%s\\n" "$C" | sed -n "s/.*\\"$1\\" *: *\\"\\([^\\"]*\\)\\".*/\\1/p"; }',
      'A=$(get AccessKeyId); S=$(get SecretAccessKey); K=$(get Token)',
    ];
    const upload = (secret = '$S') =>
      `sudo -i -n ec2-upload-bundle -b ${BUCKET}/bundles -m /tmp/image.manifest.xml -a "$A" -s "${secret}" -t "$K" ` +
      `-d /tmp --batch --region ${REGION} --retry`;

    it('bundle the volume, upload it with the role credentials, and RegisterImage reads that manifest', async () => {
      // Act
      const result = await shell(instanceId, [
        ...installX509(),
        bundle('--partition mbr -B ami=sda1,root=/dev/sda1,ephemeral0=sdb'),
        ...credentials,
        upload(),
      ]);
      const { ImageId } = await aws.ec2.send(
        new RegisterImageCommand({
          Name: 'from-sandbox',
          ImageLocation: `${BUCKET}/bundles/image.manifest.xml`,
        }),
      );
      const image = (await aws.ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] }))).Images?.[0];

      // Assess
      expect(result.StandardErrorContent).toBe('');
      expect(result.StandardOutputContent).toContain('ec2-bundle-vol complete.');
      expect(result.StandardOutputContent).toContain('Bundle upload completed.');
      expect(result.Status).toBe('Success');
      expect(image).toMatchObject({
        State: 'pending',
        RootDeviceType: 'instance-store',
        Architecture: 'x86_64',
        RootDeviceName: '/dev/sda1',
        BlockDeviceMappings: [{ DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' }],
      });
    });

    it('ec2-bundle-vol rejects an option it does not know, and a missing key file', async () => {
      // Act
      const unknown = await shell(instanceId, [...installX509(), bundle('--no-such-flag')]);
      const missingKey = await shell(instanceId, [bundle().replace('/tmp/x509/key.pem', '/tmp/none.pem')]);

      // Assess
      expect(unknown.ResponseCode).toBe(1);
      expect(unknown.StandardErrorContent).toContain('ec2-bundle-vol: invalid option: --no-such-flag');
      expect(missingKey.ResponseCode).toBe(1);
      expect(missingKey.StandardErrorContent).toContain("'/tmp/none.pem' does not exist or is not readable");
    });

    it('ec2-upload-bundle fails with a wrong secret key as S3 does', async () => {
      // Act
      const result = await shell(instanceId, [...installX509(), bundle(), ...credentials, upload('wrong')]);

      // Assess
      expect(result.ResponseCode).toBe(3);
      expect(result.StandardErrorContent).toContain('SignatureDoesNotMatch');
    });

    it('RegisterImage refuses a manifest that is not in S3, and a copy fails once the bundle is gone', async () => {
      // Prepare
      await shell(instanceId, [...installX509(), bundle(), ...credentials, upload()]);
      const { ImageId } = await aws.ec2.send(
        new RegisterImageCommand({
          Name: 'registered',
          ImageLocation: `${BUCKET}/bundles/image.manifest.xml`,
        }),
      );
      await aws.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'bundles/image.manifest.xml' }));

      // Act
      const missing = await rejectionOf(
        aws.ec2.send(
          new RegisterImageCommand({
            Name: 'missing',
            ImageLocation: `${BUCKET}/bundles/image.manifest.xml`,
          }),
        ),
      );
      const { ImageId: copyId } = await aws.ec2.send(
        new CopyImageCommand({ Name: 'copy', SourceImageId: ImageId!, SourceRegion: REGION }),
      );
      let copy: { State?: string; StateReason?: { Message?: string } } | undefined;
      for (let i = 0; i < 20 && copy?.State !== 'failed'; i += 1) {
        await sleep(100);
        copy = (await aws.ec2.send(new DescribeImagesCommand({ ImageIds: [copyId!] }))).Images?.[0];
      }

      // Assess
      expect(missing.name).toBe('InvalidManifest');
      expect(missing.message).toMatch(
        /HTTP 404 \(Not Found\) response for URL .*bundles\/image\.manifest\.xml/,
      );
      expect(copy?.State).toBe('failed');
      expect(copy?.StateReason?.Message).toMatch(/source bundle cannot be read/);
    });
  });
});

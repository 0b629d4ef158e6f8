/**
 * The workflow test tier's harness: one emulator per test file, the real app synthesized once, "deployed" into
 * the emulator, and the synthesized state machine run offline (`cli/local/runner.ts`) with the real handlers.
 * Between tests the emulator is reset and deployed again, so every test starts from an empty account that holds
 * only the stack's resources, the source AMI and the test's X.509 pair.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  type Image,
} from '@aws-sdk/client-ec2';
import { IAMClient, ListInstanceProfilesCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import { ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCommandInvocationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, beforeEach, expect, inject, vi } from 'vitest';
import {
  applyLambdaEnvironment,
  deployToEmulator,
  executionRecord,
  type RunOptions,
  type RunResult,
  runExecution,
} from '../../cli/local/runner.js';
import { type SynthesizedStack, synthesizeForLocalRun } from '../../cli/local/synthesized.js';
import { deployTaskRoles, type TaskCredentials } from '../../cli/local/task-roles.js';
import { type Emulator, startEmulator, useEmulatorEnvironment } from '../../emulator/index.js';
import type { TaskId } from '../../infra/tasks.js';
import { COMMAND_STEP_RUN } from '../../lambdas/shared/command-document.js';
import { INSTANCE_ROLE_ROOT } from '../../lambdas/shared/instance-role.js';
import { setTelemetrySink } from '../../lambdas/shared/observability.js';
import { TagKeys } from '../../lambdas/shared/runtime.js';
import { STAGING_ROOT } from '../../lambdas/shared/staging.js';
import { recordExecution, runDirectory } from './coverage.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The emulated account (moto's default). */
export const ACCOUNT = '123456789012';
/** The stack's home region and the examples' build region. */
export const BUILD_REGION = 'us-east-1';
/** The seed's Basic Example's source AMI, seeded as an instance-store image before every test. */
export const SOURCE_AMI = 'ami-d9d6a6b0';
/** The Basic Example's bundle bucket. */
export const BASIC_BUCKET = 'packer-images';
/** Bundle buckets the synthesized stack allows (its `allowedBucketPatterns` context). */
export const ALLOWED_BUCKET_PATTERNS = [BASIC_BUCKET, 'ami-builder-wf-*'];
/** Within the hooks' 120 s. */
const EMULATOR_START_TIMEOUT_MS = 90_000;
/** Per test of the workflow tier. */
const WORKFLOW_TEST_TIMEOUT_MS = 300_000;
/** Where the test's X.509 pair is uploaded in the staging bucket: outside `staging/`, like a user's own files. */
const X509_PREFIX = 'workflow-test/x509/';

/** The throwaway self-signed X.509 pair every test's template references. */
export interface X509Pair {
  certPem: string;
  keyPem: string;
  /** `s3://<staging bucket>/workflow-test/x509/cert.pem` */
  certUri: string;
  keyUri: string;
  /** The base64 lines of the private key's body: none may appear in any event or command parameter. */
  keyBodyLines: string[];
}

export interface Leftovers {
  /** Instances that are not terminated: every recorded launch, and any instance with the ownership tags. */
  instances: string[];
  /** Security groups the build created (named `ami-builder-…` or carrying the ownership tags). */
  securityGroups: string[];
  /** Keys under `staging/` in the staging bucket. */
  stagedObjects: string[];
  /** Temporary build-instance roles and instance profiles (IAM paths under `/ami-builder/`). */
  instanceRoles: string[];
}

export interface WorkflowHarness {
  emulator: Emulator;
  stack: SynthesizedStack;
  x509: X509Pair;
  ec2(region?: string): EC2Client;
  s3: S3Client;
  ssm(region?: string): SSMClient;
  /** Empties the emulator and deploys again: stack resources, the source AMI and the X.509 pair. */
  reset(): Promise<void>;
  /**
   * With `leastPrivilege`: each task's credentials for its synthesized role, which every run uses unless it
   * passes its own (created again by each reset).
   */
  taskCredentials?: Map<TaskId, TaskCredentials>;
  /** Runs the synthesized state machine with a fresh execution name (`wf-<label>-<n>-<random>`). */
  run(
    input: unknown,
    options?: Partial<Omit<RunOptions, 'stack' | 'input'>> & { label?: string },
  ): Promise<RunResult>;
  /** What the builds left behind in the given regions (the build region by default). */
  leftovers(regions?: string[]): Promise<Leftovers>;
  /** Images the account owns in a region. */
  images(region: string): Promise<Image[]>;
  /** Who may launch an image: account ids and groups. */
  launchPermissions(region: string, imageId: string): Promise<{ users: string[]; groups: string[] }>;
  /** Buckets in the emulated account. */
  buckets(): Promise<string[]>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /** @default 0: the agent is Online as soon as the instance runs */
  agentOnlineDelayMs?: number;
  /** CDK context added to the stack's (for example `{ adoptForeignImages: true }`). @default {} */
  context?: Record<string, unknown>;
  /**
   * Each task runs with credentials for its own synthesized role, and the emulator enforces the role's policies
   * (cli/local/task-roles.ts). @default false: the tasks run as the account's administrator
   */
  leastPrivilege?: boolean;
}

/**
 * Writes a throwaway self-signed X.509 certificate and key (`cert.pem`, `key.pem`) into `dir` with openssl, as
 * AWS's documentation makes one for ec2-bundle-vol; valid one day. Also used by the AWS acceptance test.
 */
export async function writeX509Pair(dir: string, subject: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    `/CN=${subject}`,
  ]);
  return { cert, key };
}

/** A throwaway self-signed certificate and key, made with openssl in a temporary directory. */
async function makeX509Pair(): Promise<{ certPem: string; keyPem: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ami-builder-wf-x509-'));
  try {
    const { cert, key } = await writeX509Pair(dir, 'ami-builder workflow test');
    return { certPem: await readFile(cert, 'utf8'), keyPem: await readFile(key, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The output of the run step of every provisioner command, in the order they were sent: standard output, and
 * standard error after it when `withStderr`. For the sandbox builds, whose provisioners really run.
 */
export async function provisionerOutputs(
  h: WorkflowHarness,
  { withStderr = false }: { withStderr?: boolean } = {},
): Promise<string[]> {
  const outputs: string[] = [];
  for (const command of await h.emulator.commands()) {
    if (!command.parameters.workingDirectory?.[0]?.includes('provision')) continue;
    const invocation = await h.ssm(command.region).send(
      new GetCommandInvocationCommand({
        CommandId: command.commandId,
        InstanceId: command.instanceIds[0],
        PluginName: COMMAND_STEP_RUN,
      }),
    );
    outputs.push(
      `${invocation.StandardOutputContent ?? ''}${withStderr ? (invocation.StandardErrorContent ?? '') : ''}`,
    );
  }
  return outputs;
}

/** Starts the emulator, synthesizes the app and deploys it; the caller stops it. */
export async function createWorkflowHarness(options: HarnessOptions = {}): Promise<WorkflowHarness> {
  // The emulator boots in its own process while the app synthesizes here.
  const starting = startEmulator({
    agentOnlineDelayMs: options.agentOnlineDelayMs ?? 0,
    // Loading moto takes tens of seconds on a busy machine.
    startTimeoutMs: EMULATOR_START_TIMEOUT_MS,
  });
  const pair = makeX509Pair();
  let emulator: Emulator;
  try {
    emulator = await starting;
  } catch (error) {
    await pair.catch(() => undefined);
    throw error;
  }
  const restoreEnvironment = useEmulatorEnvironment(emulator.endpoint);
  const stack = synthesizeForLocalRun({
    region: BUILD_REGION,
    account: ACCOUNT,
    context: { allowedBucketPatterns: ALLOWED_BUCKET_PATTERNS, ...options.context },
  });
  applyLambdaEnvironment(stack);

  const { certPem, keyPem } = await pair;
  const bucket = stack.resources.stagingBucket;
  const x509: X509Pair = {
    certPem,
    keyPem,
    certUri: `s3://${bucket}/${X509_PREFIX}cert.pem`,
    keyUri: `s3://${bucket}/${X509_PREFIX}key.pem`,
    keyBodyLines: keyPem
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('-----')),
  };

  const clientOptions = { endpoint: emulator.endpoint, maxAttempts: 1 };
  const ec2Clients = new Map<string, EC2Client>();
  const ssmClients = new Map<string, SSMClient>();
  const ec2 = (region = BUILD_REGION) => {
    let client = ec2Clients.get(region);
    if (client === undefined) {
      client = new EC2Client({ ...clientOptions, region });
      ec2Clients.set(region, client);
    }
    return client;
  };
  const ssm = (region = BUILD_REGION) => {
    let client = ssmClients.get(region);
    if (client === undefined) {
      client = new SSMClient({ ...clientOptions, region });
      ssmClients.set(region, client);
    }
    return client;
  };
  const s3 = new S3Client({ ...clientOptions, region: BUILD_REGION, forcePathStyle: true });
  const iam = new IAMClient({ ...clientOptions, region: BUILD_REGION });

  const reset = async () => {
    await emulator.reset();
    await deployToEmulator(stack, emulator);
    await emulator.seedImage({
      region: BUILD_REGION,
      imageId: SOURCE_AMI,
      name: 'ubuntu/images/ubuntu-precise-12.04-amd64-server-20130204',
      rootDeviceType: 'instance-store',
      architecture: 'x86_64',
      virtualizationType: 'paravirtual',
      ownerId: '099720109477',
    });
    for (const [name, body] of [
      ['cert.pem', certPem],
      ['key.pem', keyPem],
    ] as const) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${X509_PREFIX}${name}`, Body: body }));
    }
    if (options.leastPrivilege) harness.taskCredentials = await deployTaskRoles(stack, emulator.endpoint);
  };

  let executions = 0;
  const harness: WorkflowHarness = {
    emulator,
    stack,
    x509,
    ec2,
    s3,
    ssm,
    reset,
    run: async (input, runOptions = {}) => {
      executions += 1;
      const { label = 'run', ...rest } = runOptions;
      const executionName = `wf-${label}-${executions}-${randomBytes(4).toString('hex')}`;
      const result = await runExecution({
        stack,
        input,
        executionName,
        ...(harness.taskCredentials === undefined ? {} : { credentials: harness.taskCredentials }),
        ...rest,
      });
      // The workflow coverage (test/workflow/coverage.ts) counts what each execution went through.
      recordExecution(
        inject('workflowCoverageDir') ?? runDirectory(),
        relative(ROOT, expect.getState().testPath ?? 'unknown'),
        stack.definition,
        result.events,
      );
      // Step Functions keeps every execution's history: a later execution (resume) reads it.
      await emulator.recordExecution(executionRecord(stack, input, result));
      return result;
    },
    leftovers: async (regions = [BUILD_REGION]) => {
      const instances = new Set<string>();
      const launches = await emulator.launches();
      for (const region of new Set([...regions, ...launches.map((l) => l.region)])) {
        const ids = launches.filter((l) => l.region === region).map((l) => l.instanceId);
        const described = [
          ...(ids.length === 0
            ? []
            : ((await ec2(region).send(new DescribeInstancesCommand({ InstanceIds: ids }))).Reservations ??
              [])),
          ...((
            await ec2(region).send(
              new DescribeInstancesCommand({ Filters: [{ Name: 'tag-key', Values: [TagKeys.stack] }] }),
            )
          ).Reservations ?? []),
        ];
        for (const instance of described.flatMap((r) => r.Instances ?? [])) {
          if (instance.State?.Name !== 'terminated' && instance.InstanceId)
            instances.add(instance.InstanceId);
        }
      }
      const securityGroups: string[] = [];
      for (const region of regions) {
        const groups = (await ec2(region).send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [];
        for (const group of groups) {
          const owned = (group.Tags ?? []).some((t) => t.Key === TagKeys.stack);
          if ((owned || group.GroupName?.startsWith('ami-builder-')) && group.GroupId) {
            securityGroups.push(group.GroupId);
          }
        }
      }
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: STAGING_ROOT }));
      const stagedObjects = (listed.Contents ?? []).map((o) => o.Key ?? '');
      const roles = (await iam.send(new ListRolesCommand({ PathPrefix: INSTANCE_ROLE_ROOT }))).Roles ?? [];
      const profiles =
        (await iam.send(new ListInstanceProfilesCommand({ PathPrefix: INSTANCE_ROLE_ROOT })))
          .InstanceProfiles ?? [];
      const instanceRoles = [
        ...roles.map((r) => ({ path: r.Path, name: `role ${r.Path}${r.RoleName}` })),
        ...profiles.map((p) => ({
          path: p.Path,
          name: `instance profile ${p.Path}${p.InstanceProfileName}`,
        })),
      ]
        .filter((r) => r.path?.startsWith(INSTANCE_ROLE_ROOT))
        .map((r) => r.name);
      return { instances: [...instances].sort(), securityGroups, stagedObjects, instanceRoles };
    },
    images: async (region) =>
      (await ec2(region).send(new DescribeImagesCommand({ Owners: ['self'] }))).Images ?? [],
    launchPermissions: async (region, imageId) => {
      const result = await ec2(region).send(
        new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }),
      );
      const permissions = result.LaunchPermissions ?? [];
      return {
        users: permissions.flatMap((p) => (p.UserId ? [p.UserId] : [])).sort(),
        groups: permissions.flatMap((p) => (p.Group ? [p.Group] : [])).sort(),
      };
    },
    buckets: async () => ((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name ?? ''),
    stop: async () => {
      for (const client of [...ec2Clients.values(), ...ssmClients.values(), s3, iam]) client.destroy();
      restoreEnvironment();
      await emulator.stop();
    },
  };
  return harness;
}

/**
 * Registers the file's hooks: one harness for the whole file (started in `beforeAll`), reset before every test.
 * @returns the harness, available once `beforeAll` ran
 */
export function useWorkflowHarness(options: HarnessOptions = {}): () => WorkflowHarness {
  // A build whose commands really run (sandbox mode) takes tens of seconds on a busy machine.
  vi.setConfig({ testTimeout: WORKFLOW_TEST_TIMEOUT_MS });
  let harness: WorkflowHarness | undefined;
  let restoreTelemetry: (() => void) | undefined;
  beforeAll(async () => {
    // The handlers log Packer's progress lines and EMF records (their Lambda log); the tests read the emulator
    // instead, or set their own sink.
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    restoreTelemetry = setTelemetrySink(() => undefined);
    harness = await createWorkflowHarness(options);
  });
  afterAll(async () => {
    restoreTelemetry?.();
    await harness?.stop();
  });
  beforeEach(async () => {
    await harness?.reset();
  });
  return () => {
    if (harness === undefined) throw new Error('the workflow harness is not started (beforeAll failed)');
    return harness;
  };
}

/** The seed's Basic Example, credentials removed and the X.509 files as `s3://` URIs. */
export function basicExample(x509: Pick<X509Pair, 'certUri' | 'keyUri'>): Record<string, unknown> {
  return {
    type: 'amazon-instance',
    region: BUILD_REGION,
    source_ami: SOURCE_AMI,
    instance_type: 'm1.small',
    ssh_username: 'ubuntu',
    account_id: '0123-4567-0890',
    s3_bucket: BASIC_BUCKET,
    x509_cert_path: x509.certUri,
    x509_key_path: x509.keyUri,
    x509_upload_path: '/tmp',
    ami_name: 'packer-quick-start {{timestamp}}',
  };
}

/** The build names of an execution's states, in the order they were entered. */
export function enteredStates(result: RunResult): string[] {
  return result.events.flatMap((e) => (e.type === 'StateEntered' && e.state ? [e.state.name] : []));
}

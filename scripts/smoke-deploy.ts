/**
 * Deploy smoke test (`npm run smoke`): deploys the real stack into the local moto emulator with the stock CDK CLI,
 * checks what was deployed with the AWS SDK, starts a build on it with the `ami-builder` CLI, and destroys it.
 *
 * 1. Starts the emulator (`emulator/index.ts`) on a free port. The CDK CLI gets
 *    `AWS_ENDPOINT_URL=http://localhost:<port>`: moto's CloudFormation reads a `TemplateURL` as path-style
 *    (`/<bucket>/<key>`) only when the URL contains "localhost"; for `127.0.0.1` it takes the host's first label
 *    ("127") as the bucket and the deploy fails with NoSuchBucket.
 * 2. `npx cdk bootstrap aws://123456789012/us-east-1`, then `npx cdk deploy AmiBuilder --method=direct` with context
 *    that exercises the configuration (a schedule, an extra bucket and profile, a notification email, a retention,
 *    a parameter prefix). `--method=direct` because with the default change-set method moto creates the resources
 *    but records no stack outputs, and the outputs are what `ami-builder build` looks up. Both commands write their
 *    cloud assembly to a temporary `--output` directory: nothing in `cdk.out` is assumed or touched.
 * 3. Checks the outputs and the resources behind them against the deployed template. Where moto's CloudFormation
 *    drops a property (or a whole resource type), the check accepts moto's default only when the template holds
 *    the right value, and says so in the output, naming the test of test/infra/stack.test.ts that proves it.
 * 4. `ami-builder build examples/basic.json --stack AmiBuilder --detach`, `status` and `logs` on the deployed stack.
 *    moto records the execution but runs no Lambda task (that needs Docker): the point is the stack-output lookup,
 *    the staging to the deployed bucket and StartExecution.
 * 5. `npx cdk destroy AmiBuilder --force` and checks that the stack's resources are gone (the staging bucket is
 *    retained by design).
 *
 * Exits 1 with the failed checks listed on any failure. `SMOKE_VERBOSE=1` also streams every command's output.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  GetTemplateCommand,
  ListStackResourcesCommand,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import {
  CloudWatchLogsClient,
  DescribeLogGroupsCommand,
  type LogGroup,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeRuleCommand,
  EventBridgeClient,
  ListTargetsByRuleCommand,
} from '@aws-sdk/client-eventbridge';
import {
  GetFunctionCommand,
  type GetFunctionCommandOutput,
  GetPolicyCommand,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import {
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetObjectCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, DescribeStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetTopicAttributesCommand, ListSubscriptionsByTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetDocumentCommand, SSMClient } from '@aws-sdk/client-ssm';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { findStackOutputs, StackOutputKeys, type StackOutputs } from '../cli/stack.js';
import { ensureExampleX509 } from '../cli/x509.js';
import { type Emulator, startEmulator } from '../emulator/index.js';
import { type BuilderConfig, parseConfig, repoRoot } from '../infra/config.js';
import { ABORT_CLEANUP_STATUSES } from '../infra/constructs/abort-cleanup-rule.js';
import {
  DEFAULT_TASK_TIMEOUT_SECONDS,
  TASK_ID_METADATA_KEY,
  TASK_TIMEOUT_SECONDS,
} from '../infra/constructs/task-function.js';
import { type TaskId, Tasks } from '../infra/tasks.js';
import { commandDocumentContent } from '../lambdas/shared/command-document.js';
import { encodeRetentionPolicy } from '../lambdas/shared/retention-policy.js';

// The SDK's notice that its 2027 releases need Node 22 would repeat in every child process's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const STACK = 'AmiBuilder';
const ACCESS_KEY_ID = 'testing';
/** A secret nothing else contains, so the build check can prove it never reaches the execution input. */
const SECRET_ACCESS_KEY = 'smoke-secret-never-in-input';
const BOOTSTRAP_QUALIFIER = 'hnb659fds';
const VERBOSE = process.env.SMOKE_VERBOSE === '1';

/**
 * The configuration the smoke deploy uses, as `-c key=value` context. Every key differs from its default, so each
 * check below proves the value travelled from the command line to the deployed resource. The schedule only has to
 * synthesize and deploy here (moto never fires it). Its template names only `s3://` and `ssm:` files: the synth
 * refuses a scheduled template that needs the CLI (local files, `{{env}}`).
 */
const SMOKE_CONTEXT: Record<string, string> = {
  allowedBucketPatterns: JSON.stringify(['ami-builder-*', 'packer-images']),
  extraInstanceProfiles: JSON.stringify([
    { name: 'smoke-extra-profile', roleArn: `arn:aws:iam::${ACCOUNT}:role/smoke-extra-role` },
  ]),
  schedules: JSON.stringify([
    {
      name: 'nightly',
      expression: 'cron(0 3 ? * SUN *)',
      timezone: 'Europe/Paris',
      templateFile: 'examples/nightly.json',
      vars: { release: 'weekly' },
    },
  ]),
  notificationEmails: JSON.stringify(['ami-builds@example.com']),
  logRetentionDays: '14',
  amiParameterPrefix: '/ami-builder/smoke/',
};

/**
 * The tests of test/infra/stack.test.ts that prove, on the synthesized template, what moto does not deploy.
 */
const INFRA_TEST = {
  stateMachine: '"has a Standard state machine with X-Ray, logs at level ALL under /aws/vendedlogs/states …"',
  alarms: '"alarms on failed, timed-out and aborted executions"',
  functions: '"has one Node 22 ARM64 function per task, traced, … with its own log group"',
  bucket: '"has an encrypted, TLS-only, private staging bucket whose staged objects expire"',
  buildRole:
    '"bounds the temporary build-instance roles: SSM agent, staged downloads, bundle uploads, no S3 or SSM read on *"',
  abortCleanup: '"invokes Abort Cleanup when one of its executions is aborted, times out, fails or succeeds"',
  schedules:
    '"turns each configured schedule into a schedule with the template as input, a retry policy and a DLQ"',
  topic:
    '"creates the notification topic only when emails are configured, encrypted and with a subscription"',
  nag: '"passes cdk-nag AwsSolutions …" (SNS3, SQS4: TLS-only policies)',
} as const;

/**
 * Resource types moto 5.2.1's CloudFormation accepts and silently does not create ("Tried to parse … but it's not
 * supported by moto's CloudFormation implementation"), each with the infra test that proves it instead. Any other
 * type left uncreated fails the smoke test: a type is added here knowingly, never by default.
 */
const MOTO_SKIPPED_TYPES: Readonly<Record<string, string>> = {
  'AWS::Scheduler::Schedule': `proven by ${INFRA_TEST.schedules}`,
  'AWS::SNS::Subscription': `proven by ${INFRA_TEST.topic}`,
  'AWS::SNS::TopicPolicy': `proven by ${INFRA_TEST.nag}`,
  'AWS::CloudWatch::Alarm': `proven by ${INFRA_TEST.alarms}`,
  'AWS::S3::BucketPolicy': `proven by ${INFRA_TEST.bucket}`,
  'AWS::SQS::QueuePolicy': `proven by ${INFRA_TEST.nag}`,
  'AWS::Lambda::EventInvokeConfig': `proven by ${INFRA_TEST.abortCleanup}`,
  'AWS::CDK::Metadata': 'CDK version reporting, nothing to prove',
};

// ---------------------------------------------------------------------------------------------------------------
// Transcript

const startedAt = Date.now();
const clock = () => `[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)}s]`;
const say = (text: string) => console.log(`${clock()} ${text}`);
const detail = (text: string) => console.log(`${' '.repeat(clock().length)}   ${text}`);

/** A step of the smoke test could not be done; the message says what and why. */
class SmokeStepError extends Error {
  override readonly name = 'SmokeStepError' as const;
}

/** One check found the deployed stack different from what it should be. */
class CheckFailedError extends Error {
  override readonly name = 'CheckFailedError' as const;
}

function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailedError(message);
}

const errorText = (error: unknown): string =>
  error instanceof Error
    ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`
    : String(error);

/** Checks, their results, and the moto limitations met on the way (printed once each, with a count). */
class Checks {
  passed = 0;
  readonly failures: string[] = [];
  private readonly gaps = new Map<string, { text: string; count: number }>();

  async run(what: string, check: () => Promise<string>): Promise<void> {
    try {
      const result = await check();
      this.passed += 1;
      detail(`ok    ${what}${result ? `: ${result}` : ''}`);
    } catch (error) {
      this.failures.push(`${what}: ${errorText(error)}`);
      detail(`FAIL  ${what}: ${errorText(error)}`);
    }
  }

  /** A moto limitation: the deployed template is right, moto did not apply it. */
  gap(key: string, text: string): void {
    const seen = this.gaps.get(key);
    if (seen) seen.count += 1;
    else this.gaps.set(key, { text, count: 1 });
  }

  printGaps(): void {
    if (this.gaps.size === 0) return;
    say('moto limitations met on the way (test/infra/stack.test.ts proves each part of the template named):');
    for (const { text, count } of this.gaps.values())
      detail(`moto  ${text}${count > 1 ? ` (×${count})` : ''}`);
  }

  get gapCount(): number {
    return this.gaps.size;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes

interface RunResult {
  code: number;
  lines: string[];
  seconds: number;
}

const running = new Set<ChildProcess>();

/** Runs a command in the repository root with `env`; collects stdout and stderr as lines. */
function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number) {
  const started = Date.now();
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const lines: string[] = [];
    let partial = { out: '', err: '' };
    const take = (stream: 'out' | 'err', chunk: Buffer) => {
      const text = partial[stream] + chunk.toString('utf8');
      const parts = text.split(/\r?\n/);
      partial = { ...partial, [stream]: parts.pop() ?? '' };
      for (const line of parts) {
        lines.push(line);
        if (VERBOSE) console.log(`        │ ${line}`);
      }
    };
    child.stdout.on('data', (chunk: Buffer) => take('out', chunk));
    child.stderr.on('data', (chunk: Buffer) => take('err', chunk));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      running.delete(child);
      reject(new SmokeStepError(`${command} could not be started: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      for (const rest of [partial.out, partial.err]) if (rest) lines.push(rest);
      resolve({
        code: code ?? (signal === 'SIGTERM' ? 124 : 1),
        lines,
        seconds: (Date.now() - started) / 1000,
      });
    });
  });
}

const shellQuote = (arg: string) =>
  /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;

/** Runs a command, prints it as typed and the lines `keep` selects; throws when it exits non-zero. */
async function runStep(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  options: { keep: (line: string) => boolean; timeoutMs: number },
): Promise<RunResult> {
  say(`$ ${[command, ...args].map(shellQuote).join(' ')}`);
  const result = await run(command, args, env, options.timeoutMs);
  if (result.code !== 0) {
    for (const line of result.lines.slice(-40)) detail(`│ ${line}`);
    throw new SmokeStepError(
      `${command} ${args[0] ?? ''} exited with code ${result.code} after ${result.seconds.toFixed(1)} s; ` +
        'its last lines are above',
    );
  }
  for (const line of result.lines.filter(options.keep)) detail(`│ ${line}`);
  detail(`(exit ${result.code}, ${result.seconds.toFixed(1)} s)`);
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// IAM, KMS and SQS: no SDK client for them is a dependency, so these few read calls are signed here.

class NodeSha256 {
  private readonly hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

interface SignedResponse {
  status: number;
  body: string;
}

async function signedCall(
  port: number,
  service: 'iam' | 'kms' | 'sqs',
  body: string,
  headers: Record<string, string>,
): Promise<SignedResponse> {
  const signer = new SignatureV4({
    service,
    region: REGION,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
    sha256: NodeSha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: 'localhost',
    port,
    path: '/',
    query: {},
    headers: { host: `localhost:${port}`, ...headers },
    body,
  });
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: 'localhost', port, method: 'POST', path: '/', headers: signed.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const xmlValues = (xml: string, tag: string): string[] =>
  [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) =>
    (m[1] ?? '')
      .replaceAll('&quot;', '"')
      .replaceAll('&apos;', "'")
      .replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>')
      .replaceAll('&amp;', '&'),
  );

/** An IAM Query call; resolves to the XML, or rejects with the IAM error code. */
async function iam(port: number, action: string, params: Record<string, string>): Promise<string> {
  const body = new URLSearchParams({ Action: action, Version: '2010-05-08', ...params }).toString();
  const response = await signedCall(port, 'iam', body, {
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
  });
  if (response.status !== 200) {
    const code = xmlValues(response.body, 'Code')[0] ?? `HTTP ${response.status}`;
    throw new CheckFailedError(`IAM ${action} failed: ${code}`);
  }
  return response.body;
}

/** A JSON-protocol call (KMS, SQS); resolves to the parsed answer, or rejects with its error type. */
async function jsonCall(
  port: number,
  service: 'kms' | 'sqs',
  target: string,
  input: unknown,
): Promise<Record<string, unknown>> {
  const response = await signedCall(port, service, JSON.stringify(input), {
    'content-type': service === 'kms' ? 'application/x-amz-json-1.1' : 'application/x-amz-json-1.0',
    'x-amz-target': target,
  });
  const parsed = (response.body ? JSON.parse(response.body) : {}) as Record<string, unknown>;
  if (response.status !== 200) {
    throw new CheckFailedError(`${target} failed: ${String(parsed.__type ?? `HTTP ${response.status}`)}`);
  }
  return parsed;
}

// ---------------------------------------------------------------------------------------------------------------
// The deployed template

type JsonObject = Record<string, unknown>;

const asObject = (value: unknown): JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : {};

/** The logical id a `{Ref: x}` or `{Fn::GetAtt: [x, …]}` points to. */
function targetOf(value: unknown): string | undefined {
  const o = asObject(value);
  if (typeof o.Ref === 'string') return o.Ref;
  const getAtt = o['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  return undefined;
}

interface TemplateResource {
  Type: string;
  Properties: JsonObject;
  Metadata: JsonObject;
  DeletionPolicy?: string;
}

interface Deployed {
  outputs: StackOutputs & { NotificationTopicArn?: string };
  template: Record<string, TemplateResource>;
  /** Logical id → physical id, for the resources moto created (some, such as Lambda permissions, have none). */
  physical: Map<string, string>;
  created: Set<string>;
  skipped: StackResourceSummary[];
}

const fmt = (value: unknown) => JSON.stringify(value) ?? String(value);

/**
 * A property moto's CloudFormation does not pass to the service: on AWS the live value is the template's, in
 * moto it is moto's default. Either passes; anything else fails. The template's value is checked separately.
 */
function expectLiveOrMotoDefault(
  checks: Checks,
  property: { what: string; provenBy: string; wanted?: string },
  live: unknown,
  wanted: unknown,
  motoDefault: unknown,
): void {
  const { what, provenBy } = property;
  if (isDeepStrictEqual(live, wanted)) return;
  if (isDeepStrictEqual(live, motoDefault)) {
    checks.gap(
      what,
      `${what}: not applied by moto's CloudFormation (live ${fmt(live)}, template ${property.wanted ?? fmt(wanted)}); proven by ${provenBy}`,
    );
    return;
  }
  throw new CheckFailedError(`${what} is ${fmt(live)}, expected ${fmt(wanted)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// The checks

interface Clients {
  cfn: CloudFormationClient;
  sfn: SFNClient;
  lambda: LambdaClient;
  logs: CloudWatchLogsClient;
  events: EventBridgeClient;
  s3: S3Client;
  ssm: SSMClient;
  sns: SNSClient;
}

function clientsFor(endpoint: string): Clients {
  const common = {
    region: REGION,
    endpoint,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
  };
  return {
    cfn: new CloudFormationClient(common),
    sfn: new SFNClient(common),
    lambda: new LambdaClient(common),
    logs: new CloudWatchLogsClient(common),
    events: new EventBridgeClient(common),
    s3: new S3Client({ ...common, forcePathStyle: true }),
    ssm: new SSMClient(common),
    sns: new SNSClient(common),
  };
}

async function readDeployed(clients: Clients): Promise<Deployed> {
  const outputs = await findStackOutputs(clients.cfn, STACK);
  const stack = (await clients.cfn.send(new DescribeStacksCommand({ StackName: STACK }))).Stacks?.[0];
  const topic = stack?.Outputs?.find((o) => o.OutputKey === 'NotificationTopicArn')?.OutputValue;
  const body = (await clients.cfn.send(new GetTemplateCommand({ StackName: STACK }))).TemplateBody ?? '{}';
  const template: Record<string, TemplateResource> = {};
  for (const [id, value] of Object.entries(asObject(asObject(JSON.parse(body)).Resources))) {
    const r = asObject(value);
    template[id] = {
      Type: String(r.Type),
      Properties: asObject(r.Properties),
      Metadata: asObject(r.Metadata),
      DeletionPolicy: typeof r.DeletionPolicy === 'string' ? r.DeletionPolicy : undefined,
    };
  }
  const summaries: StackResourceSummary[] = [];
  let nextToken: string | undefined;
  do {
    const page = await clients.cfn.send(
      new ListStackResourcesCommand({ StackName: STACK, NextToken: nextToken }),
    );
    summaries.push(...(page.StackResourceSummaries ?? []));
    nextToken = page.NextToken;
  } while (nextToken);
  const physical = new Map<string, string>();
  const created = new Set<string>();
  for (const s of summaries) {
    if (s.LogicalResourceId) created.add(s.LogicalResourceId);
    if (s.LogicalResourceId && s.PhysicalResourceId) physical.set(s.LogicalResourceId, s.PhysicalResourceId);
  }
  return {
    outputs: { ...outputs, ...(topic ? { NotificationTopicArn: topic } : {}) },
    template,
    physical,
    created,
    skipped: summaries.filter((s) => !s.LogicalResourceId),
  };
}

function physicalOf(deployed: Deployed, logicalId: string | undefined, what: string): string {
  const id = logicalId === undefined ? undefined : deployed.physical.get(logicalId);
  expect(id, `${what} (${logicalId ?? 'no reference'}) was not created`);
  return id;
}

function resourcesOfType(deployed: Deployed, type: string): [string, TemplateResource][] {
  return Object.entries(deployed.template).filter(([, r]) => r.Type === type);
}

async function logGroup(clients: Clients, name: string): Promise<LogGroup> {
  const page = await clients.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }));
  const group = page.logGroups?.find((g) => g.logGroupName === name);
  expect(group, `log group ${name} does not exist`);
  return group;
}

/** Checks a role: it exists, trusts `service`, and holds every inline policy the template attaches to it. */
async function checkRole(port: number, deployed: Deployed, roleLogicalId: string, service: string) {
  const roleName = physicalOf(deployed, roleLogicalId, 'role');
  const role = await iam(port, 'GetRole', { RoleName: roleName });
  const trust = decodeURIComponent(xmlValues(role, 'AssumeRolePolicyDocument')[0] ?? '');
  expect(
    trust.includes(`"${service}"`),
    `role ${roleName} does not trust ${service}: ${trust.slice(0, 200)}`,
  );
  let statements = 0;
  const policies = resourcesOfType(deployed, 'AWS::IAM::Policy').filter(([, p]) =>
    (p.Properties.Roles as unknown[] | undefined)?.some((r) => targetOf(r) === roleLogicalId),
  );
  for (const [logicalId, policy] of policies) {
    const policyName = String(policy.Properties.PolicyName ?? logicalId);
    const xml = await iam(port, 'GetRolePolicy', { RoleName: roleName, PolicyName: policyName });
    const document = asObject(JSON.parse(decodeURIComponent(xmlValues(xml, 'PolicyDocument')[0] ?? '{}')));
    const live = (document.Statement as unknown[] | undefined) ?? [];
    const wanted = (asObject(policy.Properties.PolicyDocument).Statement as unknown[] | undefined) ?? [];
    const sids = (list: unknown[]) => list.map((s) => asObject(s).Sid ?? '-');
    expect(
      live.length === wanted.length && isDeepStrictEqual(sids(live), sids(wanted)),
      `role ${roleName} policy ${policyName} has statements ${fmt(sids(live))}, the template ${fmt(sids(wanted))}`,
    );
    statements += live.length;
  }
  return { roleName, policies: policies.length, statements };
}

/** What the checks of the deployed stack read. */
interface DeployedContext {
  clients: Clients;
  port: number;
  config: BuilderConfig;
  checks: Checks;
  d: Deployed;
  /** The template's function of each task of infra/tasks.ts (found by its `ami-builder:task` metadata). */
  byTask: Map<TaskId, [string, TemplateResource]>;
  /** The deployed ARN of each task's function. */
  functionArns: Map<TaskId, string>;
}

function taskFunctions(d: Deployed): Pick<DeployedContext, 'byTask' | 'functionArns'> {
  const byTask = new Map<TaskId, [string, TemplateResource]>();
  const functionArns = new Map<TaskId, string>();
  for (const entry of resourcesOfType(d, 'AWS::Lambda::Function')) {
    const task = entry[1].Metadata[TASK_ID_METADATA_KEY];
    if (typeof task !== 'string' || !Object.hasOwn(Tasks, task)) continue;
    byTask.set(task as TaskId, entry);
    const name = d.physical.get(entry[0]);
    if (name) functionArns.set(task as TaskId, `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`);
  }
  return { byTask, functionArns };
}

/** Every check of the deployed stack, in the order a reader would look: outputs, then what they point at. */
async function checkDeployment(clients: Clients, port: number, config: BuilderConfig, checks: Checks) {
  let deployed: Deployed | undefined;
  await checks.run('stack outputs', async () => {
    const read = await readDeployed(clients);
    deployed = read;
    const outputs: Record<string, string | undefined> = read.outputs;
    const keys = [
      'StateMachineArn',
      'StagingBucketName',
      'InstanceRoleBoundaryArn',
      'CommandLogGroupName',
      'CommandDocumentName',
      'NotificationTopicArn',
    ];
    const byOutputKey: Record<string, string | undefined> = {
      ...Object.fromEntries(Object.entries(StackOutputKeys).map(([field, key]) => [key, outputs[field]])),
      NotificationTopicArn: outputs.NotificationTopicArn,
    };
    const missing = keys.filter((k) => !byOutputKey[k]);
    expect(missing.length === 0, `missing outputs: ${missing.join(', ')}`);
    return keys.join(', ');
  });
  if (deployed === undefined) return;
  const context: DeployedContext = { clients, port, config, checks, d: deployed, ...taskFunctions(deployed) };
  await checkSkippedResources(context);
  await checkSchedule(context);
  await checkStateMachine(context);
  await checkFunctions(context);
  await checkAbortCleanupRule(context);
  await checkBuildInstance(context);
  await checkStagingBucket(context);
  await checkCommandDocument(context);
  await checkNotificationTopic(context);
}

/** Only resource types moto is known to skip are missing. */
async function checkSkippedResources(context: DeployedContext): Promise<void> {
  const { checks, d } = context;
  await checks.run('resources moto did not create', async () => {
    const { created } = d;
    const missing = Object.entries(d.template).filter(([id]) => !created.has(id));
    const unexpected = missing.filter(([, r]) => MOTO_SKIPPED_TYPES[r.Type] === undefined);
    expect(
      unexpected.length === 0,
      `not created, and not a type moto is known to skip: ${unexpected.map(([id, r]) => `${id} (${r.Type})`).join(', ')}`,
    );
    expect(
      d.skipped.length === missing.length,
      `moto lists ${d.skipped.length} unnamed resources for ${missing.length} missing ones`,
    );
    for (const [id, r] of missing) {
      checks.gap(
        `skip ${r.Type}`,
        `${r.Type}: not created by moto's CloudFormation (${id}); ${MOTO_SKIPPED_TYPES[r.Type]}`,
      );
    }
    return `${created.size} of ${Object.keys(d.template).length} template resources created; the ${missing.length} others are types moto skips (listed below)`;
  });
}

/** The configured schedule is in the deployed template, and its role exists. */
async function checkSchedule(context: DeployedContext): Promise<void> {
  const { config, checks, d } = context;
  await checks.run('schedule from configuration', async () => {
    const schedules = resourcesOfType(d, 'AWS::Scheduler::Schedule');
    const wanted = config.schedules.map((s) => s.expression);
    expect(
      isDeepStrictEqual(
        schedules.map(([, s]) => s.Properties.ScheduleExpression),
        wanted,
      ),
      `the deployed template's schedules are ${fmt(schedules.map(([, s]) => s.Properties.ScheduleExpression))}`,
    );
    const [, schedule] = schedules[0] ?? [];
    const target = asObject(schedule?.Properties.Target);
    expect(targetOf(target.Arn) !== undefined, 'the schedule does not target the state machine');
    const input = asObject(JSON.parse(String(target.Input ?? '{}')));
    expect(
      isDeepStrictEqual(input.vars, config.schedules[0]?.vars),
      `the schedule input's vars are ${fmt(input.vars)}`,
    );
    const role = targetOf(target.RoleArn);
    expect(role && d.physical.has(role), 'the scheduler role was not created');
    return `template: ${wanted.join(', ')} (${schedule?.Properties.ScheduleExpressionTimezone}) with vars ${fmt(input.vars)}; its role exists; the schedule itself is skipped by moto`;
  });
}

/** The state machine: type, role, definition, logging and tracing. */
async function checkStateMachine(context: DeployedContext): Promise<void> {
  const { clients, port, config, checks, d, byTask, functionArns } = context;
  const { outputs } = d;
  await checks.run('state machine', async () => {
    const sm = await clients.sfn.send(
      new DescribeStateMachineCommand({ stateMachineArn: outputs.stateMachineArn }),
    );
    const [logicalId, resource] = resourcesOfType(d, 'AWS::StepFunctions::StateMachine')[0] ?? [];
    expect(resource && logicalId, 'the template has no state machine');
    expect(sm.status === 'ACTIVE', `status ${sm.status}`);
    expect(sm.type === 'STANDARD', `type ${sm.type}`);
    expect(sm.name === `${STACK}-builds`, `name ${sm.name}`);
    const p = resource.Properties;
    expect(p.StateMachineType === 'STANDARD', `template type ${fmt(p.StateMachineType)}`);
    // Logging: level ALL with execution data, to the stack's vended-logs group.
    const logging = asObject(p.LoggingConfiguration);
    expect(
      logging.Level === 'ALL' && logging.IncludeExecutionData === true,
      `template logging ${fmt(logging)}`,
    );
    const destination = asObject(
      asObject((logging.Destinations as unknown[] | undefined)?.[0]).CloudWatchLogsLogGroup,
    );
    const logGroupName = physicalOf(d, targetOf(destination.LogGroupArn), 'state machine log group');
    expect(logGroupName === `/aws/vendedlogs/states/${STACK}-builds`, `log group ${logGroupName}`);
    const group = await logGroup(clients, logGroupName);
    expect(group.retentionInDays === config.logRetentionDays, `log group retention ${group.retentionInDays}`);
    expectLiveOrMotoDefault(
      checks,
      { what: 'state machine LoggingConfiguration.Level', provenBy: INFRA_TEST.stateMachine },
      sm.loggingConfiguration?.level,
      'ALL',
      'OFF',
    );
    // Tracing.
    expect(asObject(p.TracingConfiguration).Enabled === true, 'template tracing is not enabled');
    expectLiveOrMotoDefault(
      checks,
      { what: 'state machine TracingConfiguration', provenBy: INFRA_TEST.stateMachine },
      sm.tracingConfiguration?.enabled ?? false,
      true,
      false,
    );
    // The role, and the definition invoking exactly the stack's task functions.
    const roleLogicalId = targetOf(p.RoleArn);
    expect(roleLogicalId, 'the state machine has no role');
    const role = await checkRole(port, d, roleLogicalId, 'states.amazonaws.com');
    expect(sm.roleArn?.endsWith(`:role/${role.roleName}`), `role ${sm.roleArn}`);
    const definition = sm.definition ?? '';
    const invoked = new Set(
      definition.match(/arn:aws:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+/g) ?? [],
    );
    for (const [task, [fnLogicalId]] of byTask) {
      physicalOf(d, fnLogicalId, `function ${task}`);
      const arn = functionArns.get(task) ?? '';
      // Abort Cleanup runs from the EventBridge rule and Sweep Orphans from its schedule, not from the workflow.
      if (task !== 'AbortCleanup' && task !== 'SweepOrphans')
        expect(invoked.has(arn), `the definition does not invoke ${task} (${arn})`);
      invoked.delete(arn);
    }
    expect(
      invoked.size === 0,
      `the definition invokes functions outside the stack: ${[...invoked].join(', ')}`,
    );
    const startAt = asObject(JSON.parse(definition)).StartAt;
    return `${sm.name} ${sm.type} ${sm.status}, starts at "${startAt}", invokes ${byTask.size - 1} task functions; role ${role.roleName} (${role.statements} statements); template: logs ALL → ${logGroupName} (exists, ${group.retentionInDays} d), tracing on`;
  });
}

/** One function per task of infra/tasks.ts, each as `TaskFunction` defines it. */
async function checkFunctions(context: DeployedContext): Promise<void> {
  const { clients, port, config, checks, d, byTask } = context;
  const { outputs } = d;
  await checks.run(`task functions (${Object.keys(Tasks).length} in infra/tasks.ts)`, async () => {
    const missing = (Object.keys(Tasks) as TaskId[]).filter((t) => !byTask.has(t));
    expect(missing.length === 0, `no function in the template for ${missing.join(', ')}`);
    return [...byTask.keys()].join(', ');
  });

  const wantedEnvironment: Record<string, string> = {
    STACK_NAME: STACK,
    STAGING_BUCKET: outputs.stagingBucketName,
    COMMAND_DOCUMENT: outputs.commandDocumentName,
    COMMAND_LOG_GROUP: outputs.commandLogGroupName,
    INSTANCE_ROLE_BOUNDARY: outputs.instanceRoleBoundaryArn,
    ALLOWED_INSTANCE_PROFILES: config.extraInstanceProfiles.map((p) => p.name).join(','),
    ALLOWED_BUCKET_PATTERNS: config.allowedBucketPatterns.join(','),
    EVENT_BUS_NAME: 'default',
    AMI_PARAMETER_PREFIX: config.amiParameterPrefix,
    X509_PARAMETER_PREFIX: config.x509ParameterPrefix,
    ADOPT_FOREIGN_IMAGES: String(config.adoptForeignImages),
    POWERTOOLS_LOG_LEVEL: config.logLevel,
    NOTIFICATION_TOPIC_ARN: outputs.NotificationTopicArn ?? '',
    NODE_OPTIONS: '--enable-source-maps',
  };
  const assetBucket = `cdk-${BOOTSTRAP_QUALIFIER}-assets-${ACCOUNT}-${REGION}`;

  for (const [task, [logicalId, resource]] of byTask) {
    await checks.run(`function ${task}`, async () => {
      const name = physicalOf(d, logicalId, `function ${task}`);
      const fn: GetFunctionCommandOutput = await clients.lambda.send(
        new GetFunctionCommand({ FunctionName: name }),
      );
      const c = fn.Configuration;
      expect(c, 'GetFunction returned no configuration');
      const p = resource.Properties;
      expect(c.Runtime === 'nodejs22.x', `runtime ${c.Runtime}`);
      expect(c.Handler === 'index.handler', `handler ${c.Handler}`);
      expect(c.MemorySize === 256, `memory ${c.MemorySize} MB, expected 256 MB`);
      const timeout = TASK_TIMEOUT_SECONDS[task] ?? DEFAULT_TASK_TIMEOUT_SECONDS;
      expect(c.Timeout === timeout, `timeout ${c.Timeout} s, expected ${timeout} s`);
      expect(isDeepStrictEqual(p.Architectures, ['arm64']), `template architectures ${fmt(p.Architectures)}`);
      expectLiveOrMotoDefault(
        checks,
        { what: 'Lambda Architectures', provenBy: INFRA_TEST.functions },
        c.Architectures,
        ['arm64'],
        ['x86_64'],
      );
      expect(asObject(p.TracingConfig).Mode === 'Active', `template tracing ${fmt(p.TracingConfig)}`);
      expectLiveOrMotoDefault(
        checks,
        { what: 'Lambda TracingConfig', provenBy: INFRA_TEST.functions },
        c.TracingConfig?.Mode,
        'Active',
        'PassThrough',
      );
      const environment = c.Environment?.Variables ?? {};
      // Sweep Orphans also names the function it invokes and the state machine whose executions it checks.
      const wanted =
        task === 'SweepOrphans'
          ? {
              ...wantedEnvironment,
              ABORT_CLEANUP_FUNCTION: physicalOf(
                d,
                byTask.get('AbortCleanup')?.[0] ?? '',
                'function AbortCleanup',
              ),
              STATE_MACHINE_NAME: `${STACK}-builds`,
              SWEEP_GRACE_MINUTES: String(config.sweepGraceMinutes),
            }
          : (task === 'ApplyRetention' || task === 'ValidateTemplate') && config.retention !== undefined
            ? // The stack's retention default: Validate Template gives it to builds, Apply Retention's daily run applies it.
              { ...wantedEnvironment, RETENTION_DEFAULT: encodeRetentionPolicy(config.retention) }
            : wantedEnvironment;
      expect(isDeepStrictEqual(environment, wanted), `environment ${fmt(environment)}`);
      // Its own log group, with the configured retention.
      const logGroupName = physicalOf(d, targetOf(asObject(p.LoggingConfig).LogGroup), `${task} log group`);
      const group = await logGroup(clients, logGroupName);
      expect(group.retentionInDays === config.logRetentionDays, `log retention ${group.retentionInDays}`);
      expectLiveOrMotoDefault(
        checks,
        {
          what: 'Lambda LoggingConfig',
          provenBy: INFRA_TEST.functions,
          wanted: "the function's own log group",
        },
        c.LoggingConfig?.LogGroup,
        logGroupName,
        undefined,
      );
      // The code is the bundle cdk published to the bootstrap bucket.
      const key = String(asObject(p.Code).S3Key ?? '');
      const object = await clients.s3.send(new GetObjectCommand({ Bucket: assetBucket, Key: key }));
      const zip = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
      const sha = createHash('sha256').update(zip).digest('base64');
      expect(c.CodeSha256 === sha, `code sha256 ${c.CodeSha256}, the published asset's ${sha}`);
      expect(zip.includes('index.mjs'), `the asset ${key} holds no index.mjs`);
      // Its role.
      const roleLogicalId = targetOf(p.Role);
      expect(roleLogicalId, 'no role');
      const role = await checkRole(port, d, roleLogicalId, 'lambda.amazonaws.com');
      expect(c.Role?.endsWith(`:role/${role.roleName}`), `role ${c.Role}`);
      return `${c.Runtime}, ${c.MemorySize} MB, ${c.Timeout} s, code = asset ${key.slice(0, 12)}… (${Math.round(zip.length / 1024)} KB), role with ${role.statements} statements, logs ${group.retentionInDays} d`;
    });
  }
}

/** The EventBridge rule that runs Abort Cleanup. */
async function checkAbortCleanupRule(context: DeployedContext): Promise<void> {
  const { clients, port, checks, d, functionArns } = context;
  const { outputs } = d;
  await checks.run('abort-cleanup rule', async () => {
    const [logicalId] =
      resourcesOfType(d, 'AWS::Events::Rule').find(([, r]) =>
        fmt(r.Properties.EventPattern).includes('aws.states'),
      ) ?? [];
    const ruleName = physicalOf(d, logicalId, 'abort-cleanup rule');
    const rule = await clients.events.send(new DescribeRuleCommand({ Name: ruleName }));
    expect(rule.State === 'ENABLED', `state ${rule.State}`);
    const pattern = asObject(JSON.parse(rule.EventPattern ?? '{}'));
    const wanted = {
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { status: [...ABORT_CLEANUP_STATUSES], stateMachineArn: [outputs.stateMachineArn] },
    };
    expect(isDeepStrictEqual(pattern, wanted), `pattern ${rule.EventPattern}`);
    const targets =
      (await clients.events.send(new ListTargetsByRuleCommand({ Rule: ruleName }))).Targets ?? [];
    const cleanupArn = functionArns.get('AbortCleanup');
    expect(
      targets.length === 1 && targets[0]?.Arn === cleanupArn,
      `targets ${fmt(targets.map((t) => t.Arn))}`,
    );
    const target = targets[0];
    expect(
      target?.RetryPolicy?.MaximumRetryAttempts === 8 &&
        target.RetryPolicy.MaximumEventAgeInSeconds === 6 * 3600,
      `retry policy ${fmt(target?.RetryPolicy)}`,
    );
    const dlqArn = target?.DeadLetterConfig?.Arn ?? '';
    const queueName = dlqArn.split(':').pop() ?? '';
    const queue = await jsonCall(port, 'sqs', 'AmazonSQS.GetQueueAttributes', {
      QueueUrl: `http://localhost:${port}/${ACCOUNT}/${queueName}`,
      AttributeNames: ['All'],
    });
    const attributes = asObject(queue.Attributes);
    expect(attributes.QueueArn === dlqArn, `dead-letter queue ${dlqArn} not found`);
    expect(attributes.SqsManagedSseEnabled === 'true', 'dead-letter queue not encrypted');
    const policy =
      (await clients.lambda.send(new GetPolicyCommand({ FunctionName: cleanupArn }))).Policy ?? '';
    expect(
      policy.includes('events.amazonaws.com') && policy.includes(rule.Arn ?? '?'),
      'the rule may not invoke Abort Cleanup',
    );
    return `${ruleName}: aws.states "Step Functions Execution Status Change" ${ABORT_CLEANUP_STATUSES.join('/')} of ${STACK}-builds → AbortCleanup (8 retries, 6 h, encrypted DLQ kept ${Number(attributes.MessageRetentionPeriod) / 86400} d; invoke permission present)`;
  });
}

/** The permissions boundary of the temporary build-instance roles (the stack has no standing instance role). */
async function checkBuildInstance(context: DeployedContext): Promise<void> {
  const { port, config, checks, d } = context;
  const { outputs } = d;
  await checks.run('build instance role boundary', async () => {
    const arn = outputs.instanceRoleBoundaryArn;
    const policy = await iam(port, 'GetPolicy', { PolicyArn: arn });
    expect(xmlValues(policy, 'Arn').includes(arn), `the boundary ${arn} does not exist`);
    const roles = resourcesOfType(d, 'AWS::IAM::Role').filter(([, r]) =>
      fmt(r.Properties.AssumeRolePolicyDocument).includes('ec2.amazonaws.com'),
    );
    expect(
      roles.length === 0,
      `the template has a standing role EC2 may assume: ${roles.map(([id]) => id).join(', ')}`,
    );
    const [, boundary] =
      resourcesOfType(d, 'AWS::IAM::ManagedPolicy').find(([, r]) =>
        fmt(r.Properties.Description).includes('temporary build-instance role'),
      ) ?? [];
    expect(boundary, 'the template has no build-instance permissions boundary');
    const text = fmt(boundary?.Properties.PolicyDocument);
    expect(!text.includes('AmazonSSMManagedInstanceCore'), 'the boundary names AmazonSSMManagedInstanceCore');
    for (const pattern of config.allowedBucketPatterns) {
      expect(text.includes(`:s3:::${pattern}/*`), `the boundary does not allow bundle uploads to ${pattern}`);
    }
    return `${arn} (bundle buckets ${config.allowedBucketPatterns.join(', ')}; proven by ${INFRA_TEST.buildRole})`;
  });
}

/** The staging bucket. */
async function checkStagingBucket(context: DeployedContext): Promise<void> {
  const { clients, config, checks, d } = context;
  const { outputs } = d;
  await checks.run('staging bucket', async () => {
    await clients.s3.send(new HeadBucketCommand({ Bucket: outputs.stagingBucketName }));
    const encryption = await clients.s3.send(
      new GetBucketEncryptionCommand({ Bucket: outputs.stagingBucketName }),
    );
    const algorithm =
      encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault
        ?.SSEAlgorithm;
    expect(algorithm === 'AES256', `encryption ${algorithm}`);
    const [logicalId, bucket] = resourcesOfType(d, 'AWS::S3::Bucket')[0] ?? [];
    expect(
      bucket && d.physical.get(logicalId ?? '') === outputs.stagingBucketName,
      'output is not the stack bucket',
    );
    expect(bucket.DeletionPolicy === 'Retain', `deletion policy ${bucket.DeletionPolicy}`);
    const rules = fmt(bucket.Properties.LifecycleConfiguration);
    expect(
      rules.includes(`"ExpirationInDays":${config.stagedObjectExpirationDays}`) &&
        rules.includes('"Prefix":"staging/"'),
      `template lifecycle ${rules}`,
    );
    const lifecycle = await clients.s3
      .send(new GetBucketLifecycleConfigurationCommand({ Bucket: outputs.stagingBucketName }))
      .then(
        (r) => (r.Rules ?? []).map((rule) => rule.ID),
        (e: unknown) => (asObject(e).name === 'NoSuchLifecycleConfiguration' ? [] : Promise.reject(e)),
      );
    expectLiveOrMotoDefault(
      checks,
      { what: 'S3 bucket LifecycleConfiguration', provenBy: INFRA_TEST.bucket },
      lifecycle,
      ['ExpireStagedObjects', 'AbortIncompleteUploads'],
      [],
    );
    const publicAccess = await clients.s3
      .send(new GetPublicAccessBlockCommand({ Bucket: outputs.stagingBucketName }))
      .then(
        (r) => r.PublicAccessBlockConfiguration,
        (e: unknown) =>
          asObject(e).name === 'NoSuchPublicAccessBlockConfiguration' ? undefined : Promise.reject(e),
      );
    const blockAll = {
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    };
    expect(
      isDeepStrictEqual(bucket.Properties.PublicAccessBlockConfiguration, blockAll),
      `template public access block ${fmt(bucket.Properties.PublicAccessBlockConfiguration)}`,
    );
    expectLiveOrMotoDefault(
      checks,
      {
        what: 'S3 bucket PublicAccessBlockConfiguration',
        provenBy: INFRA_TEST.bucket,
        wanted: 'all four blocks on',
      },
      publicAccess,
      blockAll,
      undefined,
    );
    return `${outputs.stagingBucketName}: exists, SSE ${algorithm}, retained on delete`;
  });
}

/** The SSM command document and the log group of its output. */
async function checkCommandDocument(context: DeployedContext): Promise<void> {
  const { clients, config, checks, d } = context;
  const { outputs } = d;
  await checks.run('SSM command document', async () => {
    const doc = await clients.ssm.send(new GetDocumentCommand({ Name: outputs.commandDocumentName }));
    expect(doc.DocumentType === 'Command', `type ${doc.DocumentType}`);
    expect(doc.Status === 'Active', `status ${doc.Status}`);
    // AWS answers the content as JSON text. moto keeps the template's object as it came from CloudFormation and
    // answers that; the same mistake makes its DescribeDocument fail with HTTP 500 on this document.
    const raw: unknown = doc.Content;
    if (typeof raw !== 'string') {
      checks.gap(
        'ssm content',
        'SSM document from CloudFormation: moto keeps Content as an object, so GetDocument answers an object (compared above) and DescribeDocument fails with HTTP 500',
      );
    }
    const content: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw;
    expect(
      isDeepStrictEqual(content, commandDocumentContent),
      'the content differs from lambdas/shared/command-document.ts',
    );
    const steps = commandDocumentContent.mainSteps.map((s) => s.name).join(' → ');
    return `${outputs.commandDocumentName}: Command, Active, content = lambdas/shared/command-document.ts (${steps})`;
  });

  await checks.run('command log group', async () => {
    const group = await logGroup(clients, outputs.commandLogGroupName);
    expect(group.retentionInDays === config.logRetentionDays, `retention ${group.retentionInDays}`);
    return `${outputs.commandLogGroupName} (${group.retentionInDays} d)`;
  });
}

/** The notification topic, its key and its subscriptions. */
async function checkNotificationTopic(context: DeployedContext): Promise<void> {
  const { clients, port, config, checks, d } = context;
  const { outputs } = d;
  await checks.run('notification topic', async () => {
    const topicArn = outputs.NotificationTopicArn ?? '';
    const attributes =
      (await clients.sns.send(new GetTopicAttributesCommand({ TopicArn: topicArn }))).Attributes ?? {};
    const keyId = (attributes.KmsMasterKeyId ?? '').split('/').pop() ?? '';
    expect(keyId, 'the topic is not encrypted');
    // moto's DescribeKey fails (HTTP 500) on a key CloudFormation created; GetKeyRotationStatus reads it fine.
    const rotation = await jsonCall(port, 'kms', 'TrentService.GetKeyRotationStatus', { KeyId: keyId });
    expect(rotation.KeyRotationEnabled === true, 'key rotation is off');
    const subscriptions = resourcesOfType(d, 'AWS::SNS::Subscription');
    const endpoints = subscriptions.map(([, sub]) => sub.Properties.Endpoint);
    expect(
      isDeepStrictEqual(endpoints, config.notificationEmails),
      `template subscriptions ${fmt(endpoints)}`,
    );
    const live =
      (await clients.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }))).Subscriptions ??
      [];
    const liveEndpoints = live.map((sub) => sub.Endpoint);
    // moto skips AWS::SNS::Subscription (reported with the skipped types); on AWS each address is pending.
    const skipped = subscriptions.every(([id]) => !d.created.has(id));
    expect(
      isDeepStrictEqual(liveEndpoints, config.notificationEmails) || (skipped && liveEndpoints.length === 0),
      `subscriptions ${fmt(liveEndpoints)}, expected ${fmt(config.notificationEmails)}`,
    );
    return `${topicArn.split(':').pop()}: KMS key ${keyId} (rotation on); template subscribes ${config.notificationEmails.join(', ')}`;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The build on the deployed stack

async function checkBuild(
  clients: Clients,
  env: NodeJS.ProcessEnv,
  outputs: StackOutputs,
  checks: Checks,
): Promise<void> {
  const template = 'examples/basic.json';
  // A fresh clone has no X.509 pair: create the examples' throwaway one, as `ami-builder local` does.
  for (const pair of ensureExampleX509(JSON.parse(readFileSync(join(repoRoot, template), 'utf8')), {
    cwd: repoRoot,
    templateDir: join(repoRoot, 'examples'),
    vars: new Map(),
  })) {
    say(
      `generated the examples' throwaway X.509 pair: ${relative(repoRoot, pair.cert)}, ${relative(repoRoot, pair.key)}`,
    );
  }
  const cli = ['bin/ami-builder.mjs'];
  const build = await runStep('node', [...cli, 'build', template, '--stack', STACK, '--detach'], env, {
    keep: () => true,
    timeoutMs: 120_000,
  });
  const text = build.lines.join('\n');
  const executionArn = /Execution ARN: (arn:\S+)/.exec(text)?.[1];

  await checks.run('build --detach started an execution of the deployed state machine', async () => {
    expect(executionArn, 'build printed no execution ARN');
    const execution = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(
      execution.stateMachineArn === outputs.stateMachineArn,
      `state machine ${execution.stateMachineArn}`,
    );
    expect(execution.status === 'RUNNING', `status ${execution.status}`);
    const input = execution.input ?? '';
    expect(!input.includes(SECRET_ACCESS_KEY), 'the execution input holds the caller’s secret key');
    expect(!input.includes('-----BEGIN'), 'the execution input holds PEM file contents');
    const staged = asObject(asObject(JSON.parse(input)).template);
    const prefix = `s3://${outputs.stagingBucketName}/staging/${execution.name}/`;
    for (const key of ['x509_cert_path', 'x509_key_path'] as const) {
      const uri = String(staged[key] ?? '');
      expect(uri.startsWith(prefix), `${key} is ${uri}, not under ${prefix}`);
      const objectKey = uri.slice(`s3://${outputs.stagingBucketName}/`.length);
      const object = await clients.s3.send(
        new GetObjectCommand({ Bucket: outputs.stagingBucketName, Key: objectKey }),
      );
      const local = readFileSync(
        join(repoRoot, 'examples/x509', key === 'x509_cert_path' ? 'cert.pem' : 'key.pem'),
      );
      const body = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
      expect(body.equals(local), `${uri} differs from the local file`);
      expect(object.ServerSideEncryption !== undefined, `${uri} is not encrypted`);
    }
    return `${execution.name} RUNNING; input has s3:// URIs under ${prefix}, no PEM contents, no credentials; staged objects match the local files`;
  });
  if (!executionArn) return;
  const name = executionArn.split(':').pop() ?? '';

  const status = await runStep('node', [...cli, 'status', name, '--stack', STACK], env, {
    keep: () => true,
    timeoutMs: 60_000,
  });
  await checks.run('status finds the execution by name through the stack', async () => {
    const out = status.lines.join('\n');
    expect(out.includes(executionArn), 'status does not name the execution ARN');
    expect(/Status:\s+RUNNING/.test(out), 'status does not say RUNNING');
    if (out.includes('Last state: A State')) {
      checks.gap(
        'history',
        'Step Functions GetExecutionHistory: moto answers a fixed sample history, so status prints "Last state: A State (entered 2020-01-01…)"; moto runs no task (Lambda needs Docker), so the execution stays RUNNING',
      );
    }
    return 'RUNNING, exit 0';
  });

  const logs = await runStep('node', [...cli, 'logs', name, '--stack', STACK], env, {
    keep: () => true,
    timeoutMs: 60_000,
  });
  await checks.run('logs finds the command log group through the stack', async () => {
    const out = logs.lines.join('\n');
    expect(out.includes('has sent no SSM command yet'), 'logs did not report the running execution');
    return 'no command yet (moto runs no task), exit 0';
  });
}

// ---------------------------------------------------------------------------------------------------------------
// After the destroy

async function checkDestroyed(clients: Clients, port: number, deployed: Deployed, checks: Checks) {
  /** Passes when `call` fails because the resource does not exist; any other error fails the check. */
  const gone = async (what: string, call: () => Promise<unknown>): Promise<void> => {
    try {
      await call();
    } catch (error) {
      const text = errorText(error);
      if (/NotFound|not found|NoSuch|DoesNotExist|does not exist|InvalidDocument/i.test(text)) return;
      throw new CheckFailedError(`${what}: ${text}`);
    }
    throw new CheckFailedError(`${what} still exists`);
  };
  await checks.run('the stack is gone', async () => {
    await gone(`stack ${STACK}`, () => findStackOutputs(clients.cfn, STACK, ['stateMachineArn']));
    return `DescribeStacks: ${STACK} does not exist`;
  });
  await checks.run('its resources are gone', async () => {
    await gone('the state machine', () =>
      clients.sfn.send(
        new DescribeStateMachineCommand({ stateMachineArn: deployed.outputs.stateMachineArn }),
      ),
    );
    const functions = resourcesOfType(deployed, 'AWS::Lambda::Function');
    for (const [id] of functions) {
      const name = deployed.physical.get(id) ?? id;
      await gone(`function ${name}`, () =>
        clients.lambda.send(new GetFunctionCommand({ FunctionName: name })),
      );
    }
    const roles = resourcesOfType(deployed, 'AWS::IAM::Role');
    for (const [id] of roles) {
      const name = deployed.physical.get(id) ?? id;
      await gone(`role ${name}`, () => iam(port, 'GetRole', { RoleName: name }));
    }
    await gone('the command document', () =>
      clients.ssm.send(new GetDocumentCommand({ Name: deployed.outputs.commandDocumentName })),
    );
    const groups = resourcesOfType(deployed, 'AWS::Logs::LogGroup').map(
      ([id]) => deployed.physical.get(id) ?? id,
    );
    for (const group of groups) await gone(`log group ${group}`, () => logGroup(clients, group));
    const [ruleId] = resourcesOfType(deployed, 'AWS::Events::Rule')[0] ?? [];
    const rule = deployed.physical.get(ruleId ?? '') ?? '';
    await gone(`rule ${rule}`, () => clients.events.send(new DescribeRuleCommand({ Name: rule })));
    return `state machine, ${functions.length} functions, ${roles.length} roles, document, ${groups.length} log groups, rule`;
  });
  await checks.run('the staging bucket is retained', async () => {
    await clients.s3.send(new HeadBucketCommand({ Bucket: deployed.outputs.stagingBucketName }));
    return `${deployed.outputs.stagingBucketName} (DeletionPolicy Retain: staged files may outlive the stack)`;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Main

function childEnvironment(port: number, scratch: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Nothing from the developer's AWS setup may reach the emulator (or send this run anywhere else).
  for (const key of Object.keys(env)) {
    if (/^AWS_/.test(key) || /^CDK_/.test(key)) delete env[key];
  }
  return {
    ...env,
    AWS_ENDPOINT_URL: `http://localhost:${port}`,
    AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    AWS_CONFIG_FILE: join(scratch, 'aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    CDK_DEFAULT_ACCOUNT: ACCOUNT,
    CDK_DEFAULT_REGION: REGION,
    CDK_DISABLE_CLI_TELEMETRY: 'true',
    CDK_DISABLE_VERSION_CHECK: 'true',
    FORCE_COLOR: '0',
  };
}

const cdkSummary = (line: string) =>
  /✅|❌|✨|^Outputs:|^\s*AmiBuilder\.\w+ = |Stack ARN|^arn:aws:cloudformation|bootstrapped|destroyed/.test(
    line,
  );

async function main(): Promise<number> {
  const config = parseConfig(SMOKE_CONTEXT);
  const scratch = mkdtempSync(join(tmpdir(), 'ami-builder-smoke-'));
  const assembly = join(scratch, 'cdk.out');
  const checks = new Checks();
  const emulatorLog: string[] = [];
  let emulator: Emulator | undefined;
  let failed = false;
  try {
    say('start the emulator (patched moto)');
    emulator = await startEmulator({
      port: 0,
      log: (line) => {
        emulatorLog.push(line);
        if (emulatorLog.length > 200) emulatorLog.shift();
      },
    });
    const endpoint = `http://localhost:${emulator.port}`;
    detail(
      `listening on ${endpoint} (pid ${emulator.pid}); AWS_ENDPOINT_URL=${endpoint}, account ${ACCOUNT}, ${REGION}`,
    );
    const env = childEnvironment(emulator.port, scratch);
    const clients = clientsFor(endpoint);

    // bootstrap synthesizes the app too (with cdk.json present): its assembly also goes to the scratch folder.
    const bootstrapArgs = [
      'bootstrap',
      `aws://${ACCOUNT}/${REGION}`,
      '--output',
      join(scratch, 'bootstrap.out'),
    ];
    await runStep('npx', ['cdk', ...bootstrapArgs, '--no-notices'], env, {
      keep: cdkSummary,
      timeoutMs: 300_000,
    });

    const context = Object.entries(SMOKE_CONTEXT).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
    const deploy = await runStep(
      'npx',
      [
        'cdk',
        'deploy',
        STACK,
        '--method=direct',
        '--require-approval',
        'never',
        '--output',
        assembly,
        '--no-notices',
        ...context,
      ],
      env,
      { keep: cdkSummary, timeoutMs: 900_000 },
    );
    const built = deploy.lines.filter((l) => /success: Built .*\/Code$/.test(l)).length;
    const published = deploy.lines.filter((l) => /success: Published .*\/Code /.test(l)).length;
    detail(`(${built} function bundles built with esbuild, ${published} published to the bootstrap bucket)`);

    say('check the deployed stack with the AWS SDK');
    await checkDeployment(clients, emulator.port, config, checks);
    const deployed = await readDeployed(clients);

    say('start a build on the deployed stack');
    await checkBuild(clients, env, deployed.outputs, checks);

    // The assembly the deploy wrote: destroy needs no second synth (and no second esbuild run).
    await runStep('npx', ['cdk', 'destroy', STACK, '--force', '--app', assembly, '--no-notices'], env, {
      keep: cdkSummary,
      timeoutMs: 300_000,
    });
    say('check the stack is gone');
    await checkDestroyed(clients, emulator.port, deployed, checks);
  } catch (error) {
    failed = true;
    say(`STOPPED: ${errorText(error)}`);
    const traceback = emulatorLog.filter((l) => !/"(GET|POST|PUT|DELETE|HEAD) /.test(l)).slice(-30);
    if (traceback.length > 0) {
      say('the emulator’s last messages:');
      for (const line of traceback) detail(`│ ${line}`);
    }
  } finally {
    for (const child of running) child.kill('SIGTERM');
    if (emulator) {
      await emulator.stop();
      say('emulator stopped');
    }
  }

  checks.printGaps();
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(0);
  if (failed || checks.failures.length > 0) {
    say(
      `SMOKE TEST FAILED after ${seconds} s (${checks.passed} checks passed, ${checks.failures.length} failed)`,
    );
    for (const failure of checks.failures) detail(`✗ ${failure}`);
    if (existsSync(assembly)) detail(`the cloud assembly is kept in ${assembly}`);
    else rmSync(scratch, { recursive: true, force: true });
    return 1;
  }
  rmSync(scratch, { recursive: true, force: true });
  say(
    `smoke test passed in ${seconds} s: ${checks.passed} checks, ${checks.gapCount} moto limitations noted`,
  );
  return 0;
}

process.once('SIGINT', () => {
  for (const child of running) child.kill('SIGTERM');
  process.exit(130);
});

process.exitCode = await main();

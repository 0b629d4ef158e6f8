/**
 * Every handler's SDK clients are captured by the tracer, so that the trace of a build shows each AWS call.
 * Tracing is switched on as in Lambda (`AWS_EXECUTION_ENV`); each handler is invoked once with every SDK client
 * mocked, and each client that sent a request must be one the tracer captured.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { repoRoot } from '../../../infra/config.js';
import { type TaskId, Tasks } from '../../../infra/tasks.js';
import { EXECUTION_ID, makeBuildState, makeExecution } from '../fixtures.js';

// Each class is its own type: mock them one by one.
const mocks = [
  mockClient(CloudWatchLogsClient),
  mockClient(EC2Client),
  mockClient(EventBridgeClient),
  mockClient(IAMClient),
  mockClient(S3Client),
  mockClient(SFNClient),
  mockClient(SNSClient),
  mockClient(SSMClient),
  mockClient(STSClient),
];

/** Tasks that call no AWS service: nothing to capture. */
const WITHOUT_CLIENTS: readonly TaskId[] = ['SummarizeBuilds', 'ValidateTemplate'];

const build = makeBuildState({
  config: {
    amiRegions: ['eu-west-1'],
    provisioners: [],
    forceDeregister: true,
    amiIdParameter: '/ami-builder/ami-ids/web',
  },
  source: {
    imageId: 'ami-0aaaaaaaaaaaaaaaa',
    name: 'source',
    ownerId: '123456789012',
    creationDate: '2024-01-01T00:00:00.000Z',
    tags: {},
    rootDeviceType: 'instance-store',
    architecture: 'x86_64',
    virtualizationType: 'hvm',
    accountId: '123456789012',
    rendered: { tags: {}, runTags: {} },
  },
  bucket: {
    name: 'my-bundles',
    keyPrefix: '',
    region: 'us-east-1',
    manifestLocation: 'my-bundles/image.manifest.xml',
    created: false,
  },
  network: { securityGroupIds: ['sg-0123456789abcdef0'], temporarySecurityGroupId: 'sg-0123456789abcdef0' },
  instanceRole: { instanceProfileName: 'p', temporary: true, roleName: 'r', path: '/ami-builder/x/' },
  instance: { instanceId: 'i-0123456789abcdef0' },
  command: { commandId: 'c-1', kind: 'upload', attempt: 1, stagedPrefix: 'staging/x/' },
  image: { region: 'us-east-1', imageId: 'ami-0123456789abcdef0' },
  copy: { region: 'eu-west-1', imageId: 'ami-0fedcba9876543210' },
} as Parameters<typeof makeBuildState>[0]);

/** One payload per task, shaped as the state machine (or EventBridge) sends it. */
const events: Record<TaskId, unknown> = {
  ValidateTemplate: {
    input: {
      template: {
        type: 'amazon-instance',
        account_id: '1234-5678-9012',
        ami_name: 'my-ami-{{timestamp}}',
        instance_type: 'm3.medium',
        region: 'us-east-1',
        s3_bucket: 'my-bundles',
        source_ami: 'ami-0123456789abcdef0',
        ssh_username: 'ec2-user',
        x509_cert_path: 's3://staging-bucket/x509/cert.pem',
        x509_key_path: 's3://staging-bucket/x509/key.pem',
      },
    },
    execution: makeExecution(),
  },
  // A resume reads the failed execution.
  PrepareResume: {
    resume: EXECUTION_ID.replace(/:[^:]+$/, ':failed'),
    builds: [build.config],
    warnings: [],
    skipped: [],
    parallelBuilds: 0,
    execution: makeExecution(),
  },
  Prevalidate: { build, args: {} },
  CheckUnchanged: { build, args: {} },
  EnsureBundleBucket: { build, args: {} },
  CreateSecurityGroup: { build, args: {} },
  CreateInstanceRole: { build, args: {} },
  LaunchInstance: { build, args: {} },
  LaunchTestInstance: {
    build: {
      ...build,
      config: {
        ...build.config,
        amiTest: {
          commands: { type: 'shell', index: -1, name: 'ami_test', inline: ['true'] },
          instanceType: 'm3.medium',
          onFailure: 'deregister',
        },
      },
    },
    args: {},
  },
  CheckInstance: { build, args: { want: 'running' } },
  CheckAgent: { build, args: {} },
  SendCommand: { build, args: { kind: 'upload' } },
  CheckCommand: { build, args: {} },
  ForceDeregister: { build, args: {} },
  RegisterImage: { build, args: {} },
  CheckImage: { build, args: { key: 'image', region: 'us-east-1', imageId: 'ami-0123456789abcdef0' } },
  CopyImage: { build, args: { region: 'eu-west-1' } },
  FinishImage: { build, args: { region: 'us-east-1', imageId: 'ami-0123456789abcdef0' } },
  TerminateInstance: { build, args: { reason: 'success' } },
  DeleteTemporaryResources: { build, args: { reason: 'success' } },
  ReportBuild: { build, args: { status: 'failed' } },
  SummarizeBuilds: { results: [], warnings: [], skipped: [], execution: makeExecution() },
  ApplyRetention: { dryRun: true, regions: ['us-east-1'] },
  AbortCleanup: {
    version: '0',
    id: '0123',
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '123456789012',
    time: '2024-01-02T00:00:00Z',
    region: 'us-east-1',
    resources: [EXECUTION_ID],
    detail: {
      executionArn: EXECUTION_ID,
      stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:AmiBuilder-builds',
      name: 'build-2024-01-02',
      status: 'SUCCEEDED',
      startDate: 0,
      stopDate: 1,
      input: '{}',
    },
  },
  Notify: {
    summary: { builds: [], warnings: [], skipped: [], failed: 0 },
    execution: makeExecution(),
  },
  AdoptKeptResources: {
    build: {
      ...build,
      config: {
        ...build.config,
        resume: {
          from: EXECUTION_ID,
          origin: { id: EXECUTION_ID, name: 'build-2024-01-02' },
          step: 'x509',
          kept: {
            source: build.source,
            bucket: build.bucket,
            network: build.network,
            instanceRole: build.instanceRole,
            instance: build.instance,
          },
        },
      },
    },
    args: {},
  },
  PublishAmiIds: { build: { ...build, copies: [] }, args: {} },
  SweepOrphans: { dryRun: true, regions: ['us-east-1'] },
};

/** Resolves to the handler's error (or none) when it settles, or after `ms` (a handler waiting to retry). */
const settle = (call: Promise<unknown>, ms = 3000): Promise<string> =>
  Promise.race([
    call.then(
      () => 'none',
      (error: Error) => `${error.name}: ${error.message}`,
    ),
    new Promise<string>((done) => setTimeout(() => done('still running'), ms)),
  ]);

let capture: ReturnType<typeof vi.spyOn>;

beforeAll(() => {
  vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs22.x');
  // The stack's environment, read when each handler module loads.
  vi.stubEnv('STAGING_BUCKET', 'staging-bucket');
  vi.stubEnv('COMMAND_DOCUMENT', 'AmiBuilder-RunStagedCommand');
  vi.stubEnv('COMMAND_LOG_GROUP', '/ami-builder/commands');
  vi.stubEnv('INSTANCE_ROLE_BOUNDARY', 'arn:aws:iam::123456789012:policy/ami-builder/boundary');
  vi.stubEnv('ALLOWED_BUCKET_PATTERNS', 'my-bundles');
  // Outside Lambda there is no facade segment to open the handler's subsegment on: Powertools warns.
  vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  capture = vi.spyOn(Tracer.prototype, 'captureAWSv3Client');
});

afterAll(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('tracing of the tasks’ AWS calls', () => {
  it('creates SDK clients only through createClients, which captures them', () => {
    // A client built anywhere else in lambdas/ would escape the tracer.
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.ts') && !path.endsWith(join('shared', 'runtime.ts'))) {
          if (/new \w+Client\(/.test(readFileSync(path, 'utf8'))) offenders.push(path);
        }
      }
    };
    walk(join(repoRoot, 'lambdas'));
    expect(offenders).toEqual([]);
    expect(readFileSync(join(repoRoot, 'lambdas/shared/runtime.ts'), 'utf8')).toMatch(
      /captureClient\(new Client\(/,
    );
  });

  it.each((Object.keys(Tasks) as TaskId[]).filter((t) => !WITHOUT_CLIENTS.includes(t)))(
    'captures every client %s sends a request with',
    async (task) => {
      // Prepare
      for (const mock of mocks) mock.reset();
      capture.mockClear();
      const url = new URL(`../../../${Tasks[task]}`, import.meta.url);
      const { handler } = (await import(url.href)) as { handler: (event: unknown) => Promise<unknown> };

      // Act
      const outcome = await settle(handler(events[task]));

      // Assess
      const used = new Set(mocks.flatMap((mock) => mock.calls().map((call) => call.thisValue)));
      const captured = new Set<unknown>(capture.mock.calls.map((args: unknown[]) => args[0]));
      expect(used.size, `${task} sent no request (error: ${outcome})`).toBeGreaterThan(0);
      for (const client of used) {
        expect(captured.has(client), `${task}: a ${client?.constructor?.name} was not captured`).toBe(true);
        // The X-Ray SDK's middleware is on the client: each call becomes a subsegment.
        const names = (client as { middlewareStack: { identify(): string[] } }).middlewareStack.identify();
        expect(
          names.some((n) => n.startsWith('XRaySDKInstrumentation')),
          `${task}: ${names.join(', ')}`,
        ).toBe(true);
      }
    },
  );

  it.each(WITHOUT_CLIENTS)('sends no AWS request from %s', async (task) => {
    // Prepare
    for (const mock of mocks) mock.reset();
    const url = new URL(`../../../${Tasks[task]}`, import.meta.url);
    const { handler } = (await import(url.href)) as { handler: (event: unknown) => Promise<unknown> };

    // Act
    const outcome = await settle(handler(events[task]));

    // Assess
    expect(outcome).toBe('none');
    expect(mocks.map((mock) => mock.calls().length)).toEqual(mocks.map(() => 0));
  });
});

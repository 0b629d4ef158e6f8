import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DeleteObjectsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type BuildDeps,
  CANCEL_CAUSE,
  CANCEL_ERROR,
  type ExecutionInput,
  executionName,
  newHistoryEvents,
  planVariables,
  runBuild,
  stripCredentials,
} from '../../cli/build.js';
import { readManifest } from '../../cli/manifest.js';
import { command as resumeCommand } from '../../cli/resume.js';
import type { BuildOutput } from '../../lambdas/shared/state.js';
import { validateTemplate } from '../../lambdas/shared/template/validate.js';
import { makeConfig } from '../lambdas/fixtures.js';
import {
  type CapturedIo,
  captureIo,
  executionArn,
  FakeHistory,
  HistoryBuilder,
  STATE_MACHINE_ARN,
} from './execution-fakes.js';

const cfnMock = mockClient(CloudFormationClient);
const sfnMock = mockClient(SFNClient);
const s3Mock = mockClient(S3Client);
const logsMock = mockClient(CloudWatchLogsClient);

const NOW = new Date('2024-01-02T03:04:05.000Z');
const NAME = 'web-20240102-030405-a1b2';
const ARN = executionArn(NAME);
const ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const ENV = { TEAM: 'platform', AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_KEY };

const TEMPLATE = {
  variables: {
    aws_access_key: '{{env `AWS_ACCESS_KEY_ID`}}',
    aws_secret_key: '{{env `AWS_SECRET_ACCESS_KEY`}}',
    team: '{{env `TEAM`}}',
    version: '1.0',
  },
  builders: [
    {
      type: 'amazon-instance',
      name: 'web',
      access_key: '{{user `aws_access_key`}}',
      secret_key: '{{user `aws_secret_key`}}',
      region: 'us-east-1',
      source_ami: 'ami-0123456789abcdef0',
      instance_type: 'm3.medium',
      ami_name: 'web-{{user `version`}}-{{timestamp}}',
      account_id: '0123-4567-8901',
      s3_bucket: 'ami-builder-bundles',
      x509_cert_path: 'cert.pem',
      x509_key_path: '{{template_dir}}/key.pem',
      ami_regions: ['us-west-2'],
      tags: { Team: '{{user `team`}}' },
    },
  ],
  provisioners: [{ type: 'shell', script: 'install.sh' }],
};

const config = makeConfig({ name: 'web', amiName: 'web-1.0-1704164645', amiRegions: ['us-west-2'] });
const buildState = { config, execution: { id: ARN, name: NAME, startTime: NOW.toISOString() }, poll: {} };

const webOutput: BuildOutput = {
  name: 'web',
  status: 'succeeded',
  artifacts: { 'us-east-1': 'ami-0def', 'us-west-2': 'ami-0fed' },
  artifactId: 'us-east-1:ami-0def,us-west-2:ami-0fed',
  warnings: [],
  timings: {
    started: NOW.toISOString(),
    finished: '2024-01-02T03:18:07.000Z',
    total: '14 minutes 2 seconds',
  },
};
const summary = { builds: [webOutput], warnings: [], skipped: [], failed: 0 };

/** A whole successful run, touching every state type the workflow has. */
function successHistory(): HistoryBuilder {
  return new HistoryBuilder(NOW)
    .started({})
    .entered('Task', 'Validate Template', {})
    .exited('Task', 'Validate Template', { builds: [config] })
    .entered('Map', 'Build Each Builder', { builds: [config] })
    .other('MapIterationStarted')
    .entered('Task', 'Prevalidate', buildState)
    .exited('Task', 'Prevalidate', { ...buildState, source: { imageId: 'ami-0source' } })
    .entered('Task', 'Launch Instance', buildState)
    .exited('Task', 'Launch Instance', { ...buildState, instance: { instanceId: 'i-0123' } })
    .entered('Task', 'Check Instance Running', { ...buildState, instance: { instanceId: 'i-0123' } })
    .exited('Task', 'Check Instance Running', buildState)
    .entered('Choice', 'Instance Running?', buildState)
    .exited('Choice', 'Instance Running?', buildState)
    .entered('Wait', 'Wait For Instance Running', buildState)
    .exited('Wait', 'Wait For Instance Running', buildState)
    .entered('Task', 'Upload Bundle', buildState)
    .taskFailed(
      'AwsTransientError',
      JSON.stringify({ errorType: 'AwsTransientError', errorMessage: 'Throttling: Rate exceeded' }),
    )
    .exited('Task', 'Upload Bundle', {
      ...buildState,
      command: { commandId: 'cmd-upload', kind: 'upload', attempt: 1 },
    })
    .entered('Parallel', 'Copy And Finish', {
      ...buildState,
      image: { region: 'us-east-1', imageId: 'ami-0def' },
    })
    .entered('Pass', 'Provisioner Finished', buildState)
    .exited('Pass', 'Provisioner Finished', buildState)
    .exited('Parallel', 'Copy And Finish', buildState)
    .entered('Task', 'Report Build', buildState)
    .exited('Task', 'Report Build', webOutput)
    .other('MapIterationSucceeded')
    .exited('Map', 'Build Each Builder', {})
    .entered('Task', 'Summarize Builds', {})
    .exited('Task', 'Summarize Builds', summary)
    .entered('Succeed', 'Build Succeeded', summary)
    .succeeded(summary, 842);
}

let dir: string;
let history: FakeHistory;
let interrupt: (() => void) | undefined;
let sleeps: number[];

function deps(overrides: Partial<BuildDeps> = {}): BuildDeps {
  return {
    clients: () => ({
      cloudformation: new CloudFormationClient({ region: 'us-east-1' }),
      sfn: new SFNClient({ region: 'us-east-1' }),
      s3: new S3Client({ region: 'us-east-1' }),
      logs: new CloudWatchLogsClient({ region: 'us-east-1' }),
    }),
    now: () => NOW,
    sleep: async (ms) => {
      sleeps.push(ms);
      history.advance(10);
    },
    randomHex: () => 'a1b2',
    runUuid: () => '5f2c9a4e-7b1d-4c2e-9f00-0a1b2c3d4e5f',
    onInterrupt: (handler) => {
      interrupt = handler;
      return () => {
        interrupt = undefined;
      };
    },
    ...overrides,
  };
}

function sentInputOf(mock: typeof sfnMock): string {
  return mock.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '';
}

function sentInput(): ExecutionInput {
  const call = sfnMock.commandCalls(StartExecutionCommand)[0];
  return JSON.parse(call?.args[0].input.input ?? 'null') as ExecutionInput;
}

async function build(args: string[], options: { io?: CapturedIo; deps?: Partial<BuildDeps> } = {}) {
  const io = options.io ?? captureIo(dir, { ...ENV });
  const code = await runBuild(args, io, deps(options.deps));
  return { code, io };
}

beforeEach(async () => {
  cfnMock.reset();
  sfnMock.reset();
  s3Mock.reset();
  sleeps = [];
  interrupt = undefined;
  dir = await mkdtemp(join(tmpdir(), 'build-'));
  await writeFile(join(dir, 'template.json'), JSON.stringify(TEMPLATE));
  await writeFile(join(dir, 'cert.pem'), '-----BEGIN CERTIFICATE-----CERTBODY');
  await writeFile(join(dir, 'key.pem'), '-----BEGIN PRIVATE KEY-----KEYBODY');
  await writeFile(join(dir, 'install.sh'), 'echo installing');
  cfnMock.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'AmiBuilder',
        StackStatus: 'CREATE_COMPLETE',
        CreationTime: NOW,
        Outputs: [
          { OutputKey: 'StateMachineArn', OutputValue: STATE_MACHINE_ARN },
          { OutputKey: 'StagingBucketName', OutputValue: 'amibuilder-staging' },
          { OutputKey: 'CommandLogGroupName', OutputValue: 'AmiBuilder-CommandsOutput' },
        ],
      },
    ],
  });
  s3Mock.on(PutObjectCommand).resolves({});
  logsMock.reset();
  logsMock.on(FilterLogEventsCommand).resolves({ events: [] });
  sfnMock.on(StartExecutionCommand).resolves({ executionArn: ARN, startDate: NOW });
  sfnMock.on(StopExecutionCommand).resolves({ stopDate: NOW });
  history = new FakeHistory(successHistory().events, 8);
  sfnMock.on(GetExecutionHistoryCommand).callsFake((input) => history.page(input));
});

afterEach(async () => {
  cfnMock.reset();
  sfnMock.reset();
  s3Mock.reset();
  await rm(dir, { recursive: true, force: true });
});

describe('ami-builder resume', () => {
  it('stages the template as build does and names the failed execution in the input, by ARN or by name', async () => {
    // Act
    const byName = await runBuild(['template.json'], captureIo(dir, { ...ENV }), deps(), {
      resume: 'failed-build',
    });
    const first = sentInput();
    sfnMock.resetHistory();
    const failedArn = 'arn:aws:states:us-east-1:123456789012:execution:AmiBuilder-builds:other';
    await runBuild(['template.json'], captureIo(dir, { ...ENV }), deps(), { resume: failedArn });

    // Assess
    expect(byName).toBe(0);
    expect(first.resume).toBe(`${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:failed-build`);
    expect((first.template as typeof TEMPLATE).builders[0]?.x509_cert_path).toMatch(
      /^s3:\/\/amibuilder-staging\//,
    );
    expect(sentInput().resume).toBe(failedArn);
  });

  it('asks for the execution first', async () => {
    const io = captureIo(dir, { ...ENV });
    expect(await resumeCommand.run(['--detach', 'template.json'], io)).toBe(1);
    expect(io.stderr.join('\n')).toContain('the first argument must be the failed execution');
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});

describe('ami-builder build', () => {
  it('finds the state machine and the staging bucket from the named stack’s outputs', async () => {
    // Act
    const { code } = await build(['--stack', 'MyBuilder', 'template.json']);

    // Assess
    expect(code).toBe(0);
    expect(cfnMock.commandCalls(DescribeStacksCommand)[0]?.args[0].input).toEqual({ StackName: 'MyBuilder' });
    expect(sfnMock.commandCalls(StartExecutionCommand)[0]?.args[0].input).toMatchObject({
      stateMachineArn: STATE_MACHINE_ARN,
      name: NAME,
    });
    for (const call of s3Mock.commandCalls(PutObjectCommand)) {
      expect(call.args[0].input.Bucket).toBe('amibuilder-staging');
    }
  });

  it('stages the local files and sends the template rewritten to their s3:// URIs', async () => {
    // Act
    await build(['template.json']);

    // Assess
    const keys = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key);
    expect(keys).toEqual([
      expect.stringMatching(new RegExp(`^staging/${NAME}/files/[0-9a-f]{12}/cert\\.pem$`)),
      expect.stringMatching(new RegExp(`^staging/${NAME}/files/[0-9a-f]{12}/key\\.pem$`)),
      expect.stringMatching(new RegExp(`^staging/${NAME}/files/[0-9a-f]{12}/install\\.sh$`)),
    ]);
    const template = sentInput().template as typeof TEMPLATE;
    expect(template.builders[0]?.x509_cert_path).toBe(`s3://amibuilder-staging/${keys[0]}`);
    expect(template.builders[0]?.x509_key_path).toBe(`s3://amibuilder-staging/${keys[1]}`);
    expect(template.provisioners[0]?.script).toBe(`s3://amibuilder-staging/${keys[2]}`);
  });

  it('sends no file contents and no credentials, and warns that the credential keys were removed', async () => {
    // Act
    const { io } = await build(['template.json']);

    // Assess
    const input = sentInput();
    const text = JSON.stringify(input);
    for (const secret of [
      'CERTBODY',
      'KEYBODY',
      'PRIVATE KEY',
      'echo installing',
      ACCESS_KEY_ID,
      SECRET_KEY,
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toMatch(/"(access_key|secret_key|token)"/);
    expect(Object.keys(input)).toEqual(['template', 'vars']);
    expect(input.vars).toEqual({ team: 'platform' });
    expect(Object.keys((input.template as typeof TEMPLATE).variables)).toEqual(['team', 'version']);
    expect(io.stderr).toContain(
      "Warning: builder 'web': removed access_key, secret_key: credentials are not sent to the workflow, which builds with its own IAM role",
    );
    expect(io.text()).not.toContain(SECRET_KEY);
  });

  it('sends an input the workflow’s own validation accepts, with the staged files and the CLI-only values', async () => {
    // Act
    await build(['template.json']);

    // Assess
    const validated = validateTemplate(sentInput(), { mode: 'workflow', now: NOW, uuidSeed: ARN });
    const web = validated.builds[0];
    expect(validated.builds).toHaveLength(1);
    expect(web?.x509.cert).toMatchObject({ kind: 's3', bucket: 'amibuilder-staging' });
    expect(web?.x509.key).toMatchObject({ kind: 's3', bucket: 'amibuilder-staging' });
    expect(web?.provisioners[0]).toMatchObject({ type: 'shell', scripts: [{ kind: 's3' }] });
    expect(web?.amiName).toBe('web-1.0-1704164645');
    expect(web?.lateVariables).toEqual({ team: 'platform' });
  });

  it('names the execution after the build, with a UTC time and 4 hex digits', async () => {
    // Act
    await build(['template.json']);

    // Assess
    expect(sfnMock.commandCalls(StartExecutionCommand)[0]?.args[0].input.name).toBe(
      'web-20240102-030405-a1b2',
    );
  });

  it('follows the history across polls and prints Packer’s lines for each state, then the artifacts', async () => {
    // Act
    const { code, io } = await build(['template.json']);

    // Assess
    expect(code).toBe(0);
    expect(sleeps.length).toBeGreaterThanOrEqual(2);
    expect(sleeps.every((ms) => ms === 2000)).toBe(true);
    expect(io.stdout.join('\n')).toBe(
      [
        `    web: Uploaded ${join(dir, 'cert.pem')} to s3://amibuilder-staging/${s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input.Key}`,
        `    web: Uploaded ${join(dir, 'key.pem')} to s3://amibuilder-staging/${s3Mock.commandCalls(PutObjectCommand)[1]?.args[0].input.Key}`,
        `    web: Uploaded ${join(dir, 'install.sh')} to s3://amibuilder-staging/${s3Mock.commandCalls(PutObjectCommand)[2]?.args[0].input.Key}`,
        `==> web: Started execution ${NAME}`,
        `    web: Console: https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${ARN}`,
        '==> web: Prevalidating any provided VPC information',
        '==> web: Prevalidating AMI Name: web-1.0-1704164645',
        '    web: Found Image ID: ami-0source',
        '==> web: Launching a source AWS instance...',
        '    web: Instance ID: i-0123',
        '==> web: Waiting for instance (i-0123) to become ready...',
        '==> web: Uploading the bundle...',
        '==> web: AwsTransientError: Throttling: Rate exceeded',
        '    web: SSM command cmd-upload (upload, attempt 1)',
        '==> web: Copying/Encrypting AMI (ami-0def) to other regions...',
        '    web: Copying to: us-west-2',
        '    web: Waiting for all copies to complete...',
        '',
        "Build 'web' finished after 14 minutes 2 seconds.",
        '',
        '==> Wait completed after 14 minutes 2 seconds',
        '',
        '==> Builds finished. The artifacts of successful builds are:',
        '--> web: AMIs were created:\nus-east-1: ami-0def\nus-west-2: ami-0fed',
      ].join('\n'),
    );
  });

  it('prints Packer’s machine-readable lines with -machine-readable', async () => {
    // Act
    const { code, io } = await build(['-machine-readable', 'template.json']);

    // Assess
    expect(code).toBe(0);
    expect(io.stdout.every((line) => /^\d+,[^,]*,/.test(line))).toBe(true);
    expect(io.stdout).toContainEqual(
      expect.stringMatching(/^\d+,web,ui,say,==> web: Launching a source AWS instance\.\.\.$/),
    );
    expect(io.stdout).toContainEqual(
      expect.stringMatching(/^\d+,web,artifact,0,id,us-east-1:ami-0def%!\(PACKER_COMMA\)us-west-2:ami-0fed$/),
    );
  });

  it('exits 1 on failure and prints the builds, the error, the cause and the console link', async () => {
    // Prepare
    const failedBuild: BuildOutput = {
      ...webOutput,
      status: 'failed',
      artifacts: {},
      artifactId: '',
      error: { Error: 'ProvisionerFailedError', Cause: 'script exited with 2' },
    };
    const failedSummary = {
      builds: [failedBuild],
      warnings: [],
      skipped: [],
      failed: 1,
      error: 'ProvisionerFailedError',
    };
    history = new FakeHistory(
      new HistoryBuilder(NOW)
        .started({})
        .entered('Task', 'Summarize Builds', {})
        .exited('Task', 'Summarize Builds', failedSummary)
        .entered('Fail', 'Build Failed', failedSummary)
        .failed('ProvisionerFailedError', "Build 'web' errored after 3 minutes: script exited with 2", 180)
        .events,
    );

    // Act
    const { code, io } = await build(['template.json']);

    // Assess
    expect(code).toBe(1);
    const text = io.text();
    expect(text).toContain(
      "Build 'web' errored after 14 minutes 2 seconds: ProvisionerFailedError: script exited with 2",
    );
    // The message once; the listing and the closing lines name the error without repeating it.
    expect(text.split('script exited with 2').length - 1).toBe(1);
    expect(text).toContain('--> web: ProvisionerFailedError (the error is shown above)');
    expect(io.stderr).toEqual(
      expect.arrayContaining([
        '==> Execution failed: ProvisionerFailedError',
        `==> Every command's whole output: ami-builder logs ${ARN}`,
        `==> Console: https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${ARN}`,
      ]),
    );
  });

  it('neither exits 0 nor prints a negative duration while DescribeExecution says RUNNING', async () => {
    // Prepare: an emulator's made-up history, ending in success years before the execution started.
    const old = new Date('2020-01-01T00:00:00Z');
    history = new FakeHistory(new HistoryBuilder(old).started({}).succeeded({ builds: [] }, 5).events);
    sfnMock.on(DescribeExecutionCommand).resolves({
      executionArn: ARN,
      stateMachineArn: STATE_MACHINE_ARN,
      status: 'RUNNING',
      startDate: NOW,
    });

    // Act
    const { code, io } = await build(['template.json']);

    // Assess
    expect(code).toBe(1);
    const text = io.text();
    expect(text).not.toMatch(/-\d+ (years?|weeks?|days?|hours?|minutes?|seconds?)/);
    expect(text).not.toContain('Wait completed');
    expect(io.stderr).toContain(
      "==> The execution's history shows it ended, but Step Functions reports it RUNNING: it is not finished (a Step Functions emulator that does not run executions reports this).",
    );
    expect(io.stderr).toContain(`==> Follow it with: ami-builder status ${ARN}`);
  });

  it('takes the duration from Step Functions’ start and stop dates once the execution SUCCEEDED', async () => {
    // Prepare
    sfnMock.on(DescribeExecutionCommand).resolves({
      executionArn: ARN,
      stateMachineArn: STATE_MACHINE_ARN,
      status: 'SUCCEEDED',
      startDate: NOW,
      stopDate: new Date(NOW.getTime() + 65_000),
    });

    // Act
    const { code, io } = await build(['template.json']);

    // Assess
    expect(code).toBe(0);
    expect(io.stdout).toContain('==> Wait completed after 1 minute 5 seconds');
  });

  it('exits 1 when the execution is stopped or times out elsewhere', async () => {
    // Prepare
    history = new FakeHistory(new HistoryBuilder(NOW).started({}).aborted().events);

    // Act
    const { code, io } = await build(['template.json']);

    // Assess
    expect(code).toBe(1);
    expect(io.text()).toContain(
      '==> web: Execution was stopped: the abort cleanup removes what the build created.',
    );
    expect(io.stderr).toContain('==> Execution was stopped.');
  });

  it('stops the execution on Ctrl-C and says the abort cleanup removes the build’s resources', async () => {
    // Prepare
    const never = new Promise<void>(() => {});
    const sleep = async () => {
      interrupt?.();
      history.events.push({ id: history.events.length + 1, type: 'ExecutionAborted', timestamp: NOW });
      history.visible = history.events.length;
      return never;
    };

    // Act
    const { code, io } = await build(['template.json'], { deps: { sleep } });

    // Assess
    expect(code).toBe(1);
    expect(sfnMock.commandCalls(StopExecutionCommand)[0]?.args[0].input).toEqual({
      executionArn: ARN,
      error: CANCEL_ERROR,
      cause: CANCEL_CAUSE,
    });
    expect(CANCEL_CAUSE).toBe('Stopped from ami-builder build (Ctrl-C)');
    expect(io.text()).toContain(
      "==> web: Execution stopped. The stack's abort cleanup now removes the build's resources (instance, security group, staged files).",
    );
    expect(interrupt).toBeUndefined();
  });

  it('prints the execution ARN and console link and returns at once with --detach', async () => {
    // Act
    const { code, io } = await build(['--detach', 'template.json']);

    // Assess
    expect(code).toBe(0);
    expect(io.stdout.slice(-2)).toEqual([
      `    web: Execution ARN: ${ARN}`,
      `    web: Console: https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${ARN}`,
    ]);
    expect(sfnMock.commandCalls(GetExecutionHistoryCommand)).toHaveLength(0);
  });

  it('fails before touching AWS when the template is invalid, with validate’s messages', async () => {
    // Prepare
    await writeFile(
      join(dir, 'bad.json'),
      JSON.stringify({ builders: [{ type: 'amazon-instance', region: 'us-east-1' }] }),
    );

    // Act
    const { code, io } = await build(['bad.json']);

    // Assess
    expect(code).toBe(1);
    expect(io.stderr[0]).toBe('Template validation failed. Errors are shown below.\n');
    expect(io.stderr[1]).toMatch(/^Errors validating build 'amazon-instance'\. \d+ error\(s\) occurred:/);
    expect(io.stderr[1]).toContain('s3_bucket is required');
    expect(cfnMock.calls()).toHaveLength(0);
    expect(sfnMock.calls()).toHaveLength(0);
  });

  it('refuses to send a variable that holds the caller’s AWS credentials', async () => {
    // Prepare
    const leaky = structuredClone(TEMPLATE);
    (leaky.provisioners[0] as Record<string, unknown>).environment_vars = ['KEY={{user `aws_secret_key`}}'];
    await writeFile(join(dir, 'leaky.json'), JSON.stringify(leaky));

    // Act
    const { code, io } = await build(['leaky.json']);

    // Assess
    expect(code).toBe(1);
    expect(io.stderr.at(-1)).toBe(
      'Error: variable "aws_secret_key" holds your AWS credentials (AWS_SECRET_ACCESS_KEY); they are never sent to the workflow, which builds with its own IAM role: remove that use of the variable',
    );
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(io.text()).not.toContain(SECRET_KEY);
  });

  it('refuses an input over 256 KB before it stages anything', async () => {
    // Prepare
    // A skipped builder is sent as written, though its text never reaches the workflow's configuration.
    const large = structuredClone(TEMPLATE);
    large.builders.push({ type: 'amazon-ebs', name: 'ebs', ami_description: 'x'.repeat(270_000) } as never);
    await writeFile(join(dir, 'large.json'), JSON.stringify(large));

    // Act
    const { code, io } = await build(['large.json']);

    // Assess
    expect(code).toBe(1);
    expect(io.stderr.at(-1)).toMatch(/^Error: the execution input is \d+ bytes, over Step Functions' limit/);
    expect(s3Mock.calls()).toHaveLength(0);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('fails with the stack lookup’s message when the stack is missing', async () => {
    // Prepare
    cfnMock
      .on(DescribeStacksCommand)
      .rejects(
        Object.assign(new Error('Stack with id AmiBuilder does not exist'), { name: 'ValidationError' }),
      );

    // Act
    const { code, io } = await build(['template.json']);

    // Assess
    expect(code).toBe(1);
    expect(io.stderr.at(-1)).toMatch(/^Error: stack "AmiBuilder" was not found in us-east-1/);
  });

  it('passes -var, -only and the selected builds on to the execution', async () => {
    // Act
    await build(['-var', 'version=2.0', '-only', 'web', 'template.json']);

    // Assess
    expect(sentInput()).toMatchObject({ vars: { team: 'platform', version: '2.0' }, only: ['web'] });
  });

  it('writes Packer’s manifest with --manifest for the builds that succeeded', async () => {
    // Act
    const { code } = await build(['--manifest', 'template.json']);

    // Assess
    expect(code).toBe(0);
    const manifest = await readManifest(join(dir, 'packer-manifest.json'));
    expect(manifest).toEqual({
      builds: [
        {
          name: 'web',
          builder_type: 'amazon-instance',
          build_time: Math.floor(Date.parse('2024-01-02T03:18:07.000Z') / 1000),
          files: null,
          artifact_id: 'us-east-1:ami-0def,us-west-2:ami-0fed',
          packer_run_uuid: '5f2c9a4e-7b1d-4c2e-9f00-0a1b2c3d4e5f',
          custom_data: null,
        },
      ],
      last_run_uuid: '5f2c9a4e-7b1d-4c2e-9f00-0a1b2c3d4e5f',
    });
    expect(JSON.parse(await readFile(join(dir, 'packer-manifest.json'), 'utf8'))).toHaveProperty(
      'last_run_uuid',
    );
  });

  it('writes the manifest to the path --manifest=PATH names', async () => {
    // Act
    await build(['--manifest=out/m.json', 'template.json']);

    // Assess
    expect((await readManifest(join(dir, 'out', 'm.json'))).builds).toHaveLength(1);
  });
});

describe('ami-builder build, staging', () => {
  /** The staging bucket as S3 would hold it: PutObject adds, DeleteObjects removes. */
  function fakeBucket(onPut: (key: string) => void = () => {}): Map<string, unknown> {
    const objects = new Map<string, unknown>();
    s3Mock.on(PutObjectCommand).callsFake((input: { Key: string; Body: unknown }) => {
      objects.set(input.Key, input.Body);
      onPut(input.Key);
      return {};
    });
    s3Mock.on(DeleteObjectsCommand).callsFake((input: { Delete: { Objects: { Key: string }[] } }) => {
      for (const { Key } of input.Delete.Objects) objects.delete(Key);
      return { Deleted: input.Delete.Objects };
    });
    return objects;
  }

  it('A start that fails after staging leaves nothing staged', async () => {
    // Prepare
    const bucket = fakeBucket();
    sfnMock
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('Execution already exists'), { name: 'ExecutionAlreadyExists' }));

    // Act
    const { code, io } = await build(['template.json']);

    // Assess
    expect(code).toBe(1);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(3);
    expect([...bucket.keys()]).toEqual([]);
    expect(io.text()).toContain('Removed the 3 staged file(s): the build did not start.');
    expect(io.stderr.at(-1)).toContain('Execution already exists');
  });

  it('stops uploading on an interrupt during staging and removes what it uploaded', async () => {
    // Prepare
    const bucket = fakeBucket(() => interrupt?.());

    // Act
    const { code, io } = await build(['template.json']);

    // Assess
    expect(code).toBe(1);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(1);
    expect([...bucket.keys()]).toEqual([]);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(io.stderr.at(-1)).toBe(
      'Error: interrupted before the build started: removed the 1 staged file(s)',
    );
    expect(interrupt).toBeUndefined();
  });

  it('masks the values of sensitive variables in everything it prints', async () => {
    // Prepare
    const secret = 'sv-TagSecretValue-0001';
    const sensitive = structuredClone(TEMPLATE) as Record<string, unknown>;
    sensitive.variables = { ...TEMPLATE.variables, tag_secret: '' };
    sensitive['sensitive-variables'] = ['tag_secret'];
    (sensitive.builders as Record<string, unknown>[])[0]!.tags = { Secret: '{{user `tag_secret`}}' };
    await writeFile(join(dir, 'sensitive.json'), JSON.stringify(sensitive));
    fakeBucket();
    sfnMock.on(StartExecutionCommand).rejects(new Error(`InvalidExecutionInput: tag value ${secret}`));

    // Act
    const { code, io } = await build(['-var', `tag_secret=${secret}`, 'sensitive.json']);

    // Assess
    expect(code).toBe(1);
    expect(sentInputOf(sfnMock)).toContain(secret); // the search below can find it
    expect(io.text()).toContain('tag value <sensitive>');
    expect(io.text()).not.toContain(secret);
  });

  it('says what it could not remove when DeleteObjects fails', async () => {
    // Prepare
    fakeBucket();
    s3Mock.on(DeleteObjectsCommand).rejects(new Error('Access Denied'));
    sfnMock.on(StartExecutionCommand).rejects(new Error('boom'));

    // Act
    const { code, io } = await build(['template.json']);

    // Assess
    expect(code).toBe(1);
    expect(io.text()).toMatch(
      /Warning: 3 staged file\(s\) could not be removed \(s3:\/\/amibuilder-staging\/staging\/web-20240102-030405-a1b2\/files\/.*\); the staging bucket's lifecycle rule expires them\./,
    );
  });

  it('stops the execution when interrupted while StartExecution was under way', async () => {
    // Prepare
    fakeBucket();
    sfnMock.on(StartExecutionCommand).callsFake(() => {
      interrupt?.();
      return { executionArn: ARN, startDate: NOW };
    });

    // Act
    const { code, io } = await build(['--detach', 'template.json']);

    // Assess
    expect(code).toBe(1);
    expect(sfnMock.commandCalls(StopExecutionCommand)[0]?.args[0].input).toEqual({
      executionArn: ARN,
      error: CANCEL_ERROR,
      cause: CANCEL_CAUSE,
    });
    expect(io.text()).toContain("Execution stopped. The stack's abort cleanup now removes");
  });

  it('sends -parallel-builds in the input it checked', async () => {
    // Act
    const { code } = await build(['-parallel-builds=2', 'template.json']);

    // Assess
    expect(code).toBe(0);
    expect(sentInput()).toMatchObject({ parallel_builds: 2 });
  });
});

describe('executionName', () => {
  it('keeps only [A-Za-z0-9-_] and at most 80 characters', () => {
    // Act
    const name = executionName(`my template/${'x'.repeat(100)}`, NOW, 'BEEF');

    // Assess
    expect(name.length).toBeLessThanOrEqual(80);
    expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(name).toMatch(/^my-template-x+-20240102-030405-beef$/);
  });

  it('falls back to a generic base when nothing of the name is usable', () => {
    expect(executionName('***', NOW, 'a1b2')).toBe('ami-build-20240102-030405-a1b2');
  });
});

describe('stripCredentials', () => {
  it('removes every credential key from every builder and names them, not their values', () => {
    // Prepare
    const template = {
      builders: [
        {
          type: 'amazon-instance',
          token: 't0k3n',
          profile: 'dev',
          assume_role: { role_arn: 'x' },
          region: 'us-east-1',
        },
        { type: 'amazon-ebs', name: 'ebs', vault_aws_engine: { name: 'v' } },
      ],
    };

    // Act
    const warnings = stripCredentials(template);

    // Assess
    expect(template.builders).toEqual([
      { type: 'amazon-instance', region: 'us-east-1' },
      { type: 'amazon-ebs', name: 'ebs' },
    ]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('removed token, profile, assume_role');
    expect(warnings.join()).not.toContain('t0k3n');
  });
});

describe('planVariables', () => {
  const context = {
    now: NOW,
    env: (n: string) => ({ HOME_DIR: '/home/me', CURLY: 'a{{b}}' })[n],
    templateDir: '/t',
    pwd: '/p',
  };

  it('sends CLI-only values rendered, given values as written, and nothing for plain defaults', () => {
    // Prepare
    const template = { builders: [{ ami_name: '{{user `a`}} {{user `b`}} {{user `c`}} {{user `d`}}' }] };
    const declared = new Map<string, string | null>([
      ['a', '{{env `HOME_DIR`}}'],
      ['b', 'plain'],
      ['c', '{{template_dir}}/x'],
      ['d', null],
      ['unused', '{{env `HOME_DIR`}}'],
    ]);

    // Act
    const plan = planVariables(template, declared, new Map([['d', 'given']]), context);

    // Assess
    expect(plan.vars).toEqual({ a: '/home/me', c: '/t/x', d: 'given' });
    expect(plan.unused).toEqual(['unused']);
    expect(plan.resolved).toMatchObject({ a: '/home/me', b: 'plain', c: '/t/x', d: 'given' });
  });

  it('follows variables used only through other variables, and quotes values that look like templates', () => {
    // Prepare
    const template = { builders: [{ ami_name: '{{user `outer`}}' }] };
    const declared = new Map<string, string | null>([
      ['outer', 'x-{{user `inner`}}'],
      ['inner', '{{env `CURLY`}}'],
    ]);

    // Act
    const plan = planVariables(template, declared, new Map(), context);

    // Assess
    expect(plan.vars).toEqual({ inner: '{{"a{{b}}"}}' });
    expect(plan.unused).toEqual([]);
  });
});

describe('newHistoryEvents', () => {
  it('reads newest first across pages and returns only the events after the last seen, oldest first', async () => {
    // Prepare
    const events = successHistory().events;
    history = new FakeHistory(events);
    const sfn = new SFNClient({ region: 'us-east-1' });

    // Act
    const all = await newHistoryEvents(sfn, ARN, 0);
    const later = await newHistoryEvents(sfn, ARN, events.length - 3);

    // Assess
    expect(all.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(later.map((e) => e.id)).toEqual([events.length - 2, events.length - 1, events.length]);
    expect(history.requests.every((r) => r.reverseOrder === true)).toBe(true);
  });
});

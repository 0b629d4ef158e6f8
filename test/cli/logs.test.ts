import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandsInHistory, runLogs } from '../../cli/logs.js';
import type { ExecutionCommandDeps } from '../../cli/status.js';
import {
  captureIo,
  executionArn,
  FakeHistory,
  HistoryBuilder,
  STATE_MACHINE_ARN,
} from './execution-fakes.js';

const cfnMock = mockClient(CloudFormationClient);
const sfnMock = mockClient(SFNClient);
const logsMock = mockClient(CloudWatchLogsClient);

const START = new Date('2024-01-02T03:04:05.000Z');
const NAME = 'web-20240102-030405-a1b2';
const ARN = executionArn(NAME);
const LOG_GROUP = '/ami-builder/commands';

const state = (command?: Record<string, unknown>) => ({ config: { name: 'web' }, command });

function deps(): ExecutionCommandDeps {
  return {
    clients: () => ({
      cloudformation: new CloudFormationClient({ region: 'us-east-1' }),
      sfn: new SFNClient({ region: 'us-east-1' }),
      logs: new CloudWatchLogsClient({ region: 'us-east-1' }),
    }),
    now: () => START,
  };
}

/** A history that sent a provisioner command (twice: a retry) and the bundle command, then failed or ran on. */
function history(): HistoryBuilder {
  return new HistoryBuilder(START)
    .started()
    .entered('Task', 'Send Provisioner Command', state())
    .exited(
      'Task',
      'Send Provisioner Command',
      state({ commandId: 'cmd-1', kind: 'provision', provisionerIndex: 0, attempt: 1 }),
    )
    .entered('Task', 'Check Provisioner Command', state({ commandId: 'cmd-1' }))
    .exited(
      'Task',
      'Check Provisioner Command',
      state({ commandId: 'cmd-1', kind: 'provision', provisionerIndex: 0, attempt: 1 }),
    )
    .entered('Task', 'Bundle Volume', state())
    .exited('Task', 'Bundle Volume', state({ commandId: 'cmd-2', kind: 'bundle', attempt: 1 }));
}

beforeEach(() => {
  cfnMock.reset();
  sfnMock.reset();
  logsMock.reset();
  cfnMock.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'AmiBuilder',
        StackStatus: 'CREATE_COMPLETE',
        CreationTime: START,
        Outputs: [
          { OutputKey: 'StateMachineArn', OutputValue: STATE_MACHINE_ARN },
          { OutputKey: 'CommandLogGroupName', OutputValue: LOG_GROUP },
        ],
      },
    ],
  });
});

afterEach(() => {
  cfnMock.reset();
  sfnMock.reset();
  logsMock.reset();
});

describe('ami-builder logs', () => {
  it('prints each command’s output from the log group, in order, with a header per command', async () => {
    // Prepare
    const fake = new FakeHistory(history().events);
    sfnMock.on(GetExecutionHistoryCommand).callsFake((input) => fake.page({ ...input, maxResults: 3 }));
    const stdout = 'cmd-1/i-0123/aws-runShellScript/stdout';
    const stderr = 'cmd-1/i-0123/aws-runShellScript/stderr';
    logsMock
      .on(FilterLogEventsCommand, { logGroupName: LOG_GROUP, logStreamNamePrefix: 'cmd-1/' })
      .resolvesOnce({
        events: [
          { logStreamName: stdout, timestamp: 1, message: 'installing\n' },
          { logStreamName: stdout, timestamp: 3, message: 'done' },
        ],
        nextToken: 'page-2',
      })
      .resolvesOnce({ events: [{ logStreamName: stderr, timestamp: 2, message: 'warning: x\nwarning: y' }] });
    logsMock
      .on(FilterLogEventsCommand, { logGroupName: LOG_GROUP, logStreamNamePrefix: 'cmd-2/' })
      .resolves({ events: [] });
    const io = captureIo('/tmp');

    // Act
    const code = await runLogs([NAME], io, deps());

    // Assess
    expect(code).toBe(0);
    expect(io.stdout).toEqual([
      '==> web: SSM command cmd-1 (provisioner 1, attempt 1) [Send Provisioner Command]',
      '--- i-0123/aws-runShellScript/stdout',
      'installing',
      '--- i-0123/aws-runShellScript/stderr',
      'warning: x',
      'warning: y',
      '--- i-0123/aws-runShellScript/stdout',
      'done',
      '',
      '==> web: SSM command cmd-2 (bundle, attempt 1) [Bundle Volume]',
      `    (no output in ${LOG_GROUP}: the command printed nothing, has not run yet, or its output expired)`,
    ]);
    expect(logsMock.commandCalls(FilterLogEventsCommand)[1]?.args[0].input.nextToken).toBe('page-2');
  });

  it('masks the sensitive values the build configuration records in what the commands printed', async () => {
    // Prepare
    const secret = 'sv-EnvSecretValue-0005';
    const config = {
      name: 'web',
      lateVariables: { env: secret },
      sensitive: [{ path: ['lateVariables', 'env'], start: 0, end: secret.length }],
    };
    const events = new HistoryBuilder(START)
      .started()
      .entered('Task', 'Send Provisioner Command', { config })
      .exited('Task', 'Send Provisioner Command', {
        config,
        command: { commandId: 'cmd-1', kind: 'provision', provisionerIndex: 0, attempt: 1 },
      }).events;
    sfnMock.on(GetExecutionHistoryCommand).callsFake((input) => new FakeHistory(events).page(input));
    logsMock.on(FilterLogEventsCommand).resolves({
      events: [
        {
          logStreamName: 'cmd-1/i-0123/aws-runShellScript/stdout',
          timestamp: 1,
          message: `the secret is ${secret}`,
        },
      ],
    });
    const io = captureIo('/tmp');

    // Act
    const code = await runLogs([NAME], io, deps());

    // Assess
    expect(code).toBe(0);
    expect(io.stdout).toContain('the secret is <sensitive>');
    expect(io.text()).not.toContain(secret);
  });

  it('says so when the execution has sent no command yet (a running build)', async () => {
    // Prepare
    const fake = new FakeHistory(
      new HistoryBuilder(START).started().entered('Task', 'Launch Instance', {}).events,
    );
    sfnMock.on(GetExecutionHistoryCommand).callsFake((input) => fake.page(input));
    const io = captureIo('/tmp');

    // Act
    const code = await runLogs([ARN], io, deps());

    // Assess
    expect(code).toBe(0);
    expect(io.stdout).toEqual([`The execution has sent no SSM command yet (${ARN}).`]);
    expect(logsMock.calls()).toHaveLength(0);
  });

  it('prints the output of a failed build’s commands too', async () => {
    // Prepare
    const fake = new FakeHistory(
      history().taskFailed('ProvisionerFailedError', 'exit 2').failed('ProvisionerFailedError', 'x').events,
    );
    sfnMock.on(GetExecutionHistoryCommand).callsFake((input) => fake.page(input));
    logsMock
      .on(FilterLogEventsCommand)
      .resolves({ events: [{ logStreamName: 'cmd-1/i-0/p/stdout', timestamp: 1, message: 'boom' }] });
    const io = captureIo('/tmp');

    // Act
    const code = await runLogs([ARN], io, deps());

    // Assess
    expect(code).toBe(0);
    expect(io.stdout.filter((l) => l === 'boom')).toHaveLength(2);
  });

  it('fails with the stack lookup’s message when the stack has no command log group', async () => {
    // Prepare
    cfnMock.on(DescribeStacksCommand).resolves({
      Stacks: [{ StackName: 'AmiBuilder', StackStatus: 'CREATE_COMPLETE', CreationTime: START, Outputs: [] }],
    });
    const io = captureIo('/tmp');

    // Act
    const code = await runLogs([ARN], io, deps());

    // Assess
    expect(code).toBe(1);
    expect(io.stderr[0]).toMatch(
      /^Error: stack "AmiBuilder" \(status CREATE_COMPLETE\) has no output CommandLogGroupName/,
    );
  });
});

describe('commandsInHistory', () => {
  it('lists each command id once, in the order sent, ignoring outputs without a command', () => {
    // Act
    const commands = commandsInHistory(history().exited('Task', 'Report Build', { name: 'web' }).events);

    // Assess
    expect(commands.map((c) => [c.commandId, c.state, c.build])).toEqual([
      ['cmd-1', 'Send Provisioner Command', 'web'],
      ['cmd-2', 'Bundle Volume', 'web'],
    ]);
  });
});

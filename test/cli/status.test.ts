import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ExecutionCommandDeps, executionArnFor, runStatus } from '../../cli/status.js';
import type { BuildOutput } from '../../lambdas/shared/state.js';
import {
  captureIo,
  executionArn,
  FakeHistory,
  HistoryBuilder,
  STATE_MACHINE_ARN,
} from './execution-fakes.js';

const cfnMock = mockClient(CloudFormationClient);
const sfnMock = mockClient(SFNClient);

const START = new Date('2024-01-02T03:04:05.000Z');
const NAME = 'web-20240102-030405-a1b2';
const ARN = executionArn(NAME);
const CONSOLE = `https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${ARN}`;

const web: BuildOutput = {
  name: 'web',
  status: 'succeeded',
  artifacts: { 'us-east-1': 'ami-0def' },
  artifactId: 'us-east-1:ami-0def',
  warnings: [],
  timings: { total: '14 minutes 2 seconds' },
};

let regions: (string | undefined)[];

function deps(): ExecutionCommandDeps {
  return {
    clients: (region) => {
      regions.push(region);
      return {
        cloudformation: new CloudFormationClient({ region: 'us-east-1' }),
        sfn: new SFNClient({ region: 'us-east-1' }),
        logs: new CloudWatchLogsClient({ region: 'us-east-1' }),
      };
    },
    now: () => new Date(START.getTime() + 65_000),
  };
}

function serveHistory(history: HistoryBuilder) {
  const fake = new FakeHistory(history.events);
  sfnMock.on(GetExecutionHistoryCommand).callsFake((input) => fake.page(input));
  return fake;
}

beforeEach(() => {
  cfnMock.reset();
  sfnMock.reset();
  regions = [];
  cfnMock.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'AmiBuilder',
        StackStatus: 'CREATE_COMPLETE',
        CreationTime: START,
        Outputs: [{ OutputKey: 'StateMachineArn', OutputValue: STATE_MACHINE_ARN }],
      },
    ],
  });
});

afterEach(() => {
  cfnMock.reset();
  sfnMock.reset();
});

describe('ami-builder status', () => {
  it('shows a succeeded build’s last state and artifacts, and exits 0', async () => {
    // Prepare
    const output = { builds: [web], warnings: [], skipped: [], failed: 0 };
    sfnMock.on(DescribeExecutionCommand).resolves({
      executionArn: ARN,
      stateMachineArn: STATE_MACHINE_ARN,
      name: NAME,
      status: 'SUCCEEDED',
      startDate: START,
      stopDate: new Date(START.getTime() + 842_000),
      output: JSON.stringify(output),
    });
    serveHistory(
      new HistoryBuilder(START).started().entered('Succeed', 'Build Succeeded', output).succeeded(output),
    );
    const io = captureIo('/tmp');

    // Act
    const code = await runStatus([ARN], io, deps());

    // Assess
    expect(code).toBe(0);
    expect(io.stdout).toEqual([
      `Execution:  ${NAME}`,
      `ARN:        ${ARN}`,
      'Status:     SUCCEEDED',
      'Started:    2024-01-02T03:04:05.000Z',
      'Stopped:    2024-01-02T03:18:07.000Z',
      'Took:       14 minutes 2 seconds',
      'Last state: Build Succeeded (entered 2024-01-02T03:04:07.000Z)',
      `Console:    ${CONSOLE}`,
      '',
      "Build 'web' finished after 14 minutes 2 seconds.",
      '',
      '==> Wait completed after 14 minutes 2 seconds',
      '',
      '==> Builds finished. The artifacts of successful builds are:',
      '--> web: AMIs were created:\nus-east-1: ami-0def',
    ]);
    expect(cfnMock.calls()).toHaveLength(0);
    expect(regions).toEqual(['us-east-1']);
  });

  it('lists what a succeeded build left behind, with the commands that remove it, and exits 2', async () => {
    // Prepare
    const leak = {
      type: 'instance' as const,
      id: 'i-0123',
      region: 'us-east-1',
      reason: 'not terminated: UnauthorizedOperation: You are not authorized to perform this operation.',
      hint: 'aws ec2 terminate-instances --region us-east-1 --instance-ids i-0123',
    };
    const leaky: BuildOutput = {
      ...web,
      cleanup: {
        terminatedInstances: [],
        deletedSecurityGroups: [],
        deletedStagedObjects: 2,
        deregisteredImages: [],
        kept: [],
        leaked: [leak],
      },
    };
    const output = { builds: [leaky], warnings: [], skipped: [], failed: 0, leaked: 1 };
    sfnMock.on(DescribeExecutionCommand).resolves({
      executionArn: ARN,
      stateMachineArn: STATE_MACHINE_ARN,
      name: NAME,
      status: 'SUCCEEDED',
      startDate: START,
      stopDate: new Date(START.getTime() + 842_000),
      output: JSON.stringify(output),
    });
    serveHistory(
      new HistoryBuilder(START).started().entered('Succeed', 'Build Succeeded', output).succeeded(output),
    );
    const io = captureIo('/tmp');

    // Act
    const code = await runStatus([ARN], io, deps());

    // Assess
    expect(code).toBe(2);
    const listing = io.stdout.slice(
      io.stdout.indexOf('==> Resources left behind: cleanup could not remove them; remove them by hand:'),
    );
    expect(listing.slice(0, 3)).toEqual([
      '==> Resources left behind: cleanup could not remove them; remove them by hand:',
      `--> web: instance i-0123 (us-east-1): ${leak.reason}`,
      `    ${leak.hint}`,
    ]);
  });

  it('exits 2 for a failed build whose cause lists resources left behind', async () => {
    // Prepare
    sfnMock.on(DescribeExecutionCommand).resolves({
      executionArn: ARN,
      stateMachineArn: STATE_MACHINE_ARN,
      name: NAME,
      status: 'FAILED',
      startDate: START,
      stopDate: new Date(START.getTime() + 60_000),
      error: 'ProvisionerFailedError',
      cause:
        "Build 'web' errored after 1 minute: exit 1\n  error: ProvisionerFailedError\n" +
        '  left behind security group sg-1 (us-east-1): not deleted: still in use; remove it with: aws ec2 …',
    });
    serveHistory(new HistoryBuilder(START).started().failed('ProvisionerFailedError', 'exit 1'));
    const io = captureIo('/tmp');

    // Act
    const code = await runStatus([ARN], io, deps());

    // Assess
    expect(code).toBe(2);
    expect(io.stdout.join('\n')).toContain('left behind security group sg-1 (us-east-1)');
  });

  it('shows a running build’s last state by execution name, found through the stack, and exits 0', async () => {
    // Prepare
    sfnMock.on(DescribeExecutionCommand, { executionArn: ARN }).resolves({
      executionArn: ARN,
      stateMachineArn: STATE_MACHINE_ARN,
      name: NAME,
      status: 'RUNNING',
      startDate: START,
    });
    const history = new HistoryBuilder(START).started().entered('Task', 'Launch Instance', {});
    for (let i = 0; i < 150; i += 1) history.other('LambdaFunctionScheduled');
    serveHistory(history);
    const io = captureIo('/tmp');

    // Act
    const code = await runStatus([NAME, '--stack', 'AmiBuilder'], io, deps());

    // Assess
    expect(code).toBe(0);
    expect(io.stdout).toContain('Status:     RUNNING');
    expect(io.stdout).toContain('Elapsed:    1 minute 5 seconds');
    expect(io.stdout).toContain('Last state: Launch Instance (entered 2024-01-02T03:04:07.000Z)');
    expect(cfnMock.commandCalls(DescribeStacksCommand)[0]?.args[0].input).toEqual({
      StackName: 'AmiBuilder',
    });
  });

  it('shows a failed build’s error and cause, and exits 1', async () => {
    // Prepare
    sfnMock.on(DescribeExecutionCommand).resolves({
      executionArn: ARN,
      stateMachineArn: STATE_MACHINE_ARN,
      name: NAME,
      status: 'FAILED',
      startDate: START,
      stopDate: new Date(START.getTime() + 180_000),
      error: 'ProvisionerFailedError',
      cause: "Build 'web' errored after 3 minutes: script exited with 2",
    });
    serveHistory(
      new HistoryBuilder(START)
        .started()
        .entered('Fail', 'Build Failed', {})
        .failed('ProvisionerFailedError', 'x'),
    );
    const io = captureIo('/tmp');

    // Act
    const code = await runStatus([ARN], io, deps());

    // Assess
    expect(code).toBe(1);
    expect(io.stdout.slice(-2)).toEqual([
      'Error: ProvisionerFailedError',
      "Cause: Build 'web' errored after 3 minutes: script exited with 2",
    ]);
    expect(io.stdout).toContain('Last state: Build Failed (entered 2024-01-02T03:04:07.000Z)');
  });

  it('says the abort cleanup runs for a stopped build, and exits 1', async () => {
    // Prepare
    sfnMock.on(DescribeExecutionCommand).resolves({
      executionArn: ARN,
      stateMachineArn: STATE_MACHINE_ARN,
      name: NAME,
      status: 'ABORTED',
      startDate: START,
      stopDate: START,
      error: 'UserCancelled',
      cause: 'Stopped from ami-builder build (Ctrl-C)',
    });
    serveHistory(new HistoryBuilder(START).started().aborted());
    const io = captureIo('/tmp');

    // Act
    const code = await runStatus([ARN], io, deps());

    // Assess
    expect(code).toBe(1);
    expect(io.stdout).toContain(
      '==> The execution was stopped: the abort cleanup removes what the build created.',
    );
    expect(io.stdout).toContain('Cause: Stopped from ami-builder build (Ctrl-C)');
  });

  it('fails with a readable message when the execution does not exist', async () => {
    // Prepare
    sfnMock
      .on(DescribeExecutionCommand)
      .rejects(
        Object.assign(new Error(`Execution Does Not Exist: '${ARN}'`), { name: 'ExecutionDoesNotExist' }),
      );
    const io = captureIo('/tmp');

    // Act
    const code = await runStatus([ARN], io, deps());

    // Assess
    expect(code).toBe(1);
    expect(io.stderr).toEqual([`Error: no such execution: Execution Does Not Exist: '${ARN}'`]);
  });

  it('fails with the usage when no execution is given', async () => {
    // Act
    const io = captureIo('/tmp');
    const code = await runStatus([], io, deps());

    // Assess
    expect(code).toBe(1);
    expect(io.stderr[0]).toBe('status expects exactly one argument: the execution ARN or name');
  });
});

describe('executionArnFor', () => {
  it('turns a name into the state machine’s execution ARN and keeps an ARN', () => {
    expect(executionArnFor(NAME, STATE_MACHINE_ARN)).toBe(ARN);
    expect(executionArnFor(ARN, 'ignored')).toBe(ARN);
  });
});

import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandInput,
  type GetCommandInvocationCommandOutput,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AMI_TOOLS_HINT,
  COMMAND_POLL_KEY,
  checkCommand,
  commandWaitBoundSeconds,
  PACKER_BUNDLE_FAILED,
  PACKER_UPLOAD_FAILED,
} from '../../../lambdas/check-command/check-command.js';
import type { FileProvisioner, ShellProvisioner } from '../../../lambdas/shared/config.js';
import {
  BundleUploadError,
  CommandTimeoutError,
  PollPendingError,
  ProvisionerFailedError,
  VolumeBundleError,
  X509UploadError,
} from '../../../lambdas/shared/errors.js';
import { POLL_SCHEDULE, retriesFor, waitedSeconds } from '../../../lambdas/shared/poll.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import type { CommandInfo, CommandKind, TaskEvent } from '../../../lambdas/shared/state.js';
import {
  awsError,
  type BuildStateOverrides,
  makeBuildState,
  makeEnvironment,
  regionOf,
} from '../fixtures.js';

const ssmMock = mockClient(SSMClient);
const deps = { clients: createClients({ ssm: SSMClient }), env: makeEnvironment() };

const COMMAND_ID = '11111111-2222-3333-4444-555555555555';
const INSTANCE_ID = 'i-0123456789abcdef0';

function shell(overrides: Partial<ShellProvisioner> = {}): ShellProvisioner {
  return {
    type: 'shell',
    index: 1,
    name: 'shell',
    inline: ['echo hi'],
    scripts: [],
    environmentVars: [],
    executeCommand: 'chmod +x {{.Path}}; {{.Vars}} {{.Path}}',
    inlineShebang: '/bin/sh -e',
    remoteFolder: '/tmp',
    validExitCodes: [0],
    maxRetries: 0,
    timeoutSeconds: 600,
    pauseBeforeSeconds: 0,
    ...overrides,
  };
}

function commandInfo(kind: CommandKind, overrides: Partial<CommandInfo> = {}): CommandInfo {
  return {
    commandId: COMMAND_ID,
    kind,
    ...(kind === 'provision' ? { provisionerIndex: 0 } : {}),
    attempt: 1,
    stagedPrefix: `staging/build-2024-01-02/amazon-instance/commands/x/`,
    ...overrides,
  };
}

/** A check's event; `retryCount`: the Check state's retries so far (`$$.State.RetryCount`). */
function event(command: CommandInfo, overrides: BuildStateOverrides = {}, retryCount?: number): TaskEvent {
  return {
    ...(retryCount === undefined ? {} : { check: { retryCount, enteredTime: '2030-01-01T00:00:00.000Z' } }),
    build: makeBuildState({
      instance: { instanceId: INSTANCE_ID, architecture: 'x86_64' },
      command,
      ...overrides,
      config: { provisioners: [shell()], ...overrides.config },
    }),
    args: {},
  };
}

type Invocation = Partial<GetCommandInvocationCommandOutput>;

/** Answers GetCommandInvocation per plugin: `runScript`, `downloadFiles`, and the whole invocation (no plugin). */
function invocations(byPlugin: { runScript?: Invocation; downloadFiles?: Invocation; overall?: Invocation }) {
  ssmMock.on(GetCommandInvocationCommand).callsFake((input: GetCommandInvocationCommandInput) => {
    const key = (input.PluginName ?? 'overall') as keyof typeof byPlugin;
    const answer = byPlugin[key];
    if (answer === undefined) throw awsError('InvocationDoesNotExist');
    return { CommandId: input.CommandId, InstanceId: input.InstanceId, ...answer };
  });
}

function failed(code: number, stderr = '', stdout = ''): Invocation {
  return {
    Status: 'Failed',
    StatusDetails: 'Failed',
    ResponseCode: code,
    StandardErrorContent: stderr,
    StandardOutputContent: stdout,
  };
}

async function failure(e: TaskEvent): Promise<Error> {
  try {
    await checkCommand(e, deps);
  } catch (error) {
    return error as Error;
  }
  throw new Error('checkCommand did not throw');
}

describe('checkCommand', () => {
  beforeEach(() => ssmMock.reset());
  afterEach(() => ssmMock.reset());

  it('asks for the run step of the command on the build instance, in the build region', async () => {
    // Prepare
    invocations({ runScript: { Status: 'Success', ResponseCode: 0 } });

    // Act
    await checkCommand(event(commandInfo('x509'), { config: { region: 'eu-central-1' } }), deps);

    // Assess
    const calls = ssmMock.commandCalls(GetCommandInvocationCommand);
    expect(calls[0]?.args[0].input).toEqual({
      CommandId: COMMAND_ID,
      InstanceId: INSTANCE_ID,
      PluginName: 'runScript',
    });
    expect(await regionOf(calls[0]!)).toBe('eu-central-1');
  });

  it('asks the state’s Retry to check again when the invocation does not exist yet, right after the send', async () => {
    // Prepare
    invocations({});

    // Act
    const error = await failure(event(commandInfo('bundle')));

    // Assess
    expect(error).toBeInstanceOf(PollPendingError);
    expect(error.message).toMatch(/is Pending \(check 1, next in 2 s\)\.$/);
  });

  it.each(['Pending', 'InProgress', 'Delayed'])('checks again while the command is %s', async (status) => {
    // Prepare
    invocations({ runScript: { Status: status as 'Pending' }, overall: { Status: 'InProgress' } });

    // Act
    const error = await failure(event(commandInfo('bundle')));

    // Assess
    expect(error).toBeInstanceOf(PollPendingError);
    expect(error.message).toContain(`(command ${COMMAND_ID}) is ${status} (check 1`);
  });

  it('counts the checks of the state’s retries, and restarts for a new command', async () => {
    // Prepare
    invocations({ runScript: { Status: 'Success', ResponseCode: 0 } });
    const previous = { done: true, attempt: 7, waitSeconds: 10, target: 'another-command' };

    // Act
    const result = await checkCommand(
      event(commandInfo('upload'), { poll: { [COMMAND_POLL_KEY]: previous } }, 7),
      deps,
    );

    // Assess
    expect(result.attempt).toBe(8);
  });

  it('checks less often as a command runs on: each delay 8 % longer, up to 5 minutes', async () => {
    // Prepare
    invocations({ runScript: { Status: 'InProgress' } });

    // Act
    const error = await failure(event(commandInfo('bundle'), {}, 30));

    // Assess
    expect(error.message).toMatch(new RegExp(`check 31, next in ${Math.round(2 * 1.08 ** 30)} s`));
    expect(POLL_SCHEDULE).toMatchObject({ intervalSeconds: 2, backoffRate: 1.08, maxDelaySeconds: 300 });
  });

  it('bounds a wait by the timeout plus the delivery timeout and a minute', () => {
    expect(commandWaitBoundSeconds(7200)).toBe(7200 + 660);
    // The longest timeout (48 h) stays far below 25,000 history events at about 5 per retry.
    expect(retriesFor(POLL_SCHEDULE, commandWaitBoundSeconds(172_800)) * 5).toBeLessThan(15_000);
    expect(retriesFor(POLL_SCHEDULE, commandWaitBoundSeconds(172_800))).toBeLessThan(
      POLL_SCHEDULE.maxAttempts,
    );
  });

  it('is done when the command succeeded', async () => {
    // Prepare
    invocations({ runScript: { Status: 'Success', ResponseCode: 0 } });

    // Act
    const result = await checkCommand(event(commandInfo('provision')), deps);

    // Assess
    expect(result).toEqual({
      done: true,
      attempt: 1,
      waitSeconds: 2,
      status: 'Success',
      target: COMMAND_ID,
    });
  });

  it('is done when a provisioner exits with a code listed in valid_exit_codes', async () => {
    // Prepare
    invocations({ runScript: failed(2) });
    const config = { provisioners: [shell({ validExitCodes: [0, 2] })] };

    // Act
    const result = await checkCommand(event(commandInfo('provision'), { config }), deps);

    // Assess
    expect(result).toMatchObject({ done: true, status: 'Failed' });
  });

  it('asks for a retry when a provisioner fails and max_retries allows another attempt', async () => {
    // Prepare
    invocations({ runScript: failed(1, 'boom') });
    const config = { provisioners: [shell({ maxRetries: 2 })] };

    // Act
    const result = await checkCommand(event(commandInfo('provision', { attempt: 2 }), { config }), deps);

    // Assess
    expect(result).toEqual({
      done: false,
      attempt: 1,
      waitSeconds: 2,
      status: 'Failed',
      target: COMMAND_ID,
      retry: true,
    });
  });

  it('fails when the last allowed attempt of a provisioner fails, naming it, the exit code and the output', async () => {
    // Prepare
    invocations({
      runScript: failed(1, 'E: Unable to locate package nginx-full', 'Reading package lists...'),
    });
    const config = { provisioners: [shell({ maxRetries: 2 })] };

    // Act
    const error = await failure(event(commandInfo('provision', { attempt: 3 }), { config }));

    // Assess
    expect(error).toBeInstanceOf(ProvisionerFailedError);
    expect(error.message).toBe(
      'Provisioner 2 (shell) failed with exit code 1 (allowed exit codes: [0]), attempt 3 of 3.\n\n' +
        'Last lines of stderr:\n  E: Unable to locate package nginx-full\n\n' +
        'Last lines of stdout:\n  Reading package lists...\n\n' +
        `Full output: CloudWatch Logs group /ami-builder/commands in us-east-1, streams ${COMMAND_ID}/${INSTANCE_ID}/runScript/stdout and ${COMMAND_ID}/${INSTANCE_ID}/runScript/stderr.`,
    );
  });

  it('names a file provisioner by its name and position', async () => {
    // Prepare
    invocations({ runScript: failed(1, 'mktemp: failed') });
    const file: FileProvisioner = {
      type: 'file',
      index: 4,
      name: 'upload config',
      sources: [],
      content: 'x',
      destination: '/etc/x',
      maxRetries: 0,
      timeoutSeconds: 60,
      pauseBeforeSeconds: 0,
    };

    // Act
    const error = await failure(event(commandInfo('provision'), { config: { provisioners: [file] } }));

    // Assess
    expect(error.message.split('\n')[0]).toBe(
      'Provisioner 5 (upload config) failed with exit code 1 (allowed exit codes: [0]), attempt 1 of 1.',
    );
  });

  it('fails the error-cleanup provisioner with ProvisionerFailedError', async () => {
    // Prepare
    invocations({ runScript: failed(4) });
    const config = { errorCleanupProvisioner: shell({ name: 'collect logs' }) };

    // Act
    const error = await failure(event(commandInfo('error-cleanup'), { config }));

    // Assess
    expect(error).toBeInstanceOf(ProvisionerFailedError);
    expect(error.message).toMatch(/^Error cleanup provisioner \(collect logs\) failed with exit code 4/);
    expect(error.message).toContain('The command printed nothing.');
  });

  it('fails the X.509 upload with X509UploadError', async () => {
    // Prepare
    invocations({ runScript: failed(1, 'mkdir: cannot create directory') });

    // Act
    const error = await failure(event(commandInfo('x509')));

    // Assess
    expect(error).toBeInstanceOf(X509UploadError);
    expect(error.message).toMatch(
      /^Upload X509 Certificate failed with exit code 1: the certificate and key could not/,
    );
    expect(error.message).toContain('mkdir: cannot create directory');
  });

  it('fails bundling with Packer’s message and the AMI tools hint for exit 127', async () => {
    // Prepare
    invocations({ runScript: failed(127, 'sudo: ec2-bundle-vol: command not found') });

    // Act
    const error = await failure(event(commandInfo('bundle')));

    // Assess
    expect(error).toBeInstanceOf(VolumeBundleError);
    expect(error.message).toContain('Bundle Volume failed with exit code 127.');
    expect(error.message).toContain(PACKER_BUNDLE_FAILED);
    expect(error.message).toContain(AMI_TOOLS_HINT);
    expect(error.message.indexOf('command not found')).toBeLessThan(
      error.message.indexOf(PACKER_BUNDLE_FAILED),
    );
  });

  it('gives the AMI tools hint when the output says "command not found", whatever the exit code', async () => {
    // Prepare
    invocations({ runScript: failed(1, '/bin/sh: 1: ec2-bundle-vol: command not found') });

    // Act
    const error = await failure(event(commandInfo('bundle')));

    // Assess
    expect(error.message).toContain(AMI_TOOLS_HINT);
  });

  it('gives no AMI tools hint for another bundling failure', async () => {
    // Prepare
    invocations({ runScript: failed(1, 'ERROR: No space left on device') });

    // Act
    const error = await failure(event(commandInfo('bundle')));

    // Assess
    expect(error.message).toContain(PACKER_BUNDLE_FAILED);
    expect(error.message).not.toContain(AMI_TOOLS_HINT);
  });

  it('fails an upload that exits 3 with Packer’s bucket hint before its upload message', async () => {
    // Prepare
    invocations({ runScript: failed(3, 'ERROR: Bucket owned by someone else') });

    // Act
    const error = await failure(
      event(commandInfo('upload'), { config: { bundle: { bucket: 'team-images' } } }),
    );

    // Assess
    expect(error).toBeInstanceOf(BundleUploadError);
    expect(error.message).toContain(
      'Please check that the bucket `team-images` does not exist, or exists and is writable. This error ' +
        'indicates that the bucket may be owned by somebody else.\n\n' +
        PACKER_UPLOAD_FAILED,
    );
  });

  it('fails an upload with another exit code without the bucket hint', async () => {
    // Prepare
    invocations({ runScript: failed(1, 'network unreachable') });

    // Act
    const error = await failure(event(commandInfo('upload')));

    // Assess
    expect(error).toBeInstanceOf(BundleUploadError);
    expect(error.message).toContain(PACKER_UPLOAD_FAILED);
    expect(error.message).not.toContain('Please check that the bucket');
  });

  it('removes secrets from the quoted output', async () => {
    // Prepare
    const stderr = [
      'Using -a AKIAIOSFODNN7EXAMPLE -s wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      `token=${'IQoJb3JpZ2luX2VjEJr'.repeat(10)}`,
      '-----BEGIN RSA PRIVATE KEY-----',
      'MIIEpAIBAAKCAQEA7',
      '-----END RSA PRIVATE KEY-----',
      'commit 0123456789abcdef0123456789abcdef01234567 is fine',
    ].join('\n');
    invocations({ runScript: failed(1, stderr) });

    // Act
    const error = await failure(event(commandInfo('upload')));

    // Assess
    expect(error.message).not.toMatch(/AKIAIOSFODNN7EXAMPLE|wJalrXUtnFEMI|IQoJb3JpZ2lu|MIIEpAIBAAKCAQEA7/);
    expect(error.message).toContain('[REDACTED PEM BLOCK]');
    expect(error.message).toContain('0123456789abcdef0123456789abcdef01234567 is fine');
  });

  it('quotes only the last 20 lines of each stream', async () => {
    // Prepare
    const stdout = Array.from({ length: 50 }, (_, i) => `line ${i + 1}`).join('\n');
    invocations({ runScript: failed(1, '', stdout) });

    // Act
    const error = await failure(event(commandInfo('bundle')));

    // Assess
    expect(error.message).toContain('  line 31\n');
    expect(error.message).toContain('  line 50\n');
    expect(error.message).not.toContain('  line 30\n');
  });

  it('says where the output is when no log group is configured', async () => {
    // Prepare
    invocations({ runScript: failed(1) });

    // Act
    const error = await checkCommand(event(commandInfo('x509')), {
      ...deps,
      env: makeEnvironment({ commandLogGroup: '' }),
    }).catch((e: Error) => e);

    // Assess
    expect((error as Error).message).toContain(
      `Full output: Systems Manager > Run Command > command ${COMMAND_ID}`,
    );
  });

  it('fails with the download step’s error when the instance could not fetch the staged folder', async () => {
    // Prepare
    invocations({
      overall: { Status: 'Failed', StatusDetails: 'Failed', ResponseCode: 1 },
      downloadFiles: { ...failed(1, 'AccessDenied: Access Denied'), Status: 'Failed' },
    });

    // Act
    const error = await failure(event(commandInfo('x509')));

    // Assess
    expect(error).toBeInstanceOf(X509UploadError);
    expect(error.message).toContain('the instance could not download its staged files');
    expect(error.message).toContain('AccessDenied: Access Denied');
  });

  it('fails with CommandTimeoutError naming the step and the timeout when SSM timed the command out', async () => {
    // Prepare
    invocations({ runScript: { Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut', ResponseCode: -1 } });

    // Act
    const error = await failure(event(commandInfo('bundle'), { config: { commandTimeoutSeconds: 3600 } }));

    // Assess
    expect(error).toBeInstanceOf(CommandTimeoutError);
    expect(error.message).toMatch(
      /^Bundle Volume \(command 1111.*\) timed out\. Its timeout is 3600 s; raise command_timeout/,
    );
  });

  it('says the command was not delivered when delivery timed out', async () => {
    // Prepare
    invocations({ overall: { Status: 'TimedOut', StatusDetails: 'DeliveryTimedOut' } });

    // Act
    const error = await failure(event(commandInfo('upload')));

    // Assess
    expect(error).toBeInstanceOf(CommandTimeoutError);
    expect(error.message).toContain('was not delivered to the SSM agent within 600 s');
  });

  it('retries a provisioner that timed out when max_retries allows', async () => {
    // Prepare
    invocations({ runScript: { Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut' } });
    const config = { provisioners: [shell({ maxRetries: 1 })] };

    // Act
    const result = await checkCommand(event(commandInfo('provision'), { config }), deps);

    // Assess
    expect(result).toMatchObject({ done: false, retry: true, status: 'TimedOut' });
  });

  it('fails with CommandTimeoutError when the command was cancelled', async () => {
    // Prepare
    invocations({ runScript: { Status: 'Cancelled', StatusDetails: 'Cancelled' } });

    // Act
    const error = await failure(event(commandInfo('provision')));

    // Assess
    expect(error).toBeInstanceOf(CommandTimeoutError);
    expect(error.message).toContain(
      "Provisioner 2 (shell) (command 11111111-2222-3333-4444-555555555555) was cancelled. Its timeout is 600 s; raise the provisioner's timeout",
    );
  });

  it('cancels the command and fails when it outlives its bound', async () => {
    // Prepare
    invocations({ runScript: { Status: 'InProgress' } });
    ssmMock.on(CancelCommandCommand).resolves({});
    const retries = retriesFor(POLL_SCHEDULE, commandWaitBoundSeconds(600));

    // Act
    const before = await failure(event(commandInfo('provision'), {}, retries - 1));
    const error = await failure(event(commandInfo('provision'), {}, retries));

    // Assess
    expect(before).toBeInstanceOf(PollPendingError);
    expect(error).toBeInstanceOf(CommandTimeoutError);
    expect(error.message).toContain(
      `was still InProgress after ${retries + 1} checks (${Math.round(waitedSeconds(POLL_SCHEDULE, retries))} s)`,
    );
    expect(ssmMock.commandCalls(CancelCommandCommand)).toHaveLength(1);
    expect(ssmMock.commandCalls(CancelCommandCommand)[0]?.args[0].input).toEqual({
      CommandId: COMMAND_ID,
      InstanceIds: [INSTANCE_ID],
    });
  });

  it('fails with the error of the call when GetCommandInvocation fails otherwise', async () => {
    // Prepare
    ssmMock.on(GetCommandInvocationCommand).rejects(awsError('AccessDeniedException'));

    // Act
    const error = await failure(event(commandInfo('bundle')));

    // Assess
    expect(error.name).toBe('AccessDeniedException');
  });
});

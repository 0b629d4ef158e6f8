/**
 * Check Provisioner Command / Check X509 Upload / Check Bundle Volume / Check Upload Bundle: one check of the
 * SSM command at `$.command` (docs/ARCHITECTURE.md, "Poll loops", key `command`). Packer blocks on the SSH
 * session until the remote command exits; here the Check state polls `GetCommandInvocation`, its Retry on
 * PollPendingError checking again on the poll schedule (lambdas/shared/poll.ts).
 *
 * A failure names the step, the exit code and the last lines of its output (scrubbed of secrets), and says where
 * the full output is; the bundle and upload steps add Packer's own explanations.
 */
import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
} from '@aws-sdk/client-ssm';
import { COMMAND_STEP_DOWNLOAD, COMMAND_STEP_RUN } from '../shared/command-document.js';
import type { BuildConfig } from '../shared/config.js';
import {
  AmiTestFailedError,
  BundleUploadError,
  CommandTimeoutError,
  ProvisionerFailedError,
  VolumeBundleError,
  X509UploadError,
} from '../shared/errors.js';
import { checkProgress, nextAttempt, pending, pollResult } from '../shared/poll.js';
import type { Clients, TaskEnvironment } from '../shared/runtime.js';
import {
  commandMaxRetries,
  commandStepName,
  commandTimeoutSeconds,
  commandValidExitCodes,
  DELIVERY_TIMEOUT_SECONDS,
} from '../shared/scripts/command.js';
import type { CommandInfo, PollResult, TaskEvent } from '../shared/state.js';
import { requireState } from '../shared/task-event.js';
import { outputExcerpt } from './output.js';

export interface CheckCommandDeps {
  clients: Pick<Clients, 'ssm'>;
  env: Pick<TaskEnvironment, 'commandLogGroup'>;
}

/** `$.poll` key of every command wait. */
export const COMMAND_POLL_KEY = 'command';

/** Beyond the execution timeout: delivery (up to 600 s) plus a minute of reporting delay. */
const SLACK_SECONDS = DELIVERY_TIMEOUT_SECONDS + 60;

/**
 * How long one command is waited for: its execution timeout, plus the delivery timeout and a minute, so that SSM
 * itself reports TimedOut first in every normal case.
 */
export function commandWaitBoundSeconds(timeoutSeconds: number): number {
  return timeoutSeconds + SLACK_SECONDS;
}

/** Statuses that are not final yet. */
const RUNNING = new Set(['Pending', 'InProgress', 'Delayed']);

/** Packer's message for a failed `bundle_vol_command` (`step_bundle_volume.go`). */
export const PACKER_BUNDLE_FAILED =
  'Volume bundling failed. Please see the output above for more details on what went wrong.\n\n' +
  'One common cause for this error is ec2-bundle-vol not being available on the target instance.';

/** Packer's message for a failed `bundle_upload_command` (`step_upload_bundle.go`). */
export const PACKER_UPLOAD_FAILED =
  'Bundle upload failed. Please see the output above for more\ndetails on what went wrong.';

/** Packer's message for exit code 3 of the upload command. */
export function packerBucketHint(bucket: string): string {
  return (
    `Please check that the bucket \`${bucket}\` does not exist, or exists and is writable. ` +
    'This error indicates that the bucket may be owned by somebody else.'
  );
}

/** Said when a bundle tool was not found (exit 127 or "command not found"). */
export const AMI_TOOLS_HINT =
  'The EC2 AMI Tools (ec2-bundle-vol, ec2-upload-bundle) are not installed on the instance, or not on the ' +
  "PATH of root's login shell (the default commands use `sudo -i`). Install them with a provisioner (for " +
  'example a shell provisioner that downloads https://s3.amazonaws.com/ec2-downloads/ec2-ami-tools.zip, unpacks ' +
  'it and links its bin/ into /usr/local/bin, with Ruby installed) or use a source AMI that has them.';

type Invocation = GetCommandInvocationCommandOutput;

async function getInvocation(
  deps: CheckCommandDeps,
  region: string,
  commandId: string,
  instanceId: string,
  pluginName?: string,
): Promise<Invocation | undefined> {
  try {
    return await deps.clients.ssm(region).send(
      new GetCommandInvocationCommand({
        CommandId: commandId,
        InstanceId: instanceId,
        ...(pluginName === undefined ? {} : { PluginName: pluginName }),
      }),
    );
  } catch (error) {
    // Right after SendCommand the invocation may not exist yet.
    if ((error as Error).name === 'InvocationDoesNotExist') return undefined;
    throw error;
  }
}

function isFinalFailure(status: string | undefined): boolean {
  return status === 'Failed' || status === 'TimedOut' || status === 'Cancelled' || status === 'Cancelling';
}

/** Where the whole output of a command is. */
export function outputLocation(
  env: Pick<TaskEnvironment, 'commandLogGroup'>,
  region: string,
  commandId: string,
  instanceId: string,
): string {
  const stream = `${commandId}/${instanceId}/${COMMAND_STEP_RUN}`;
  if (env.commandLogGroup === '') {
    return `Full output: Systems Manager > Run Command > command ${commandId} (${region}).`;
  }
  return (
    `Full output: CloudWatch Logs group ${env.commandLogGroup} in ${region}, ` +
    `streams ${stream}/stdout and ${stream}/stderr.`
  );
}

interface Failure {
  code: number | undefined;
  excerpt: string;
  /** stdout + stderr, scrubbed or not: only searched for "command not found". */
  raw: string;
  /** Why the script did not run at all (the download step failed, the instance went away…). */
  notRun?: string;
}

function headline(step: string, failure: Failure, validExitCodes: number[] | undefined): string {
  if (failure.notRun !== undefined) return `${step} failed: ${failure.notRun}`;
  const allowed = validExitCodes === undefined ? '' : ` (allowed exit codes: [${validExitCodes.join(' ')}])`;
  return `${step} failed with exit code ${String(failure.code)}${allowed}`;
}

function failureError(config: BuildConfig, command: CommandInfo, failure: Failure, location: string): Error {
  const step = commandStepName(config, command);
  const tries = commandMaxRetries(config, command) + 1;
  const notFound = failure.code === 127 || /command not found/i.test(failure.raw);
  switch (command.kind) {
    case 'provision':
    case 'error-cleanup': {
      const codes = commandValidExitCodes(config, command);
      return new ProvisionerFailedError(
        `${headline(step, failure, codes)}, attempt ${command.attempt} of ${tries}.\n\n${failure.excerpt}\n\n${location}`,
      );
    }
    case 'x509':
      return new X509UploadError(
        `${headline(step, failure, undefined)}: the certificate and key could not be installed in ` +
          `${config.x509.uploadPath}.\n\n${failure.excerpt}\n\n${location}`,
      );
    case 'bundle':
      return new VolumeBundleError(
        `${headline(step, failure, undefined)}.\n\n${failure.excerpt}\n\n${PACKER_BUNDLE_FAILED}` +
          `${notFound ? `\n\n${AMI_TOOLS_HINT}` : ''}\n\n${location}`,
      );
    case 'test':
      return new AmiTestFailedError(
        `${headline(step, failure, commandValidExitCodes(config, command))} on the instance launched from the new ` +
          `AMI: the AMI did not pass its test.${testFailureFate(config)}\n\n${failure.excerpt}\n\n${location}`,
      );
    case 'upload': {
      const bucketHint = failure.code === 3 ? `${packerBucketHint(config.bundle.bucket)}\n\n` : '';
      return new BundleUploadError(
        `${headline(step, failure, undefined)}.\n\n${failure.excerpt}\n\n${bucketHint}${PACKER_UPLOAD_FAILED}` +
          `${notFound ? `\n\n${AMI_TOOLS_HINT}` : ''}\n\n${location}`,
      );
    }
  }
}

/** What happens to the AMI after its test failed, as the failure message says it. */
function testFailureFate(config: BuildConfig): string {
  return config.amiTest?.onFailure === 'keep'
    ? ' on_failure is keep: the AMI is kept, tagged ami-builder:ami-test=failed; deregister it when done.'
    : ' on_failure is deregister: the AMI is deregistered and its bundle deleted.';
}

function timeoutError(config: BuildConfig, command: CommandInfo, why: string, location: string): Error {
  const step = commandStepName(config, command);
  const provisioner = command.kind === 'provision' || command.kind === 'error-cleanup';
  if (command.kind === 'test') {
    return new AmiTestFailedError(
      `${step} (command ${command.commandId}) ${why}. Its timeout is ${commandTimeoutSeconds(config, command)} s; ` +
        `raise ami_test.timeout if the test needs longer.${testFailureFate(config)}\n\n${location}`,
    );
  }
  const knob = provisioner ? "the provisioner's timeout" : 'command_timeout';
  return new CommandTimeoutError(
    `${step} (command ${command.commandId}) ${why}. Its timeout is ${commandTimeoutSeconds(config, command)} s; ` +
      `raise ${knob} if the step needs longer.\n\n${location}`,
  );
}

/** Best effort: a command that outlived our bound should not go on running on a kept instance. */
async function cancel(deps: CheckCommandDeps, region: string, commandId: string, instanceId: string) {
  try {
    await deps.clients
      .ssm(region)
      .send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [instanceId] }));
  } catch {
    // The timeout error below is what matters; the instance is terminated by cleanup anyway.
  }
}

/** Why the download step did not deliver the staged folder, when that is why the script never ran. */
async function downloadFailure(
  deps: CheckCommandDeps,
  region: string,
  command: CommandInfo,
  instanceId: string,
  overall: Invocation,
): Promise<Failure> {
  const download = await getInvocation(deps, region, command.commandId, instanceId, COMMAND_STEP_DOWNLOAD);
  const details = overall.StatusDetails ?? overall.Status ?? 'unknown';
  if (download !== undefined && isFinalFailure(download.Status)) {
    return {
      code: download.ResponseCode,
      excerpt: outputExcerpt(download.StandardOutputContent, download.StandardErrorContent),
      raw: '',
      notRun:
        `the instance could not download its staged files (s3://…/${command.stagedPrefix}; status ` +
        `${download.StatusDetails ?? download.Status}). The instance role needs s3:GetObject and s3:ListBucket ` +
        'on the staging bucket, and the instance a route to S3',
    };
  }
  return {
    code: overall.ResponseCode,
    excerpt: outputExcerpt(overall.StandardOutputContent, overall.StandardErrorContent),
    raw: '',
    notRun: `the command did not run (status ${details})`,
  };
}

/**
 * One check of `$.command` on `$.instance`. Not final: {@link PollPendingError}, checked again by the state's
 * Retry. Success, or an exit code in `valid_exit_codes`: `{ done: true }`. A failure or SSM timeout with
 * `max_retries` left: `{ done: false, retry: true }` (the Choice sends the command again).
 *
 * @throws PollPendingError while the command is not final.
 * @throws ProvisionerFailedError / X509UploadError / VolumeBundleError / BundleUploadError when the command failed
 *   and no retry is left.
 * @throws CommandTimeoutError when SSM timed the command out or cancelled it, or it outlived
 *   {@link commandWaitBoundSeconds} of waiting.
 */
export async function checkCommand(event: TaskEvent, deps: CheckCommandDeps): Promise<PollResult> {
  const { build } = event;
  const { config } = build;
  const region = config.region;
  const command = requireState(build, 'command');
  const { instanceId } = requireState(build, command.kind === 'test' ? 'testInstance' : 'instance');
  const { commandId } = command;
  const progress = checkProgress(event.check, COMMAND_POLL_KEY);
  const attempt = nextAttempt(build, COMMAND_POLL_KEY, commandId) + progress.attempt - 1;
  const waitSeconds = progress.nextDelaySeconds;
  const location = outputLocation(deps.env, region, commandId, instanceId);
  const retriesLeft = command.attempt < commandMaxRetries(config, command) + 1;
  const result = (done: boolean, status: string, retry?: boolean) =>
    pollResult({ done, attempt, waitSeconds, status, target: commandId, ...(retry ? { retry } : {}) });

  let invocation = await getInvocation(deps, region, commandId, instanceId, COMMAND_STEP_RUN);
  let failure: Failure | undefined;
  if (invocation === undefined || invocation.Status === 'Pending') {
    // The run step has not started: maybe the download step is still running, maybe it failed.
    const overall = await getInvocation(deps, region, commandId, instanceId);
    if (overall !== undefined && isFinalFailure(overall.Status)) {
      if (overall.Status === 'TimedOut' || overall.Status?.startsWith('Cancel')) invocation = overall;
      else failure = await downloadFailure(deps, region, command, instanceId, overall);
    }
  }

  const status = invocation?.Status ?? 'Pending';
  if (failure === undefined) {
    if (RUNNING.has(status)) {
      if (progress.waitedSeconds >= commandWaitBoundSeconds(commandTimeoutSeconds(config, command))) {
        await cancel(deps, region, commandId, instanceId);
        throw timeoutError(
          config,
          command,
          `was still ${status} after ${attempt} checks (${Math.round(progress.waitedSeconds)} s)`,
          location,
        );
      }
      throw pending(`${commandStepName(config, command)} (command ${commandId})`, status, progress);
    }
    if (status === 'Success') return result(true, status);
    if (status === 'Cancelled' || status === 'Cancelling') {
      throw timeoutError(config, command, 'was cancelled', location);
    }
    if (status === 'TimedOut') {
      if (retriesLeft) return result(false, status, true);
      const why =
        invocation?.StatusDetails === 'DeliveryTimedOut'
          ? `was not delivered to the SSM agent within ${DELIVERY_TIMEOUT_SECONDS} s (is the instance still online?)`
          : 'timed out';
      throw timeoutError(config, command, why, location);
    }
    const code = invocation?.ResponseCode;
    if (code !== undefined && code >= 0 && commandValidExitCodes(config, command).includes(code)) {
      return result(true, status);
    }
    failure = {
      code,
      excerpt: outputExcerpt(invocation?.StandardOutputContent, invocation?.StandardErrorContent),
      raw: `${invocation?.StandardOutputContent ?? ''}\n${invocation?.StandardErrorContent ?? ''}`,
      ...(code === undefined || code < 0
        ? { notRun: `the command did not complete (status ${invocation?.StatusDetails ?? status})` }
        : {}),
    };
  }
  if (retriesLeft) return result(false, 'Failed', true);
  throw failureError(config, command, failure, location);
}

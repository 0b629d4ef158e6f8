/**
 * Communicator (Packer SDK `communicator/config.go`) and this system's extensions: the wait for the SSM agent,
 * `on_error`, `command_timeout`, `ami_id_parameter`, `skip_if_unchanged`.
 */
import type { OnError } from '../../config.js';
import { describeValue } from '../decode.js';
import { type BuilderScope, MAX_COMMAND_SECONDS, SSM_PARAMETER, UNIX_USER } from './common.js';

/** Decodes and checks this section's keys. */
export function decodeCommunicator(scope: BuilderScope) {
  const { d, report } = scope;
  const communicator = d.nonEmpty('communicator');
  if (communicator !== undefined && communicator !== 'ssh' && communicator !== 'none') {
    report.error(
      d.at('communicator'),
      `communicator ${JSON.stringify(communicator)} is not supported: builds are Linux only and every command runs through SSM Run Command (use "ssh" or leave it out)`,
    );
  }
  const runAsUser = d.nonEmpty('ssh_username');
  if (runAsUser !== undefined && !UNIX_USER.test(runAsUser)) {
    report.error(
      d.at('ssh_username'),
      `ssh_username must be a Unix user name (up to 32 letters, digits, _ . -, starting with a letter or _), got ${describeValue(runAsUser)}`,
    );
  }
  if (
    d.nonEmpty('ssh_keypair_name') !== undefined &&
    d.nonEmpty('ssh_private_key_file') === undefined &&
    d.boolean('ssh_agent_auth') !== true
  ) {
    report.error(
      d.path,
      'ssh_private_key_file must be provided or ssh_agent_auth enabled when ssh_keypair_name is specified.',
    );
  }
  // keys.ts bounds both at 3h: the wait for the SSM agent counts toward the execution's history.
  const timeout = d.number('ssh_timeout') || d.number('ssh_wait_timeout') || 300;

  // ---- Extensions ----
  const onError = (d.nonEmpty('on_error') ?? 'cleanup') as OnError;
  const commandTimeout = d.number('command_timeout') ?? 7200;
  if (commandTimeout === 0 || commandTimeout > MAX_COMMAND_SECONDS) {
    report.error(
      d.at('command_timeout'),
      `command_timeout must be more than 0s and at most 48h (SSM's limit), got ${commandTimeout}s`,
    );
  }
  const amiIdParameter = d.nonEmpty('ami_id_parameter');
  if (
    amiIdParameter !== undefined &&
    (!SSM_PARAMETER.test(amiIdParameter) || /^\/(aws|ssm)/i.test(amiIdParameter))
  ) {
    report.error(
      d.at('ami_id_parameter'),
      `ami_id_parameter must be an SSM parameter name starting with "/" (letters, digits, _ . - /; not under /aws or /ssm), got ${describeValue(amiIdParameter)}`,
    );
  }
  const skipIfUnchanged = d.boolean('skip_if_unchanged') ?? false;
  return { runAsUser, timeout, onError, commandTimeout, amiIdParameter, skipIfUnchanged };
}

export type CommunicatorSection = ReturnType<typeof decodeCommunicator>;

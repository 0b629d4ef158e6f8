/**
 * Communicator (Packer SDK `communicator/config.go`) and this system's extensions: the wait for the SSM agent,
 * `on_error`, `command_timeout`, `ami_id_parameter`, `skip_if_unchanged`.
 */
import type { OnError } from '../../config.js';
import { type BuildRetention, defaultFamily, MAX_FAMILY_LENGTH } from '../../retention-policy.js';
import { describeValue, hasControlCharacter } from '../decode.js';
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
  const { family, retention } = decodeRetention(scope);
  return { runAsUser, timeout, onError, commandTimeout, amiIdParameter, skipIfUnchanged, family, retention };
}

/** `ami_retention`: the family's policy, and the family name (always: a build without retention has one too). */
function decodeRetention(scope: BuilderScope): { family: string; retention?: BuildRetention } {
  const { d, report, name, rawAmiName } = scope;
  const block = d.object('ami_retention');
  const at = d.at('ami_retention');
  const explicit = block?.nonEmpty('family');
  if (explicit !== undefined) {
    if (explicit.length > MAX_FAMILY_LENGTH || hasControlCharacter(explicit)) {
      report.error(
        at,
        `ami_retention.family must be at most ${MAX_FAMILY_LENGTH} characters without control characters (it is the value of the ami-builder:family tag), got ${describeValue(explicit)}`,
      );
    }
  }
  const family = explicit ?? defaultFamily(name, rawAmiName ?? '');
  if (block === undefined || d.failed.has('ami_retention')) return { family };
  const keepLatest = block.number('keep_latest');
  const keepDays = block.number('keep_days');
  if (!block.failed.has('keep_latest') && !block.failed.has('keep_days')) {
    if (keepLatest === undefined && keepDays === undefined) {
      report.error(
        at,
        'ami_retention needs keep_latest or keep_days (or both): without either it would keep every image',
      );
    }
  }
  const deprecateFirstDays = block.number('deprecate_first_days');
  const retention: BuildRetention = {
    source: 'template',
    deleteBundles: block.boolean('delete_bundles') ?? true,
  };
  if (keepLatest !== undefined) retention.keepLatest = keepLatest;
  if (keepDays !== undefined) retention.keepDays = keepDays;
  if (deprecateFirstDays !== undefined && deprecateFirstDays > 0)
    retention.deprecateFirstDays = deprecateFirstDays;
  if (
    d.object('deregistration_protection')?.boolean('enabled') === true ||
    d.object('deregistration_protection')?.boolean('with_cooldown') === true
  ) {
    report.warn(
      at,
      'ami_retention with deregistration_protection: retention cannot deregister a protected image; it reports each one it has to keep',
    );
  }
  return { family, retention };
}

export type CommunicatorSection = ReturnType<typeof decodeCommunicator>;

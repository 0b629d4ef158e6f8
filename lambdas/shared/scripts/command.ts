/**
 * What Send Command and Check Command agree on about one command: which provisioner it runs, its timeout, how
 * many times it may be tried, and how messages name it.
 */
import type { BuildConfig, Provisioner } from '../config.js';
import { TaskInputError } from '../errors.js';
import type { CommandKind } from '../state.js';

/** `executionTimeout` cannot exceed this (AWS-RunShellScript's and the command document's limit). */
export const MAX_EXECUTION_TIMEOUT_SECONDS = 172_800;

/** SendCommand's `TimeoutSeconds`: how long SSM tries to deliver the command to the agent. */
export const DELIVERY_TIMEOUT_SECONDS = 600;

/** The command a task is about: its kind and, for `provision`, the index in `config.provisioners`. */
export interface CommandRef {
  kind: CommandKind;
  provisionerIndex?: number;
}

/**
 * The provisioner a `provision` or `error-cleanup` command runs; undefined for the other kinds.
 *
 * @throws TaskInputError when the index or the error-cleanup provisioner does not exist (a wiring bug).
 */
export function commandProvisioner(config: BuildConfig, ref: CommandRef): Provisioner | undefined {
  if (ref.kind === 'provision') {
    const index = ref.provisionerIndex;
    const provisioner = index === undefined ? undefined : config.provisioners[index];
    if (provisioner === undefined) {
      throw new TaskInputError(
        `provisioner index ${String(index)} is not in config.provisioners (${config.provisioners.length} provisioner(s))`,
      );
    }
    return provisioner;
  }
  if (ref.kind === 'error-cleanup') {
    if (config.errorCleanupProvisioner === undefined) {
      throw new TaskInputError(
        'an error-cleanup command was requested but the build has no error-cleanup-provisioner',
      );
    }
    return config.errorCleanupProvisioner;
  }
  if (ref.kind === 'test') {
    if (config.amiTest === undefined) {
      throw new TaskInputError('an ami_test command was requested but the build has no ami_test');
    }
    return config.amiTest.commands;
  }
  return undefined;
}

/**
 * The command's `executionTimeout`: the provisioner's `timeout` for provisioners, else the build's
 * `command_timeout` (default 7200 s), capped at {@link MAX_EXECUTION_TIMEOUT_SECONDS}.
 */
export function commandTimeoutSeconds(config: BuildConfig, ref: CommandRef): number {
  const provisioner = commandProvisioner(config, ref);
  const seconds = provisioner?.timeoutSeconds ?? config.commandTimeoutSeconds;
  const whole = Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : config.commandTimeoutSeconds;
  return Math.min(Math.max(1, whole), MAX_EXECUTION_TIMEOUT_SECONDS);
}

/** `max_retries` of the provisioner; the bundle and X.509 commands are tried once, as in Packer. */
export function commandMaxRetries(config: BuildConfig, ref: CommandRef): number {
  return Math.max(0, commandProvisioner(config, ref)?.maxRetries ?? 0);
}

/** `valid_exit_codes` of a shell provisioner; `[0]` for everything else. */
export function commandValidExitCodes(config: BuildConfig, ref: CommandRef): number[] {
  const provisioner = commandProvisioner(config, ref);
  if (provisioner?.type === 'shell' && provisioner.validExitCodes.length > 0)
    return provisioner.validExitCodes;
  return [0];
}

/**
 * How messages name the command: `Provisioner 2 (shell)` (its 1-based position in the template and its name),
 * `Error cleanup provisioner (shell)`, `Upload X509 Certificate`, `Bundle Volume`, `Upload Bundle`.
 */
export function commandStepName(config: BuildConfig, ref: CommandRef): string {
  const provisioner = commandProvisioner(config, ref);
  switch (ref.kind) {
    case 'provision':
      return `Provisioner ${(provisioner?.index ?? 0) + 1} (${provisioner?.name ?? 'shell'})`;
    case 'error-cleanup':
      return `Error cleanup provisioner (${provisioner?.name ?? 'shell'})`;
    case 'x509':
      return 'Upload X509 Certificate';
    case 'bundle':
      return 'Bundle Volume';
    case 'upload':
      return 'Upload Bundle';
    case 'test':
      return 'AMI test (ami_test)';
  }
}

/**
 * `ami-builder retention [--dry-run] [--stack NAME] [--region R]`: runs the stack's Apply Retention function
 * over every image family now, as its daily schedule does, and prints what it retired (or, with `--dry-run`, what
 * would go; nothing is changed). It runs with the function's role: the caller needs only `lambda:InvokeFunction`.
 * Exits 0 unless an image the policy retires could not be deprecated or deregistered.
 */
import type { RetentionReport } from '../lambdas/apply-retention/apply-retention.js';
import { describeRetention } from '../lambdas/apply-retention/apply-retention.js';
import { type FlagSpec, flagUsage } from './args.js';
import type { CliIo, Command } from './io.js';
import {
  runStackFunctionCommand,
  type StackFunctionCommand,
  type StackFunctionCommandDeps,
  stackFunctionDeps,
} from './stack-function-command.js';
import { STACK_FLAGS } from './status.js';

const FLAGS: Readonly<Record<string, FlagSpec>> = {
  ...STACK_FLAGS,
  'dry-run': {
    kind: 'boolean',
    description: 'List what would be deprecated or deregistered; change nothing.',
  },
};

export const RETENTION_USAGE = [
  'Usage: ami-builder retention [--dry-run] [--stack NAME] [--region R]',
  '',
  '  Applies the retention policy of every image family of the stack, as it does daily: the images',
  '  beyond the policy (ami_retention, or the stack’s retention default) are deprecated, then',
  '  deregistered in every region, and their bundles deleted. Never touches another stack’s image, an',
  '  image an ami_id_parameter points to, one a running instance or a launch template’s default version',
  '  uses, or the newest build of a family.',
  '',
  'Options:',
  ...flagUsage(FLAGS),
].join('\n');

export type RetentionCommandDeps = StackFunctionCommandDeps<RetentionReport>;

const RETENTION: StackFunctionCommand<RetentionReport> = {
  name: 'retention',
  usage: RETENTION_USAGE,
  flags: FLAGS,
  describe: describeRetention,
  failed: (report) => report.families.flatMap((f) => f.actions).some((a) => a.action === 'failed'),
};

/** Runs `retention` with the given dependencies. */
export function runRetention(
  args: readonly string[],
  io: CliIo,
  deps: RetentionCommandDeps,
): Promise<number> {
  return runStackFunctionCommand(RETENTION, args, io, deps);
}

export const command: Command = {
  usage: RETENTION_USAGE,
  run: (args, io) => runRetention(args, io, stackFunctionDeps(io, 'retentionFunctionName', 'retention')),
};

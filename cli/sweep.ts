/**
 * `ami-builder sweep [--dry-run] [--stack NAME] [--region R]`: runs the stack's Sweep Orphans function now, as
 * its daily schedule does, and prints what it removed (or, with `--dry-run`, what it would remove). The sweep
 * runs with the function's role, not the caller's credentials: the caller needs only `lambda:InvokeFunction`.
 * Exits 0 when nothing was kept that the sweep meant to remove, 1 otherwise.
 */
import type { SweepReport } from '../lambdas/sweep-orphans/sweep-orphans.js';
import { describeSweep } from '../lambdas/sweep-orphans/sweep-orphans.js';
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
  'dry-run': { kind: 'boolean', description: 'List what would be removed; change nothing.' },
};

export const SWEEP_USAGE = [
  'Usage: ami-builder sweep [--dry-run] [--stack NAME] [--region R]',
  '',
  '  Removes what ended builds left behind, as the stack does daily: instances, security groups,',
  '  temporary roles and staged files of executions that no longer run, and the AMIs of failed builds',
  '  (with their bundles). Never touches a running build, another stack, resources kept by',
  '  on_error=abort, or an AMI an ami_id_parameter points to.',
  '',
  'Options:',
  ...flagUsage(FLAGS),
].join('\n');

export type SweepCommandDeps = StackFunctionCommandDeps<SweepReport>;

const SWEEP: StackFunctionCommand<SweepReport> = {
  name: 'sweep',
  usage: SWEEP_USAGE,
  flags: FLAGS,
  describe: describeSweep,
  failed: (report) => report.resources.some((r) => r.action === 'kept' && r.reason.startsWith('could not')),
};

/** Runs `sweep` with the given dependencies. */
export function runSweep(args: readonly string[], io: CliIo, deps: SweepCommandDeps): Promise<number> {
  return runStackFunctionCommand(SWEEP, args, io, deps);
}

export const command: Command = {
  usage: SWEEP_USAGE,
  run: (args, io) => runSweep(args, io, stackFunctionDeps(io, 'sweepFunctionName', 'the sweep')),
};

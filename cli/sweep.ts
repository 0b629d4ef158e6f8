/**
 * `ami-builder sweep [--dry-run] [--stack NAME] [--region R]`: runs the stack's Sweep Orphans function now, as
 * its daily schedule does, and prints what it removed (or, with `--dry-run`, what it would remove). The sweep
 * runs with the function's role, not the caller's credentials: the caller needs only `lambda:InvokeFunction`.
 * Exits 0 when nothing was kept that the sweep meant to remove, 1 otherwise.
 */
import type { SweepReport } from '../lambdas/sweep-orphans/sweep-orphans.js';
import { describeSweep } from '../lambdas/sweep-orphans/sweep-orphans.js';
import { type FlagSpec, flagUsage, parseArgs } from './args.js';
import { invokeStackFunction } from './invoke-function.js';
import type { CliIo, Command } from './io.js';
import { cliClients, DEFAULT_STACK_NAME, findStackOutputs } from './stack.js';
import { describeCliError, STACK_FLAGS } from './status.js';

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

export interface SweepCommandDeps {
  /** Invokes the sweep function with the request and returns its report. */
  invoke: (
    region: string | undefined,
    functionName: string,
    request: { dryRun: boolean },
  ) => Promise<SweepReport>;
  /** The deployed stack's sweep function. */
  functionName: (region: string | undefined, stackName: string) => Promise<string>;
}

const defaultDeps = (io: CliIo): SweepCommandDeps => ({
  functionName: async (region, stackName) =>
    (await findStackOutputs(cliClients(region, io.env).cloudformation, stackName, ['sweepFunctionName']))
      .sweepFunctionName,
  invoke: (region, functionName, request) =>
    invokeStackFunction<SweepReport>(region, functionName, request, 'the sweep'),
});

/** Runs `sweep` with the given dependencies. */
export async function runSweep(args: readonly string[], io: CliIo, deps: SweepCommandDeps): Promise<number> {
  const parsed = parseArgs(args, FLAGS);
  if (parsed.errors.length > 0 || parsed.positional.length > 0) {
    for (const e of parsed.errors) io.err(e);
    if (parsed.positional.length > 0) io.err('sweep takes no arguments');
    io.err('');
    io.err(SWEEP_USAGE);
    return 1;
  }
  const stackName = parsed.values.get('stack')?.[0] ?? DEFAULT_STACK_NAME;
  const region = parsed.values.get('region')?.[0];
  const dryRun = parsed.booleans.get('dry-run') === true;
  try {
    const name = await deps.functionName(region, stackName);
    const report = await deps.invoke(region, name, { dryRun });
    io.out(describeSweep(report, stackName));
    const failed = report.resources.filter((r) => r.action === 'kept' && r.reason.startsWith('could not'));
    return failed.length > 0 ? 1 : 0;
  } catch (error) {
    io.err(describeCliError(error));
    return 1;
  }
}

export const command: Command = {
  usage: SWEEP_USAGE,
  run: (args, io) => runSweep(args, io, defaultDeps(io)),
};

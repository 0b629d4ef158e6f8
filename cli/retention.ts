/**
 * `ami-builder retention [--dry-run] [--stack NAME] [--region R]`: runs the stack's Apply Retention function
 * over every image family now, as its daily schedule does, and prints what it retired (or, with `--dry-run`, what
 * would go; nothing is changed). It runs with the function's role: the caller needs only `lambda:InvokeFunction`.
 * Exits 0 unless an image the policy retires could not be deprecated or deregistered.
 */
import type { RetentionReport } from '../lambdas/apply-retention/apply-retention.js';
import { describeRetention } from '../lambdas/apply-retention/apply-retention.js';
import { type FlagSpec, flagUsage, parseArgs } from './args.js';
import { invokeStackFunction } from './invoke-function.js';
import type { CliIo, Command } from './io.js';
import { cliClients, DEFAULT_STACK_NAME, findStackOutputs } from './stack.js';
import { describeCliError, STACK_FLAGS } from './status.js';

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

export interface RetentionCommandDeps {
  /** Invokes the retention function with the request and returns its report. */
  invoke: (
    region: string | undefined,
    functionName: string,
    request: { dryRun: boolean },
  ) => Promise<RetentionReport>;
  /** The deployed stack's retention function. */
  functionName: (region: string | undefined, stackName: string) => Promise<string>;
}

const defaultDeps = (io: CliIo): RetentionCommandDeps => ({
  functionName: async (region, stackName) =>
    (await findStackOutputs(cliClients(region, io.env).cloudformation, stackName, ['retentionFunctionName']))
      .retentionFunctionName,
  invoke: (region, functionName, request) =>
    invokeStackFunction<RetentionReport>(region, functionName, request, 'retention'),
});

/** Runs `retention` with the given dependencies. */
export async function runRetention(
  args: readonly string[],
  io: CliIo,
  deps: RetentionCommandDeps,
): Promise<number> {
  const parsed = parseArgs(args, FLAGS);
  if (parsed.errors.length > 0 || parsed.positional.length > 0) {
    for (const e of parsed.errors) io.err(e);
    if (parsed.positional.length > 0) io.err('retention takes no arguments');
    io.err('');
    io.err(RETENTION_USAGE);
    return 1;
  }
  const stackName = parsed.values.get('stack')?.[0] ?? DEFAULT_STACK_NAME;
  const region = parsed.values.get('region')?.[0];
  const dryRun = parsed.booleans.get('dry-run') === true;
  try {
    const name = await deps.functionName(region, stackName);
    const report = await deps.invoke(region, name, { dryRun });
    io.out(describeRetention(report, stackName));
    const failed = report.families.flatMap((f) => f.actions).filter((a) => a.action === 'failed');
    return failed.length > 0 ? 1 : 0;
  } catch (error) {
    io.err(describeCliError(error));
    return 1;
  }
}

export const command: Command = {
  usage: RETENTION_USAGE,
  run: (args, io) => runRetention(args, io, defaultDeps(io)),
};

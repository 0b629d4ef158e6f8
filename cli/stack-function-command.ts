/**
 * The CLI commands that run one of the stack's own functions now, as its schedule does (`sweep`, `retention`):
 * the same flags (`--dry-run`, `--stack`, `--region`), the same lookup of the function in the stack's outputs,
 * one invocation with `{ dryRun }`, and the function's report printed.
 */
import { type FlagSpec, parseArgs } from './args.js';
import { invokeStackFunction } from './invoke-function.js';
import type { CliIo } from './io.js';
import { cliClients, DEFAULT_STACK_NAME, findStackOutputs, type StackOutputName } from './stack.js';
import { describeCliError } from './status.js';

export interface StackFunctionCommandDeps<R> {
  /** Invokes the function with the request and returns its report. */
  invoke: (region: string | undefined, functionName: string, request: { dryRun: boolean }) => Promise<R>;
  /** The deployed stack's function. */
  functionName: (region: string | undefined, stackName: string) => Promise<string>;
}

/**
 * The deployed function, named by the stack output `output`, invoked with the caller's credentials.
 *
 * @param what names the run in the error ("the sweep", "retention")
 */
export function stackFunctionDeps<R>(
  io: CliIo,
  output: StackOutputName,
  what: string,
): StackFunctionCommandDeps<R> {
  return {
    functionName: async (region, stackName) =>
      (await findStackOutputs(cliClients(region, io.env).cloudformation, stackName, [output]))[output],
    invoke: (region, functionName, request) => invokeStackFunction<R>(region, functionName, request, what),
  };
}

export interface StackFunctionCommand<R> {
  /** The command's name, as the CLI spells it. */
  readonly name: string;
  readonly usage: string;
  readonly flags: Readonly<Record<string, FlagSpec>>;
  /** The report as printed. */
  readonly describe: (report: R, stackName: string) => string;
  /** True when the report says the run failed (exit 1). */
  readonly failed: (report: R) => boolean;
}

/** Runs the command with the given dependencies: 0, or 1 on bad arguments, an error or a failed run. */
export async function runStackFunctionCommand<R>(
  command: StackFunctionCommand<R>,
  args: readonly string[],
  io: CliIo,
  deps: StackFunctionCommandDeps<R>,
): Promise<number> {
  const parsed = parseArgs(args, command.flags);
  if (parsed.errors.length > 0 || parsed.positional.length > 0) {
    for (const e of parsed.errors) io.err(e);
    if (parsed.positional.length > 0) io.err(`${command.name} takes no arguments`);
    io.err('');
    io.err(command.usage);
    return 1;
  }
  const stackName = parsed.values.get('stack')?.[0] ?? DEFAULT_STACK_NAME;
  const region = parsed.values.get('region')?.[0];
  const dryRun = parsed.booleans.get('dry-run') === true;
  try {
    const name = await deps.functionName(region, stackName);
    const report = await deps.invoke(region, name, { dryRun });
    io.out(command.describe(report, stackName));
    return command.failed(report) ? 1 : 0;
  } catch (error) {
    io.err(describeCliError(error));
    return 1;
  }
}

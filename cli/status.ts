/**
 * `ami-builder status <execution-arn-or-name> [--stack NAME] [--region R]`: where a deployed build is. Prints the
 * execution's status, the last state it entered, and then the artifacts (succeeded) or the error and its cause
 * (failed, aborted, timed out). Exits 0 while the build runs or when it succeeded, 1 otherwise, so scripts can
 * poll it.
 */

import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { LEFT_BEHIND_LINE } from '../lambdas/shared/cleanup-report.js';
import { executionConsoleUrl, parseArn } from '../lambdas/shared/console.js';
import { formatDuration } from '../lambdas/shared/duration.js';
import { type FlagSpec, flagUsage, parseArgs } from './args.js';
import { describeRunError } from './hints.js';
import type { CliIo, Command } from './io.js';
import { EXIT_LEFT_BEHIND, ProgressPrinter, runExitCode, type WorkflowOutput } from './progress/printer.js';
import {
  type CliClients,
  cliClients,
  DEFAULT_STACK_NAME,
  findStackOutputs,
  StackLookupError,
} from './stack.js';

/** The flags of commands that address a deployed stack. */
export const STACK_FLAGS: Readonly<Record<string, FlagSpec>> = {
  stack: {
    kind: 'string',
    placeholder: 'NAME',
    description: `Deployed stack (default ${DEFAULT_STACK_NAME}).`,
  },
  region: {
    kind: 'string',
    placeholder: 'R',
    description: "The stack's region (default: AWS_REGION / the profile's).",
  },
};

export interface ExecutionCommandDeps {
  /** The AWS clients for a region (`--region`, or undefined for the SDK's default). */
  clients: (region: string | undefined) => Pick<CliClients, 'cloudformation' | 'sfn' | 'logs'>;
  /** The clock, for the elapsed time of a running build. */
  now: () => Date;
}

export const defaultExecutionDeps = (io: CliIo): ExecutionCommandDeps => ({
  clients: (region) => cliClients(region, io.env),
  now: () => new Date(),
});

/** Execution statuses after which nothing more happens. */
const FINISHED = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

/**
 * The execution ARN for `ref`: `ref` itself when it is an ARN, else the execution `ref` of the state machine
 * (`arn:…:stateMachine:<sm>` → `arn:…:execution:<sm>:<ref>`).
 */
export function executionArnFor(ref: string, stateMachineArn: string): string {
  if (ref.startsWith('arn:')) return ref;
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${ref}`;
}

/** Resolves the execution argument, reading the stack only when a bare name was given. */
export async function resolveExecution(
  ref: string,
  clients: Pick<CliClients, 'cloudformation'>,
  stackName: string,
): Promise<string> {
  if (ref.startsWith('arn:')) return ref;
  const { stateMachineArn } = await findStackOutputs(clients.cloudformation, stackName, ['stateMachineArn']);
  return executionArnFor(ref, stateMachineArn);
}

/** Every event of an execution's history, oldest first (all pages). */
export async function readHistory(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        maxResults: 1000,
        nextToken,
        includeExecutionData: true,
      }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return events;
}

/** The last state the execution entered, newest first through the pages until one is found. */
export async function lastStateEntered(
  sfn: SFNClient,
  executionArn: string,
): Promise<{ name: string; timestamp?: Date } | undefined> {
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        reverseOrder: true,
        maxResults: 100,
        nextToken,
        includeExecutionData: false,
      }),
    );
    const entered = (page.events ?? []).find((e) => e.stateEnteredEventDetails !== undefined);
    if (entered !== undefined) {
      return { name: entered.stateEnteredEventDetails?.name ?? '', timestamp: entered.timestamp };
    }
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return undefined;
}

/** The builds part of an execution output, when it has one (Summarize Builds' result). */
export function workflowOutput(value: unknown): WorkflowOutput | undefined {
  const candidates = [value, (value as { summary?: unknown } | undefined)?.summary];
  for (const candidate of candidates) {
    if (
      typeof candidate === 'object' &&
      candidate !== null &&
      Array.isArray((candidate as WorkflowOutput).builds)
    ) {
      return candidate as WorkflowOutput;
    }
  }
  return undefined;
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Prints one execution's status; resolves to the exit code (0 running or succeeded, 2 when its builds left
 * resources behind, 1 otherwise).
 */
export function printStatus(
  io: CliIo,
  execution: DescribeExecutionCommandOutput,
  last: { name: string; timestamp?: Date } | undefined,
  now: Date,
): number {
  const arn = execution.executionArn ?? '';
  const status = execution.status ?? 'UNKNOWN';
  const started = execution.startDate;
  const stopped = execution.stopDate;
  const rows: [string, string][] = [
    ['Execution', execution.name ?? ''],
    ['ARN', arn],
    ['Status', status],
  ];
  if (started !== undefined) rows.push(['Started', started.toISOString()]);
  if (stopped !== undefined) rows.push(['Stopped', stopped.toISOString()]);
  if (started !== undefined) {
    const label = stopped === undefined ? 'Elapsed' : 'Took';
    rows.push([label, formatDuration((stopped ?? now).getTime() - started.getTime())]);
  }
  if (last !== undefined) {
    rows.push([
      'Last state',
      `${last.name}${last.timestamp ? ` (entered ${last.timestamp.toISOString()})` : ''}`,
    ]);
  }
  rows.push(['Console', executionConsoleUrl(arn, parseArn(arn)?.region)]);
  for (const [label, value] of rows) io.out(`${`${label}:`.padEnd(12)}${value}`);

  if (status === 'SUCCEEDED') {
    const output = workflowOutput(parseJson(execution.output));
    if (output !== undefined) {
      io.out('');
      const elapsed = started && stopped ? stopped.getTime() - started.getTime() : 0;
      new ProgressPrinter({ write: io.out }).summary(output, elapsed);
    }
    return runExitCode(output, 0);
  }
  if (!FINISHED.has(status)) return 0;
  if (status === 'ABORTED' || status === 'TIMED_OUT') {
    io.out('');
    io.out(
      `==> The execution ${status === 'ABORTED' ? 'was stopped' : 'timed out'}: the abort cleanup removes what the build created.`,
    );
  }
  if (execution.error !== undefined || execution.cause !== undefined) {
    io.out('');
    if (execution.error !== undefined) io.out(`Error: ${execution.error}`);
    if (execution.cause !== undefined) io.out(`Cause: ${execution.cause}`);
  }
  // A failed execution has no output: its cause lists what each build left behind.
  return execution.cause?.includes(`\n${LEFT_BEHIND_LINE}`) ? EXIT_LEFT_BEHIND : 1;
}

export const STATUS_USAGE = [
  'Usage: ami-builder status <execution-arn-or-name> [--stack NAME] [--region R]',
  '',
  '  Shows where a build started with `ami-builder build` (or any other way) is: its status, the last',
  '  state it entered, then the artifacts or the error. Exits 0 when it succeeded or is still running,',
  '  2 when its builds left resources behind (listed), 1 when it failed, was stopped or timed out.',
  '',
  'Options:',
  ...flagUsage(STACK_FLAGS),
].join('\n');

/** What `status` and `logs` take: one execution (ARN or name), the stack and the region. */
export interface ExecutionArgs {
  ref: string;
  stackName: string;
  /** `--region`, else the execution ARN's region (undefined: the SDK's default). */
  region?: string;
}

/** Parses `<execution> [--stack] [--region]`; prints the problems and the usage and returns undefined if wrong. */
export function parseExecutionArgs(
  args: readonly string[],
  io: CliIo,
  command: string,
  usage: string,
): ExecutionArgs | undefined {
  const parsed = parseArgs(args, STACK_FLAGS);
  if (parsed.errors.length > 0 || parsed.positional.length !== 1) {
    for (const e of parsed.errors) io.err(e);
    if (parsed.positional.length !== 1)
      io.err(`${command} expects exactly one argument: the execution ARN or name`);
    io.err('');
    io.err(usage);
    return undefined;
  }
  const ref = parsed.positional[0] ?? '';
  return {
    ref,
    stackName: parsed.values.get('stack')?.[0] ?? DEFAULT_STACK_NAME,
    region: parsed.values.get('region')?.[0] ?? parseArn(ref)?.region,
  };
}

/** Runs `status` with the given clients. */
export async function runStatus(
  args: readonly string[],
  io: CliIo,
  deps: ExecutionCommandDeps,
): Promise<number> {
  const parsedArgs = parseExecutionArgs(args, io, 'status', STATUS_USAGE);
  if (parsedArgs === undefined) return 1;
  const { ref, stackName, region } = parsedArgs;
  const clients = deps.clients(region);
  try {
    const executionArn = await resolveExecution(ref, clients, stackName);
    const execution = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
    const last = await lastStateEntered(clients.sfn, executionArn);
    return printStatus(io, execution, last, deps.now());
  } catch (error) {
    io.err(describeCliError(error));
    return 1;
  }
}

/** One readable line for an error of a command that talks to AWS. */
export function describeCliError(error: unknown): string {
  if (error instanceof StackLookupError) return `Error: ${error.message}`;
  const e = error as { name?: unknown; message?: unknown };
  if (e.name === 'ExecutionDoesNotExist') return `Error: no such execution: ${String(e.message)}`;
  return describeRunError(error);
}

export const command: Command = {
  usage: STATUS_USAGE,
  run: (args, io) => runStatus(args, io, defaultExecutionDeps(io)),
};

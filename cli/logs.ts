/**
 * `ami-builder logs <execution-arn-or-name> [--stack NAME] [--region R]`: the output of the SSM commands a build
 * ran (provisioners, X.509 upload, bundle, upload), as the instance wrote it. The command ids come from the
 * execution history (each Send task's `$.command.commandId`); the text from the stack's command log group, where
 * SSM writes the streams `<command id>/<instance id>/<plugin>/stdout|stderr`.
 */
import {
  type CloudWatchLogsClient,
  type FilteredLogEvent,
  FilterLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { credentialValues, eventSensitiveValues, Masker } from '../lambdas/shared/sensitive.js';
import { flagUsage } from './args.js';
import { type CliIo, type Command, maskedIo } from './io.js';
import { findStackOutputs } from './stack.js';
import {
  defaultExecutionDeps,
  describeCliError,
  type ExecutionCommandDeps,
  parseExecutionArgs,
  readHistory,
  resolveExecution,
  STACK_FLAGS,
} from './status.js';

/** One SSM command found in the history. */
export interface CommandReference {
  commandId: string;
  /** `provision`, `x509`, `bundle`, `upload`, `error-cleanup`. */
  kind?: string;
  attempt?: number;
  provisionerIndex?: number;
  /** The build it belongs to (`config.name` of the state). */
  build?: string;
  /** The state whose output named it. */
  state: string;
}

interface CommandLike {
  commandId?: unknown;
  kind?: unknown;
  attempt?: unknown;
  provisionerIndex?: unknown;
}

/** The SSM commands of an execution, in the order they were sent, each once. */
export function commandsInHistory(events: readonly HistoryEvent[]): CommandReference[] {
  const found = new Map<string, CommandReference>();
  for (const event of events) {
    const details = event.stateExitedEventDetails;
    if (details?.output === undefined) continue;
    let output: { command?: CommandLike; config?: { name?: unknown } };
    try {
      output = JSON.parse(details.output) as typeof output;
    } catch {
      continue;
    }
    const command = output?.command;
    if (typeof command?.commandId !== 'string' || found.has(command.commandId)) continue;
    const reference: CommandReference = { commandId: command.commandId, state: details.name ?? '' };
    if (typeof command.kind === 'string') reference.kind = command.kind;
    if (typeof command.attempt === 'number') reference.attempt = command.attempt;
    if (typeof command.provisionerIndex === 'number') reference.provisionerIndex = command.provisionerIndex;
    if (typeof output.config?.name === 'string') reference.build = output.config.name;
    found.set(command.commandId, reference);
  }
  return [...found.values()];
}

/** Every log event of one command's streams, oldest first. */
export async function commandLogEvents(
  logs: CloudWatchLogsClient,
  logGroupName: string,
  commandId: string,
): Promise<FilteredLogEvent[]> {
  const events: FilteredLogEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await logs.send(
      new FilterLogEventsCommand({ logGroupName, logStreamNamePrefix: `${commandId}/`, nextToken }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  // Pages come in time order per stream; stdout and stderr interleave by time.
  return events.sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0));
}

/** `==> web: SSM command 1f2e… (provision 2, attempt 1) [Send Provisioner Command]` */
export function commandHeader(command: CommandReference): string {
  const what: string[] = [];
  if (command.kind !== undefined) {
    what.push(
      command.kind === 'provision' && command.provisionerIndex !== undefined
        ? `provisioner ${command.provisionerIndex + 1}`
        : command.kind,
    );
  }
  if (command.attempt !== undefined) what.push(`attempt ${command.attempt}`);
  const detail = what.length > 0 ? ` (${what.join(', ')})` : '';
  return `==> ${command.build ?? 'amazon-instance'}: SSM command ${command.commandId}${detail} [${command.state}]`;
}

export const LOGS_USAGE = [
  'Usage: ami-builder logs <execution-arn-or-name> [--stack NAME] [--region R]',
  '',
  '  Prints the output of the SSM commands a build ran on its instance (provisioners, X.509 upload,',
  "  bundling, upload), from the stack's command log group, one section per command.",
  '',
  'Options:',
  ...flagUsage(STACK_FLAGS),
].join('\n');

/**
 * A masker for what an execution's commands printed: the sensitive values its build configurations record
 * (../lambdas/shared/sensitive.ts), and the caller's credentials.
 */
export function historyMasker(
  history: readonly HistoryEvent[],
  env: Readonly<Record<string, string | undefined>>,
): Masker {
  const masker = new Masker(credentialValues(env));
  for (const event of history) {
    const input = event.stateEnteredEventDetails?.input;
    if (input === undefined || !input.includes('"sensitive"')) continue;
    try {
      masker.add(eventSensitiveValues(JSON.parse(input)));
    } catch {
      // Not JSON: nothing recorded there.
    }
  }
  return masker;
}

/** Runs `logs` with the given clients. */
export async function runLogs(
  args: readonly string[],
  io: CliIo,
  deps: ExecutionCommandDeps,
): Promise<number> {
  const parsedArgs = parseExecutionArgs(args, io, 'logs', LOGS_USAGE);
  if (parsedArgs === undefined) return 1;
  const { ref, stackName, region } = parsedArgs;
  const clients = deps.clients(region);
  try {
    const { commandLogGroupName } = await findStackOutputs(clients.cloudformation, stackName, [
      'commandLogGroupName',
    ]);
    const executionArn = await resolveExecution(ref, clients, stackName);
    const history = await readHistory(clients.sfn, executionArn);
    io = maskedIo(io, historyMasker(history, io.env));
    const commands = commandsInHistory(history);
    if (commands.length === 0) {
      io.out(`The execution has sent no SSM command yet (${executionArn}).`);
      return 0;
    }
    let first = true;
    for (const command of commands) {
      if (!first) io.out('');
      first = false;
      io.out(commandHeader(command));
      const events = await commandLogEvents(clients.logs, commandLogGroupName, command.commandId);
      if (events.length === 0) {
        io.out(
          `    (no output in ${commandLogGroupName}: the command printed nothing, has not run yet, or its output expired)`,
        );
        continue;
      }
      let stream: string | undefined;
      for (const event of events) {
        if (event.logStreamName !== stream) {
          stream = event.logStreamName;
          io.out(`--- ${(stream ?? '').slice(command.commandId.length + 1)}`);
        }
        for (const line of (event.message ?? '').replace(/\r?\n$/, '').split(/\r?\n/)) io.out(line);
      }
    }
    return 0;
  } catch (error) {
    io.err(describeCliError(error));
    return 1;
  }
}

export const command: Command = {
  usage: LOGS_USAGE,
  run: (args, io) => runLogs(args, io, defaultExecutionDeps(io)),
};

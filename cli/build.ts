/**
 * `ami-builder build <template> [-var k=v]... [-var-file f] [-only a,b] [-except a,b] [--stack NAME] [--region R]
 * [--detach] [-machine-readable] [--manifest [path]]`: runs a template on the deployed state machine and follows it
 * as `packer build` would print it.
 *
 * 1–4. Prepares the input with ./prepare.ts, as `ami-builder local` does: validates the template locally, in CLI
 *    mode, with the messages of `ami-builder validate`; removes credential keys, with a warning; finds the state
 *    machine and staging bucket from the stack's outputs; plans the staging of the local files the template
 *    references (./stage.ts), rewritten to `s3://` URIs; checks the final input's credentials and size.
 * 5. Uploads the files, then starts an execution named `<build or template>-<UTC yyyymmdd-hhmmss>-<4 hex>` with
 *    the input `{ template, vars, only?, except?, parallel_builds? }` (./start.ts): when the start fails or is
 *    interrupted, the uploads are deleted.
 * 6. Follows the execution history every 2 seconds and prints Packer's lines, then the artifacts; writes
 *    `packer-manifest.json` for the builds that succeeded when asked to.
 *
 * Ctrl-C (or SIGTERM) stops the execution: the stack's abort cleanup then removes what the build created.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { StateNames } from '../infra/state-names.js';
import { executionConsoleUrl, parseArn } from '../lambdas/shared/console.js';
import { credentialValues, Masker } from '../lambdas/shared/sensitive.js';
import { applyRunFlags, type FlagSpec, flagUsage, RUN_FLAGS, TEMPLATE_FLAGS } from './args.js';
import { type CliIo, type Command, maskedIo } from './io.js';
import { MANIFEST_USAGE, writeBuildManifests } from './outcome.js';
import { prepareExecution, printRunError } from './prepare.js';
import { CommandOutputFollower, filterLogEventsWith } from './progress/command-output.js';
import { HistoryConverter, type ProgressEvent } from './progress/events.js';
import { LiveOutput } from './progress/live.js';
import {
  type Closing,
  type ProgressPrinter,
  runExitCode,
  runOutput,
  type WorkflowOutput,
} from './progress/printer.js';
import { outputFlags, parseRunArgs, type RunOptions } from './run-options.js';
import { failureClosing, showLocalPaths } from './run-output.js';
import { type CliClients, cliClients, DEFAULT_STACK_NAME, findStackOutputs } from './stack.js';
import { onSignals, uploadThenStart } from './start.js';
import { STACK_FLAGS, workflowOutput } from './status.js';

// The input preparation is shared with `ami-builder local`; these are part of `build`'s API too.
export {
  CREDENTIAL_KEYS,
  checkNoCredentials,
  type ExecutionInput,
  executionBase,
  executionName,
  MAX_EXECUTION_INPUT_BYTES,
  MAX_EXECUTION_NAME_CHARS,
  planVariables,
  stripCredentials,
  type VariablePlan,
} from './prepare.js';

/**
 * How often the history is read while following a build.
 * @default 2000 ms
 */
export const POLL_INTERVAL_MS = 2000;

/** The error and cause StopExecution records when the user presses Ctrl-C. */
export const CANCEL_ERROR = 'UserCancelled';
export const CANCEL_CAUSE = 'Stopped from ami-builder build (Ctrl-C)';

const FLAGS: Readonly<Record<string, FlagSpec>> = {
  ...TEMPLATE_FLAGS,
  ...RUN_FLAGS,
  ...STACK_FLAGS,
  detach: { kind: 'boolean', description: 'Start the build, print its ARN and console link, and return.' },
};

export const BUILD_USAGE = [
  'Usage: ami-builder build [options] TEMPLATE',
  '',
  '  Builds the template on the deployed ami-builder stack and follows it like `packer build`.',
  "  Local files the template names are uploaded to the stack's staging bucket first. Ctrl-C stops",
  '  the build; the stack then removes what it created.',
  '',
  'Options:',
  ...flagUsage(FLAGS),
  MANIFEST_USAGE,
].join('\n');

/** Everything `build` needs from the outside world; tests replace each part. */
export interface BuildDeps {
  clients: (region: string | undefined) => Pick<CliClients, 'cloudformation' | 'sfn' | 's3' | 'logs'>;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  /** Four random hex digits, for the execution name. */
  randomHex: () => string;
  /** The run id recorded in the manifest (Packer's PACKER_RUN_UUID). */
  runUuid: () => string;
  /** Calls `handler` on Ctrl-C (SIGINT) or SIGTERM; returns a function that stops listening. */
  onInterrupt: (handler: () => void) => () => void;
  /** @default {@link POLL_INTERVAL_MS} */
  pollIntervalMs?: number;
  /** The clock of the heartbeat (milliseconds). @default Date.now */
  clock?: () => number;
}

export function defaultBuildDeps(io: CliIo): BuildDeps {
  return {
    clients: (region) => cliClients(region, io.env),
    now: () => new Date(),
    sleep: (ms) => new Promise((done) => setTimeout(done, ms)),
    randomHex: () => randomBytes(2).toString('hex'),
    runUuid: randomUUID,
    onInterrupt: onSignals,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Following an execution

/**
 * The history events after `afterId`, oldest first. Reads newest first and stops at the first page that reaches
 * a known event, so a poll costs one call however long the history is.
 */
export async function newHistoryEvents(
  sfn: SFNClient,
  executionArn: string,
  afterId: number,
): Promise<HistoryEvent[]> {
  const fresh: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        reverseOrder: true,
        maxResults: 200,
        nextToken,
        includeExecutionData: true,
      }),
    );
    let reachedKnown = false;
    for (const event of page.events ?? []) {
      if ((event.id ?? 0) <= afterId) {
        reachedKnown = true;
        break;
      }
      fresh.push(event);
    }
    nextToken = reachedKnown ? undefined : page.nextToken;
  } while (nextToken !== undefined);
  return fresh.reverse();
}

type Terminal = Extract<
  ProgressEvent,
  { kind: 'execution-succeeded' | 'execution-failed' | 'execution-aborted' }
>;

interface FollowState {
  converter: HistoryConverter;
  lastId: number;
  terminal?: Terminal;
  /** Summarize Builds' result, seen in the history (the builds of a failed execution). */
  summary?: WorkflowOutput;
}

async function drain(
  sfn: SFNClient,
  executionArn: string,
  state: FollowState,
  printer: { handle: (event: ProgressEvent) => void | Promise<void> },
) {
  for (const event of await newHistoryEvents(sfn, executionArn, state.lastId)) {
    state.lastId = Math.max(state.lastId, event.id ?? 0);
    const progress = state.converter.convert(event);
    if (progress === undefined) continue;
    await printer.handle(progress);
    if (progress.kind === 'state-exited' && progress.state === StateNames.SummarizeBuilds) {
      state.summary = workflowOutput(progress.output) ?? state.summary;
    }
    if (
      progress.kind === 'execution-succeeded' ||
      progress.kind === 'execution-failed' ||
      progress.kind === 'execution-aborted'
    ) {
      state.terminal = progress;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// The command

interface Options extends RunOptions {
  stack: string;
  region?: string;
  detach: boolean;
}

function parseOptions(argv: readonly string[], io: CliIo): Options | undefined {
  const run = parseRunArgs(argv, io, FLAGS, BUILD_USAGE, 'build');
  if (run === undefined) return undefined;
  const { parsed, options } = run;
  return {
    ...options,
    stack: parsed.values.get('stack')?.[0] ?? DEFAULT_STACK_NAME,
    region: parsed.values.get('region')?.[0],
    detach: parsed.booleans.get('detach') === true,
  };
}

/**
 * Runs `build`. Resolves to the exit code: 0 when every build succeeded (or with --detach), 2 when a build left resources
 * behind (see the listing), else 1.
 */
export async function runBuild(
  argv: readonly string[],
  given: CliIo,
  deps: BuildDeps,
  extra: { resume?: string } = {},
): Promise<number> {
  // Everything printed is masked: the caller's credentials now, the sensitive values once validation found them.
  const masker = new Masker(credentialValues(given.env));
  const io = maskedIo(given, masker);
  const options = parseOptions(argv, io);
  if (options === undefined) return 1;
  const { printer, say, message, closing } = runOutput(io, outputFlags(options, io));
  const now = deps.now();

  try {
    // 1–4. Validate locally, find the stack, stage the files, build the input.
    let stack:
      | { stateMachineArn: string; stagingBucketName: string; commandLogGroupName: string }
      | undefined;
    let clients: Pick<CliClients, 'cloudformation' | 'sfn' | 's3' | 'logs'> | undefined;
    const prepared = await prepareExecution(options, {
      io,
      now,
      randomHex: deps.randomHex,
      say,
      message,
      parallelBuilds: options.parallelBuilds,
      masker,
      ...(extra.resume === undefined
        ? {}
        : {
            resume: () => resumeExecutionArn(extra.resume ?? '', stack?.stateMachineArn ?? ''),
          }),
      beforeValidation: (input) => applyRunFlags(input, options),
      onValidated: (validated) => {
        if (validated.builds.length === 1) {
          printer.setDefaultTarget(validated.builds[0]?.name ?? 'amazon-instance');
        }
      },
      stagingTarget: async () => {
        clients = deps.clients(options.region);
        stack = await findStackOutputs(clients.cloudformation, options.stack, [
          'stateMachineArn',
          'stagingBucketName',
          'commandLogGroupName',
        ]);
        return { s3: clients.s3, bucket: stack.stagingBucketName };
      },
    });
    if (stack === undefined || clients === undefined) throw new Error('the stack was not looked up');
    const { name, validated } = prepared;
    showLocalPaths(printer, prepared.staged, io.cwd);

    // 5. Upload, then start; what was uploaded is deleted when the start fails or is interrupted.
    const sfn = clients.sfn;
    const stateMachineArn = stack.stateMachineArn;
    const { started, interrupted } = await uploadThenStart(
      prepared,
      () => sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: prepared.body })),
      { onInterrupt: deps.onInterrupt, message, warn: io.err },
    );
    const executionArn = started.executionArn ?? '';
    const region = parseArn(executionArn)?.region ?? parseArn(stack.stateMachineArn)?.region;
    const consoleUrl = executionConsoleUrl(executionArn, region);
    if (options.detach && !interrupted) {
      say(`Started execution ${name}`);
      message(`Execution ARN: ${executionArn}`);
      message(`Console: ${consoleUrl}`);
      return 0;
    }
    say(`Started execution ${name}`);
    message(`Console: ${consoleUrl}`);

    // 6. Follow until the execution ends or the user interrupts, with each command's output as it comes.
    const clock = deps.clock ?? Date.now;
    const logs = clients.logs;
    const follower = new CommandOutputFollower(
      filterLogEventsWith(logs),
      stack.commandLogGroupName,
      (line) => {
        printer.output(line);
        live.line(line);
      },
    );
    const live: LiveOutput = new LiveOutput({
      follower,
      say: (text, build) => printer.print({ level: 'say', text, build }),
      now: clock,
      defaultBuild: () => printer.target,
    });
    printer.onPrint = () => live.printed();
    return await follow(
      executionArn,
      consoleUrl,
      {
        sfn: clients.sfn,
        printer,
        closing,
        deps,
        live,
        clock,
        logGroup: stack.commandLogGroupName,
        startDate: started.startDate ?? now,
        interrupted,
      },
      async (output) => {
        const written = await writeBuildManifests(output, validated.builds, {
          manifest: options.manifest,
          cwd: io.cwd,
          now: deps.now(),
          runUuid: deps.runUuid(),
        });
        for (const path of written) say(`Wrote the manifest ${path}`);
      },
    );
  } catch (error) {
    printRunError(io, error);
    return 1;
  }
}

/** An execution named by its ARN, or by its name on the stack's state machine. */
export function resumeExecutionArn(execution: string, stateMachineArn: string): string {
  if (execution.startsWith('arn:')) return execution;
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${execution}`;
}

interface FollowContext {
  sfn: SFNClient;
  printer: ProgressPrinter;
  closing: Closing;
  deps: BuildDeps;
  live: LiveOutput;
  clock: () => number;
  logGroup: string;
  /** StartExecution's start date. */
  startDate: Date;
  /** The user interrupted before StartExecution returned: stop at once. */
  interrupted: boolean;
}

/**
 * Polls after the history shows an end that DescribeExecution does not (an emulator whose history is made up):
 * after these, `build` stops following and exits 1 rather than call a RUNNING execution finished.
 */
export const MAX_UNCONFIRMED_END_POLLS = 5;

/** The execution's status and times from DescribeExecution (undefined when it says nothing). */
async function describe(sfn: SFNClient, executionArn: string) {
  const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  return d === undefined ? undefined : { status: d.status, startDate: d.startDate, stopDate: d.stopDate };
}

const TERMINAL_STATUS: Record<Terminal['kind'], readonly string[]> = {
  'execution-succeeded': ['SUCCEEDED'],
  'execution-failed': ['FAILED'],
  'execution-aborted': ['ABORTED', 'TIMED_OUT'],
};

async function follow(
  executionArn: string,
  consoleUrl: string,
  context: FollowContext,
  onOutput: (output: WorkflowOutput) => Promise<void>,
): Promise<number> {
  const { sfn, printer, closing, deps, live, clock } = context;
  const say = (text: string) => printer.print({ level: 'say', text });
  let interrupt: () => void = () => {};
  const interrupted = new Promise<'interrupted'>((done) => {
    interrupt = () => done('interrupted');
  });
  let wasInterrupted = context.interrupted;
  const stopListening = deps.onInterrupt(() => {
    wasInterrupted = true;
    interrupt();
  });
  const startedAt = clock();
  const state: FollowState = { converter: new HistoryConverter(), lastId: 0 };
  const observe = {
    handle: async (event: ProgressEvent) => {
      // A command's last output lines before the next state's line, as Packer prints them.
      await live.read(live.observe(event)).catch(() => undefined);
      printer.handle(event);
    },
  };
  let status: Awaited<ReturnType<typeof describe>>;
  let unconfirmed = 0;
  try {
    for (;;) {
      await drain(sfn, executionArn, state, observe);
      await live.poll();
      live.heartbeat();
      if (state.terminal !== undefined) {
        // The history says it ended: only DescribeExecution's status is trusted for that.
        status = await describe(sfn, executionArn);
        if (status?.status === undefined || TERMINAL_STATUS[state.terminal.kind].includes(status.status))
          break;
        unconfirmed += 1;
        if (unconfirmed >= MAX_UNCONFIRMED_END_POLLS) {
          await live.flush();
          closing.blank();
          closing.error(
            `==> The execution's history shows it ended, but Step Functions reports it ${status.status}: ` +
              'it is not finished (a Step Functions emulator that does not run executions reports this).',
          );
          closing.error(`==> Follow it with: ami-builder status ${executionArn}`);
          return 1;
        }
      }
      if (wasInterrupted) break;
      await Promise.race([deps.sleep(deps.pollIntervalMs ?? POLL_INTERVAL_MS), interrupted]);
      if (wasInterrupted) break;
    }
    if (state.terminal === undefined || (wasInterrupted && unconfirmed > 0)) {
      say('Interrupted: stopping the execution...');
      await sfn.send(new StopExecutionCommand({ executionArn, error: CANCEL_ERROR, cause: CANCEL_CAUSE }));
      await drain(sfn, executionArn, state, observe);
      await live.flush();
      say(
        "Execution stopped. The stack's abort cleanup now removes the build's resources (instance, security group, staged files).",
      );
      say(`Follow it with: ami-builder status ${executionArn}`);
      printer.print({ level: 'message', text: `Console: ${consoleUrl}` });
      return 1;
    }
    await live.flush();
  } finally {
    stopListening();
  }

  const terminal = state.terminal;
  // Step Functions' own start and stop times; this process's clock when they are missing or make no sense.
  const measured =
    status?.startDate !== undefined && status.stopDate !== undefined
      ? status.stopDate.getTime() - status.startDate.getTime()
      : Number.NaN;
  const fromHistory = terminal.timestamp - context.startDate.getTime();
  const elapsed =
    measured >= 0 ? measured : fromHistory >= 0 ? fromHistory : Math.max(0, clock() - startedAt);
  if (terminal.kind === 'execution-succeeded') {
    const output = workflowOutput(terminal.output) ?? { builds: [] };
    closing.blank();
    printer.summary(output, elapsed);
    await onOutput(output);
    return runExitCode(output, 0);
  }
  if (state.summary !== undefined) {
    closing.blank();
    printer.summary(state.summary, elapsed);
    await onOutput(state.summary);
  }
  failureClosing(closing, printer, terminal, { consoleUrl, executionArn, logGroup: context.logGroup });
  return runExitCode(state.summary, 1);
}

export const command: Command = {
  usage: BUILD_USAGE,
  run: (args, io) => runBuild(args, io, defaultBuildDeps(io)),
};

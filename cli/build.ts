/**
 * `ami-builder build <template> [-var k=v]... [-var-file f] [-only a,b] [-except a,b] [--stack NAME] [--region R]
 * [--detach] [-machine-readable] [--manifest [path]]`: runs a template on the deployed state machine and follows it
 * as `packer build` would print it.
 *
 * 1–4. Prepares the input with ./prepare.ts, as `ami-builder local` does: validates the template locally, in CLI
 *    mode, with the messages of `ami-builder validate`; removes credential keys, with a warning; finds the state
 *    machine and staging bucket from the stack's outputs; uploads the local files the template references
 *    (./stage.ts) and rewrites them to `s3://` URIs.
 * 5. Starts an execution named `<build or template>-<UTC yyyymmdd-hhmmss>-<4 hex>` with the input
 *    `{ template, vars, only?, except? }`.
 * 6. Follows the execution history every 2 seconds and prints Packer's lines, then the artifacts; writes
 *    `packer-manifest.json` for the builds that succeeded when asked to.
 *
 * Ctrl-C stops the execution: the stack's abort cleanup then removes what the build created.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { StateNames } from '../infra/state-names.js';
import { executionConsoleUrl, parseArn } from '../lambdas/shared/console.js';
import { type FlagSpec, flagUsage, listFlag, TEMPLATE_FLAGS, varFlags } from './args.js';
import type { CliIo, Command } from './io.js';
import { MANIFEST_USAGE, parseArgsWithManifest, writeBuildManifests } from './outcome.js';
import { prepareExecution, printRunError } from './prepare.js';
import { HistoryConverter, type ProgressEvent } from './progress/events.js';
import { type Closing, type ProgressPrinter, runOutput, type WorkflowOutput } from './progress/printer.js';
import { type CliClients, cliClients, DEFAULT_STACK_NAME, findStackOutputs } from './stack.js';
import { workflowOutput } from './status.js';

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
  clients: (region: string | undefined) => Pick<CliClients, 'cloudformation' | 'sfn' | 's3'>;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  /** Four random hex digits, for the execution name. */
  randomHex: () => string;
  /** The run id recorded in the manifest (Packer's PACKER_RUN_UUID). */
  runUuid: () => string;
  /** Calls `handler` on Ctrl-C (SIGINT); returns a function that stops listening. */
  onInterrupt: (handler: () => void) => () => void;
  /** @default {@link POLL_INTERVAL_MS} */
  pollIntervalMs?: number;
}

export function defaultBuildDeps(io: CliIo): BuildDeps {
  return {
    clients: (region) => cliClients(region, io.env),
    now: () => new Date(),
    sleep: (ms) => new Promise((done) => setTimeout(done, ms)),
    randomHex: () => randomBytes(2).toString('hex'),
    runUuid: randomUUID,
    onInterrupt: (handler) => {
      process.on('SIGINT', handler);
      return () => process.off('SIGINT', handler);
    },
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

async function drain(sfn: SFNClient, executionArn: string, state: FollowState, printer: ProgressPrinter) {
  for (const event of await newHistoryEvents(sfn, executionArn, state.lastId)) {
    state.lastId = Math.max(state.lastId, event.id ?? 0);
    const progress = state.converter.convert(event);
    if (progress === undefined) continue;
    printer.handle(progress);
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

interface Options {
  file: string;
  vars: Map<string, string>;
  varFiles: string[];
  only?: string[];
  except?: string[];
  stack: string;
  region?: string;
  detach: boolean;
  machineReadable: boolean;
  manifest?: string;
}

function parseOptions(argv: readonly string[], io: CliIo): Options | undefined {
  const { parsed, manifest } = parseArgsWithManifest(argv, FLAGS);
  const vars = varFlags(parsed);
  if (parsed.positional.length !== 1) parsed.errors.push('build expects exactly one TEMPLATE argument');
  const only = listFlag(parsed, 'only');
  const except = listFlag(parsed, 'except');
  if ((only?.length ?? 0) > 0 && (except?.length ?? 0) > 0) {
    parsed.errors.push("Only one of '-only' or '-except' may be specified.");
  }
  if (parsed.errors.length > 0) {
    for (const e of parsed.errors) io.err(e);
    io.err('');
    io.err(BUILD_USAGE);
    return undefined;
  }
  return {
    file: parsed.positional[0] ?? '',
    vars: new Map(vars),
    varFiles: parsed.values.get('var-file') ?? [],
    only,
    except,
    stack: parsed.values.get('stack')?.[0] ?? DEFAULT_STACK_NAME,
    region: parsed.values.get('region')?.[0],
    detach: parsed.booleans.get('detach') === true,
    machineReadable: parsed.booleans.get('machine-readable') === true,
    manifest,
  };
}

/** Runs `build`. Resolves to the exit code: 0 when every build succeeded (or with --detach), else 1. */
export async function runBuild(argv: readonly string[], io: CliIo, deps: BuildDeps): Promise<number> {
  const options = parseOptions(argv, io);
  if (options === undefined) return 1;
  const { printer, say, message, closing } = runOutput(io, options.machineReadable);
  const now = deps.now();

  try {
    // 1–4. Validate locally, find the stack, stage the files, build the input.
    let stack: { stateMachineArn: string; stagingBucketName: string } | undefined;
    let clients: Pick<CliClients, 'cloudformation' | 'sfn' | 's3'> | undefined;
    const prepared = await prepareExecution(options, {
      io,
      now,
      randomHex: deps.randomHex,
      say,
      message,
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
        ]);
        return { s3: clients.s3, bucket: stack.stagingBucketName };
      },
    });
    if (stack === undefined || clients === undefined) throw new Error('the stack was not looked up');
    const { name, validated } = prepared;

    // 5. Start.
    const started = await clients.sfn.send(
      new StartExecutionCommand({ stateMachineArn: stack.stateMachineArn, name, input: prepared.body }),
    );
    const executionArn = started.executionArn ?? '';
    const region = parseArn(executionArn)?.region ?? parseArn(stack.stateMachineArn)?.region;
    const consoleUrl = executionConsoleUrl(executionArn, region);
    if (options.detach) {
      say(`Started execution ${name}`);
      message(`Execution ARN: ${executionArn}`);
      message(`Console: ${consoleUrl}`);
      return 0;
    }
    say(`Started execution ${name}`);
    message(`Console: ${consoleUrl}`);

    // 6. Follow until the execution ends or the user interrupts.
    return await follow(
      executionArn,
      consoleUrl,
      started.startDate ?? now,
      clients.sfn,
      printer,
      closing,
      deps,
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

async function follow(
  executionArn: string,
  consoleUrl: string,
  startedAt: Date,
  sfn: SFNClient,
  printer: ProgressPrinter,
  closing: Closing,
  deps: BuildDeps,
  onOutput: (output: WorkflowOutput) => Promise<void>,
): Promise<number> {
  const say = (text: string) => printer.print({ level: 'say', text });
  let interrupt: () => void = () => {};
  const interrupted = new Promise<'interrupted'>((done) => {
    interrupt = () => done('interrupted');
  });
  let wasInterrupted = false;
  const stopListening = deps.onInterrupt(() => {
    wasInterrupted = true;
    interrupt();
  });
  const state: FollowState = { converter: new HistoryConverter(), lastId: 0 };
  try {
    while (state.terminal === undefined) {
      await drain(sfn, executionArn, state, printer);
      if (state.terminal !== undefined || wasInterrupted) break;
      await Promise.race([deps.sleep(deps.pollIntervalMs ?? POLL_INTERVAL_MS), interrupted]);
      if (wasInterrupted) break;
    }
    if (state.terminal === undefined) {
      say('Interrupted: stopping the execution...');
      await sfn.send(new StopExecutionCommand({ executionArn, error: CANCEL_ERROR, cause: CANCEL_CAUSE }));
      await drain(sfn, executionArn, state, printer);
      say(
        "Execution stopped. The stack's abort cleanup now removes the build's resources (instance, security group, staged files).",
      );
      say(`Follow it with: ami-builder status ${executionArn}`);
      printer.print({ level: 'message', text: `Console: ${consoleUrl}` });
      return 1;
    }
  } finally {
    stopListening();
  }

  const terminal = state.terminal;
  const elapsed = terminal.timestamp - startedAt.getTime();
  if (terminal.kind === 'execution-succeeded') {
    const output = workflowOutput(terminal.output) ?? { builds: [] };
    closing.blank();
    printer.summary(output, elapsed);
    await onOutput(output);
    return 0;
  }
  if (state.summary !== undefined) {
    closing.blank();
    printer.summary(state.summary, elapsed);
    await onOutput(state.summary);
  }
  closing.blank();
  if (terminal.kind === 'execution-failed') {
    closing.error(`==> Execution failed: ${terminal.error}`);
    if (terminal.cause !== '') closing.error(terminal.cause);
  } else {
    closing.error(`==> Execution ${terminal.reason === 'timed-out' ? 'timed out' : 'was stopped'}.`);
  }
  closing.error(`==> Console: ${consoleUrl}`);
  return 1;
}

export const command: Command = {
  usage: BUILD_USAGE,
  run: (args, io) => runBuild(args, io, defaultBuildDeps(io)),
};

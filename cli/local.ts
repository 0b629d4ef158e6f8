/**
 * `ami-builder local <template> [-var k=v]... [-var-file f] [-only a,b] [-except a,b] [--real-waits]
 * [--keep-emulator] [-machine-readable] [--manifest [path]] [--fault <json|@file>]... [-debug] [--bundled]`: runs a
 * whole build offline, as `packer build` would print it, with no AWS account.
 *
 * - The state machine is the one `cdk deploy` ships: the app is synthesized in-process and its definition taken
 *   from the template, intrinsics resolved (./local/synthesized.ts). aws-local-stepfunctions runs it; each Lambda
 *   task calls the real handler module in-process (./local/runner.ts).
 * - The handlers' AWS calls go over HTTP to the emulator (moto, patched: emulator/README.md), started on a free
 *   loopback port and stopped at the end (`--keep-emulator` leaves it running for the AWS CLI).
 * - The run "deploys" what the tasks need into the emulator (staging bucket, command document, log group, build
 *   instance profile), and allows the template's bundle buckets in the local stack's `allowedBucketPatterns`.
 * - It seeds the template's source AMI (./seed.ts), and the examples' throwaway X.509 pair (./x509.ts).
 * - The input is prepared exactly as `ami-builder build` prepares it (./prepare.ts): every check runs, then the
 *   local files are staged to the emulated staging bucket (./start.ts), and deleted again when the run cannot
 *   start or is interrupted first.
 * - Each task signs its AWS calls as its own synthesized role, which the emulator enforces (./local/task-roles.ts).
 * - `--bundled` runs each task from the esbuild bundle the cloud assembly holds for it, in a child Node process
 *   as Lambda loads it (./local/bundled.ts), instead of the TypeScript modules in-process.
 * - Wait states and retry intervals last their real duration times `-time-scale` (default 1/200).
 * - `--fault` arms an emulator fault (emulator/README.md#faults) before the run; `-debug` prints the script of
 *   every SSM command the instance was sent.
 *
 * Ctrl-C (or SIGTERM) aborts the execution; the abort cleanup then runs as the stack's EventBridge rule runs it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { format } from 'node:util';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { S3Client } from '@aws-sdk/client-s3';
import {
  type Emulator,
  type EmulatorOptions,
  type Fault,
  InvalidFaultError,
  parseFault,
  type RecordedCommand,
  startEmulator,
  useEmulatorEnvironment,
} from '../emulator/index.js';
import { StateNames } from '../infra/state-names.js';
import type { TaskId } from '../infra/tasks.js';
import { describeCleanup } from '../lambdas/shared/cleanup-report.js';
import { setTelemetrySink } from '../lambdas/shared/observability.js';
import { credentialValues, Masker } from '../lambdas/shared/sensitive.js';
import type { CleanupReport } from '../lambdas/shared/state.js';
import { applyRunFlags, type FlagSpec, flagUsage, RUN_FLAGS, TEMPLATE_FLAGS } from './args.js';
import { type CliIo, type Command, maskedIo } from './io.js';
import { BundledRuntime, locateBundles } from './local/bundled.js';
import {
  applyLambdaEnvironment,
  DEFAULT_TIME_SCALE,
  deployToEmulator,
  type RunResult,
  runExecution,
} from './local/runner.js';
import { type SynthesizedStack, type SynthOptions, synthesizeForLocalRun } from './local/synthesized.js';
import { deployTaskRoles, type TaskCredentials } from './local/task-roles.js';
import { MANIFEST_USAGE, writeBuildManifests } from './outcome.js';
import { prepareExecution, printRunError } from './prepare.js';
import { CommandOutputFollower, filterLogEventsWith } from './progress/command-output.js';
import { LiveOutput } from './progress/live.js';
import { runExitCode, runOutput, type WorkflowOutput } from './progress/printer.js';
import { outputFlags, parseRunArgs, type RunOptions } from './run-options.js';
import { failureClosing, showLocalPaths } from './run-output.js';
import { describeSeed, EMULATED_ACCOUNT_ID, sourceSeeds } from './seed.js';
import { discardStaged, onSignals, uploadThenStart } from './start.js';
import { workflowOutput } from './status.js';
import { ensureExampleX509 } from './x509.js';

/** How often `local` reads the emulator's command log group while a build runs. */
const LOCAL_LOG_POLL_MS = 500;

/** The bundle bucket pattern of a stack deployed with the default configuration (infra/config.ts). */
const DEFAULT_BUCKET_PATTERN = 'ami-builder-*';

const FLAGS: Readonly<Record<string, FlagSpec>> = {
  ...TEMPLATE_FLAGS,
  ...RUN_FLAGS,
  'time-scale': {
    kind: 'string',
    placeholder: '<factor>',
    description:
      'Run Wait states and retry intervals for their real durations times this factor: 1/200 (default), 0.01, 1.',
  },
  'real-waits': {
    kind: 'boolean',
    description: "Keep the state machine's real Wait and retry intervals (-time-scale=1).",
  },
  'keep-emulator': {
    kind: 'boolean',
    description: 'Leave the emulator running afterwards, for the AWS CLI.',
  },
  fault: {
    kind: 'repeatable',
    placeholder: '<json|@file>',
    description: 'Arm an emulator fault (emulator/README.md), e.g. a command exit code (repeatable).',
  },
  debug: { kind: 'boolean', description: 'Print the script of every SSM command sent to the instance.' },
  bundled: {
    kind: 'boolean',
    description:
      'Run each task from its deployed esbuild bundle, in a child Node process as Lambda loads it (slower: bundles first).',
  },
};

export const LOCAL_USAGE = [
  'Usage: ami-builder local [options] TEMPLATE',
  '',
  '  Builds the template offline: the synthesized state machine runs in-process with the real task handlers,',
  '  against a local AWS emulator (moto). No AWS account is used. Ctrl-C aborts the build; the abort cleanup',
  '  then runs.',
  '',
  'Options:',
  ...flagUsage(FLAGS),
  MANIFEST_USAGE,
].join('\n');

/** Everything `local` needs from the outside world; tests and the benchmark replace parts. */
export interface LocalDeps {
  startEmulator: (options: EmulatorOptions) => Promise<Emulator>;
  now: () => Date;
  /** Four random hex digits, for the execution name. */
  randomHex: () => string;
  /** The run id recorded in the manifest (Packer's PACKER_RUN_UUID). */
  runUuid: () => string;
  /** Calls `handler` on Ctrl-C (SIGINT) or SIGTERM; returns a function that stops listening. */
  onInterrupt: (handler: () => void) => () => void;
}

export function defaultLocalDeps(): LocalDeps {
  return {
    startEmulator,
    now: () => new Date(),
    randomHex: () => randomBytes(2).toString('hex'),
    runUuid: randomUUID,
    onInterrupt: onSignals,
  };
}

interface Options extends RunOptions {
  /** Factor applied to Wait states and retry intervals. */
  timeScale: number;
  keepEmulator: boolean;
  faults: Fault[];
  debug: boolean;
  bundled: boolean;
}

/** The faults of one `--fault` value: a JSON object, or `@file` holding one object or an array of them. */
export function readFaults(value: string, cwd: string): Fault[] {
  if (!value.startsWith('@')) return [parseFault(value)];
  const path = resolve(cwd, value.slice(1));
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidFaultError(`Cannot read the fault file ${value.slice(1)}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidFaultError(`The fault file ${value.slice(1)} is not JSON: ${(error as Error).message}`);
  }
  return Array.isArray(parsed) ? parsed.map((f) => parseFault(JSON.stringify(f))) : [parseFault(text)];
}

function parseOptions(argv: readonly string[], io: CliIo): Options | undefined {
  const faults: Fault[] = [];
  const run = parseRunArgs(argv, io, FLAGS, LOCAL_USAGE, 'local', (parsed) => {
    for (const value of parsed.values.get('fault') ?? []) {
      try {
        faults.push(...readFaults(value, io.cwd));
      } catch (error) {
        parsed.errors.push(error instanceof Error ? error.message : String(error));
      }
    }
  });
  if (run === undefined) return undefined;
  const { parsed, options } = run;
  const scaleText = parsed.values.get('time-scale')?.at(-1);
  const timeScale = parsed.booleans.get('real-waits') === true ? 1 : parseTimeScale(scaleText);
  if (timeScale === undefined) {
    io.err(
      `-time-scale must be a positive factor such as 1/200, 0.01 or 1, not "${scaleText}"\n\n${LOCAL_USAGE}`,
    );
    return undefined;
  }
  return {
    ...options,
    timeScale,
    keepEmulator: parsed.booleans.get('keep-emulator') === true,
    faults,
    debug: parsed.booleans.get('debug') === true,
    bundled: parsed.booleans.get('bundled') === true,
  };
}

/** `1/200`, `0.005` or `1` as a factor in (0, 1]; the default when absent; undefined when invalid. */
export function parseTimeScale(text: string | undefined): number | undefined {
  if (text === undefined) return DEFAULT_TIME_SCALE;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(\d+(?:\.\d+)?))?\s*$/.exec(text);
  if (!match) return undefined;
  const value = Number(match[1]) / (match[2] === undefined ? 1 : Number(match[2]));
  return Number.isFinite(value) && value > 0 && value <= 1 ? value : undefined;
}

/**
 * Synthesizes the app for the local run without CDK's built-in CloudFormation validation, which takes most of
 * the synth time (`CDK_VALIDATION=false`); `cdk synth` and the infra tests keep it.
 */
function synthesizeQuickly(options: SynthOptions): SynthesizedStack {
  const previous = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = 'false';
  try {
    return synthesizeForLocalRun(options);
  } finally {
    if (previous === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = previous;
  }
}

/** Glob match of infra's bucket patterns: `*` matches any run of characters. */
function matchesPattern(bucket: string, pattern: string): boolean {
  const source = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${source}$`).test(bucket);
}

/** The local stack's `allowedBucketPatterns`: the default, plus each bundle bucket it does not cover. */
export function localBucketPatterns(buckets: readonly string[]): { patterns: string[]; added: string[] } {
  const added = [...new Set(buckets)].filter((b) => !matchesPattern(b, DEFAULT_BUCKET_PATTERN)).sort();
  return { patterns: [DEFAULT_BUCKET_PATTERN, ...added], added };
}

/** The lines of `-debug`: each SSM command the instance was sent, with the script it would have run. */
export function debugLines(commands: readonly RecordedCommand[]): string[] {
  const lines: string[] = [];
  for (const c of commands) {
    const exit = c.fault === null ? '' : `, exit ${c.fault.exitCode} (injected)`;
    lines.push(
      `SSM command ${c.commandId} "${c.comment}" to ${c.instanceIds.join(', ')} in ${c.region}: ${c.status}${exit}`,
    );
    if (c.staged !== null) lines.push(`  files: ${c.staged.keys.join(', ') || '(none)'}`);
    const script = c.staged?.runScript;
    if (script === null || script === undefined) {
      lines.push('  (no run.sh was staged)');
      continue;
    }
    lines.push('  run.sh:');
    for (const line of script.replace(/\n$/, '').split('\n')) lines.push(`  | ${line}`);
  }
  return lines;
}

const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;

/** Sends every console line of this process to `sink` until the returned function is called. */
export function captureConsole(sink: (line: string) => void): () => void {
  const saved = CONSOLE_METHODS.map((name) => [name, console[name]] as const);
  for (const name of CONSOLE_METHODS) {
    console[name] = (...args: unknown[]) => {
      for (const line of format(...args).split('\n')) sink(line);
    };
  }
  return () => {
    for (const [name, method] of saved) console[name] = method;
  };
}

function isCleanupReport(value: unknown): value is CleanupReport {
  const r = value as Partial<CleanupReport> | undefined;
  return Array.isArray(r?.terminatedInstances) && Array.isArray(r?.deletedSecurityGroups);
}

/**
 * Runs `local`. Resolves to the exit code: 0 when every build succeeded, 2 when a build left resources
 * behind (see the listing), else 1.
 */
export async function runLocal(argv: readonly string[], given: CliIo, deps: LocalDeps): Promise<number> {
  // Everything printed is masked: the caller's credentials now, the sensitive values once validation found them.
  const masker = new Masker(credentialValues(given.env));
  const io = maskedIo(given, masker);
  const options = parseOptions(argv, io);
  if (options === undefined) return 1;
  const { printer, say, message, closing } = runOutput(io, outputFlags(options, io));
  // The environment as the user has it: the emulator's dummy credentials replace theirs during the run.
  const userIo: CliIo = { ...io, env: { ...io.env } };
  const now = deps.now();

  let emulator: Emulator | undefined;
  let restoreEnvironment: (() => void) | undefined;
  let stack: SynthesizedStack | undefined;
  let s3: S3Client | undefined;
  let credentials: Map<TaskId, TaskCredentials> | undefined;
  let bundled: BundledRuntime | undefined;
  // --bundled: the cloud assembly `cdk synth` would write, bundles included, in a folder removed at the end.
  const assemblyDir = options.bundled ? mkdtempSync(join(tmpdir(), 'ami-builder-local-')) : undefined;
  try {
    const prepared = await prepareExecution(options, {
      io: userIo,
      now,
      randomHex: deps.randomHex,
      say,
      message,
      parallelBuilds: options.parallelBuilds,
      masker,
      beforeValidation: (input, context) => {
        applyRunFlags(input, options);
        for (const pair of ensureExampleX509(input, {
          cwd: io.cwd,
          templateDir: context.templateDir,
          vars: context.vars,
        })) {
          say(
            `Generated a throwaway self-signed X.509 pair for the example: ${relative(io.cwd, pair.cert)}, ${relative(io.cwd, pair.key)} (git ignores them)`,
          );
        }
      },
      onValidated: (validated) => {
        if (validated.builds.length === 1) {
          printer.setDefaultTarget(validated.builds[0]?.name ?? 'amazon-instance');
        }
      },
      stagingTarget: async (validated) => {
        // The emulator boots (a Python process) while the app synthesizes.
        const starting = deps.startEmulator({
          detached: options.keepEmulator,
          // With time compressed, an agent that comes online later only adds polls.
          ...(options.timeScale === 1 ? {} : { agentOnlineDelayMs: 0 }),
        });
        const region = validated.builds[0]?.region ?? 'us-east-1';
        const buckets = localBucketPatterns(validated.builds.map((b) => b.bundle.bucket));
        try {
          stack = synthesizeQuickly({
            region,
            account: EMULATED_ACCOUNT_ID,
            context: { allowedBucketPatterns: buckets.patterns },
            ...(assemblyDir === undefined ? {} : { bundleInto: assemblyDir }),
          });
        } catch (error) {
          void starting.then((started) => started.stop()).catch(() => undefined);
          throw error;
        }
        emulator = await starting;
        say(`Started the local AWS emulator at ${emulator.endpoint}`);
        message(
          emulator.mode === 'sandbox'
            ? 'Sandbox mode: the build instance runs its commands for real, in its own namespaces'
            : 'Simulated mode: nothing runs on the build instance (no sandbox can be made here)',
        );
        restoreEnvironment = useEmulatorEnvironment(emulator.endpoint);
        if (buckets.added.length > 0) {
          message(
            `Allowed the bundle bucket ${buckets.added.join(', ')} in the local stack's allowedBucketPatterns ` +
              `(a deployed stack needs -c allowedBucketPatterns='${JSON.stringify(buckets.patterns)}')`,
          );
        }
        await deployToEmulator(stack, emulator);
        // Each task signs as its own synthesized role; the emulator enforces the role's policies.
        credentials = await deployTaskRoles(stack, emulator.endpoint);
        applyLambdaEnvironment(stack);
        if (assemblyDir !== undefined) {
          const bundles = locateBundles(stack);
          bundled = new BundledRuntime({ stack, bundles, endpoint: emulator.endpoint, credentials });
          message(
            `Bundled mode: each task runs from its deployed bundle in ${relative(io.cwd, stack.assembly.directory) || '.'}, in its own Node process`,
          );
        }
        say(
          `Deployed stack ${stack.stackName} into the emulator (${region}, account ${EMULATED_ACCOUNT_ID})`,
        );
        for (const seed of sourceSeeds(validated.builds)) {
          const imageId = await emulator.seedImage(seed.image);
          say(describeSeed(seed, imageId));
        }
        s3 = new S3Client({ region, endpoint: emulator.endpoint, forcePathStyle: true });
        return { s3, bucket: stack.resources.stagingBucket };
      },
    });
    if (emulator === undefined || stack === undefined) throw new Error('the emulator was not started');
    showLocalPaths(printer, prepared.staged, io.cwd);
    const input = prepared.input;
    const writeManifests = async (output: WorkflowOutput) => {
      const written = await writeBuildManifests(output, prepared.validated.builds, {
        manifest: options.manifest,
        cwd: io.cwd,
        now: deps.now(),
        runUuid: deps.runUuid(),
      });
      for (const path of written) say(`Wrote the manifest ${path}`);
    };
    // Upload, then arm the faults: the last step before the run. What was uploaded is deleted when that fails
    // or is interrupted.
    const ready = emulator;
    const { interrupted } = await uploadThenStart(
      prepared,
      async () => {
        for (const fault of options.faults) {
          await ready.addFault(fault);
          message(`Armed the emulator fault ${JSON.stringify(fault)}`);
        }
      },
      { onInterrupt: deps.onInterrupt, message, warn: io.err },
    );
    if (interrupted) throw await discardStaged(prepared);

    // Run, printing as the events arrive; Ctrl-C aborts.
    say(`Started execution ${prepared.name}`);
    const controller = new AbortController();
    const stopListening = deps.onInterrupt(() => {
      if (controller.signal.aborted) return;
      say('Interrupted: aborting the execution...');
      controller.abort();
    });
    let summary: WorkflowOutput | undefined;
    let result: RunResult;
    const startedAt = Date.now();
    // Each command's output as the emulator's command log group receives it: the same follower as `build`.
    const logs = new CloudWatchLogsClient({ region: stack.region, endpoint: emulator.endpoint });
    const follower = new CommandOutputFollower(
      filterLogEventsWith(logs),
      stack.resources.commandLogGroup,
      (line) => {
        printer.output(line);
        live.line(line);
      },
    );
    const live: LiveOutput = new LiveOutput({
      follower,
      say: (text, build) => printer.print({ level: 'say', text, build }),
      now: Date.now,
      defaultBuild: () => printer.target,
    });
    printer.onPrint = () => live.printed();
    let running = true;
    let printing: Promise<void> = Promise.resolve();
    const following = (async () => {
      while (running) {
        await new Promise((done) => setTimeout(done, LOCAL_LOG_POLL_MS));
        await live.poll().catch(() => undefined);
        live.heartbeat();
      }
    })();
    // The handlers log as in Lambda (CloudWatch Logs); here their lines (and EMF records) show only with -debug.
    const lambdaLine = options.debug ? (line: string) => io.err(`[lambda] ${line}`) : () => {};
    const restoreConsole = captureConsole(lambdaLine);
    const restoreTelemetry = setTelemetrySink(lambdaLine);
    const runtime = bundled;
    try {
      result = await runExecution({
        stack,
        input,
        executionName: prepared.name,
        timeScale: options.timeScale,
        signal: controller.signal,
        startTime: now,
        credentials,
        ...(runtime === undefined ? {} : { handlers: (task: TaskId) => runtime.handler(task) }),
        onEvent: (event) => {
          const ended = live.observe(event);
          // In order, as Packer prints them: a command's last output lines before the next state's line.
          printing = printing.then(async () => {
            await live.read(ended).catch(() => undefined);
            printer.handle(event);
          });
          if (event.kind === 'state-exited' && event.state === StateNames.SummarizeBuilds) {
            summary = workflowOutput(event.output) ?? summary;
          }
        },
      });
    } finally {
      running = false;
      await following;
      await printing;
      await live.flush().catch(() => undefined);
      logs.destroy();
      restoreConsole();
      restoreTelemetry();
      stopListening();
    }
    const elapsed = Math.max(0, Date.now() - startedAt);

    if (options.debug) {
      for (const line of debugLines(await emulator.commands())) message(line);
    }

    if (result.status === 'SUCCEEDED') {
      const output = workflowOutput(result.output) ?? { builds: [] };
      closing.blank();
      printer.summary(output, elapsed);
      await writeManifests(output);
      return runExitCode(output, 0);
    }
    if (summary !== undefined) {
      closing.blank();
      printer.summary(summary, elapsed);
      await writeManifests(summary);
    }
    failureClosing(
      closing,
      printer,
      result.status === 'FAILED'
        ? { kind: 'execution-failed', error: result.error ?? 'States.Failed', cause: result.cause ?? '' }
        : { kind: 'execution-aborted', reason: 'aborted' },
      {},
    );
    if (isCleanupReport(result.abortCleanup)) {
      closing.error(
        `==> Abort cleanup (as the stack's EventBridge rule runs it): ${describeCleanup(result.abortCleanup)}`,
      );
    }
    return runExitCode(summary, 1);
  } catch (error) {
    printRunError(io, error);
    return 1;
  } finally {
    s3?.destroy();
    bundled?.stop();
    if (assemblyDir !== undefined) rmSync(assemblyDir, { recursive: true, force: true });
    restoreEnvironment?.();
    if (emulator !== undefined) {
      if (options.keepEmulator) {
        const region = stack?.region ?? 'us-east-1';
        io.err('');
        io.err(
          `The emulator keeps running at ${emulator.endpoint} (pid ${emulator.pid}). Inspect it with the AWS CLI:`,
        );
        io.err(
          `  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing aws --endpoint-url ${emulator.endpoint} --region ${region} ec2 describe-images --owners self`,
        );
        io.err(`Stop it with: kill ${emulator.pid}`);
      } else {
        await emulator.stop();
      }
    }
  }
}

export const command: Command = {
  usage: LOCAL_USAGE,
  run: (args, io) => runLocal(args, io, defaultLocalDeps()),
};

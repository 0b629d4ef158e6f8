/**
 * `npm run bench`: a benchmark of the offline build, not a test. The issue's targets are printed next to the
 * measured values, each met or MISSED; the run ends with the list of missed targets and exits 1 when there is
 * one. Writes `bench/results/latest.json` (gitignored) and prints a table.
 *
 * What it measures, for `examples/basic.json` with time compressed 200 times (as `ami-builder local` runs it):
 * - the build: state transitions, Lambda invocations, AWS API calls by operation (the emulator's counts), wall
 *   time per phase (from the runner's event timestamps) and in total, for the first build in the process (handler
 *   modules load during it) and for a second one;
 * - each Lambda handler against the floor of its SDK clients (bench/handlers.ts): the deployed bundle's size and
 *   cold module initialization in plain `node`, next to a minimal bundle of the same clients built in the same run;
 * - `cdk synth --quiet` as a user runs it (bench/synth.ts): wall and CPU time, and what it printed;
 * - the waits of a realistic build (bench/waits.ts): checks, transitions, invocations and cost per build, and the
 *   worst-case delay before each step's end is noticed, from the synthesized definition and the Check schedules;
 *   (`npm run bench -- --waits` runs only the two builds and this part);
 * - throughput of 1, 10 and 50 concurrent builds in one process against one emulator, with distinct execution
 *   names, and whether any two builds shared an execution name, a launch token, an instance or an AMI.
 *
 * Concurrent executions start one second apart on the workflow's clock ({{timestamp}} is the execution's start
 * time, see {@link run}): `ami_name: "packer-quick-start {{timestamp}}"` started within one second would name the
 * same AMI, which AWS refuses (AmiNameInUseError), as it refuses Packer's builds.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import {
  applyLambdaEnvironment,
  deployToEmulator,
  loadHandler,
  type RunResult,
  runExecution,
} from '../cli/local/runner.js';
import { type SynthesizedStack, synthesizeForLocalRun } from '../cli/local/synthesized.js';
import { captureConsole } from '../cli/local.js';
import { type PreparedExecution, prepareExecution } from '../cli/prepare.js';
import type { LocalEventLog } from '../cli/progress/events.js';
import { EMULATED_ACCOUNT_ID, sourceSeeds } from '../cli/seed.js';
import { uploadStaging } from '../cli/stage.js';
import { ensureExampleX509 } from '../cli/x509.js';
import { type Emulator, startEmulator, useEmulatorEnvironment } from '../emulator/index.js';
import { StateNames } from '../infra/state-names.js';
import { type TaskId, Tasks } from '../infra/tasks.js';
import type { ValidatedTemplate } from '../lambdas/shared/config.js';
import { BYTES_PER_GB, costLines } from '../lambdas/shared/cost/estimate.js';
import { ErrorNames } from '../lambdas/shared/errors.js';
import {
  HANDLER_TABLE_NOTE,
  HANDLER_TARGETS,
  handlerMisses,
  handlerRows,
  measureHandlers,
} from './handlers.js';
import { measureSynth, SYNTH_TARGET_MS, synthVerdict } from './synth.js';
import { table } from './table.js';
import {
  ASSUMED_BILLED_MS,
  PACKER_AMI_WAIT,
  PRICES,
  PROJECTED_BUNDLE_BYTES,
  projectedCost,
  realisticCost,
  realisticWaits,
  WAIT_TARGETS,
  type WaitCost,
} from './waits.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join(ROOT, 'bench', 'results');
const TEMPLATE = 'examples/basic.json';
const CONCURRENCY = [1, 10, 50] as const;

/** The issue's targets (a benchmark, not a timed test). */
const TARGETS = {
  buildWallMs: 3000,
  stateTransitions: 60,
  concurrentBuilds: 50,
};

// ---------------------------------------------------------------------------------------------------------
// Phases

const S = StateNames;
const PHASES: readonly { name: string; states: readonly string[] }[] = [
  {
    name: 'validate',
    states: [S.ValidateTemplate, S.TemplateInvalid, S.ResumeRequestedChoice, S.PrepareResume],
  },
  {
    name: 'prevalidate…launch',
    states: [
      S.BuildEachBuilder,
      S.Prevalidate,
      S.EnsureBundleBucket,
      S.CreateSecurityGroup,
      S.LaunchInstance,
    ],
  },
  {
    name: 'agent',
    states: [S.CheckInstanceRunning, S.CheckSsmAgent],
  },
  {
    name: 'provision',
    states: [
      S.RunProvisioners,
      S.PauseBeforeProvisioner,
      S.SendProvisionerCommand,
      S.CheckProvisionerCommand,
      S.ProvisionerCommandDone,
      S.ProvisionerFinished,
    ],
  },
  {
    name: 'bundle/upload',
    states: [
      S.UploadX509Certificate,
      S.CheckX509Upload,
      S.X509UploadDone,
      S.BundleVolume,
      S.CheckBundleVolume,
      S.BundleVolumeDone,
      S.UploadBundle,
      S.CheckUploadBundle,
      S.UploadBundleDone,
    ],
  },
  {
    name: 'register/copy/finish',
    states: [
      S.ForceDeregisterChoice,
      S.ForceDeregister,
      S.RegisterAmi,
      S.CheckAmiAvailable,
      S.AmiAvailable,
      S.WaitForAmi,
      S.CopyAndFinish,
      S.FinishAmi,
      S.CopyToRegions,
      S.CopyAmi,
      S.CheckAmiCopy,
      S.AmiCopyAvailable,
      S.WaitForAmiCopy,
      S.FinishAmiCopy,
    ],
  },
];
const CLEANUP_PHASE = 'cleanup';
const phaseOf = new Map<string, string>(PHASES.flatMap((p) => p.states.map((s) => [s, p.name] as const)));
const PHASE_NAMES = [...PHASES.map((p) => p.name), CLEANUP_PHASE];

/**
 * Wall time per phase: each interval between two events belongs to the phase of the state last entered. States
 * after the AMI (termination, deletion, the reports and the end) are the cleanup phase.
 */
function phaseTimes(events: readonly LocalEventLog[]): { phases: Record<string, number>; totalMs: number } {
  const phases: Record<string, number> = Object.fromEntries(PHASE_NAMES.map((p) => [p, 0]));
  let current = PHASE_NAMES[0] ?? 'validate';
  for (let i = 0; i < events.length - 1; i += 1) {
    const event = events[i];
    const next = events[i + 1];
    if (event === undefined || next === undefined) continue;
    if (event.type === 'StateEntered' && event.state !== undefined) {
      current = phaseOf.get(event.state.name) ?? CLEANUP_PHASE;
    }
    phases[current] = (phases[current] ?? 0) + (next.timestamp - event.timestamp);
  }
  const first = events[0]?.timestamp ?? 0;
  const last = events[events.length - 1]?.timestamp ?? first;
  return { phases, totalMs: last - first };
}

// ---------------------------------------------------------------------------------------------------------
// The local stack

interface Bench {
  emulator: Emulator;
  stack: SynthesizedStack;
  s3: S3Client;
}

const silentIo = {
  out: () => {},
  err: (line: string) => process.stderr.write(`${line}\n`),
  cwd: ROOT,
  env: process.env,
  readStdin: async () => '',
};

async function setUp(): Promise<Bench & { synthMs: number; emulatorStartMs: number }> {
  const emulatorStarted = Date.now();
  // The benchmark measures the workflow's own cost (transitions, invocations, API calls): commands are simulated
  // and instances and images change state at once, so machine load does not enter the figures.
  const starting = startEmulator({
    agentOnlineDelayMs: 0,
    sandbox: false,
    instanceStartMs: 0,
    instanceStopMs: 0,
    imagePendingMs: 0,
  });
  const synthStarted = Date.now();
  process.env.CDK_VALIDATION = 'false';
  const stack = synthesizeForLocalRun({
    region: 'us-east-1',
    account: EMULATED_ACCOUNT_ID,
    context: { allowedBucketPatterns: ['ami-builder-*', 'packer-images'] },
  });
  const synthMs = Date.now() - synthStarted;
  const emulator = await starting;
  const emulatorStartMs = Date.now() - emulatorStarted;
  useEmulatorEnvironment(emulator.endpoint);
  applyLambdaEnvironment(stack);
  const s3 = new S3Client({ region: stack.region, endpoint: emulator.endpoint, forcePathStyle: true });
  return { emulator, stack, s3, synthMs, emulatorStartMs };
}

/** A fresh emulator state: the stack's resources and the source AMI, as `ami-builder local` creates them. */
async function freshDeployment(bench: Bench, validated: ValidatedTemplate): Promise<void> {
  await bench.emulator.reset();
  await bench.emulator.setOptions({ agentOnlineDelayMs: 0 });
  await deployToEmulator(bench.stack, bench.emulator);
  for (const seed of sourceSeeds(validated.builds)) await bench.emulator.seedImage(seed.image);
}

async function prepare(bench: Bench, now: Date, randomHex: () => string): Promise<PreparedExecution> {
  const prepared = await prepareExecution(
    { file: TEMPLATE, vars: new Map(), varFiles: [] },
    {
      io: silentIo,
      now,
      randomHex,
      say: () => {},
      message: () => {},
      beforeValidation: (input, context) => {
        ensureExampleX509(input, { cwd: ROOT, templateDir: context.templateDir, vars: context.vars });
      },
      stagingTarget: async () => ({ s3: bench.s3, bucket: bench.stack.resources.stagingBucket }),
    },
  );
  await uploadStaging(prepared.staging, bench.s3);
  return prepared;
}

/**
 * Runs one execution. aws-local-stepfunctions sets `$$.Execution.StartTime` to the moment it starts, whatever
 * the runner's `startTime`; a build started concurrently is given its own second on the workflow's clock by
 * setting `execution.startTime` in the task payloads that carry it (Validate Template, Notify).
 */
function run(bench: Bench, prepared: PreparedExecution, startTime?: Date): Promise<RunResult> {
  return runExecution({
    stack: bench.stack,
    input: prepared.input,
    executionName: prepared.name,
    startTime,
    invoke:
      startTime === undefined
        ? undefined
        : (_task, handler, payload) => handler(withStartTime(payload, startTime.toISOString())),
  });
}

function withStartTime(payload: unknown, startTime: string): unknown {
  const p = payload as { execution?: { startTime?: unknown } } | null;
  if (p === null || typeof p !== 'object' || typeof p.execution?.startTime !== 'string') return payload;
  return { ...p, execution: { ...p.execution, startTime } };
}

// ---------------------------------------------------------------------------------------------------------
// One build

interface BuildMeasure {
  status: string;
  wallMs: number;
  executionMs: number;
  phasesMs: Record<string, number>;
  stateTransitions: number;
  lambdaInvocations: Record<string, number>;
  lambdaInvocationsTotal: number;
  apiCalls: { operation: string; region: string; count: number }[];
  apiCallsTotal: number;
  /** Retries on PollPendingError (each one more check, invocation and billed transition beyond each first). */
  pollRetries: number;
}

/** Retries on PollPendingError in an execution's events. */
function pollRetries(events: readonly LocalEventLog[]): number {
  return events.filter(
    (e) =>
      e.type === 'StateRetried' &&
      (e.retry as { retrier?: { ErrorEquals?: string[] } } | undefined)?.retrier?.ErrorEquals?.includes(
        ErrorNames.PollPending,
      ) === true,
  ).length;
}

async function measureOneBuild(bench: Bench, validated: ValidatedTemplate): Promise<BuildMeasure> {
  await freshDeployment(bench, validated);
  const prepared = await prepare(bench, new Date(), () => randomBytes(2).toString('hex'));
  await bench.emulator.resetCalls();
  const started = Date.now();
  const result = await run(bench, prepared);
  const wallMs = Date.now() - started;
  const calls = (await bench.emulator.calls())
    .map((c) => ({ operation: `${c.service}:${c.operation}`, region: c.region, count: c.count }))
    .sort((a, b) => b.count - a.count || a.operation.localeCompare(b.operation));
  const { phases, totalMs } = phaseTimes(result.events);
  return {
    pollRetries: pollRetries(result.events),
    status: result.status,
    wallMs,
    executionMs: totalMs,
    phasesMs: phases,
    stateTransitions: result.stateTransitions,
    lambdaInvocations: Object.fromEntries(
      Object.entries(result.invocations).sort(([a], [b]) => a.localeCompare(b)),
    ),
    lambdaInvocationsTotal: Object.values(result.invocations).reduce((a, b) => a + b, 0),
    apiCalls: calls,
    apiCallsTotal: calls.reduce((a, c) => a + c.count, 0),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Throughput

interface ThroughputMeasure {
  builds: number;
  succeeded: number;
  failed: { name: string; error?: string }[];
  wallMs: number;
  buildsPerMinute: number;
  stateTransitions: number;
  apiCallsTotal: number;
  collisions: {
    executionNamesRedrawn: number;
    duplicateExecutionNames: number;
    duplicateLaunchTokens: number;
    duplicateInstances: number;
    duplicateAmis: number;
  };
}

function duplicates(values: readonly (string | null | undefined)[]): number {
  const present = values.filter((v): v is string => typeof v === 'string' && v !== '');
  return present.length - new Set(present).size;
}

async function measureThroughput(
  bench: Bench,
  validated: ValidatedTemplate,
  builds: number,
): Promise<ThroughputMeasure> {
  await freshDeployment(bench, validated);
  // Names as the CLI draws them (4 random hex digits); a repeat is drawn again and counted.
  const now = new Date();
  const seen = new Set<string>();
  let redrawn = 0;
  const prepared: PreparedExecution[] = [];
  for (let i = 0; i < builds; i += 1) {
    for (;;) {
      const p = await prepare(bench, now, () => randomBytes(2).toString('hex'));
      if (!seen.has(p.name)) {
        seen.add(p.name);
        prepared.push(p);
        break;
      }
      redrawn += 1;
    }
  }
  await bench.emulator.resetCalls();
  const started = Date.now();
  const results = await Promise.all(
    prepared.map((p, i) => run(bench, p, new Date(now.getTime() + i * 1000))),
  );
  const wallMs = Date.now() - started;
  const launches = await bench.emulator.launches();
  const calls = await bench.emulator.calls();
  const amis = results.flatMap((r) => Object.values(r.output?.builds?.[0]?.artifacts ?? {}));
  const succeeded = results.filter((r) => r.status === 'SUCCEEDED').length;
  return {
    builds,
    succeeded,
    failed: results
      .filter((r) => r.status !== 'SUCCEEDED')
      .map((r) => ({ name: r.executionArn.split(':').pop() ?? '', error: r.error })),
    wallMs,
    buildsPerMinute: Math.round((succeeded / (wallMs / 60_000)) * 10) / 10,
    stateTransitions: results.reduce((a, r) => a + r.stateTransitions, 0),
    apiCallsTotal: calls.reduce((a, c) => a + c.count, 0),
    collisions: {
      executionNamesRedrawn: redrawn,
      duplicateExecutionNames: duplicates(results.map((r) => r.executionArn)),
      duplicateLaunchTokens: duplicates(launches.map((l) => l.clientToken)),
      duplicateInstances: duplicates(launches.map((l) => l.instanceId)),
      duplicateAmis: duplicates(amis),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Report

const ms = (value: number) => `${Math.round(value)} ms`;
/** Targets missed in this run: the bench exits 1 and lists them at the end. */
const missed: string[] = [];
const mark = (ok: boolean, target = '') => {
  if (!ok) missed.push(target);
  return ok ? 'meets' : 'MISSES';
};

/** Runs of each command in the side-by-side startup measure; the median is reported. */
const STARTUP_RUNS = 7;

/** Median wall time of `command args` (ms), run STARTUP_RUNS times from the repository root. */
function medianRunMs(command: string, args: readonly string[]): number {
  const times: number[] = [];
  for (let i = 0; i < STARTUP_RUNS; i += 1) {
    const start = performance.now();
    execFileSync(command, args, { cwd: ROOT, stdio: 'ignore' });
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

/**
 * `ami-builder validate` against `packer validate` on the same template, side by side, where packer is on the
 * PATH (Debian: apt-get install packer). Undefined without packer.
 */
function measureValidateStartup(): { amiBuilderMs: number; packerMs: number } | undefined {
  try {
    execFileSync('packer', ['version'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  // Compiled once first, as `npm ci` leaves it.
  execFileSync(process.execPath, ['bin/ami-builder.mjs', 'validate', TEMPLATE], {
    cwd: ROOT,
    stdio: 'ignore',
  });
  try {
    return {
      amiBuilderMs: medianRunMs(process.execPath, ['bin/ami-builder.mjs', 'validate', TEMPLATE]),
      packerMs: medianRunMs('packer', ['validate', TEMPLATE]),
    };
  } catch {
    // A template packer refuses (keys it does not know) has no side-by-side measure.
    return undefined;
  }
}

/** `--waits`: only the two builds and the waits of a realistic build. */
const WAITS_ONLY = process.argv.includes('--waits');

/** The waits table: each step's checks and worst delay, the cost per build, Packer's AMI wait. */
function logWaits(log: (line?: string) => void, waits: WaitCost): void {
  log(
    `Waits of a realistic build (from the synthesized definition's poll retriers; prices of ${PRICES.date}, ` +
      `Lambda billed ${ASSUMED_BILLED_MS} ms per invocation)`,
  );
  const packer = PACKER_AMI_WAIT.delaySeconds;
  log(
    table([
      [
        'step',
        'duration',
        'Check state',
        'schedule',
        'checks',
        'worst delay',
        'of duration',
        'target ≤ 10%',
        `Packer (${packer} s)`,
      ],
      ...waits.steps.map((st) => [
        st.count > 1 ? `${st.step} ×${st.count}` : st.step,
        `${st.seconds} s`,
        st.check,
        st.schedule,
        String(st.checks * st.count),
        `${st.worstDelaySeconds} s`,
        `${((100 * st.worstDelaySeconds) / st.seconds).toFixed(1)} %`,
        mark(st.worstDelaySeconds <= WAIT_TARGETS.delayRatio * st.seconds, `detection delay of ${st.step}`),
        `${(Math.ceil(st.seconds / packer) + 1) * st.count} checks, ${packer} s`,
      ]),
    ]),
  );
  const ami = waits.steps.find((st) => st.check === StateNames.CheckAmiAvailable);
  if (ami !== undefined) {
    log(
      `AMI wait against Packer's (${packer} s × ${PACKER_AMI_WAIT.maxAttempts}): worst delay ` +
        `${ami.worstDelaySeconds} s vs ${packer} s: ${ami.worstDelaySeconds < packer ? 'beats it' : 'does not beat it'}`,
    );
  }
  log(
    `per build: ${waits.transitions} state transitions ($${waits.stepFunctionsUsd.toFixed(4)}), ${waits.invocations} Lambda ` +
      `invocations ($${waits.lambdaUsd.toFixed(4)}): $${waits.totalUsd.toFixed(4)} ` +
      `(target ≤ $${WAIT_TARGETS.costPerBuildUsd}: ${mark(waits.totalUsd <= WAIT_TARGETS.costPerBuildUsd, 'cost per build')})`,
  );
}

async function main(): Promise<void> {
  const log = (line = '') => process.stdout.write(`${line}\n`);
  log(`ami-builder benchmark: ${TEMPLATE}, waits zeroed (node ${process.version}, ${process.platform})`);
  const setup = await setUp();
  const bench: Bench = setup;
  const restoreConsole = captureConsole(() => {});
  let report: Record<string, unknown>;
  try {
    // The validated template tells which source AMI to seed; preparing it stages to the deployed bucket.
    await deployToEmulator(bench.stack, bench.emulator);
    const first = await prepare(bench, new Date(), () => randomBytes(2).toString('hex'));
    const validated = first.validated;

    const cold = await measureOneBuild(bench, validated);
    // Every handler module is loaded now: the second build runs warm.
    await Promise.all((Object.keys(Tasks) as TaskId[]).map((t) => loadHandler(t)));
    const warm = await measureOneBuild(bench, validated);
    const waits = realisticCost(
      realisticWaits(bench.stack.definition),
      {
        transitions: warm.stateTransitions,
        invocations: warm.lambdaInvocationsTotal,
        pollRetries: warm.pollRetries,
      },
      bench.stack.region,
    );
    if (WAITS_ONLY) {
      restoreConsole();
      log(
        `Offline build (second): ${warm.status}, ${warm.stateTransitions} states entered, ` +
          `${warm.lambdaInvocationsTotal} invocations, ${warm.pollRetries} poll retries`,
      );
      log();
      logWaits(log, waits);
      return;
    }
    const throughput: ThroughputMeasure[] = [];
    for (const n of CONCURRENCY) throughput.push(await measureThroughput(bench, validated, n));
    restoreConsole();
    log('Bundling every handler, building their floors and importing each in fresh processes...');
    const handlers = await measureHandlers(bench.stack.environment, bench.stack.region);
    const config = validated.builds[0];
    if (config === undefined) throw new Error(`${TEMPLATE} has no build`);
    const projected = projectedCost(waits, config, bench.stack.region, 60);
    log('Running cdk synth --quiet...');
    const synth = measureSynth(ROOT);

    report = {
      generatedAt: new Date().toISOString(),
      template: TEMPLATE,
      node: process.version,
      targets: TARGETS,
      setup: { synthMs: setup.synthMs, emulatorStartMs: setup.emulatorStartMs },
      build: { cold, warm },
      handlers,
      synth,
      waits,
      projected,
      throughput,
    };

    // The table.
    log();
    log('Basic example, one build');
    log(
      table([
        ['', 'first build', 'second build', 'target'],
        ['status', cold.status, warm.status, ''],
        [
          'wall time (run)',
          ms(cold.wallMs),
          ms(warm.wallMs),
          `< ${TARGETS.buildWallMs} ms: ${mark(warm.wallMs < TARGETS.buildWallMs, 'build wall time')}`,
        ],
        ['execution (first → last event)', ms(cold.executionMs), ms(warm.executionMs), ''],
        ...PHASE_NAMES.map((p) => [`  ${p}`, ms(cold.phasesMs[p] ?? 0), ms(warm.phasesMs[p] ?? 0), '']),
        [
          'state transitions',
          String(cold.stateTransitions),
          String(warm.stateTransitions),
          `<= ${TARGETS.stateTransitions}: ${mark(warm.stateTransitions <= TARGETS.stateTransitions, 'state transitions')}`,
        ],
        ['Lambda invocations', String(cold.lambdaInvocationsTotal), String(warm.lambdaInvocationsTotal), ''],
        ['AWS API calls', String(cold.apiCallsTotal), String(warm.apiCallsTotal), ''],
      ]),
    );
    log(
      `(setup, not part of the build: synth ${ms(setup.synthMs)}, emulator start ${ms(setup.emulatorStartMs)})`,
    );
    log();
    log('Lambda invocations by task (second build)');
    log(
      table([
        ['task', 'invocations'],
        ...Object.entries(warm.lambdaInvocations).map(([t, n]) => [t, String(n)]),
      ]),
    );
    log();
    log('AWS API calls by operation (second build)');
    log(
      table([
        ['operation', 'region', 'calls'],
        ...warm.apiCalls.map((c) => [c.operation, c.region, String(c.count)]),
      ]),
    );
    log();
    log(
      `Handlers against the floor of their SDK clients: code file (index.mjs; the source map is apart) and cold module ` +
        `initialization in plain node, median of 7 (targets: ≤ ${HANDLER_TARGETS.sizeRatio}× and ≤ ${HANDLER_TARGETS.initRatio}× the floor; ` +
        `≤ ${HANDLER_TARGETS.noEc2InitMs} ms without EC2; nothing pending after load that the floor lacks)`,
    );
    log(table(handlerRows(handlers)));
    log(HANDLER_TABLE_NOTE);
    log(`(one esbuild pass over every handler: ${ms(handlers.bundleMs)})`);
    missed.push(...handlerMisses(handlers));
    log();
    const synthJudged = synthVerdict(synth);
    log(
      `cdk synth --quiet: ${ms(synth.wallMs)} wall, ${ms(synth.cpuMs)} CPU, load average ${synth.loadAverage.toFixed(1)} at start ` +
        `(target ≤ ${SYNTH_TARGET_MS} ms on an idle 2-core machine, judged by ${synthJudged.judgedBy === 'wall' ? 'the wall time' : 'the CPU time: the machine was loaded'}, ` +
        `and nothing printed: ${mark(synthJudged.ok, 'cdk synth --quiet')}); ` +
        `printed ${synth.printed.trim() === '' ? 'nothing' : `:\n${synth.printed.trimEnd()}`}`,
    );
    log();
    logWaits(log, waits);
    log();
    log(
      `Projected cost of a 60-minute build at today's polling (${config.instanceType} in ${config.region}, the ` +
        `realistic build's transitions and invocations, a ${PROJECTED_BUNDLE_BYTES / BYTES_PER_GB} GiB bundle; prices of ${PRICES.date}):`,
    );
    for (const line of costLines(config.name, projected)) log(line);
    log();
    log('Throughput: concurrent builds in one process against one emulator');
    log(
      table([
        [
          'builds',
          'succeeded',
          'wall time',
          'builds/min',
          'transitions',
          'API calls',
          'name/token/instance/AMI collisions',
        ],
        ...throughput.map((t) => [
          String(t.builds),
          String(t.succeeded),
          ms(t.wallMs),
          String(t.buildsPerMinute),
          String(t.stateTransitions),
          String(t.apiCallsTotal),
          `${t.collisions.duplicateExecutionNames}/${t.collisions.duplicateLaunchTokens}/${t.collisions.duplicateInstances}/${t.collisions.duplicateAmis} (names redrawn: ${t.collisions.executionNamesRedrawn})`,
        ]),
      ]),
    );
    const fifty = throughput.find((t) => t.builds === TARGETS.concurrentBuilds);
    if (fifty !== undefined) {
      const clean = Object.entries(fifty.collisions)
        .filter(([k]) => k !== 'executionNamesRedrawn')
        .every(([, v]) => v === 0);
      log(
        `target: ${TARGETS.concurrentBuilds} concurrent builds all succeed with no collisions: ${mark(fifty.succeeded === fifty.builds && clean, 'concurrent builds')}`,
      );
    }
  } finally {
    restoreConsole();
    bench.s3.destroy();
    await bench.emulator.stop();
  }
  const startup = measureValidateStartup();
  if (startup === undefined) {
    log(`validate startup: packer is not installed or refuses ${TEMPLATE}; no side-by-side measure`);
  } else {
    log(
      `validate ${TEMPLATE}, median of ${STARTUP_RUNS}: ami-builder ${ms(startup.amiBuilderMs)}, packer ${ms(startup.packerMs)}: ` +
        `target (no slower than packer): ${mark(startup.amiBuilderMs <= startup.packerMs, 'validate startup against packer')}`,
    );
    report.validateStartup = startup;
  }
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, 'latest.json');
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  log();
  log(`Wrote ${relative(ROOT, file)}`);
  if (missed.length > 0) {
    log(`MISSED ${missed.length} target(s):`);
    for (const m of missed) log(`  MISS ${m}`);
    process.exitCode = 1;
  } else {
    log('every target met');
  }
}

await main();

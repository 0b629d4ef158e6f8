/**
 * Workflow coverage: which states, Catch handlers and retriers of the synthesized definition the local runner's
 * executions went through. The inventory is read from the definition itself (every state, every Catch entry,
 * every Retry entry, inside Map and Parallel states too), so a state or Catch added to the workflow is counted
 * without any list to keep.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { walkStates } from '../../cli/local/runner.js';
import type { LocalEventLog } from '../../cli/progress/events.js';

/** What a definition can exercise, each item by its coverage key. */
export interface CoverageInventory {
  /** State names. */
  states: string[];
  /** `<state> → <Next> [<ErrorEquals>]`, one per Catch entry. */
  catches: string[];
  /** `<state> [<ErrorEquals>]`, one per Retry entry. */
  retriers: string[];
}

/** How many times each item was exercised (entered, taken, fired). */
export interface CoverageCounts {
  states: Record<string, number>;
  catches: Record<string, number>;
  retriers: Record<string, number>;
}

interface Catcher {
  ErrorEquals?: string[];
  Next?: string;
}

interface Retrier {
  ErrorEquals?: string[];
}

/** The key of a Catch entry. */
export function catchKey(state: string, catcher: Catcher): string {
  return `${state} → ${catcher.Next ?? '?'} [${(catcher.ErrorEquals ?? []).join(', ')}]`;
}

/** The key of a Retry entry. */
export function retrierKey(state: string, retrier: Retrier): string {
  return `${state} [${(retrier.ErrorEquals ?? []).join(', ')}]`;
}

/** Every state, Catch entry and Retry entry of a definition. */
export function coverageInventory(definition: Record<string, unknown>): CoverageInventory {
  const inventory: CoverageInventory = { states: [], catches: [], retriers: [] };
  walkStates(definition, (name, state) => {
    inventory.states.push(name);
    for (const catcher of (state.Catch ?? []) as Catcher[]) inventory.catches.push(catchKey(name, catcher));
    for (const retrier of (state.Retry ?? []) as Retrier[])
      inventory.retriers.push(retrierKey(name, retrier));
  });
  return inventory;
}

/** An empty count. */
export function emptyCounts(): CoverageCounts {
  return { states: {}, catches: {}, retriers: {} };
}

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/**
 * Adds an execution's events to `counts`: StateEntered, StateCaught (the Catch entry taken) and StateRetried
 * (the Retry entry that fired), Map iterations and Parallel branches included.
 */
export function countEvents(
  events: readonly LocalEventLog[],
  counts: CoverageCounts = emptyCounts(),
): CoverageCounts {
  for (const event of events) {
    const name = event.state?.name;
    if (name === undefined) continue;
    if (event.type === 'StateEntered') bump(counts.states, name);
    else if (event.type === 'StateCaught') {
      const catcher = (event as { catch?: { catcher?: Catcher } }).catch?.catcher;
      if (catcher) bump(counts.catches, catchKey(name, catcher));
    } else if (event.type === 'StateRetried') {
      const retrier = (event.retry as { retrier?: Retrier } | undefined)?.retrier;
      if (retrier) bump(counts.retriers, retrierKey(name, retrier));
    }
  }
  return counts;
}

/** Adds `more` to `into`. */
export function mergeCounts(into: CoverageCounts, more: CoverageCounts): CoverageCounts {
  for (const kind of ['states', 'catches', 'retriers'] as const) {
    for (const [key, n] of Object.entries(more[kind])) into[kind][key] = (into[kind][key] ?? 0) + n;
  }
  return into;
}

/** One kind's coverage: what was exercised and what was not. */
export interface KindCoverage {
  total: number;
  covered: string[];
  missed: string[];
}

export interface CoverageReport {
  states: KindCoverage;
  catches: KindCoverage;
  retriers: KindCoverage;
  /** Retriers grouped by their error list (`AwsTransientError`, `SecurityGroupInUseError`, …): fired or not. */
  retrierClasses: { errors: string; total: number; fired: number }[];
}

function kind(keys: readonly string[], counts: Record<string, number>): KindCoverage {
  const unique = [...new Set(keys)];
  return {
    total: unique.length,
    covered: unique.filter((k) => (counts[k] ?? 0) > 0),
    missed: unique.filter((k) => (counts[k] ?? 0) === 0),
  };
}

/** Compares what the definition holds with what the executions did. */
export function coverageReport(inventory: CoverageInventory, counts: CoverageCounts): CoverageReport {
  const classes = new Map<string, { total: number; fired: number }>();
  for (const key of new Set(inventory.retriers)) {
    const errors = /\[(.*)\]$/.exec(key)?.[1] ?? '';
    const c = classes.get(errors) ?? { total: 0, fired: 0 };
    c.total += 1;
    if ((counts.retriers[key] ?? 0) > 0) c.fired += 1;
    classes.set(errors, c);
  }
  return {
    states: kind(inventory.states, counts.states),
    catches: kind(inventory.catches, counts.catches),
    retriers: kind(inventory.retriers, counts.retriers),
    retrierClasses: [...classes].map(([errors, c]) => ({ errors, ...c })),
  };
}

/** The report as text: totals, then each state and Catch not exercised, then retrier classes. */
export function formatCoverage(report: CoverageReport): string {
  const pct = (k: KindCoverage) => `${k.covered.length} of ${k.total}`;
  const lines = [
    `States entered:        ${pct(report.states)}`,
    `Catch handlers taken:  ${pct(report.catches)}`,
    `Retriers fired:        ${pct(report.retriers)}`,
  ];
  for (const [label, k] of [
    ['State never entered', report.states],
    ['Catch never taken', report.catches],
  ] as const) {
    for (const key of k.missed) lines.push(`  ${label}: ${key}`);
  }
  lines.push('Retrier classes (states whose retrier fired / states with it):');
  for (const c of report.retrierClasses) lines.push(`  ${c.errors}: ${c.fired} / ${c.total}`);
  return lines.join('\n');
}

// ─── The record the workflow tier leaves under .tmp/ ──────────────────────────────────────────────────────────

/** Where the workflow tier's runs record what their executions covered: one folder per test run. */
export const COVERAGE_ROOT = fileURLToPath(new URL('../../.tmp/workflow-coverage/', import.meta.url));
/** A run's folder when no global setup named one (a test run under another configuration). */
const DEFAULT_RUN = 'default';
/** Run folders older than this are removed when a run starts (runs may overlap: newer ones are kept). */
const STALE_RUN_MS = 6 * 60 * 60 * 1000;

/** One test file's record. */
export interface CoverageRecord {
  /** The test file, relative to the repository root. */
  file: string;
  inventory: CoverageInventory;
  counts: CoverageCounts;
  executions: number;
}

const recordPath = (runDir: string, file: string) =>
  join(runDir, `${file.replace(/[^A-Za-z0-9.-]+/g, '_')}.json`);

/** The folder of a run: `<root>/<run id>`. */
export function runDirectory(runId: string = DEFAULT_RUN): string {
  return join(COVERAGE_ROOT, runId);
}

/**
 * Adds an execution's events to its test file's record in the run's folder. Test files run in parallel
 * processes: each writes only its own file, synchronously, so no record is ever half-written by another.
 */
export function recordExecution(
  runDir: string,
  file: string,
  definition: Record<string, unknown>,
  events: readonly LocalEventLog[],
): void {
  mkdirSync(runDir, { recursive: true });
  const path = recordPath(runDir, file);
  const record: CoverageRecord = existsSync(path)
    ? (JSON.parse(readFileSync(path, 'utf8')) as CoverageRecord)
    : { file, inventory: coverageInventory(definition), counts: emptyCounts(), executions: 0 };
  countEvents(events, record.counts);
  record.executions += 1;
  writeFileSync(path, JSON.stringify(record));
}

/** Every record of a run's folder. */
export function readRecords(runDir: string): CoverageRecord[] {
  if (!existsSync(runDir)) return [];
  return readdirSync(runDir)
    .filter((name) => name.endsWith('.json'))
    .map((name) => JSON.parse(readFileSync(join(runDir, name), 'utf8')) as CoverageRecord);
}

/** Starts a run: a new empty folder, and the folders of runs long finished removed. */
export function startRun(now: Date = new Date()): string {
  mkdirSync(COVERAGE_ROOT, { recursive: true });
  for (const name of readdirSync(COVERAGE_ROOT)) {
    const dir = join(COVERAGE_ROOT, name);
    if (now.getTime() - statSync(dir).mtimeMs > STALE_RUN_MS) rmSync(dir, { recursive: true, force: true });
  }
  const runDir = runDirectory(`${now.toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
  mkdirSync(runDir, { recursive: true });
  return runDir;
}

/** The folder of the newest run that recorded something. */
export function latestRun(): string | undefined {
  if (!existsSync(COVERAGE_ROOT)) return undefined;
  return readdirSync(COVERAGE_ROOT)
    .map((name) => join(COVERAGE_ROOT, name))
    .filter((dir) => readRecords(dir).length > 0)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

/** The union of the records' inventories and the sum of their counts. */
export function combineRecords(records: readonly CoverageRecord[]): {
  inventory: CoverageInventory;
  counts: CoverageCounts;
} {
  const inventory: CoverageInventory = { states: [], catches: [], retriers: [] };
  const counts = emptyCounts();
  for (const record of records) {
    for (const kind of ['states', 'catches', 'retriers'] as const) {
      inventory[kind] = [...new Set([...inventory[kind], ...record.inventory[kind]])];
    }
    mergeCounts(counts, record.counts);
  }
  return { inventory, counts };
}

/**
 * States and Catch handlers no offline execution can reach, each with why. Keep it empty unless a path truly
 * cannot be driven by the real handlers against the emulator.
 */
export const COVERAGE_EXCLUSIONS: Readonly<Record<string, string>> = {};

/**
 * Retrier classes that must fire somewhere in the workflow tier: the Retry on PollPendingError is how every wait
 * polls (lambdas/shared/poll.ts), so a tier in which none fired did not exercise the waits at all.
 */
export const REQUIRED_RETRIER_CLASSES: readonly string[] = ['PollPendingError'];

/**
 * The states and Catch handlers the report shows as never exercised, minus the documented exclusions, and each
 * {@link REQUIRED_RETRIER_CLASSES} class that fired on no state.
 */
export function unexercised(report: CoverageReport, exclusions: Readonly<Record<string, string>>): string[] {
  return [
    ...report.states.missed.map((s) => `state ${s}`),
    ...report.catches.missed.map((c) => `catch ${c}`),
    ...REQUIRED_RETRIER_CLASSES.filter(
      (errors) => (report.retrierClasses.find((c) => c.errors === errors)?.fired ?? 0) === 0,
    ).map((errors) => `retrier ${errors}`),
  ].filter((item) => exclusions[item.replace(/^(state|catch|retrier) /, '')] === undefined);
}

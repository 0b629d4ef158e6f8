/**
 * The build's metrics, emitted where each fact becomes known: a poll loop's end gives its check count, a phase's
 * or a command's duration; Report Build gives the build's duration and result; every cleanup report gives the
 * resources left behind. Names and dimensions: {@link MetricNames} in `observability.ts`.
 *
 * Durations come from the poll results' own clock: a wait's first check stamps `startedAt` (the wait starts
 * with a check, right after the step that started the work; with Retry-based polling, that is when the Check
 * state was entered, `$$.State.EnteredTime`), every check stamps `checkedAt`.
 */
import { millisecondsBetween } from './duration.js';
import { emitMetrics, MetricDimensions, MetricNames, type Phase } from './observability.js';
import {
  type BuildOutput,
  type BuildState,
  type CheckContext,
  type CleanupReport,
  isSuccessfulStatus,
  type PollResult,
  retriedKey,
} from './state.js';

const secondsBetween = (from: string, to: Date): number => millisecondsBetween(from, to) / 1000;

/**
 * The phase a command's loop ends, if any: bundling and uploading are one command each; provisioning ends with
 * the last provisioner's command and runs from the agent coming online.
 */
function commandPhase(build: BuildState): { phase: Phase; since?: string } | undefined {
  const command = build.command;
  switch (command?.kind) {
    case 'bundle':
      return { phase: 'bundle' };
    case 'upload':
      return { phase: 'upload' };
    case 'provision': {
      const last = build.config.provisioners.length - 1;
      if (command.provisionerIndex !== last) return undefined;
      return { phase: 'provision', since: build.poll.agent?.checkedAt };
    }
    default:
      return undefined;
  }
}

/**
 * The Check states' run counts with one more run of `checkState`: carried under the poll key across targets, so
 * that every check a build makes is counted once (the cost estimate's poll iterations).
 */
export function countCheck(
  previous: Record<string, number> | undefined,
  checkState: string,
  retries = 0,
): Record<string, number> {
  const counts = { ...previous, [checkState]: (previous?.[checkState] ?? 0) + 1 + retries };
  // Runs through the state's own Retry (1 transition each, not the loop's): counted apart as well.
  if (retries > 0) counts[retriedKey(checkState)] = (previous?.[retriedKey(checkState)] ?? 0) + retries;
  return counts;
}

/** What a Check task's loop measures. */
export interface CheckMetrics {
  /** The phase the loop's end closes. */
  phase?: Phase;
  /** The loop waits on an SSM command: its duration goes to `CommandDuration` by kind, and maybe a phase. */
  command?: boolean;
}

/**
 * Stamps a check's result with the wait's start (carried over while the target stays the same, else the Check
 * state's entry) and this check's time; when the wait ends, emits its check count and the durations it closes.
 *
 * @param key the `$.poll` key the result is stored at
 * @param check the Check state's retries (`$$.State`), when the payload carries them
 */
export function timedCheck(
  build: BuildState,
  key: string,
  result: PollResult,
  now: Date,
  measures: CheckMetrics = {},
  checkState?: string,
  check?: CheckContext,
): PollResult {
  const previous = build.poll[key];
  const checkedAt = now.toISOString();
  const entered = check?.enteredTime;
  const startedAt =
    previous !== undefined && previous.target === result.target && previous.startedAt !== undefined
      ? previous.startedAt
      : entered !== undefined && !Number.isNaN(Date.parse(entered)) && Date.parse(entered) <= now.getTime()
        ? new Date(entered).toISOString()
        : checkedAt;
  const timed: PollResult = { ...result, startedAt, checkedAt };
  if (checkState !== undefined)
    timed.counts = countCheck(previous?.counts, checkState, check?.retryCount ?? 0);
  if (!result.done) return timed;

  const loopSeconds = secondsBetween(startedAt, now);
  emitMetrics({ [MetricDimensions.wait]: key }, (m) => m.count(MetricNames.pollChecks, result.attempt));
  if (measures.phase !== undefined) {
    const phase = measures.phase;
    emitMetrics({ [MetricDimensions.phase]: phase }, (m) =>
      m.seconds(MetricNames.phaseDuration, loopSeconds),
    );
  }
  if (measures.command && build.command !== undefined) {
    emitMetrics({ [MetricDimensions.commandKind]: build.command.kind }, (m) =>
      m.seconds(MetricNames.commandDuration, loopSeconds),
    );
    const closes = commandPhase(build);
    if (closes !== undefined) {
      const seconds = closes.since === undefined ? loopSeconds : secondsBetween(closes.since, now);
      emitMetrics({ [MetricDimensions.phase]: closes.phase }, (m) =>
        m.seconds(MetricNames.phaseDuration, seconds),
      );
    }
  }
  return timed;
}

/**
 * The cleanup phase, emitted when Delete Temporary Resources ends: from the instance's termination (the first
 * check of its loop) to now. Nothing when the build had no instance to terminate.
 */
export function emitCleanupPhase(build: BuildState, now: Date): void {
  const since = build.poll.instanceTerminated?.startedAt;
  if (since === undefined) return;
  emitMetrics({ [MetricDimensions.phase]: 'cleanup' }, (m) =>
    m.seconds(MetricNames.phaseDuration, secondsBetween(since, now)),
  );
}

/**
 * How many resources a cleanup report leaves in the account: those kept on purpose (`on_error: abort`) and those
 * that could not be removed, both listed under `kept`.
 */
export function resourcesLeftBehind(report: CleanupReport | undefined): number {
  return report?.kept.length ?? 0;
}

/**
 * The resources a cleanup left behind, by who reports them: `build` (Report Build, per build) or
 * `abort-cleanup` (the sweep after an execution ends). 0 is emitted too, so that clean runs show.
 */
export function emitResourcesLeftBehind(
  reporter: 'build' | 'abort-cleanup',
  report: CleanupReport | undefined,
): void {
  emitMetrics({ [MetricDimensions.reporter]: reporter }, (m) =>
    m.count(MetricNames.resourcesLeftBehind, resourcesLeftBehind(report)),
  );
}

/** A build's end: its duration, its result (also by error name when it failed) and what it left behind. */
export function emitBuildResult(build: BuildState, output: BuildOutput, now: Date): void {
  // An unchanged build (skip_if_unchanged) succeeded too.
  const succeeded = isSuccessfulStatus(output.status);
  emitMetrics({}, (m) => {
    m.seconds(MetricNames.buildDuration, secondsBetween(build.execution.startTime, now));
    m.count(succeeded ? MetricNames.buildSucceeded : MetricNames.buildFailed, 1);
  });
  if (!succeeded) {
    const errorName = output.error?.Error || 'Unknown';
    emitMetrics({ [MetricDimensions.errorName]: errorName }, (m) => m.count(MetricNames.buildFailed, 1));
  }
  emitResourcesLeftBehind('build', output.cleanup);
}

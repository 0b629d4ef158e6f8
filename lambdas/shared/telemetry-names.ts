/**
 * The names the tasks' telemetry shares with the stack (the dashboard, the log level setting): apart from
 * `observability.ts`, so that infra reads them without loading the telemetry libraries.
 */

/** CloudWatch namespace of every metric; the stack's dashboard reads the same one. */
export const METRICS_NAMESPACE = 'AmiBuilder';

/**
 * The metrics the tasks emit. Every one carries the dimension `service` (the stack's name), plus the dimension
 * named next to it.
 */
export const MetricNames = {
  /** Seconds from the execution's start to Report Build, per build (no further dimension). */
  buildDuration: 'BuildDuration',
  /** Seconds of one phase of a build; dimension `Phase` ({@link Phases}). */
  phaseDuration: 'PhaseDuration',
  /** 1 per build that succeeded (no further dimension). */
  buildSucceeded: 'BuildSucceeded',
  /** 1 per build that failed; emitted twice: without a further dimension, and with `ErrorName`. */
  buildFailed: 'BuildFailed',
  /** Seconds from sending an SSM command to its end; dimension `CommandKind`. */
  commandDuration: 'CommandDuration',
  /** Checks one Wait → Check → Choice loop made until it ended; dimension `Wait` (the `$.poll` key). */
  pollChecks: 'PollChecks',
  /** Resources a cleanup left in the account (kept or not removable); dimension `Report` (`build`, `abort-cleanup`). */
  resourcesLeftBehind: 'ResourcesLeftBehind',
} as const;

/** Dimension names besides `service`. */
export const MetricDimensions = {
  phase: 'Phase',
  errorName: 'ErrorName',
  commandKind: 'CommandKind',
  wait: 'Wait',
  reporter: 'Report',
} as const;

/** The phases of a build, in order, as `PhaseDuration`'s `Phase` dimension. */
export const Phases = [
  'launch',
  'agent',
  'provision',
  'bundle',
  'upload',
  'register',
  'copy',
  'cleanup',
] as const;
export type Phase = (typeof Phases)[number];

/** The environment variable that sets the log level (the stack's `logLevel` context). */
export const LOG_LEVEL_ENV = 'POWERTOOLS_LOG_LEVEL';
/** Log levels the stack accepts. */
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

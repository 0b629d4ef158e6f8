/**
 * Logs, traces and metrics of every task, from Powertools for AWS Lambda (TypeScript):
 *
 * - one {@link logger} writing JSON lines that carry the invocation's correlation keys (execution, build, state,
 *   instance, command and image ids), with one mask applied to every value ({@link setLogMask});
 * - one {@link Tracer} that captures every SDK client ({@link captureClient}) and opens a subsegment per
 *   invocation annotated with the build and the execution;
 * - metrics in CloudWatch's embedded metric format ({@link emitMetrics}), one self-contained record per call.
 *
 * Log lines and EMF records go to one {@link setTelemetrySink | sink}: standard output in Lambda (CloudWatch Logs
 * turns EMF records into metrics), the local runner's own output when the handlers run in-process.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { LogItem } from '@aws-lambda-powertools/logger';
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogItemExtraInput, LogItemMessage } from '@aws-lambda-powertools/logger/types';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';

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

/** Keys that tie a log line to its build; absent keys are left out of the line. */
export interface Correlation {
  execution_name?: string;
  build_name?: string;
  state_name?: string;
  instance_id?: string;
  command_id?: string;
  image_id?: string;
}

// ─── Output ──────────────────────────────────────────────────────────────────────────────────────────────────

/** Receives one log line or EMF record (JSON, no newline). */
export type TelemetrySink = (line: string) => void;

const standardOutput: TelemetrySink = (line) => {
  process.stdout.write(`${line}\n`);
};
let sink: TelemetrySink = standardOutput;

/**
 * Sends log lines and EMF records to `next` instead of standard output (the local runner shows them with
 * `--debug`; tests read them). Returns the function that restores the previous sink.
 */
export function setTelemetrySink(next: TelemetrySink): () => void {
  const previous = sink;
  sink = next;
  return () => {
    sink = previous;
  };
}

// ─── Masking ─────────────────────────────────────────────────────────────────────────────────────────────────

const unmasked = (text: string): string => text;
let mask: (text: string) => string = unmasked;

/**
 * Sets the function every string of every log record passes through before it is written (message, keys,
 * error messages and stacks, nested values): the one place where sensitive values are masked. Returns the
 * function that restores the previous mask.
 */
export function setLogMask(next: (text: string) => string): () => void {
  const previous = mask;
  mask = next;
  return () => {
    mask = previous;
  };
}

// ─── Logger ──────────────────────────────────────────────────────────────────────────────────────────────────

const correlation = new AsyncLocalStorage<Correlation>();
const serviceName = () => process.env.STACK_NAME ?? 'AmiBuilder';

/**
 * Powertools' Logger with two changes: the invocation's correlation keys are read from async-local storage, so
 * that invocations running concurrently in one process (the local runner's parallel builds) keep their own keys;
 * and lines go to the telemetry sink.
 */
class TaskLogger extends Logger {
  protected override createAndPopulateLogItem(
    logLevel: number,
    input: LogItemMessage,
    extraInput: LogItemExtraInput,
  ): LogItem {
    const item = super.createAndPopulateLogItem(logLevel, input, extraInput);
    const keys = correlation.getStore();
    if (keys !== undefined) item.addAttributes({ ...keys });
    return item;
  }

  protected override printLog(_logLevel: number, log: LogItem): void {
    log.prepareForPrint();
    sink(JSON.stringify(log.getAttributes(), this.getJsonReplacer()));
  }
}

let loggerInstance: Logger | undefined;

/**
 * The tasks' logger, created on first use (after the local runner has set the stack's environment). Its level
 * comes from `POWERTOOLS_LOG_LEVEL` (set per stack), its `service` is the stack's name; every string value passes
 * through the mask set by {@link setLogMask}.
 */
export function logger(): Logger {
  loggerInstance ??= new TaskLogger({
    serviceName: serviceName(),
    jsonReplacerFn: (_key, value) => (typeof value === 'string' ? mask(value) : value),
  });
  return loggerInstance;
}

/** Logs `message` at INFO: the `log` dependency of task functions. */
export const logInfo = (message: string): void => logger().info(message);

// ─── Tracer ──────────────────────────────────────────────────────────────────────────────────────────────────

let tracerInstance: Tracer | undefined;

/** The tasks' tracer, created on first use. Tracing is active only in Lambda (Powertools' own rule). */
export function tracer(): Tracer {
  tracerInstance ??= new Tracer({ serviceName: serviceName() });
  return tracerInstance;
}

/** Captures an SDK v3 client, so that each of its calls is a subsegment of the invocation's trace. */
export function captureClient<C>(client: C): C {
  return tracer().captureAWSv3Client(client);
}

// ─── Metrics ─────────────────────────────────────────────────────────────────────────────────────────────────

/** Powertools' Metrics, writing its EMF record to the telemetry sink. */
class TaskMetrics extends Metrics {
  override publishStoredMetrics(): this {
    try {
      if (this.hasStoredMetrics() && !this.isDisabled()) sink(JSON.stringify(this.serializeMetrics()));
    } finally {
      this.clearMetrics();
      this.clearDimensions();
      this.clearMetadata();
    }
    return this;
  }
}

/** What {@link emitMetrics} hands its callback. */
export interface MetricsRecord {
  /** Adds a value in seconds. */
  seconds(name: string, value: number): void;
  /** Adds a count. */
  count(name: string, value: number): void;
}

/**
 * Writes one EMF record: the metrics `add` puts in, under `service` plus `dimensions`, with the invocation's
 * correlation keys as properties (searchable in CloudWatch Logs, not dimensions; masked like log values). A fresh record per call keeps
 * invocations that run concurrently in one process apart.
 */
export function emitMetrics(dimensions: Record<string, string>, add: (record: MetricsRecord) => void): void {
  const metrics = new TaskMetrics({ namespace: METRICS_NAMESPACE, serviceName: serviceName() });
  for (const [name, value] of Object.entries(dimensions)) metrics.addDimension(name, value);
  for (const [key, value] of Object.entries(correlation.getStore() ?? {})) {
    // EMF records are log lines too: the same mask applies to what they carry besides metric values.
    if (value !== undefined) metrics.addMetadata(key, mask(value));
  }
  add({
    seconds: (name, value) => metrics.addMetric(name, MetricUnit.Seconds, Math.max(0, value)),
    count: (name, value) => metrics.addMetric(name, MetricUnit.Count, value),
  });
  metrics.publishStoredMetrics();
}

// ─── Invocation ──────────────────────────────────────────────────────────────────────────────────────────────

const record = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value.length > 0 ? value : undefined;

/**
 * The correlation keys of a task's event, read without trusting its shape: the build envelope
 * (`{ build, args, state }`), the payloads of Validate Template, Summarize Builds and Notify (`execution`), and
 * the EventBridge status change Abort Cleanup receives (`detail.name`).
 */
export function correlationOf(event: unknown): Correlation {
  const e = record(event);
  const build = record(e?.build);
  const args = record(e?.args);
  const keys: Correlation = {
    execution_name:
      text(record(build?.execution)?.name) ??
      text(record(e?.execution)?.name) ??
      text(record(e?.detail)?.name),
    build_name: text(record(build?.config)?.name),
    state_name: text(e?.state),
    instance_id: text(record(build?.instance)?.instanceId),
    command_id: text(record(build?.command)?.commandId),
    image_id:
      text(args?.imageId) ?? text(record(build?.copy)?.imageId) ?? text(record(build?.image)?.imageId),
  };
  for (const key of Object.keys(keys) as (keyof Correlation)[]) {
    if (keys[key] === undefined) delete keys[key];
  }
  return keys;
}

/**
 * Runs one invocation with its correlation keys set for the logger and the metrics, inside a trace subsegment
 * (`## <state or task>`) annotated with the build and the execution when tracing is active. Errors are logged
 * (name and message) and thrown on.
 */
export async function observeInvocation<R>(
  event: unknown,
  run: () => Promise<R>,
  context?: Context,
): Promise<R> {
  const keys = correlationOf(event);
  // Lambda runs one invocation at a time per environment: the context (request id, function) may be shared.
  if (context !== undefined) logger().addContext(context);
  return correlation.run(keys, async () => {
    const t = tracer();
    const parent = t.isTracingEnabled() ? t.getSegment() : undefined;
    const subsegment = parent?.addNewSubsegment(`## ${keys.state_name ?? 'handler'}`);
    if (subsegment !== undefined) {
      t.setSegment(subsegment);
      t.annotateColdStart();
      t.addServiceNameAnnotation();
      if (keys.build_name !== undefined) t.putAnnotation('build', keys.build_name);
      if (keys.execution_name !== undefined) t.putAnnotation('execution', keys.execution_name);
    }
    try {
      return await run();
    } catch (error) {
      const e = error as Error;
      logger().error(`${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`);
      if (subsegment !== undefined) t.addErrorAsMetadata(e);
      throw error;
    } finally {
      if (subsegment !== undefined && parent !== undefined) {
        subsegment.close();
        t.setSegment(parent);
      }
    }
  });
}

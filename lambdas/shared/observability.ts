/**
 * Logs, traces and metrics of every task, from Powertools for AWS Lambda (TypeScript):
 *
 * - one {@link logger} writing JSON lines that carry the invocation's correlation keys (execution, build, state,
 *   instance, command and image ids), with one mask applied to every value ({@link setLogMask});
 * - Powertools' Tracer, which captures every SDK client ({@link captureClient}) and opens a subsegment per
 *   invocation annotated with the build and the execution: in a module of its own (`tracing.mts`, with the X-Ray
 *   SDK), loaded at an invocation's start only where tracing can be on ({@link loadTracing});
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
import type { Context } from 'aws-lambda';
import { METRICS_NAMESPACE } from './telemetry-names.js';

export {
  LOG_LEVEL_ENV,
  LOG_LEVELS,
  type LogLevelName,
  METRICS_NAMESPACE,
  MetricDimensions,
  MetricNames,
  type Phase,
  Phases,
} from './telemetry-names.js';

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

type TracingModule = typeof import('./tracing.mjs');

/**
 * The tracing module, beside this one in the sources and beside each task's code file in the bundle
 * (infra/bundle.ts). Named by a variable, so that esbuild leaves the import to run time instead of inlining the
 * module (and the X-Ray SDK) into every task's code file.
 */
const TRACING_MODULE: string = './tracing.mjs';

let tracing: TracingModule | undefined;
let tracingLoad: Promise<TracingModule | undefined> | undefined;

/**
 * Loads the tracer where tracing can be on: Powertools traces only in a Lambda execution environment
 * (`AWS_EXECUTION_ENV` set), and decides the rest itself (`POWERTOOLS_TRACE_ENABLED`, SAM, Amplify). Elsewhere
 * (the local runner, plain `node`) neither Powertools' Tracer nor the X-Ray SDK is loaded. Once per process.
 */
export function loadTracing(): Promise<TracingModule | undefined> {
  tracingLoad ??= process.env.AWS_EXECUTION_ENV
    ? (import(TRACING_MODULE) as Promise<TracingModule>).then((module) => {
        tracing = module;
        return module;
      })
    : Promise.resolve(undefined);
  return tracingLoad;
}

/**
 * Captures an SDK v3 client, so that each of its calls is a subsegment of the invocation's trace. Clients are
 * created during an invocation, after {@link observeInvocation} has loaded the tracer; where tracing cannot be on
 * there is nothing to capture with.
 */
export function captureClient<C>(client: C): C {
  return tracing === undefined ? client : tracing.captureClient(serviceName(), client);
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
  const traced = await loadTracing();
  const logged = async (): Promise<R> => {
    try {
      return await run();
    } catch (error) {
      const e = error as Error;
      logger().error(`${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`);
      throw error;
    }
  };
  return correlation.run(keys, () =>
    traced === undefined ? logged() : traced.traceInvocation(serviceName(), keys, logged),
  );
}

/**
 * One event model for build progress, fed by the local runner's event stream (aws-local-stepfunctions) and by a
 * deployed execution's history (Step Functions GetExecutionHistory), so both print the same lines.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';

export type ProgressEvent =
  | { kind: 'execution-started'; timestamp: number; input?: unknown }
  | { kind: 'execution-succeeded'; timestamp: number; output: unknown }
  | { kind: 'execution-failed'; timestamp: number; error: string; cause: string }
  | { kind: 'execution-aborted'; timestamp: number; reason: 'aborted' | 'timed-out' }
  | { kind: 'state-entered'; timestamp: number; state: string; stateType: string; input: unknown }
  | {
      kind: 'state-exited';
      timestamp: number;
      state: string;
      stateType: string;
      input?: unknown;
      output: unknown;
    }
  | { kind: 'state-failed'; timestamp: number; state: string; error: string; cause: string; input?: unknown }
  | { kind: 'state-retried'; timestamp: number; state: string; attempt: number; error?: string }
  | { kind: 'state-caught'; timestamp: number; state: string; error?: string };

const text = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value ?? ''));

/** Minimal shape of aws-local-stepfunctions' EventLog entries (kept local to avoid depending on its internals). */
export interface LocalEventLog {
  type: string;
  timestamp: number;
  input?: unknown;
  output?: unknown;
  Error?: string;
  Cause?: unknown;
  state?: { name: string; type: string; input: unknown; output?: unknown };
  retry?: { attempt: number };
}

/** Converts one local runner event; returns undefined for events the printer does not use. */
export function fromLocalEvent(event: LocalEventLog): ProgressEvent | undefined {
  const { timestamp } = event;
  switch (event.type) {
    case 'ExecutionStarted':
      return { kind: 'execution-started', timestamp, input: event.input };
    case 'ExecutionSucceeded':
      return { kind: 'execution-succeeded', timestamp, output: event.output };
    case 'ExecutionFailed':
      return {
        kind: 'execution-failed',
        timestamp,
        error: event.Error ?? 'States.Failed',
        cause: text(event.Cause),
      };
    case 'ExecutionAborted':
      return { kind: 'execution-aborted', timestamp, reason: 'aborted' };
    case 'ExecutionTimeout':
      return { kind: 'execution-aborted', timestamp, reason: 'timed-out' };
    case 'StateEntered':
      if (!event.state) return undefined;
      return {
        kind: 'state-entered',
        timestamp,
        state: event.state.name,
        stateType: event.state.type,
        input: event.state.input,
      };
    case 'StateExited':
      if (!event.state) return undefined;
      return {
        kind: 'state-exited',
        timestamp,
        state: event.state.name,
        stateType: event.state.type,
        input: event.state.input,
        output: event.state.output,
      };
    case 'StateFailed':
      if (!event.state) return undefined;
      return {
        kind: 'state-failed',
        timestamp,
        state: event.state.name,
        error: event.Error ?? 'States.TaskFailed',
        cause: text(event.Cause),
        input: event.state.input,
      };
    case 'StateRetried':
      if (!event.state) return undefined;
      return {
        kind: 'state-retried',
        timestamp,
        state: event.state.name,
        attempt: event.retry?.attempt ?? 1,
      };
    case 'StateCaught':
      if (!event.state) return undefined;
      return { kind: 'state-caught', timestamp, state: event.state.name };
    default:
      return undefined;
  }
}

const parse = (value: string | undefined): unknown => {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
};

/**
 * Converts the events of a deployed execution's history. State types come from the event type names
 * (`TaskStateEntered` → Task). Task failures surface as `TaskFailed` / `LambdaFunctionFailed` before the state's
 * exit or catch; they are reported as state failures of the last entered state.
 */
export class HistoryConverter {
  private readonly entered = new Map<number, string>();
  private lastState = '';

  convert(event: HistoryEvent): ProgressEvent | undefined {
    const timestamp = event.timestamp?.getTime() ?? Date.now();
    const type = event.type ?? '';
    if (event.stateEnteredEventDetails) {
      const name = event.stateEnteredEventDetails.name ?? '';
      if (event.id !== undefined) this.entered.set(event.id, name);
      this.lastState = name;
      return {
        kind: 'state-entered',
        timestamp,
        state: name,
        stateType: type.replace(/StateEntered$/, ''),
        input: parse(event.stateEnteredEventDetails.input),
      };
    }
    if (event.stateExitedEventDetails) {
      return {
        kind: 'state-exited',
        timestamp,
        state: event.stateExitedEventDetails.name ?? '',
        stateType: type.replace(/StateExited$/, ''),
        output: parse(event.stateExitedEventDetails.output),
      };
    }
    switch (type) {
      case 'ExecutionStarted':
        return {
          kind: 'execution-started',
          timestamp,
          input: parse(event.executionStartedEventDetails?.input),
        };
      case 'ExecutionSucceeded':
        return {
          kind: 'execution-succeeded',
          timestamp,
          output: parse(event.executionSucceededEventDetails?.output),
        };
      case 'ExecutionFailed':
        return {
          kind: 'execution-failed',
          timestamp,
          error: event.executionFailedEventDetails?.error ?? 'States.Failed',
          cause: event.executionFailedEventDetails?.cause ?? '',
        };
      case 'ExecutionAborted':
        return { kind: 'execution-aborted', timestamp, reason: 'aborted' };
      case 'ExecutionTimedOut':
        return { kind: 'execution-aborted', timestamp, reason: 'timed-out' };
      case 'TaskFailed':
        return {
          kind: 'state-failed',
          timestamp,
          state: this.lastState,
          error: event.taskFailedEventDetails?.error ?? 'States.TaskFailed',
          cause: event.taskFailedEventDetails?.cause ?? '',
        };
      case 'LambdaFunctionFailed':
        return {
          kind: 'state-failed',
          timestamp,
          state: this.lastState,
          error: event.lambdaFunctionFailedEventDetails?.error ?? 'Lambda.Unknown',
          cause: event.lambdaFunctionFailedEventDetails?.cause ?? '',
        };
      default:
        return undefined;
    }
  }
}

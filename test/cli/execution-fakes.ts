/**
 * Fakes for the CLI commands that talk to a deployed stack: a captured {@link CliIo}, a Step Functions execution
 * history that grows while it is followed (served by GetExecutionHistory in pages, either order), and history
 * events shaped like AWS's.
 */
import type { GetExecutionHistoryCommandInput, HistoryEvent, HistoryEventType } from '@aws-sdk/client-sfn';
import type { CliIo } from '../../cli/io.js';

export interface CapturedIo extends CliIo {
  stdout: string[];
  stderr: string[];
  /** Everything written, stdout and stderr, split into lines. */
  text: () => string;
}

export function captureIo(cwd: string, env: Record<string, string | undefined> = {}): CapturedIo {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const all: string[] = [];
  return {
    stdout,
    stderr,
    out: (line) => {
      stdout.push(line);
      all.push(line);
    },
    err: (line) => {
      stderr.push(line);
      all.push(line);
    },
    cwd,
    env,
    readStdin: async () => '',
    text: () => all.join('\n'),
  };
}

export const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:AmiBuilderStateMachine';

export function executionArn(name: string): string {
  return `arn:aws:states:us-east-1:123456789012:execution:AmiBuilderStateMachine:${name}`;
}

/** Builds history events with increasing ids and timestamps one second apart from `start`. */
export class HistoryBuilder {
  readonly events: HistoryEvent[] = [];
  constructor(private readonly start: Date) {}

  private push(event: Omit<HistoryEvent, 'id' | 'timestamp'>, seconds?: number): this {
    const id = this.events.length + 1;
    this.events.push({
      ...event,
      id,
      previousEventId: id - 1,
      timestamp: new Date(this.start.getTime() + (seconds ?? id) * 1000),
    } as HistoryEvent);
    return this;
  }

  started(input: unknown = {}): this {
    return this.push({
      type: 'ExecutionStarted',
      executionStartedEventDetails: { input: JSON.stringify(input) },
    });
  }

  entered(type: string, name: string, input: unknown = {}): this {
    return this.push({
      type: `${type}StateEntered` as HistoryEventType,
      stateEnteredEventDetails: { name, input: JSON.stringify(input) },
    });
  }

  exited(type: string, name: string, output: unknown = {}): this {
    return this.push({
      type: `${type}StateExited` as HistoryEventType,
      stateExitedEventDetails: { name, output: JSON.stringify(output) },
    });
  }

  other(type: string): this {
    return this.push({ type } as Omit<HistoryEvent, 'id' | 'timestamp'>);
  }

  taskFailed(error: string, cause: string): this {
    return this.push({
      type: 'TaskFailed',
      taskFailedEventDetails: { resourceType: 'lambda', resource: 'invoke', error, cause },
    });
  }

  succeeded(output: unknown, seconds?: number): this {
    return this.push(
      { type: 'ExecutionSucceeded', executionSucceededEventDetails: { output: JSON.stringify(output) } },
      seconds,
    );
  }

  failed(error: string, cause: string, seconds?: number): this {
    return this.push({ type: 'ExecutionFailed', executionFailedEventDetails: { error, cause } }, seconds);
  }

  aborted(): this {
    return this.push({ type: 'ExecutionAborted', executionAbortedEventDetails: { error: 'UserCancelled' } });
  }
}

/**
 * A history that AWS reveals bit by bit: `visible` events exist now; {@link FakeHistory.advance} reveals more.
 * Serves GetExecutionHistory with real paging (nextToken, maxResults, reverseOrder).
 */
export class FakeHistory {
  visible: number;
  readonly requests: GetExecutionHistoryCommandInput[] = [];
  constructor(
    readonly events: HistoryEvent[],
    visible = events.length,
  ) {
    this.visible = visible;
  }

  advance(count: number): void {
    this.visible = Math.min(this.events.length, this.visible + count);
  }

  page(input: GetExecutionHistoryCommandInput): { events: HistoryEvent[]; nextToken?: string } {
    this.requests.push(input);
    const shown = this.events.slice(0, this.visible);
    const ordered = input.reverseOrder === true ? [...shown].reverse() : shown;
    const offset = input.nextToken === undefined ? 0 : Number(input.nextToken);
    const size = input.maxResults ?? 100;
    const events = ordered.slice(offset, offset + size);
    const next = offset + size < ordered.length ? String(offset + size) : undefined;
    return next === undefined ? { events } : { events, nextToken: next };
  }
}

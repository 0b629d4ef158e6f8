/**
 * Live command output: follows the stack's command log group (CloudWatch Logs on AWS, the emulator's logs API
 * offline: the same code) and hands each line of each SSM command's output to the printer as it arrives.
 *
 * SSM writes a command's output to the streams `<command id>/<instance id>/<plugin>/stdout|stderr`. Each poll
 * reads every page of FilterLogEvents for the command's stream prefix (`nextToken` until there is none), from a
 * little before the newest event already seen: CloudWatch Logs may make an event visible after later ones
 * (ingestion is not ordered across streams), so the window overlaps and event ids already printed are skipped.
 * Nothing is lost (the window reaches back {@link LATE_EVENT_WINDOW_MS}) and nothing is repeated (event ids).
 */
import {
  type CloudWatchLogsClient,
  type FilteredLogEvent,
  FilterLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';

/**
 * How far back each poll reads before the newest event seen, for events that become visible late.
 * @default 120000 ms (CloudWatch Logs' ingestion usually lags by seconds; a command's stdout and stderr streams are
 * flushed by the SSM agent independently)
 */
export const LATE_EVENT_WINDOW_MS = 120_000;

/** Polls a finished command gets after it ended, for its last events to become visible. */
export const POLLS_AFTER_END = 2;

/** One line of a command's output. */
export interface OutputLine {
  /** The build the command belongs to. */
  build: string;
  commandId: string;
  stream: 'stdout' | 'stderr';
  text: string;
  timestamp: number;
}

interface Followed {
  build: string;
  /** Newest event timestamp seen. */
  newest: number;
  /** Event ids printed, with their timestamps (pruned once older than the window). */
  seen: Map<string, number>;
  /** Polls left once the command ended; undefined while it runs. */
  pollsLeft?: number;
}

/** Reads `logs:FilterLogEvents` pages; a seam so tests can grow a log group while it is read. */
export type FilterLogEvents = (request: {
  logGroupName: string;
  logStreamNamePrefix: string;
  startTime?: number;
  nextToken?: string;
}) => Promise<{ events?: FilteredLogEvent[]; nextToken?: string }>;

/** {@link FilterLogEvents} over a CloudWatch Logs client (AWS, or the emulator's endpoint). */
export function filterLogEventsWith(logs: CloudWatchLogsClient): FilterLogEvents {
  return (request) => logs.send(new FilterLogEventsCommand(request));
}

/** The stream kind of `<command id>/<instance id>/<plugin>/stdout|stderr`. */
function streamKind(name: string | undefined): 'stdout' | 'stderr' {
  return name?.endsWith('/stderr') === true ? 'stderr' : 'stdout';
}

/** Splits an event's message into lines (an event may carry several, SSM sends output in chunks). */
export function messageLines(message: string | undefined): string[] {
  const text = (message ?? '').replace(/\r?\n$/, '');
  if (text === '') return [];
  return text.split(/\r?\n/);
}

/** Follows the output of the commands a build sends, in one log group. */
export class CommandOutputFollower {
  private readonly followed = new Map<string, Followed>();
  /** Commands read to their end: a later state that still carries one in `$.command` does not start it again. */
  private readonly done = new Set<string>();
  /** Reads run one at a time (the periodic poll, a finished command's read, the final flush). */
  private reading: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly filter: FilterLogEvents,
    private readonly logGroupName: string,
    private readonly onLine: (line: OutputLine) => void,
    private readonly windowMs: number = LATE_EVENT_WINDOW_MS,
  ) {}

  /** Starts following a command (once; later calls, and calls after it was read to its end, are ignored). */
  track(commandId: string, build: string): void {
    if (!this.followed.has(commandId) && !this.done.has(commandId)) {
      this.followed.set(commandId, { build, newest: 0, seen: new Map() });
    }
  }

  /** The command ended: it gets {@link POLLS_AFTER_END} more polls, then is no longer read. */
  ended(commandId: string): void {
    const f = this.followed.get(commandId);
    if (f !== undefined && f.pollsLeft === undefined) f.pollsLeft = POLLS_AFTER_END;
  }

  /** Commands still read by {@link poll}. */
  get active(): number {
    return this.followed.size;
  }

  /** Reads each followed command's new events once and prints their lines, oldest first. */
  poll(): Promise<void> {
    return this.exclusive(() => this.pollAll());
  }

  /**
   * Reads the given commands' new events now (a command that just ended: its last lines are printed before
   * whatever the build prints next).
   */
  read(commandIds: readonly string[]): Promise<void> {
    return this.exclusive(async () => {
      for (const commandId of commandIds) {
        const f = this.followed.get(commandId);
        if (f !== undefined) await this.pollOne(commandId, f);
      }
    });
  }

  /** Reads every followed command until no poll is left for any (at the end of a run). */
  flush(): Promise<void> {
    return this.exclusive(async () => {
      for (const commandId of this.followed.keys()) this.ended(commandId);
      while (this.followed.size > 0) await this.pollAll();
    });
  }

  private exclusive(read: () => Promise<void>): Promise<void> {
    const next = this.reading.then(read, read);
    this.reading = next.catch(() => undefined);
    return next;
  }

  private async pollAll(): Promise<void> {
    for (const [commandId, f] of [...this.followed]) {
      await this.pollOne(commandId, f);
      if (f.pollsLeft !== undefined) {
        f.pollsLeft -= 1;
        if (f.pollsLeft <= 0) {
          this.followed.delete(commandId);
          this.done.add(commandId);
        }
      }
    }
  }

  private async pollOne(commandId: string, f: Followed): Promise<void> {
    const startTime = f.newest > 0 ? Math.max(0, f.newest - this.windowMs) : undefined;
    const fresh: FilteredLogEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.filter({
        logGroupName: this.logGroupName,
        logStreamNamePrefix: `${commandId}/`,
        ...(startTime === undefined ? {} : { startTime }),
        ...(nextToken === undefined ? {} : { nextToken }),
      });
      for (const event of page.events ?? []) {
        // The API filters by the prefix; moto 5.2.1 ignores it, so it is checked here too.
        if (!(event.logStreamName ?? '').startsWith(`${commandId}/`)) continue;
        const id = event.eventId ?? `${event.logStreamName}:${event.timestamp}:${event.message}`;
        if (f.seen.has(id)) continue;
        f.seen.set(id, event.timestamp ?? 0);
        fresh.push(event);
      }
      nextToken = page.nextToken;
    } while (nextToken !== undefined && nextToken !== '');
    // Across streams, pages are not in one time order; within a stream the order given is kept (stable sort).
    fresh.sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0));
    for (const event of fresh) {
      f.newest = Math.max(f.newest, event.timestamp ?? 0);
      for (const text of messageLines(event.message)) {
        this.onLine({
          build: f.build,
          commandId,
          stream: streamKind(event.logStreamName),
          text,
          timestamp: event.timestamp ?? 0,
        });
      }
    }
    const oldest = f.newest - this.windowMs;
    for (const [id, time] of f.seen) if (time < oldest) f.seen.delete(id);
  }
}

/**
 * What a running build prints between the state lines: each SSM command's output as it arrives (through
 * {@link CommandOutputFollower}), and a heartbeat during long silent waits. Fed with the same progress events as
 * the printer, by `ami-builder build` (execution history) and `ami-builder local` (the local runner).
 */
import { StateNames } from '../../infra/state-names.js';
import type { CommandOutputFollower, OutputLine } from './command-output.js';
import type { ProgressEvent } from './events.js';

/** What a build is doing while it waits in each state, for the heartbeat. */
const ACTIVITIES: Readonly<Record<string, string>> = {
  [StateNames.CheckInstanceRunning]: 'waiting for the instance to become ready',
  [StateNames.CheckSsmAgent]: 'waiting for the SSM agent to come online',
  [StateNames.SendProvisionerCommand]: 'provisioning',
  [StateNames.UploadX509Certificate]: 'uploading the X509 certificate',
  [StateNames.BundleVolume]: 'bundling the volume',
  [StateNames.UploadBundle]: 'uploading the bundle',
  [StateNames.RegisterAmi]: 'registering the AMI',
  [StateNames.CheckAmiAvailable]: 'waiting for the AMI to become ready',
  [StateNames.CheckTestSsmAgent]: "waiting for the test instance's SSM agent to come online",
  [StateNames.SendTestCommand]: 'testing the AMI',
  [StateNames.CopyAndFinish]: 'copying the AMI to the other regions',
  [StateNames.TerminateInstance]: 'terminating the source instance',
  [StateNames.CleanUpAfterFailure]: 'cleaning up after the failure',
};

const MINUTE = 60_000;

/**
 * When an activity's next heartbeat is due (its elapsed time): at each of the first five minutes, then every five
 * minutes, so a 20-minute bundle adds 8 lines to a CI log and no CI job times out for silence.
 */
export function nextHeartbeat(elapsedMs: number): number {
  if (elapsedMs < 5 * MINUTE) return (Math.floor(elapsedMs / MINUTE) + 1) * MINUTE;
  return (Math.floor(elapsedMs / (5 * MINUTE)) + 1) * 5 * MINUTE;
}

/** A heartbeat is printed only after this much silence (a command printing its output needs none). */
export function heartbeatDue(silentMs: number, elapsedMs: number, dueAtMs: number): boolean {
  return silentMs >= MINUTE && elapsedMs >= dueAtMs;
}

/** `5m elapsed`, `1h 2m elapsed`, `40s elapsed`. */
export function elapsedText(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s elapsed`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m elapsed`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m elapsed`;
}

interface Activity {
  label: string;
  since: number;
  /** Elapsed time of the next heartbeat. */
  dueAt: number;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

/** Lines kept per build for a failure's message. */
export const LAST_LINES = 20;

export interface LiveOutputOptions {
  /** Reads the command log group; undefined when there is none (no live output, heartbeats only). */
  follower?: CommandOutputFollower;
  /** Prints a `==> <build>: <text>` line (heartbeats). */
  say: (text: string, build: string | undefined) => void;
  now: () => number;
  /** Build of lines that name none (a single-build template's name). */
  defaultBuild: () => string;
}

/** Tracks the commands and activities of a running execution. */
export class LiveOutput {
  private readonly activities = new Map<string, Activity>();
  private lastPrinted: number;
  private readonly last = new Map<string, string[]>();

  constructor(private readonly options: LiveOutputOptions) {
    this.lastPrinted = options.now();
  }

  /** Something was printed: the heartbeat counts silence from now. */
  printed(): void {
    this.lastPrinted = this.options.now();
  }

  /** Remembers a command output line (for {@link lastLines}) and that something was printed. */
  line(line: OutputLine): void {
    this.printed();
    const kept = this.last.get(line.build) ?? [];
    kept.push(line.text);
    if (kept.length > LAST_LINES) kept.shift();
    this.last.set(line.build, kept);
  }

  /** The last output lines of a build's commands, oldest first. */
  lastLines(build: string): readonly string[] {
    return this.last.get(build) ?? [];
  }

  /**
   * Follows the commands the event names, and the activity it starts or ends.
   * @returns the commands this event shows finished (their last lines are due before the next state's line)
   */
  observe(event: ProgressEvent): string[] {
    if (event.kind !== 'state-entered' && event.kind !== 'state-exited') return [];
    const state = record(event.kind === 'state-entered' ? event.input : event.output);
    const config = record(state.config);
    const build = typeof config.name === 'string' ? config.name : this.options.defaultBuild();
    if (event.kind === 'state-entered') {
      const label = ACTIVITIES[event.state];
      // The Check, Wait and Choice states of a poll loop go on with the activity; any other state ends it.
      const polling = /^(Check|Wait)/.test(event.state) || event.stateType === 'Choice';
      if (label === undefined && !polling) this.activities.delete(build);
      if (label !== undefined) {
        const current = this.activities.get(build);
        // A poll loop re-enters its Check state: the activity goes on.
        if (current?.label !== label) {
          const now = this.options.now();
          this.activities.set(build, { label, since: now, dueAt: nextHeartbeat(0) });
        }
      }
      return [];
    }
    const command = record(state.command);
    const follower = this.options.follower;
    if (follower !== undefined && typeof command.commandId === 'string') {
      follower.track(command.commandId, build);
      const poll = record(record(state.poll).command);
      const target = poll.target ?? command.commandId;
      // Only the Check state's own exit says the command ended (later states carry the same $.command).
      if (poll.done === true && target === command.commandId && /^Check/.test(event.state)) {
        follower.ended(command.commandId);
        return [command.commandId];
      }
    }
    return [];
  }

  /** Reads the given commands' output now (see {@link observe}). */
  async read(commandIds: readonly string[]): Promise<void> {
    if (commandIds.length > 0) await this.options.follower?.read(commandIds);
  }

  /** A build finished or failed: no heartbeat for it any more. */
  finished(build: string): void {
    this.activities.delete(build);
  }

  /** Prints a heartbeat for each activity that has been silent long enough. */
  heartbeat(): void {
    const now = this.options.now();
    for (const [build, activity] of this.activities) {
      const elapsed = now - activity.since;
      if (elapsed < activity.dueAt) continue;
      activity.dueAt = nextHeartbeat(elapsed);
      if (!heartbeatDue(now - this.lastPrinted, elapsed, 0)) continue;
      this.options.say(`Still ${activity.label}... (${elapsedText(elapsed)})`, build);
    }
  }

  /** Reads the followed commands' new output (nothing when there is no follower). */
  async poll(): Promise<void> {
    await this.options.follower?.poll();
  }

  /** Reads every followed command's remaining output. */
  async flush(): Promise<void> {
    await this.options.follower?.flush();
  }
}

/**
 * Live command output: the follower of the command log group that `build` (CloudWatch Logs) and `local` (the
 * emulator's logs API) share. Against the emulator, a log group that grows while it is read gives every line once,
 * in order; with a fake, pagination and late-arriving events lose and repeat nothing.
 */
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  type FilteredLogEvent,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CommandOutputFollower,
  type FilterLogEvents,
  filterLogEventsWith,
  messageLines,
  type OutputLine,
} from '../../cli/progress/command-output.js';
import { elapsedText, heartbeatDue, LiveOutput } from '../../cli/progress/live.js';
import { ProgressPrinter } from '../../cli/progress/printer.js';
import { type Emulator, startEmulator } from '../../emulator/index.js';

const GROUP = 'AmiBuilder-CommandsOutput';
const COMMAND = '0b6e3f1a-5c2d-4e8f-9a71-2d3c4b5a6f70';
const INSTANCE = 'i-0123456789abcdef0';

describe('CommandOutputFollower against the emulator', () => {
  let emulator: Emulator;
  let logs: CloudWatchLogsClient;

  beforeAll(async () => {
    emulator = await startEmulator({ agentOnlineDelayMs: 0 });
    logs = new CloudWatchLogsClient({
      endpoint: emulator.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
  });

  afterAll(async () => {
    logs?.destroy();
    await emulator?.stop();
  });

  it('gives every line of a growing log group once, in order, while the command runs', async () => {
    // Prepare: the command's stdout and stderr streams, as SSM names them; 30 lines written in bursts while read.
    await logs.send(new CreateLogGroupCommand({ logGroupName: GROUP }));
    const stdout = `${COMMAND}/${INSTANCE}/runShellScript/stdout`;
    const stderr = `${COMMAND}/${INSTANCE}/runShellScript/stderr`;
    for (const name of [stdout, stderr]) {
      await logs.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName: name }));
    }
    // An unrelated command in the same group is never printed.
    const other = `ffffffff-0000-0000-0000-000000000000/${INSTANCE}/runShellScript/stdout`;
    await logs.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName: other }));
    const base = Date.now() - 60_000;
    let written = 0;
    const grow = async () => {
      if (written >= 30) return;
      const burst = Array.from({ length: 3 }, (_, i) => written + i);
      written += burst.length;
      await logs.send(
        new PutLogEventsCommand({
          logGroupName: GROUP,
          logStreamName: stdout,
          logEvents: burst.map((n) => ({ timestamp: base + n * 1000, message: `line ${n}` })),
        }),
      );
      if (burst.includes(9)) {
        await logs.send(
          new PutLogEventsCommand({
            logGroupName: GROUP,
            logStreamName: stderr,
            logEvents: [{ timestamp: base + 9 * 1000 + 500, message: 'warning: low disk\n' }],
          }),
        );
      }
      await logs.send(
        new PutLogEventsCommand({
          logGroupName: GROUP,
          logStreamName: other,
          logEvents: [{ timestamp: base + written * 1000, message: 'not this build' }],
        }),
      );
    };
    const filter = filterLogEventsWith(logs);
    const growing: FilterLogEvents = async (request) => {
      await grow();
      return filter(request);
    };
    const lines: OutputLine[] = [];
    const follower = new CommandOutputFollower(growing, GROUP, (line) => lines.push(line));
    follower.track(COMMAND, 'web');

    // Act: poll while the command runs, then it ends.
    for (let i = 0; i < 12; i += 1) await follower.poll();
    follower.ended(COMMAND);
    await follower.flush();

    // Assess
    const expected = Array.from({ length: 30 }, (_, n) => `line ${n}`);
    expected.splice(10, 0, 'warning: low disk');
    expect(lines.map((l) => l.text)).toEqual(expected);
    expect(lines.find((l) => l.text === 'warning: low disk')?.stream).toBe('stderr');
    expect(lines.every((l) => l.build === 'web' && l.commandId === COMMAND)).toBe(true);
    expect(follower.active).toBe(0);
  });
});

/** A log group served in pages of `pageSize`, whose events become visible when `visibleAt` says so. */
function pagedGroup(events: (FilteredLogEvent & { visibleAt: number })[], pageSize: number) {
  let clock = 0;
  const requests: Parameters<FilterLogEvents>[0][] = [];
  const filter: FilterLogEvents = async (request) => {
    requests.push(request);
    const visible = events
      .filter((e) => e.visibleAt <= clock)
      .filter((e) => (e.logStreamName ?? '').startsWith(request.logStreamNamePrefix))
      .filter((e) => request.startTime === undefined || (e.timestamp ?? 0) >= request.startTime)
      .sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0));
    const offset = Number(request.nextToken ?? 0);
    const page = visible.slice(offset, offset + pageSize).map(({ visibleAt: _, ...e }) => e);
    const next = offset + pageSize < visible.length ? String(offset + pageSize) : undefined;
    return next === undefined ? { events: page } : { events: page, nextToken: next };
  };
  return { filter, requests, tick: () => (clock += 1) };
}

describe('CommandOutputFollower', () => {
  it('reads every page, and prints a late-arriving event once without repeating the others', async () => {
    // Prepare: 7 events in pages of 2; event "c" is ingested two polls after later ones.
    const stream = `${COMMAND}/${INSTANCE}/runShellScript/stdout`;
    const at = (id: string, t: number, visibleAt: number) => ({
      eventId: id,
      logStreamName: stream,
      timestamp: 1_000_000 + t,
      message: id,
      visibleAt,
    });
    const group = pagedGroup(
      [
        at('a', 1, 0),
        at('b', 2, 0),
        at('c', 3, 2),
        at('d', 4, 0),
        at('e', 5, 0),
        at('f', 6, 1),
        at('g', 7, 3),
      ],
      2,
    );
    const seen: string[] = [];
    const follower = new CommandOutputFollower(group.filter, GROUP, (line) => seen.push(line.text));
    follower.track(COMMAND, 'web');

    // Act
    for (let i = 0; i < 4; i += 1) {
      await follower.poll();
      group.tick();
    }
    await follower.flush();

    // Assess
    expect(seen).toEqual(['a', 'b', 'd', 'e', 'f', 'c', 'g']);
    expect(group.requests.some((r) => r.nextToken !== undefined)).toBe(true);
    // Each later poll reads from a window before the newest event seen, for late events.
    expect(group.requests.at(-1)?.startTime).toBeLessThanOrEqual(1_000_000 + 3);
  });

  it('never prints a finished command again when a later state still carries it in $.command', async () => {
    // Prepare: the upload's output, read to its end; Register AMI's exit still holds the upload's command.
    const stream = `${COMMAND}/${INSTANCE}/runShellScript/stdout`;
    const group = pagedGroup(
      [
        {
          eventId: 'u',
          logStreamName: stream,
          timestamp: 1_000_000,
          message: 'Bundle upload completed.',
          visibleAt: 0,
        },
      ],
      10,
    );
    const seen: string[] = [];
    const follower = new CommandOutputFollower(group.filter, GROUP, (line) => seen.push(line.text));
    const live = new LiveOutput({ follower, say: () => undefined, now: () => 0, defaultBuild: () => 'web' });
    const exited = (state: string, poll: Record<string, unknown>) =>
      live.observe({
        kind: 'state-exited',
        timestamp: 0,
        state,
        stateType: 'Task',
        output: { config: { name: 'web' }, command: { commandId: COMMAND }, poll: { command: poll } },
      });

    // Act
    const ended = exited('Check Upload Bundle', { done: true, target: COMMAND });
    await live.read(ended);
    await follower.flush();
    exited('Register AMI', { done: true, target: COMMAND });
    await follower.flush();

    // Assess
    expect(ended).toEqual([COMMAND]);
    expect(seen).toEqual(['Bundle upload completed.']);
    expect(follower.active).toBe(0);
  });

  it('splits an event holding several lines, and skips empty output', () => {
    // Act & Assess
    expect(messageLines('one\r\ntwo\nthree\n')).toEqual(['one', 'two', 'three']);
    expect(messageLines('\n')).toEqual([]);
    expect(messageLines(undefined)).toEqual([]);
  });
});

describe('live output lines', () => {
  it('prints standard output as Packer’s ui.Message and standard error as ui.Error, and machine-readable', () => {
    // Prepare
    const human: string[] = [];
    const machine: string[] = [];
    const printer = new ProgressPrinter({ write: (l) => human.push(l) });
    const mr = new ProgressPrinter({
      write: (l) => machine.push(l),
      machineReadable: true,
      now: () => 1700000000,
    });
    const line = (stream: 'stdout' | 'stderr', text: string): OutputLine => ({
      build: 'web',
      commandId: COMMAND,
      stream,
      text,
      timestamp: 0,
    });

    // Act
    for (const p of [printer, mr]) {
      p.output(line('stdout', 'Reading package lists, 80%'));
      p.output(line('stderr', 'E: Unable to locate package foo'));
    }

    // Assess
    expect(human).toEqual([
      '    web: Reading package lists, 80%',
      '==> web: E: Unable to locate package foo',
    ]);
    expect(machine).toEqual([
      '1700000000,web,ui,message,    web: Reading package lists%!(PACKER_COMMA) 80%',
      '1700000000,web,ui,error,==> web: E: Unable to locate package foo',
    ]);
  });

  it('prefixes each line with its UTC time with -timestamp-ui', () => {
    // Prepare
    const out: string[] = [];
    const printer = new ProgressPrinter({ write: (l) => out.push(l), timestampUi: true, clock: () => 0 });

    // Act
    printer.print({ level: 'say', text: 'Bundling the volume...', build: 'web' });

    // Assess
    expect(out).toEqual(['1970-01-01T00:00:00Z: ==> web: Bundling the volume...']);
  });

  it('beats every minute of silence for five minutes, then every five, naming the activity', () => {
    // Prepare
    let now = 0;
    const said: string[] = [];
    const live = new LiveOutput({
      say: (t, b) => said.push(`${b}: ${t}`),
      now: () => now,
      defaultBuild: () => 'web',
    });
    live.observe({
      kind: 'state-entered',
      timestamp: 0,
      state: 'Bundle Volume',
      stateType: 'Task',
      input: { config: { name: 'web' } },
    });

    // Act: 20 silent minutes, checked every 10 s.
    for (now = 0; now <= 20 * 60_000; now += 10_000) live.heartbeat();

    // Assess
    expect(said[0]).toBe('web: Still bundling the volume... (1m elapsed)');
    expect(said).toContain('web: Still bundling the volume... (5m elapsed)');
    expect(said.at(-1)).toBe('web: Still bundling the volume... (20m elapsed)');
    expect(said.length).toBe(8);
    expect(heartbeatDue(59_000, 120_000, 60_000)).toBe(false);
    expect(elapsedText(3_720_000)).toBe('1h 2m elapsed');
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { timedCheck } from '../../../lambdas/shared/build-metrics.js';
import { setTelemetrySink } from '../../../lambdas/shared/observability.js';
import type { PollResult } from '../../../lambdas/shared/state.js';
import { makeBuildState } from '../fixtures.js';

let records: Record<string, unknown>[];
let restore: () => void;

beforeEach(() => {
  records = [];
  restore = setTelemetrySink((line) => records.push(JSON.parse(line)));
});

afterEach(() => {
  restore();
});

const result = (done: boolean, target: string, attempt: number): PollResult => ({
  done,
  attempt,
  waitSeconds: 10,
  target,
});

describe('timedCheck', () => {
  it('keeps the loop’s start while the target stays, and emits nothing before the loop ends', () => {
    // Prepare
    const build = makeBuildState({
      poll: { agent: { ...result(false, 'i-1', 1), startedAt: '2024-01-02T00:01:00.000Z' } },
    });

    // Act
    const timed = timedCheck(build, 'agent', result(false, 'i-1', 2), new Date('2024-01-02T00:01:10.000Z'));

    // Assess
    expect(timed).toMatchObject({
      startedAt: '2024-01-02T00:01:00.000Z',
      checkedAt: '2024-01-02T00:01:10.000Z',
    });
    expect(records).toEqual([]);
  });

  it('starts a Retry-based wait when its Check state was entered ($$.State.EnteredTime), counting its checks', () => {
    // Prepare
    const build = makeBuildState();

    // Act
    const timed = timedCheck(
      build,
      'agent',
      result(true, 'i-1', 12),
      new Date('2024-01-02T00:03:00.000Z'),
      { phase: 'agent' },
      undefined,
      { retryCount: 11, enteredTime: '2024-01-02T00:01:00.000Z' },
    );

    // Assess
    expect(timed).toMatchObject({
      startedAt: '2024-01-02T00:01:00.000Z',
      checkedAt: '2024-01-02T00:03:00.000Z',
    });
    expect(records).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Wait: 'agent', PollChecks: 12 }),
        expect.objectContaining({ Phase: 'agent', PhaseDuration: 120 }),
      ]),
    );
  });

  it('starts again for a new target (a retried command)', () => {
    // Prepare
    const build = makeBuildState({
      poll: { command: { ...result(false, 'c-1', 3), startedAt: '2024-01-02T00:01:00.000Z' } },
    });

    // Act
    const timed = timedCheck(build, 'command', result(false, 'c-2', 1), new Date('2024-01-02T00:05:00.000Z'));

    // Assess
    expect(timed.startedAt).toBe('2024-01-02T00:05:00.000Z');
  });

  it('emits the checks and the phase when the loop ends', () => {
    // Prepare
    const build = makeBuildState({
      poll: { instanceRunning: { ...result(false, 'i-1', 2), startedAt: '2024-01-02T00:00:30.000Z' } },
    });

    // Act
    timedCheck(build, 'instanceRunning', result(true, 'i-1', 3), new Date('2024-01-02T00:01:00.000Z'), {
      phase: 'launch',
    });

    // Assess
    expect(records).toEqual([
      expect.objectContaining({ Wait: 'instanceRunning', PollChecks: 3 }),
      expect.objectContaining({ Phase: 'launch', PhaseDuration: 30 }),
    ]);
  });

  it('times provisioning from the agent coming online to the last provisioner’s end', () => {
    // Prepare
    const build = makeBuildState({
      config: {
        provisioners: [
          { type: 'shell', index: 0 },
          { type: 'shell', index: 1 },
        ] as never,
      },
      poll: {
        agent: { ...result(true, 'i-1', 1), checkedAt: '2024-01-02T00:02:00.000Z' },
        command: { ...result(false, 'c-2', 1), startedAt: '2024-01-02T00:03:00.000Z' },
      },
      command: { commandId: 'c-2', kind: 'provision', provisionerIndex: 1, attempt: 1, stagedPrefix: 's/' },
    });

    // Act
    timedCheck(build, 'command', result(true, 'c-2', 2), new Date('2024-01-02T00:04:00.000Z'), {
      command: true,
    });

    // Assess
    expect(records).toEqual([
      expect.objectContaining({ Wait: 'command', PollChecks: 2 }),
      expect.objectContaining({ CommandKind: 'provision', CommandDuration: 60 }),
      expect.objectContaining({ Phase: 'provision', PhaseDuration: 120 }),
    ]);
  });

  it('ends no phase with a provisioner that is not the last', () => {
    // Prepare
    const build = makeBuildState({
      config: {
        provisioners: [
          { type: 'shell', index: 0 },
          { type: 'shell', index: 1 },
        ] as never,
      },
      command: { commandId: 'c-1', kind: 'provision', provisionerIndex: 0, attempt: 1, stagedPrefix: 's/' },
    });

    // Act
    timedCheck(build, 'command', result(true, 'c-1', 1), new Date('2024-01-02T00:04:00.000Z'), {
      command: true,
    });

    // Assess
    expect(records.map((r) => r.Phase)).toEqual([undefined, undefined]);
  });
});

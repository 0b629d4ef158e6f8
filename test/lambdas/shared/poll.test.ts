import { describe, expect, it } from 'vitest';
import { PollPendingError } from '../../../lambdas/shared/errors.js';
import {
  AMI_POLL_SCHEDULE,
  checkProgress,
  nextAttempt,
  POLL_BACKSTOP_SECONDS,
  POLL_SCHEDULE,
  pending,
  pollResult,
  pollSchedule,
  retriesFor,
  retryDelaySeconds,
  waitedSeconds,
} from '../../../lambdas/shared/poll.js';
import { makeBuildState } from '../fixtures.js';

describe('nextAttempt', () => {
  it('starts at 1 when the key has no result yet', () => {
    expect(nextAttempt(makeBuildState(), 'image', 'ami-1')).toBe(1);
  });

  it('adds one to the previous attempt for the same target', () => {
    // Prepare
    const build = makeBuildState({
      poll: { image: { done: false, attempt: 7, waitSeconds: 15, target: 'ami-1' } },
    });

    // Act
    const attempt = nextAttempt(build, 'image', 'ami-1');

    // Assess
    expect(attempt).toBe(8);
  });

  it('starts at 1 again for another target or when the previous result has none', () => {
    // Prepare
    const build = makeBuildState({
      poll: {
        command: { done: false, attempt: 7, waitSeconds: 15, target: 'cmd-1' },
        legacy: { done: false, attempt: 3, waitSeconds: 15 },
      },
    });

    // Act / Assess
    expect(nextAttempt(build, 'command', 'cmd-2')).toBe(1);
    expect(nextAttempt(build, 'legacy', 'x')).toBe(1);
  });
});

describe('pollResult', () => {
  it('builds a result with only the fields given', () => {
    expect(pollResult({ done: false, attempt: 2, waitSeconds: 5, target: 'i-1' })).toEqual({
      done: false,
      attempt: 2,
      waitSeconds: 5,
      target: 'i-1',
    });
    expect(
      pollResult({ done: false, attempt: 2, waitSeconds: 5, target: 'c', status: 'Failed', retry: true }),
    ).toEqual({
      done: false,
      attempt: 2,
      waitSeconds: 5,
      target: 'c',
      status: 'Failed',
      retry: true,
    });
  });
});

describe('the poll schedules (the Check states’ Retry on PollPendingError)', () => {
  it('grows each delay by the backoff rate, capped at MaxDelaySeconds', () => {
    const schedule = { intervalSeconds: 2, backoffRate: 1.5, maxDelaySeconds: 5 };
    expect([1, 2, 3, 4, 5].map((n) => retryDelaySeconds(schedule, n))).toEqual([2, 3, 4.5, 5, 5]);
    expect(waitedSeconds(schedule, 0)).toBe(0);
    expect(waitedSeconds(schedule, 4)).toBe(14.5);
    // The retries after which at least that long was waited.
    expect(retriesFor(schedule, 14.5)).toBe(4);
    expect(retriesFor(schedule, 14.6)).toBe(5);
    expect(retriesFor(schedule, 0)).toBe(0);
  });

  it('keeps each delay within about 10 % of the time already waited, with a backstop beyond any bound', () => {
    for (const schedule of [POLL_SCHEDULE, AMI_POLL_SCHEDULE]) {
      expect(schedule.backoffRate).toBeLessThanOrEqual(1.1);
      expect(schedule.maxAttempts).toBeGreaterThan(retriesFor(schedule, POLL_BACKSTOP_SECONDS));
    }
    // Past the first two minutes, the next delay of the default schedule is at most 10 % of the time waited.
    for (let n = retriesFor(POLL_SCHEDULE, 120); n < 200; n += 1) {
      expect(retryDelaySeconds(POLL_SCHEDULE, n + 1)).toBeLessThanOrEqual(
        0.1 * waitedSeconds(POLL_SCHEDULE, n),
      );
    }
    // The AMI waits are never slower to notice than Packer's (15 s between checks).
    expect(AMI_POLL_SCHEDULE.maxDelaySeconds).toBeLessThan(15);
    expect(pollSchedule('image')).toBe(AMI_POLL_SCHEDULE);
    expect(pollSchedule('copy')).toBe(AMI_POLL_SCHEDULE);
    expect(pollSchedule('command')).toBe(POLL_SCHEDULE);
  });
});

describe('checkProgress', () => {
  it('counts the checks and the seconds waited from $$.State.RetryCount', () => {
    expect(checkProgress(undefined, 'agent')).toEqual({ attempt: 1, waitedSeconds: 0, nextDelaySeconds: 2 });
    expect(checkProgress({ retryCount: 3 }, 'image')).toEqual({
      attempt: 4,
      waitedSeconds: waitedSeconds(AMI_POLL_SCHEDULE, 3),
      nextDelaySeconds: retryDelaySeconds(AMI_POLL_SCHEDULE, 4),
    });
  });

  it('makes the PollPendingError that says what was seen', () => {
    const error = pending('AMI ami-1', 'pending', checkProgress({ retryCount: 1 }, 'image'));
    expect(error).toBeInstanceOf(PollPendingError);
    expect(error.message).toBe('AMI ami-1 is pending (check 2, next in 4 s).');
  });
});

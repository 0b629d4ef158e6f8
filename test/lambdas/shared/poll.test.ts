import { describe, expect, it } from 'vitest';
import { nextAttempt, pollResult } from '../../../lambdas/shared/poll.js';
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

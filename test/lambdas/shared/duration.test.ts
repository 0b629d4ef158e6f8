import { describe, expect, it } from 'vitest';
import {
  formatCompactDuration,
  formatDuration,
  millisecondsBetween,
} from '../../../lambdas/shared/duration.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('formatDuration', () => {
  it.each([
    [14 * MINUTE + 2 * SECOND, '14 minutes 2 seconds'],
    [14 * MINUTE + 2 * SECOND + 345, '14 minutes 2 seconds'],
    [1 * MINUTE + 1 * SECOND, '1 minute 1 second'],
    [HOUR + 5 * SECOND, '1 hour 5 seconds'],
    [2 * HOUR + 3 * MINUTE + 4 * SECOND, '2 hours 3 minutes'],
    [45 * SECOND, '45 seconds'],
    [3 * SECOND + 250, '3 seconds 250 milliseconds'],
    [1, '1 millisecond'],
    [8 * DAY + HOUR, '1 week 1 day'],
    [366 * DAY, '1 year 1 day'],
    [0, '0 seconds'],
    [-(2 * MINUTE), '-2 minutes'],
  ])('formats %i ms as "%s", as durafmt.LimitFirstN(2) does', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('formatCompactDuration', () => {
  it.each([
    [14 * MINUTE + 2 * SECOND + 900, '14m2s'],
    [HOUR + 5 * SECOND, '1h0m5s'],
    [26 * HOUR, '26h0m0s'],
    [45 * SECOND, '45s'],
    [999, '0s'],
    [-(90 * SECOND), '-1m30s'],
  ])('formats %i ms as "%s", as Go prints a duration of whole seconds', (ms, text) => {
    expect(formatCompactDuration(ms)).toBe(text);
  });
});

describe('millisecondsBetween', () => {
  it('measures from an ISO start to a Date end', () => {
    // Act
    const ms = millisecondsBetween('2024-01-02T00:00:00.000Z', new Date('2024-01-02T00:14:02.000Z'));

    // Assess
    expect(ms).toBe(14 * MINUTE + 2 * SECOND);
  });
});

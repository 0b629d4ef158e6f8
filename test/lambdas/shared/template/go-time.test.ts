import { describe, expect, it } from 'vitest';
import { formatGoTime, RFC3339_LAYOUT } from '../../../../lambdas/shared/template/go-time.js';

// Tuesday 2024-03-05 07:08:09.123 UTC: every field has a single digit, so padding is visible. Day 65.
const MORNING = new Date(Date.UTC(2024, 2, 5, 7, 8, 9, 123));
// Saturday 2009-11-14 23:45:56.000 UTC: two-digit fields, afternoon, no fraction. Day 318.
const EVENING = new Date(Date.UTC(2009, 10, 14, 23, 45, 56, 0));
// Sunday 2023-01-01 00:00:00.500 UTC: midnight (12 AM), day of year 1.
const MIDNIGHT = new Date(Date.UTC(2023, 0, 1, 0, 0, 0, 500));

describe('formatGoTime', () => {
  it.each([
    ['2006', '2024', '2009'],
    ['06', '24', '09'],
    ['01', '03', '11'],
    ['1', '3', '11'],
    ['Jan', 'Mar', 'Nov'],
    ['January', 'March', 'November'],
    ['02', '05', '14'],
    ['2', '5', '14'],
    ['_2', ' 5', '14'],
    ['15', '07', '23'],
    ['03', '07', '11'],
    ['3', '7', '11'],
    ['04', '08', '45'],
    ['4', '8', '45'],
    ['05', '09', '56'],
    ['5', '9', '56'],
    ['PM', 'AM', 'PM'],
    ['pm', 'am', 'pm'],
    ['Mon', 'Tue', 'Sat'],
    ['Monday', 'Tuesday', 'Saturday'],
    ['MST', 'UTC', 'UTC'],
    ['-0700', '+0000', '+0000'],
    ['-07:00', '+00:00', '+00:00'],
    ['-07', '+00', '+00'],
    ['-070000', '+000000', '+000000'],
    ['-07:00:00', '+00:00:00', '+00:00:00'],
    ['Z0700', 'Z', 'Z'],
    ['Z07:00', 'Z', 'Z'],
    ['Z07', 'Z', 'Z'],
    ['Z070000', 'Z', 'Z'],
    ['Z07:00:00', 'Z', 'Z'],
    ['.000', '.123', '.000'],
    ['.000000', '.123000', '.000000'],
    ['.000000000', '.123000000', '.000000000'],
    ['.999', '.123', ''],
    ['.999999', '.123', ''],
    ['.999999999', '.123', ''],
    [',000', ',123', ',000'],
    [',999', ',123', ''],
    ['002', '065', '318'],
    ['__2', ' 65', '318'],
  ])('formats the layout element %j', (layout, morning, evening) => {
    // Act
    const actual = [formatGoTime(MORNING, layout), formatGoTime(EVENING, layout)];

    // Assess
    expect(actual).toEqual([morning, evening]);
  });

  it('renders hour 0 as 12 AM in 12-hour layouts and pads a one-digit day of year', () => {
    expect(formatGoTime(MIDNIGHT, '3 03 PM pm|002|__2|.999|.9')).toBe('12 12 AM am|001|  1|.5|.5');
  });

  it('formats RFC 3339, the layout of isotime without an argument', () => {
    expect(formatGoTime(MORNING, RFC3339_LAYOUT)).toBe('2024-03-05T07:08:09Z');
  });

  it.each([
    ['Mon, 02 Jan 2006 15:04:05 MST', 'Tue, 05 Mar 2024 07:08:09 UTC'],
    ['Mon Jan _2 15:04:05 2006', 'Tue Mar  5 07:08:09 2024'],
    ['3:04PM', '7:08AM'],
    ['2006-01-02T15:04:05.999999999Z07:00', '2024-03-05T07:08:09.123Z'],
    ['20060102150405', '20240305070809'],
  ])('formats Go’s standard layout %j', (layout, expected) => {
    expect(formatGoTime(MORNING, layout)).toBe(expected);
  });

  it('copies literal text around the layout elements', () => {
    expect(formatGoTime(MORNING, 'Built at 15:04 on Jan 2, 2006 (day 002)!')).toBe(
      'Built at 07:08 on Mar 5, 2024 (day 065)!',
    );
  });

  it.each([
    ['Janet', 'Janet'],
    ['Monk', 'Monk'],
    ['_2006', '_2024'],
    ['.0001', '.0003'],
    ['x.999y', 'x.123y'],
    ['.', '.'],
    ['', ''],
    ['hello world', 'hello world'],
    ['789', '789'],
  ])('scans %j the way Go’s nextStdChunk does', (layout, expected) => {
    expect(formatGoTime(MORNING, layout)).toBe(expected);
  });

  it('fails when the date is invalid', () => {
    expect(() => formatGoTime(new Date(Number.NaN), RFC3339_LAYOUT)).toThrow(RangeError);
  });
});

/**
 * Duration texts as Packer prints them. `Build 'x' finished after 14 minutes 2 seconds.` comes from
 * `durafmt.Parse(d).LimitFirstN(2)` (packer `command/build.go`); the compact form is Go's `time.Duration`
 * text of the duration truncated to whole seconds (`14m2s`, `1h0m5s`), for log lines and tables.
 */

const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60 * MS_PER_SECOND;
const MS_PER_HOUR = 60 * MS_PER_MINUTE;
const MS_PER_DAY = 24 * MS_PER_HOUR;
const MS_PER_WEEK = 7 * MS_PER_DAY;
const MS_PER_YEAR = 365 * MS_PER_DAY;

// durafmt's units, largest first. Its microseconds never show here: our clocks have millisecond resolution.
const UNITS: readonly { ms: number; singular: string; plural: string }[] = [
  { ms: MS_PER_YEAR, singular: 'year', plural: 'years' },
  { ms: MS_PER_WEEK, singular: 'week', plural: 'weeks' },
  { ms: MS_PER_DAY, singular: 'day', plural: 'days' },
  { ms: MS_PER_HOUR, singular: 'hour', plural: 'hours' },
  { ms: MS_PER_MINUTE, singular: 'minute', plural: 'minutes' },
  { ms: MS_PER_SECOND, singular: 'second', plural: 'seconds' },
  { ms: 1, singular: 'millisecond', plural: 'milliseconds' },
];

/** The number of whole milliseconds from `start` to `end` (negative when `end` is earlier). */
export function millisecondsBetween(start: Date | string, end: Date | string): number {
  return new Date(end).getTime() - new Date(start).getTime();
}

/**
 * Packer's human duration: the first two non-zero units, singular for 1 (`14 minutes 2 seconds`,
 * `1 hour 5 seconds`, `3 seconds 250 milliseconds`); `0 seconds` for zero; a leading `-` when negative.
 * Fractions of a millisecond are dropped.
 */
export function formatDuration(milliseconds: number): string {
  const sign = milliseconds < 0 ? '-' : '';
  let rest = Math.trunc(Math.abs(milliseconds));
  if (rest === 0) return '0 seconds';
  const parts: string[] = [];
  for (const unit of UNITS) {
    const count = Math.floor(rest / unit.ms);
    rest -= count * unit.ms;
    if (count > 0) parts.push(`${count} ${count === 1 ? unit.singular : unit.plural}`);
  }
  return `${sign}${parts.slice(0, 2).join(' ')}`;
}

/**
 * Go's compact duration of whole seconds: `14m2s`, `1h0m5s`, `26h0m0s`, `45s`, `0s`; a leading `-` when
 * negative. Sub-second parts are truncated, as `d.Truncate(time.Second).String()` does.
 */
export function formatCompactDuration(milliseconds: number): string {
  const sign = milliseconds < 0 ? '-' : '';
  const totalSeconds = Math.floor(Math.abs(milliseconds) / MS_PER_SECOND);
  if (totalSeconds === 0) return '0s';
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}

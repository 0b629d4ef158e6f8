/**
 * Go's reference-time layouts (`time.Time.Format`), as Packer's `isotime` uses them.
 *
 * The layout is scanned exactly as Go's `nextStdChunk` scans it (time/format.go), so the same text is a
 * layout element here and in Go: `Jan` is a month but `Janx` is literal, `.000` followed by a digit is
 * literal, `_2006` is a literal `_` then the year. Times are always formatted in UTC, the zone Packer's
 * `InitTime` is in, so `MST` renders `UTC`, the `Z…` forms render `Z` and the `-07…` forms render `+00…`.
 * A JavaScript `Date` holds milliseconds: the nanosecond digits past the third are always zero.
 */

export const LONG_MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
] as const;

export const LONG_DAYS = [
  'Sunday',
  'Monday',
  'Tuesday',
  'Wednesday',
  'Thursday',
  'Friday',
  'Saturday',
] as const;

/** Go's layout for RFC 3339, what `isotime` without an argument uses. */
export const RFC3339_LAYOUT = '2006-01-02T15:04:05Z07:00';

type Chunk =
  | 'LongMonth'
  | 'Month'
  | 'NumMonth'
  | 'ZeroMonth'
  | 'LongWeekDay'
  | 'WeekDay'
  | 'Day'
  | 'UnderDay'
  | 'ZeroDay'
  | 'UnderYearDay'
  | 'ZeroYearDay'
  | 'Hour'
  | 'Hour12'
  | 'ZeroHour12'
  | 'Minute'
  | 'ZeroMinute'
  | 'Second'
  | 'ZeroSecond'
  | 'LongYear'
  | 'Year'
  | 'PM'
  | 'pm'
  | 'TZ'
  | 'ISO8601SecondsTZ'
  | 'ISO8601TZ'
  | 'ISO8601ShortTZ'
  | 'ISO8601ColonTZ'
  | 'ISO8601ColonSecondsTZ'
  | 'NumTZ'
  | 'NumSecondsTz'
  | 'NumShortTZ'
  | 'NumColonTZ'
  | 'NumColonSecondsTZ';

interface FractionChunk {
  readonly kind: 'Fraction';
  /** `0`: fixed width; `9`: trailing zeros (and the separator, when all are zero) removed. */
  readonly digit: '0' | '9';
  readonly width: number;
  readonly separator: '.' | ',';
}

interface Found {
  readonly start: number;
  readonly end: number;
  readonly chunk: Chunk | FractionChunk;
}

const ZERO_X: Record<string, Chunk> = {
  '1': 'ZeroMonth',
  '2': 'ZeroDay',
  '3': 'ZeroHour12',
  '4': 'ZeroMinute',
  '5': 'ZeroSecond',
  '6': 'Year',
};

/** Zone suffixes after `-` and `Z`, longest first where one is a prefix of another (as Go checks them). */
const NUM_ZONES: readonly (readonly [string, Chunk, Chunk])[] = [
  ['070000', 'NumSecondsTz', 'ISO8601SecondsTZ'],
  ['07:00:00', 'NumColonSecondsTZ', 'ISO8601ColonSecondsTZ'],
  ['0700', 'NumTZ', 'ISO8601TZ'],
  ['07:00', 'NumColonTZ', 'ISO8601ColonTZ'],
  ['07', 'NumShortTZ', 'ISO8601ShortTZ'],
];

function startsWithLowerCase(s: string, at: number): boolean {
  const c = s.charCodeAt(at);
  return c >= 0x61 && c <= 0x7a;
}

function isDigitAt(s: string, at: number): boolean {
  const c = s.charCodeAt(at);
  return c >= 0x30 && c <= 0x39;
}

/** The first layout element at or after `from`, or undefined. A port of Go's `nextStdChunk`. */
function nextChunk(layout: string, from: number): Found | undefined {
  for (let i = from; i < layout.length; i++) {
    const c = layout[i];
    const at = (text: string) => layout.startsWith(text, i);
    const found = (length: number, chunk: Chunk | FractionChunk, start = i): Found => ({
      start,
      end: i + length,
      chunk,
    });
    switch (c) {
      case 'J':
        if (at('Jan')) {
          if (at('January')) return found(7, 'LongMonth');
          if (!startsWithLowerCase(layout, i + 3)) return found(3, 'Month');
        }
        break;
      case 'M':
        if (at('Mon')) {
          if (at('Monday')) return found(6, 'LongWeekDay');
          if (!startsWithLowerCase(layout, i + 3)) return found(3, 'WeekDay');
        }
        if (at('MST')) return found(3, 'TZ');
        break;
      case '0': {
        const next = layout[i + 1];
        if (next !== undefined && next >= '1' && next <= '6') return found(2, ZERO_X[next]!);
        if (at('002')) return found(3, 'ZeroYearDay');
        break;
      }
      case '1':
        if (at('15')) return found(2, 'Hour');
        return found(1, 'NumMonth');
      case '2':
        if (at('2006')) return found(4, 'LongYear');
        return found(1, 'Day');
      case '_':
        if (layout[i + 1] === '2') {
          // `_2006` is a literal `_` followed by the year.
          if (layout.startsWith('2006', i + 1)) return { start: i + 1, end: i + 5, chunk: 'LongYear' };
          return found(2, 'UnderDay');
        }
        if (at('__2')) return found(3, 'UnderYearDay');
        break;
      case '3':
        return found(1, 'Hour12');
      case '4':
        return found(1, 'Minute');
      case '5':
        return found(1, 'Second');
      case 'P':
        if (at('PM')) return found(2, 'PM');
        break;
      case 'p':
        if (at('pm')) return found(2, 'pm');
        break;
      case '-':
      case 'Z':
        for (const [suffix, numeric, iso] of NUM_ZONES) {
          if (layout.startsWith(suffix, i + 1)) return found(1 + suffix.length, c === '-' ? numeric : iso);
        }
        break;
      case '.':
      case ',': {
        const digit = layout[i + 1];
        if (digit === '0' || digit === '9') {
          let j = i + 1;
          while (layout[j] === digit) j++;
          // Only a fractional second when the run of digits ends here.
          if (!isDigitAt(layout, j)) {
            return { start: i, end: j, chunk: { kind: 'Fraction', digit, width: j - i - 1, separator: c } };
          }
        }
        break;
      }
    }
  }
  return undefined;
}

function pad(value: number, width: number, fill = '0'): string {
  const digits = String(Math.abs(value)).padStart(width, fill);
  return value < 0 ? `-${digits}` : digits;
}

function dayOfYear(date: Date): number {
  const start = Date.UTC(date.getUTCFullYear(), 0, 1);
  const today = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
  return Math.round((today - start) / 86_400_000) + 1;
}

function formatFraction(date: Date, chunk: FractionChunk): string {
  const nanos = String(date.getUTCMilliseconds() * 1_000_000).padStart(9, '0');
  if (chunk.digit === '0') return chunk.separator + nanos.slice(0, chunk.width);
  const trimmed = nanos.slice(0, chunk.width).replace(/0+$/, '');
  return trimmed === '' ? '' : chunk.separator + trimmed;
}

function formatChunk(date: Date, chunk: Chunk): string {
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  const day = date.getUTCDate();
  const hour = date.getUTCHours();
  const minute = date.getUTCMinutes();
  const second = date.getUTCSeconds();
  switch (chunk) {
    case 'LongYear':
      return pad(year, 4);
    case 'Year':
      return pad(year % 100, 2);
    case 'LongMonth':
      return LONG_MONTHS[month]!;
    case 'Month':
      return LONG_MONTHS[month]!.slice(0, 3);
    case 'NumMonth':
      return String(month + 1);
    case 'ZeroMonth':
      return pad(month + 1, 2);
    case 'LongWeekDay':
      return LONG_DAYS[date.getUTCDay()]!;
    case 'WeekDay':
      return LONG_DAYS[date.getUTCDay()]!.slice(0, 3);
    case 'Day':
      return String(day);
    case 'UnderDay':
      return pad(day, 2, ' ');
    case 'ZeroDay':
      return pad(day, 2);
    case 'UnderYearDay':
      return pad(dayOfYear(date), 3, ' ');
    case 'ZeroYearDay':
      return pad(dayOfYear(date), 3);
    case 'Hour':
      return pad(hour, 2);
    case 'Hour12':
      return String(hour % 12 === 0 ? 12 : hour % 12);
    case 'ZeroHour12':
      return pad(hour % 12 === 0 ? 12 : hour % 12, 2);
    case 'Minute':
      return String(minute);
    case 'ZeroMinute':
      return pad(minute, 2);
    case 'Second':
      return String(second);
    case 'ZeroSecond':
      return pad(second, 2);
    case 'PM':
      return hour >= 12 ? 'PM' : 'AM';
    case 'pm':
      return hour >= 12 ? 'pm' : 'am';
    case 'TZ':
      return 'UTC';
    case 'ISO8601SecondsTZ':
    case 'ISO8601TZ':
    case 'ISO8601ShortTZ':
    case 'ISO8601ColonTZ':
    case 'ISO8601ColonSecondsTZ':
      return 'Z';
    case 'NumSecondsTz':
      return '+000000';
    case 'NumColonSecondsTZ':
      return '+00:00:00';
    case 'NumTZ':
      return '+0000';
    case 'NumColonTZ':
      return '+00:00';
    case 'NumShortTZ':
      return '+00';
  }
}

/**
 * Formats `date` in UTC with a Go reference-time layout, e.g. `2006-01-02T15:04:05Z07:00` →
 * `2024-03-05T07:08:09Z`. Text that is not a layout element is copied as is.
 *
 * @throws RangeError when `date` is an invalid Date.
 */
export function formatGoTime(date: Date, layout: string): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('cannot format an invalid Date');
  const parts: string[] = [];
  let position = 0;
  for (;;) {
    const found = nextChunk(layout, position);
    if (found === undefined) break;
    parts.push(layout.slice(position, found.start));
    parts.push(
      typeof found.chunk === 'string' ? formatChunk(date, found.chunk) : formatFraction(date, found.chunk),
    );
    position = found.end;
  }
  parts.push(layout.slice(position));
  return parts.join('');
}

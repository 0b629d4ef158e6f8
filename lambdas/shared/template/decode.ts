/**
 * Lenient decoders, as Packer decodes a builder's configuration: mapstructure with `WeaklyTypedInput` plus the
 * SDK's decode hooks (`StringToSliceHookFunc(",")`, `StringToTimeDurationHookFunc`, trileans).
 * See https://github.com/hashicorp/packer-plugin-sdk/blob/main/template/config/decode.go
 *
 * - `"true"`, `"1"`, `"t"` → true (Go's `strconv.ParseBool`); `""` → false; numbers → non-zero;
 * - `"12"`, `"0x1f"` → numbers (Go's `strconv.ParseInt(s, 0, 64)`); booleans → 1/0; floats truncate;
 * - numbers → strings (`12` → `"12"`), booleans → `"1"`/`"0"`;
 * - a comma-separated string → a list; a single value → a one-element list;
 * - a one-element list of objects → that object (JSON written from HCL blocks).
 *
 * Every decoder reports its problems into a {@link Report} with the key path, the value and what is allowed,
 * and returns `undefined` for a value it could not decode, so that callers go on and ALL problems are collected.
 */

import type { FieldSpec, ValueType } from './keys.js';

/** A key path: object keys and list indexes, from the document root. */
export type Path = readonly (string | number)[];

export interface Problem {
  path: Path;
  message: string;
  /** The build (builder name) the problem belongs to, when it belongs to one. */
  build?: string;
}

export interface Warning {
  path: Path;
  message: string;
  build?: string;
}

/** Longest string accepted anywhere in a template: the workflow's whole state is at most 256 KB. */
export const MAX_STRING_LENGTH = 262_144;

/** Collects the problems and warnings of one validation. */
export class Report {
  readonly problems: Problem[] = [];
  readonly warnings: Warning[] = [];
  /** The build every new entry is attributed to (set while a builder or its provisioners are checked). */
  build: string | undefined;

  /** Paths whose value uses a variable that has a problem of its own (a required variable not set). */
  private readonly unresolved: Path[] = [];

  error(path: Path, message: string): void {
    if (this.followsFromUnresolved(path, message)) return;
    this.problems.push(this.build === undefined ? { path, message } : { path, message, build: this.build });
  }

  /**
   * Notes that the value at `path` could not be rendered because a variable it uses has its own problem: the
   * problems that follow (`ami_name must be specified` when `ami_name` uses a missing variable) are not reported
   * again as problems of their own.
   */
  markUnresolved(path: Path): void {
    this.unresolved.push(path);
  }

  private followsFromUnresolved(path: Path, message: string): boolean {
    return this.unresolved.some((marked) => {
      if (startsWith(path, marked)) return true;
      // A check on the enclosing object that names the key ("A source_ami or source_ami_filter must be specified").
      const key = marked[marked.length - 1];
      return (
        typeof key === 'string' &&
        marked.length === path.length + 1 &&
        startsWith(marked, path) &&
        mentionsKey(message, key)
      );
    });
  }

  warn(path: Path, message: string): void {
    this.warnings.push(this.build === undefined ? { path, message } : { path, message, build: this.build });
  }

  get failed(): boolean {
    return this.problems.length > 0;
  }
}

function startsWith(path: Path, prefix: Path): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => path[i] === segment);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `builders[0].source_ami_filter.filters["tag:Name"]` */
export function formatPath(path: Path): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment) && segment.length <= 60) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(truncate(segment, 60))}]`;
  }
  return out;
}

/**
 * `<path>: <message>`. When the message already names the last key (Packer's own messages do:
 * "ami_name must be specified"), only the enclosing path is prefixed, so the key is not said twice.
 */
export function formatEntry(entry: { path: Path; message: string }, from = 0): string {
  const path = entry.path.slice(from);
  const last = path[path.length - 1];
  const shown =
    typeof last === 'string' && mentionsKey(entry.message, last) ? path.slice(0, path.length - 1) : path;
  const prefix = formatPath(shown);
  return prefix === '' ? entry.message : `${prefix}: ${entry.message}`;
}

function mentionsKey(message: string, key: string): boolean {
  const at = message.indexOf(key);
  if (at < 0) return false;
  const before = message[at - 1];
  const after = message[at + key.length];
  const word = /[A-Za-z0-9_]/;
  return (before === undefined || !word.test(before)) && (after === undefined || !word.test(after));
}

/** True when the text holds a line break or a NUL (which a one-line shell word or path cannot). */
export function hasLineBreakOrNul(text: string): boolean {
  return text.includes('\n') || text.includes('\r') || text.includes('\u0000');
}

/** True when the text holds an ASCII control character. */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * A short, bounded description of a value for messages: strings quoted (at most 80 characters), numbers and
 * booleans as they are, lists and objects by kind only, so that a huge or deeply nested value cannot blow up
 * a message. `secret` values are never shown.
 */
export function describeValue(value: unknown, secret = false): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : `a list of ${value.length} item(s)`;
  if (typeof value === 'object') return 'an object';
  if (secret) return `a ${typeof value} (value hidden)`;
  if (typeof value === 'string') return JSON.stringify(truncate(value, 80));
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

/** A plain JSON object with its own enumerable keys; `undefined` for anything else. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return value as Record<string, unknown>;
}

/** Reads an own property without ever consulting the prototype chain. */
export function own(record: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/**
 * Turns a string as it appears in a template into the value a decoder sees. Used to render templates
 * (`{{user}}`, `{{timestamp}}`…) while decoding, as Packer interpolates the configuration before it decodes it.
 * Returns `undefined` when rendering failed (the renderer reported why).
 */
export type Renderer = (text: string, path: Path) => string | undefined;

export interface DecodeOptions {
  render?: Renderer;
  /** Never show the value in messages. */
  secret?: boolean;
}

function renderString(text: string, path: Path, report: Report, options: DecodeOptions): string | undefined {
  if (text.length > MAX_STRING_LENGTH) {
    report.error(path, `value is ${text.length} characters long; at most ${MAX_STRING_LENGTH} are allowed`);
    return undefined;
  }
  return options.render === undefined ? text : options.render(text, path);
}

/** Go's `strconv.FormatFloat(f, 'f', -1, 64)` for the numbers JSON can hold. */
function formatNumber(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 1e21) return value.toFixed(0);
  if (!Number.isFinite(value)) return String(value);
  const text = String(value);
  if (!/e/i.test(text)) return text;
  // Expand exponent notation the way Go's 'f' format does.
  return value.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 });
}

/** string ← string | number | boolean (`"1"`/`"0"`, as mapstructure's weak decoding). */
export function decodeString(
  value: unknown,
  path: Path,
  report: Report,
  options: DecodeOptions = {},
): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return renderString(value, path, report, options);
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  report.error(path, `expected a string, got ${describeValue(value, options.secret)}`);
  return undefined;
}

const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);
const BOOL_ALLOWED =
  'true or false, or a string Go parses as one ("true", "false", "1", "0", "t", "f", "TRUE", …)';

function parseBool(text: string): boolean | undefined {
  if (TRUE_WORDS.has(text)) return true;
  if (FALSE_WORDS.has(text)) return false;
  return undefined;
}

/** boolean ← boolean | number (non-zero) | string (`strconv.ParseBool`; `""` is false). */
export function decodeBool(
  value: unknown,
  path: Path,
  report: Report,
  options: DecodeOptions = {},
): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') {
    const text = renderString(value, path, report, options);
    if (text === undefined) return undefined;
    if (text === '') return false;
    const parsed = parseBool(text);
    if (parsed === undefined) {
      report.error(
        path,
        `cannot parse ${describeValue(text, options.secret)} as a boolean; allowed: ${BOOL_ALLOWED}`,
      );
    }
    return parsed;
  }
  report.error(
    path,
    `expected a boolean, got ${describeValue(value, options.secret)}; allowed: ${BOOL_ALLOWED}`,
  );
  return undefined;
}

/**
 * A Packer "trilean": true, false or unset. Like {@link decodeBool}, except that `""` means unset (the value
 * usually comes from an empty user variable).
 */
export function decodeTrilean(
  value: unknown,
  path: Path,
  report: Report,
  options: DecodeOptions = {},
): boolean | undefined {
  if (typeof value === 'string') {
    const text = renderString(value, path, report, options);
    if (text === undefined || text === '') return undefined;
    return decodeBool(text, path, report, {});
  }
  return decodeBool(value, path, report, options);
}

/** Go's `strconv.ParseInt(s, 0, 64)`: optional sign, then `0x`/`0o`/`0b`/leading-`0` (octal) prefixes. */
export function parseGoInt(text: string): number | undefined {
  const match = /^([+-]?)(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (match === null) return undefined;
  const sign = match[1] === '-' ? -1 : 1;
  const digits = match[2] ?? '';
  let magnitude: number;
  if (/^0[xX]/.test(digits)) magnitude = Number.parseInt(digits.slice(2), 16);
  else if (/^0[bB]/.test(digits)) magnitude = Number.parseInt(digits.slice(2), 2);
  else if (/^0[oO]/.test(digits)) magnitude = Number.parseInt(digits.slice(2), 8);
  else if (digits.length > 1 && digits.startsWith('0')) magnitude = Number.parseInt(digits.slice(1), 8);
  else magnitude = Number.parseInt(digits, 10);
  if (!Number.isSafeInteger(magnitude)) return undefined;
  return sign * magnitude;
}

export interface IntegerOptions extends DecodeOptions {
  min?: number;
  max?: number;
  /** Packer's own message for a value out of range (default: a generic one with the range). */
  outOfRange?: (value: string) => string;
}

function rangeText(options: IntegerOptions): string {
  if (options.min !== undefined && options.max !== undefined)
    return ` between ${options.min} and ${options.max}`;
  if (options.min !== undefined) return ` of at least ${options.min}`;
  if (options.max !== undefined) return ` of at most ${options.max}`;
  return '';
}

/** integer ← number (floats truncate) | boolean (1/0) | string (`strconv.ParseInt(s, 0, 64)`; `""` is 0). */
export function decodeInteger(
  value: unknown,
  path: Path,
  report: Report,
  options: IntegerOptions = {},
): number | undefined {
  if (value === undefined || value === null) return undefined;
  const allowed = `a whole number${rangeText(options)}, or a string holding one`;
  let result: number | undefined;
  if (typeof value === 'number') {
    result = Number.isFinite(value) ? Math.trunc(value) : undefined;
    if (result === undefined)
      report.error(path, `cannot use ${describeValue(value)} as an integer; allowed: ${allowed}`);
  } else if (typeof value === 'boolean') {
    result = value ? 1 : 0;
  } else if (typeof value === 'string') {
    const text = renderString(value, path, report, options);
    if (text === undefined) return undefined;
    result = text === '' ? 0 : parseGoInt(text);
    if (result === undefined) {
      report.error(
        path,
        `cannot parse ${describeValue(text, options.secret)} as an integer; allowed: ${allowed}`,
      );
    }
  } else {
    report.error(
      path,
      `expected an integer, got ${describeValue(value, options.secret)}; allowed: ${allowed}`,
    );
  }
  if (result === undefined) return undefined;
  if (
    (options.min !== undefined && result < options.min) ||
    (options.max !== undefined && result > options.max)
  ) {
    report.error(
      path,
      options.outOfRange?.(String(result)) ??
        `${result} is out of range; allowed: ${allowed.replace(', or a string holding one', '')}`,
    );
    return undefined;
  }
  return result;
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  μs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

const DURATION_ALLOWED = 'a Go duration such as "90s", "5m" or "1h30m"';

/**
 * Go's `time.ParseDuration`, in seconds. Returns the error text Go would give (`time: invalid duration "x"`,
 * `time: missing unit in duration "5"`, `time: unknown unit "x" in duration "5x"`) or the seconds.
 */
export function parseGoDuration(text: string): number | string {
  const quoted = JSON.stringify(text);
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return `time: invalid duration ${quoted}`;
  let total = 0;
  while (rest !== '') {
    const number = /^([0-9]*)(\.[0-9]*)?/.exec(rest);
    const whole = number?.[1] ?? '';
    const fraction = number?.[2] ?? '';
    if (whole === '' && (fraction === '' || fraction === '.')) return `time: invalid duration ${quoted}`;
    rest = rest.slice(whole.length + fraction.length);
    const unit = /^[^0-9.]+/.exec(rest)?.[0] ?? '';
    if (unit === '') return `time: missing unit in duration ${quoted}`;
    const scale = DURATION_UNITS[unit];
    if (scale === undefined) return `time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`;
    rest = rest.slice(unit.length);
    total += Number(`${whole === '' ? '0' : whole}${fraction === '.' ? '' : fraction}`) * scale;
  }
  return sign * total;
}

export interface DurationOptions extends DecodeOptions {
  /** Largest allowed value, in seconds. */
  maxSeconds?: number;
}

/** Seconds ← Go duration string. A bare number is only accepted as 0: Go would read it as nanoseconds. */
export function decodeDuration(
  value: unknown,
  path: Path,
  report: Report,
  options: DurationOptions = {},
): number | undefined {
  if (value === undefined || value === null) return undefined;
  let seconds: number | undefined;
  if (typeof value === 'number' && value === 0) {
    seconds = 0;
  } else if (typeof value === 'number') {
    report.error(
      path,
      `${describeValue(value)} has no unit (Packer would read it as nanoseconds); allowed: ${DURATION_ALLOWED}`,
    );
    return undefined;
  } else if (typeof value === 'string') {
    const text = renderString(value, path, report, options);
    if (text === undefined) return undefined;
    if (text === '') return undefined;
    const parsed = parseGoDuration(text);
    if (typeof parsed === 'string') {
      report.error(path, `${parsed}; allowed: ${DURATION_ALLOWED}`);
      return undefined;
    }
    seconds = parsed;
  } else {
    report.error(
      path,
      `expected a duration, got ${describeValue(value, options.secret)}; allowed: ${DURATION_ALLOWED}`,
    );
    return undefined;
  }
  if (seconds < 0) {
    report.error(path, `${describeValue(value)} is negative; allowed: ${DURATION_ALLOWED}`);
    return undefined;
  }
  if (options.maxSeconds !== undefined && seconds > options.maxSeconds) {
    report.error(
      path,
      `${describeValue(value)} is longer than the maximum of ${formatSeconds(options.maxSeconds)}; allowed: a Go duration from "0s" to "${formatSeconds(options.maxSeconds)}"`,
    );
    return undefined;
  }
  return seconds;
}

/** 7200 → "2h0m0s", as Go prints a duration. */
export function formatSeconds(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

export interface ListOptions extends DecodeOptions {
  /** Trim surrounding white space from each entry and drop entries left empty (ids, regions, names). */
  trim?: boolean;
}

/** string[] ← list of strings | comma-separated string | single number/boolean. */
export function decodeStringList(
  value: unknown,
  path: Path,
  report: Report,
  options: ListOptions = {},
): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  let items: string[] | undefined;
  if (Array.isArray(value)) {
    items = [];
    let ok = true;
    value.forEach((item, index) => {
      const decoded = decodeString(item, [...path, index], report, options);
      if (decoded === undefined) {
        if (item !== null && item !== undefined) ok = false;
        return;
      }
      items?.push(decoded);
    });
    if (!ok) return undefined;
  } else if (typeof value === 'string') {
    const text = renderString(value, path, report, options);
    if (text === undefined) return undefined;
    items = text === '' ? [] : text.split(',');
  } else if (typeof value === 'number' || typeof value === 'boolean') {
    const single = decodeString(value, path, report, options);
    items = single === undefined ? [] : [single];
  } else {
    report.error(
      path,
      `expected a list of strings, got ${describeValue(value, options.secret)}; allowed: a list of strings or a comma-separated string`,
    );
    return undefined;
  }
  if (options.trim === true) items = items.map((item) => item.trim()).filter((item) => item !== '');
  return items;
}

/**
 * Checks a free key (a map key chosen by the user: a tag, a variable, a filter). Any name AWS accepts is
 * accepted, `constructor` and `__proto__` included: maps are built with `Object.fromEntries` / `Map` and read
 * with {@link own}, never by assignment or through a prototype.
 */
export function checkFreeKey(key: string, path: Path, report: Report): boolean {
  if (key.length > 1024) {
    report.error(path, `key is ${key.length} characters long; at most 1024 are allowed`);
    return false;
  }
  return true;
}

/** Record<string, string> ← object of string-like values. Keys are not rendered (values are). */
export function decodeStringMap(
  value: unknown,
  path: Path,
  report: Report,
  options: DecodeOptions = {},
): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  const record = asRecord(value);
  if (record === undefined) {
    report.error(path, `expected an object of strings, got ${describeValue(value, options.secret)}`);
    return undefined;
  }
  const entries: [string, string][] = [];
  let ok = true;
  for (const key of Object.keys(record)) {
    const at = [...path, key];
    if (!checkFreeKey(key, at, report)) {
      ok = false;
      continue;
    }
    const decoded = decodeString(own(record, key), at, report, options);
    if (decoded === undefined) {
      if (own(record, key) !== null) ok = false;
      continue;
    }
    entries.push([key, decoded]);
  }
  return ok ? Object.fromEntries(entries) : undefined;
}

/** An object ← object | one-element list holding an object (HCL-style JSON). */
export function decodeObject(
  value: unknown,
  path: Path,
  report: Report,
  options: DecodeOptions = {},
): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value) && value.length === 1) return decodeObject(value[0], path, report, options);
  const record = asRecord(value);
  if (record === undefined)
    report.error(path, `expected an object, got ${describeValue(value, options.secret)}`);
  return record;
}

/** A list of objects ← list of objects | single object. */
export function decodeObjectList(
  value: unknown,
  path: Path,
  report: Report,
  options: DecodeOptions = {},
): Record<string, unknown>[] | undefined {
  if (value === undefined || value === null) return undefined;
  const items = Array.isArray(value) ? value : [value];
  const result: Record<string, unknown>[] = [];
  let ok = true;
  items.forEach((item, index) => {
    const at = Array.isArray(value) ? [...path, index] : path;
    const record = asRecord(item);
    if (record === undefined) {
      report.error(at, `expected an object, got ${describeValue(item, options.secret)}`);
      ok = false;
      return;
    }
    result.push(record);
  });
  return ok ? result : undefined;
}

/** Reports every key of `record` that is not in `known`, in Packer's words, and returns the known ones. */
export function checkUnknownKeys(
  record: Record<string, unknown>,
  known: ReadonlySet<string> | ReadonlyMap<string, unknown>,
  path: Path,
  report: Report,
): void {
  for (const key of Object.keys(record).sort()) {
    if (!known.has(key))
      report.error([...path, key], `unknown configuration key: '${JSON.stringify(truncate(key, 100))}'`);
  }
}

/** A value decoded by its {@link ValueType}. */
export type DecodedValue =
  | string
  | number
  | boolean
  | string[]
  | Record<string, string>
  | Decoded
  | Decoded[]
  | { readonly anyObject: Record<string, unknown> };

/**
 * The decoded keys of one object. `present` holds every key the document had (even when its value was bad), so
 * cross-key checks can tell "absent" from "invalid"; `failed` holds the keys whose values could not be decoded,
 * so that later checks do not pile further messages on the same mistake.
 */
export class Decoded {
  readonly values = new Map<string, DecodedValue>();
  readonly present = new Set<string>();
  readonly failed = new Set<string>();

  constructor(readonly path: Path) {}

  has(key: string): boolean {
    return this.values.has(key);
  }

  string(key: string): string | undefined {
    const v = this.values.get(key);
    return typeof v === 'string' ? v : undefined;
  }

  /** The string, or `undefined` when absent or empty (Packer's "unset"). */
  nonEmpty(key: string): string | undefined {
    const v = this.string(key);
    return v === '' ? undefined : v;
  }

  number(key: string): number | undefined {
    const v = this.values.get(key);
    return typeof v === 'number' ? v : undefined;
  }

  boolean(key: string): boolean | undefined {
    const v = this.values.get(key);
    return typeof v === 'boolean' ? v : undefined;
  }

  list(key: string): string[] | undefined {
    const v = this.values.get(key);
    return Array.isArray(v) && v.every((item) => typeof item === 'string') ? (v as string[]) : undefined;
  }

  map(key: string): Record<string, string> | undefined {
    const v = this.values.get(key);
    if (
      v === undefined ||
      typeof v !== 'object' ||
      Array.isArray(v) ||
      v instanceof Decoded ||
      'anyObject' in v
    ) {
      return undefined;
    }
    return v as Record<string, string>;
  }

  object(key: string): Decoded | undefined {
    const v = this.values.get(key);
    return v instanceof Decoded ? v : undefined;
  }

  objects(key: string): Decoded[] | undefined {
    const v = this.values.get(key);
    return Array.isArray(v) && v.every((item) => item instanceof Decoded) ? (v as Decoded[]) : undefined;
  }

  any(key: string): Record<string, unknown> | undefined {
    const v = this.values.get(key);
    return v !== undefined && typeof v === 'object' && !Array.isArray(v) && 'anyObject' in v
      ? (v as { anyObject: Record<string, unknown> }).anyObject
      : undefined;
  }

  /** Path of a key of this object, for messages. */
  at(key: string): Path {
    return [...this.path, key];
  }
}

export interface FieldDecodeOptions {
  /** The renderer for a field's strings; `undefined` leaves them as written. */
  rendererFor?: (spec: FieldSpec, path: Path) => Renderer | undefined;
}

function checkAllowed(
  spec: FieldSpec,
  allowed: readonly string[] | undefined,
  text: string,
  path: Path,
  report: Report,
) {
  if (allowed === undefined || text === '' || allowed.includes(text)) return true;
  const message =
    spec.invalid !== undefined
      ? spec.invalid(truncate(text, 80))
      : `${describeValue(text)} is not allowed; allowed: ${allowed.map((a) => JSON.stringify(a)).join(', ')}`;
  report.error(path, message);
  return false;
}

/** Decodes one value by its spec; `undefined` when absent or invalid (problems reported). */
export function decodeValue(
  value: unknown,
  spec: FieldSpec,
  path: Path,
  report: Report,
  options: FieldDecodeOptions = {},
): DecodedValue | undefined {
  const render = options.rendererFor?.(spec, path);
  const base: DecodeOptions = { render, secret: spec.secret === true };
  const type: ValueType = spec.type;
  switch (type.kind) {
    case 'string': {
      const decoded = decodeString(value, path, report, base);
      if (decoded === undefined) return undefined;
      const text = type.trim === true ? decoded.trim() : decoded;
      return checkAllowed(spec, type.allowed, text, path, report) ? text : undefined;
    }
    case 'boolean':
      return decodeBool(value, path, report, base);
    case 'trilean':
      return decodeTrilean(value, path, report, base);
    case 'integer':
      return decodeInteger(value, path, report, {
        ...base,
        min: type.min,
        max: type.max,
        outOfRange: spec.invalid,
      });
    case 'duration':
      return decodeDuration(value, path, report, { ...base, maxSeconds: type.maxSeconds });
    case 'stringList':
      return decodeStringList(value, path, report, { ...base, trim: type.trim });
    case 'stringMap':
      return decodeStringMap(value, path, report, base);
    case 'object': {
      const record = decodeObject(value, path, report, base);
      return record === undefined ? undefined : decodeFields(record, type.fields, path, report, options);
    }
    case 'objectList': {
      const records = decodeObjectList(value, path, report, base);
      if (records === undefined) return undefined;
      const many = Array.isArray(value);
      return records.map((record, index) =>
        decodeFields(record, type.fields, many ? [...path, index] : path, report, options),
      );
    }
    case 'anyObject': {
      const record = decodeObject(value, path, report, base);
      return record === undefined ? undefined : { anyObject: record };
    }
  }
}

/**
 * Decodes an object by its field specs: unknown keys are reported in Packer's words, each known key is decoded
 * by its type. Problems are all collected.
 */
export function decodeFields(
  record: Record<string, unknown>,
  specs: readonly FieldSpec[] | ReadonlyMap<string, FieldSpec>,
  path: Path,
  report: Report,
  options: FieldDecodeOptions = {},
): Decoded {
  const byKey: ReadonlyMap<string, FieldSpec> =
    specs instanceof Map ? specs : new Map((specs as readonly FieldSpec[]).map((s) => [s.key, s]));
  const decoded = new Decoded(path);
  checkUnknownKeys(record, byKey, path, report);
  for (const key of Object.keys(record)) {
    const spec = byKey.get(key);
    const raw = own(record, key);
    // A JSON null is "unset", as mapstructure skips nil values.
    if (spec === undefined || raw === null) continue;
    decoded.present.add(key);
    const before = report.problems.length;
    const value = decodeValue(raw, spec, [...path, key], report, options);
    if (value !== undefined) decoded.values.set(key, value);
    else if (report.problems.length > before) decoded.failed.add(key);
  }
  return decoded;
}

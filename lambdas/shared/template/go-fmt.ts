/**
 * The parts of Go's `fmt` and `strconv` that the template engine needs: printing values as `fmt.Print`
 * prints them (`%v`), `Sprint`, `Sprintln`, `Sprintf` and `strconv.Quote`.
 *
 * Values are JavaScript values standing for Go ones: a string is a Go string, an integral number an `int`,
 * any other number a `float64`, a boolean a `bool`, `null`/`undefined` nil, an array a `[]interface {}` and
 * a Map or plain object a `map[string]interface {}` (printed with sorted keys, as Go prints maps).
 *
 * Every function takes a length limit and throws {@link FormatLimitError} rather than build a longer string,
 * so that hostile templates cannot exhaust memory; data nested deeper than {@link MAX_FORMAT_DEPTH} (or
 * cyclic) is refused the same way.
 */

import { formatGoTime } from './go-time.js';

export const MAX_FORMAT_DEPTH = 100;

/** Go's bound on widths and precisions (fmt's `tooLarge`). */
const MAX_WIDTH = 1_000_000;

const TWO_POW_63 = 2 ** 63;

/** A string would exceed the length limit, or a value nests too deeply (or is cyclic). */
export class FormatLimitError extends RangeError {
  constructor(
    message: string,
    readonly limit: 'length' | 'depth',
  ) {
    super(message);
  }
}

class Builder {
  private readonly parts: string[] = [];
  private length = 0;
  constructor(private readonly limit: number) {}
  push(text: string): void {
    this.length += text.length;
    if (this.length > this.limit)
      throw new FormatLimitError(`result exceeds ${this.limit} characters`, 'length');
    this.parts.push(text);
  }
  toString(): string {
    return this.parts.join('');
  }
}

/** True for a number Go would hold in an `int` (integral and within int64). */
export function isGoInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) < TWO_POW_63;
}

/** Whether a value is a map for printing and field lookup: a Map or a non-array, non-Date object. */
export function isGoMap(value: unknown): value is object {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !ArrayBuffer.isView(value)
  );
}

/** The Go type name a value stands for, as error messages print it (`string`, `int`, `[]interface {}`). */
export function goTypeName(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'number':
      return isGoInt(value) ? 'int' : 'float64';
    case 'bigint':
      return 'int64';
    case 'boolean':
      return 'bool';
    case 'function':
      return 'func';
    case 'symbol':
      return 'symbol';
  }
  if (Array.isArray(value)) return '[]interface {}';
  if (value instanceof Date) return 'time.Time';
  return 'map[string]interface {}';
}

/** Own entries of a map-like value, sorted by key as Go's fmt sorts map keys. */
export function mapEntries(value: object): [unknown, unknown][] {
  const entries: [unknown, unknown][] =
    value instanceof Map
      ? [...value.entries()]
      : Object.keys(value).map((key) => [key, Object.getOwnPropertyDescriptor(value, key)?.value]);
  return entries.sort(([a], [b]) => compareKeys(a, b));
}

function compareKeys(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------------------
// Floats: digits and Go's %e / %f / %g layouts (strconv.FormatFloat).

interface Digits {
  /** Significant digits without trailing zeros ('' for zero). */
  readonly digits: string;
  /** Position of the decimal point relative to the digits (`0.12` → 0, `12.3` → 2). */
  readonly point: number;
}

/** The shortest digits that read back as `x` (|x|, finite), as JavaScript and Go both compute them. */
function shortestDigits(x: number): Digits {
  if (x === 0) return { digits: '', point: 0 };
  const [mantissa = '', exponent = '0'] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '').replace(/0+$/, '');
  return { digits, point: Number(exponent) + 1 };
}

/** The exact decimal expansion of |x| (finite). Doubles are dyadic, so it is finite; BigInt keeps it exact. */
function exactDigits(x: number): Digits {
  const value = Math.abs(x);
  if (value === 0) return { digits: '', point: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const bits = view.getBigUint64(0);
  const biasedExponent = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const mantissa = biasedExponent === 0 ? fraction : fraction | (1n << 52n);
  const exponent = (biasedExponent === 0 ? 1 : biasedExponent) - 1075;
  let text: string;
  let point: number;
  if (exponent >= 0) {
    text = (mantissa << BigInt(exponent)).toString();
    point = text.length;
  } else {
    text = (mantissa * 5n ** BigInt(-exponent)).toString();
    point = text.length + exponent;
  }
  const trimmed = text.replace(/^0+/, '');
  point -= text.length - trimmed.length;
  return { digits: trimmed.replace(/0+$/, ''), point };
}

/** Rounds exact digits to `count` significant digits, half to even (Go's decimal rounding). */
function roundDigits(d: Digits, count: number): Digits {
  if (count < 0) return { digits: '', point: d.point };
  if (d.digits.length <= count) return d;
  const next = d.digits.charCodeAt(count) - 48;
  const rest = d.digits.slice(count + 1);
  const previous = count > 0 ? d.digits.charCodeAt(count - 1) - 48 : 0;
  const roundUp = next > 5 || (next === 5 && (/[1-9]/.test(rest) || previous % 2 === 1));
  let kept = d.digits.slice(0, count);
  let point = d.point;
  if (roundUp) {
    let i = kept.length - 1;
    while (i >= 0 && kept[i] === '9') i--;
    if (i < 0) {
      kept = '1';
      point += 1;
    } else {
      kept = kept.slice(0, i) + String.fromCharCode(kept.charCodeAt(i) + 1);
    }
  }
  return { digits: kept.replace(/0+$/, ''), point };
}

function layoutE(d: Digits, precision: number, e: 'e' | 'E'): string {
  let text = d.digits[0] ?? '0';
  if (precision > 0) text += `.${d.digits.slice(1, precision + 1).padEnd(precision, '0')}`;
  const exponent = d.digits === '' ? 0 : d.point - 1;
  const magnitude = String(Math.abs(exponent)).padStart(2, '0');
  return `${text}${e}${exponent < 0 ? '-' : '+'}${magnitude}`;
}

function layoutF(d: Digits, precision: number): string {
  let text: string;
  if (d.point > 0) text = d.digits.slice(0, d.point).padEnd(d.point, '0');
  else text = '0';
  if (precision > 0) {
    let fraction = '';
    for (let i = 0; i < precision; i++) {
      const index = d.point + i;
      fraction += index >= 0 && index < d.digits.length ? d.digits[index] : '0';
    }
    text += `.${fraction}`;
  }
  return text;
}

/** Formats |x| (finite) like strconv.FormatFloat(x, verb, precision, 64); precision -1 means shortest. */
function formatFloatAbs(x: number, verb: 'e' | 'E' | 'f' | 'g' | 'G', precision: number): string {
  const shortest = precision < 0;
  switch (verb) {
    case 'e':
    case 'E': {
      const d = shortest ? shortestDigits(x) : roundDigits(exactDigits(x), precision + 1);
      return layoutE(d, shortest ? Math.max(d.digits.length - 1, 0) : precision, verb);
    }
    case 'f': {
      const exact = exactDigits(x);
      const d = shortest ? shortestDigits(x) : roundDigits(exact, exact.point + precision);
      return layoutF(d, shortest ? Math.max(d.digits.length - d.point, 0) : precision);
    }
    default: {
      let p = precision === 0 ? 1 : precision;
      const d = shortest ? shortestDigits(x) : roundDigits(exactDigits(x), p);
      if (shortest) p = d.digits.length;
      let eprec = p;
      if (eprec > d.digits.length && d.digits.length >= d.point) eprec = d.digits.length;
      if (shortest) eprec = 6;
      const exponent = d.point - 1;
      if (exponent < -4 || exponent >= eprec) {
        return layoutE(d, Math.min(p, d.digits.length) - 1, verb === 'g' ? 'e' : 'E');
      }
      return layoutF(d, Math.max((p > d.point ? d.digits.length : p) - d.point, 0));
    }
  }
}

/** `%v` of a float64: Go's `%g` with the shortest digits (`1e+06`, `0.1`, `+Inf`). */
export function formatFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const body = formatFloatAbs(x, 'g', -1);
  return x < 0 || Object.is(x, -0) ? `-${body}` : body;
}

function formatInt(value: number): string {
  return BigInt(value).toString();
}

// ---------------------------------------------------------------------------------------------------------
// Quoting (strconv.Quote, QuoteRune).

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

function isPrintable(char: string): boolean {
  return char === ' ' || PRINTABLE.test(char);
}

function escapeRune(char: string, quote: '"' | "'"): string {
  if (char === quote || char === '\\') return `\\${char}`;
  const code = char.codePointAt(0)!;
  if (code >= 0xd800 && code <= 0xdfff) return '\\ufffd';
  if (isPrintable(char)) return char;
  switch (char) {
    case '\x07':
      return '\\a';
    case '\b':
      return '\\b';
    case '\f':
      return '\\f';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    case '\v':
      return '\\v';
  }
  if (code < 0x80) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code < 0x10000) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\U${code.toString(16).padStart(8, '0')}`;
}

/** Go's strconv.Quote: a double-quoted Go string literal with Go escapes for non-printable runes. */
export function goQuote(value: string): string {
  let out = '"';
  for (const char of value) out += escapeRune(char, '"');
  return `${out}"`;
}

function quoteRune(code: number): string {
  const char =
    code >= 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)
      ? String.fromCodePoint(code)
      : '\ufffd';
  return `'${escapeRune(char, "'")}'`;
}

function canBackquote(value: string): boolean {
  for (const char of value) {
    if (char === '`' || char === '\ufffd') return false;
    if (char !== '\t' && !isPrintable(char)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// %v, Sprint, Sprintln.

function formatInto(out: Builder, value: unknown, depth: number, verb: (scalar: unknown) => string): void {
  if (depth > MAX_FORMAT_DEPTH) {
    throw new FormatLimitError(`value nests deeper than ${MAX_FORMAT_DEPTH} levels`, 'depth');
  }
  if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item, index) => {
      if (index > 0) out.push(' ');
      formatInto(out, item, depth + 1, verb);
    });
    out.push(']');
    return;
  }
  if (isGoMap(value)) {
    out.push('map[');
    mapEntries(value).forEach(([key, item], index) => {
      if (index > 0) out.push(' ');
      formatInto(out, key, depth + 1, verb);
      out.push(':');
      formatInto(out, item, depth + 1, verb);
    });
    out.push(']');
    return;
  }
  out.push(verb(value));
}

function formatScalarV(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return isGoInt(value) ? formatInt(value) : formatFloat(value);
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'function':
      return '<func>';
    case 'symbol':
      return value.toString();
  }
  // Go prints a time.Time with this layout (time.Time.String).
  if (value instanceof Date) return formatGoTime(value, '2006-01-02 15:04:05.999999999 -0700 MST');
  return String(value);
}

/** `fmt.Sprint(value)`: how `{{.}}` and `%v` print a value. */
export function formatValue(value: unknown, limit: number): string {
  const out = new Builder(limit);
  formatInto(out, value, 0, formatScalarV);
  return out.toString();
}

/** `fmt.Sprint(args...)`: operands printed with %v, a space between two operands when neither is a string. */
export function sprint(args: readonly unknown[], limit: number): string {
  const out = new Builder(limit);
  let previousIsString = false;
  args.forEach((arg, index) => {
    const isString = typeof arg === 'string';
    if (index > 0 && !isString && !previousIsString) out.push(' ');
    formatInto(out, arg, 0, formatScalarV);
    previousIsString = isString;
  });
  return out.toString();
}

/** `fmt.Sprintln(args...)`: operands printed with %v, always space-separated, and a newline. */
export function sprintln(args: readonly unknown[], limit: number): string {
  const out = new Builder(limit);
  args.forEach((arg, index) => {
    if (index > 0) out.push(' ');
    formatInto(out, arg, 0, formatScalarV);
  });
  out.push('\n');
  return out.toString();
}

// ---------------------------------------------------------------------------------------------------------
// Sprintf.

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width: number | undefined;
  precision: number | undefined;
}

function runeCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function pad(text: string, spec: Spec, zeroAllowed = true): string {
  if (spec.width === undefined) return text;
  const missing = spec.width - runeCount(text);
  if (missing <= 0) return text;
  if (spec.minus) return text + ' '.repeat(missing);
  return (spec.zero && zeroAllowed ? '0' : ' ').repeat(missing) + text;
}

function badVerb(verb: string, value: unknown, limit: number): string {
  if (value === null || value === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${goTypeName(value)}=${formatValue(value, limit)})`;
}

function signPrefix(negative: boolean, spec: Spec): string {
  if (negative) return '-';
  if (spec.plus) return '+';
  if (spec.space) return ' ';
  return '';
}

function formatIntegerVerb(value: number, verb: string, spec: Spec): string | undefined {
  const negative = value < 0;
  const magnitude = BigInt(value) * (negative ? -1n : 1n);
  let digits: string;
  let prefix = '';
  switch (verb) {
    case 'd':
    case 'v':
      digits = magnitude.toString(10);
      break;
    case 'b':
      digits = magnitude.toString(2);
      if (spec.sharp) prefix = '0b';
      break;
    case 'o':
    case 'O':
      digits = magnitude.toString(8);
      if (verb === 'O') prefix = '0o';
      else if (spec.sharp && digits !== '0') prefix = '0';
      break;
    case 'x':
      digits = magnitude.toString(16);
      if (spec.sharp) prefix = '0x';
      break;
    case 'X':
      digits = magnitude.toString(16).toUpperCase();
      if (spec.sharp) prefix = '0X';
      break;
    case 'c':
      return pad(runeChar(value), spec);
    case 'q':
      return pad(quoteRune(value), spec);
    case 'U': {
      const hex = magnitude.toString(16).toUpperCase().padStart(4, '0');
      const text = `${negative ? '-' : ''}U+${hex}`;
      return pad(spec.sharp ? `${text} '${runeChar(value)}'` : text, spec);
    }
    default:
      return undefined;
  }
  if (spec.precision !== undefined) {
    if (spec.precision === 0 && magnitude === 0n) digits = '';
    else digits = digits.padStart(spec.precision, '0');
  } else if (spec.zero && !spec.minus && spec.width !== undefined) {
    const sign = signPrefix(negative, spec);
    digits = digits.padStart(spec.width - sign.length - prefix.length, '0');
  }
  return pad(signPrefix(negative, spec) + prefix + digits, spec, false);
}

function runeChar(code: number): string {
  return code >= 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)
    ? String.fromCodePoint(code)
    : '\ufffd';
}

function formatFloatVerb(value: number, verb: string, spec: Spec): string | undefined {
  let goVerb: 'e' | 'E' | 'f' | 'g' | 'G';
  switch (verb) {
    case 'v':
    case 'g':
      goVerb = 'g';
      break;
    case 'G':
      goVerb = 'G';
      break;
    case 'e':
    case 'E':
      goVerb = verb;
      break;
    case 'f':
    case 'F':
      goVerb = 'f';
      break;
    default:
      return undefined;
  }
  const negative = value < 0 || Object.is(value, -0);
  if (Number.isNaN(value)) return pad(`${spec.plus ? '+' : spec.space ? ' ' : ''}NaN`, spec, false);
  if (!Number.isFinite(value)) {
    return pad(`${value < 0 ? '-' : spec.space && !spec.plus ? ' ' : '+'}Inf`, spec, false);
  }
  const defaultPrecision = goVerb === 'g' || goVerb === 'G' ? -1 : 6;
  const body = formatFloatAbs(value, goVerb, spec.precision ?? defaultPrecision);
  const sign = signPrefix(negative, spec);
  if (spec.zero && !spec.minus && spec.width !== undefined) {
    return sign + body.padStart(spec.width - sign.length, '0');
  }
  return pad(sign + body, spec, false);
}

function hexOfString(value: string, spec: Spec, upper: boolean): string {
  const bytes = Buffer.from(value, 'utf8');
  const parts: string[] = [];
  for (const byte of bytes) {
    const hex = byte.toString(16).padStart(2, '0');
    parts.push(upper ? hex.toUpperCase() : hex);
  }
  const prefix = upper ? '0X' : '0x';
  if (spec.space) return parts.map((p) => (spec.sharp ? prefix + p : p)).join(' ');
  return (spec.sharp && parts.length > 0 ? prefix : '') + parts.join('');
}

function truncateRunes(value: string, precision: number | undefined): string {
  if (precision === undefined) return value;
  let out = '';
  let count = 0;
  for (const char of value) {
    if (count >= precision) break;
    out += char;
    count++;
  }
  return out;
}

function formatStringVerb(value: string, verb: string, spec: Spec): string | undefined {
  switch (verb) {
    case 'v':
    case 's':
      return pad(truncateRunes(value, spec.precision), spec);
    case 'q': {
      const text = truncateRunes(value, spec.precision);
      return pad(spec.sharp && canBackquote(text) ? `\`${text}\`` : goQuote(text), spec);
    }
    case 'x':
    case 'X':
      return pad(hexOfString(truncateRunes(value, spec.precision), spec, verb === 'X'), spec);
    default:
      return undefined;
  }
}

/** Formats one operand for one verb, as Go's printArg does (containers apply the verb to each element). */
function formatArg(value: unknown, verb: string, spec: Spec, limit: number): string {
  if (verb === 'T') return pad(goTypeName(value), spec);
  if (value === null || value === undefined) {
    return verb === 'v' ? pad('<nil>', spec) : badVerb(verb, value, limit);
  }
  if (Array.isArray(value) || isGoMap(value)) {
    const out = new Builder(limit);
    formatInto(out, value, 0, (item) => formatArg(item, verb, spec, limit));
    return out.toString();
  }
  let text: string | undefined;
  switch (typeof value) {
    case 'string':
      text = formatStringVerb(value, verb, spec);
      break;
    case 'number':
      // JavaScript cannot tell the float64 `3.0` from the int `3`: float verbs format either as a float.
      text =
        isGoInt(value) && !'eEfFgG'.includes(verb)
          ? formatIntegerVerb(value, verb, spec)
          : formatFloatVerb(value, verb, spec);
      break;
    case 'boolean':
      text = verb === 'v' || verb === 't' ? pad(String(value), spec) : undefined;
      break;
    default:
      text = verb === 'v' || verb === 's' ? pad(formatScalarV(value), spec) : undefined;
  }
  return text ?? badVerb(verb, value, limit);
}

/**
 * `fmt.Sprintf(format, args...)`: flags `+ - # 0 space`, width and precision (digits or `*`), explicit
 * argument indexes `%[n]d`, and the verbs `v s q d b o O x X c U e E f F g G t T %`. Problems are printed
 * into the result as Go prints them: `%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA int=1)`, `%!(NOVERB)`.
 */
export function sprintf(format: string, args: readonly unknown[], limit: number): string {
  const out = new Builder(limit);
  let argNum = 0;
  let reordered = false;
  let i = 0;
  const n = format.length;
  /** Go's parsenum: undefined when there are no digits; on overflow the rest of the format is consumed. */
  const readNumber = (): number | undefined => {
    let value: number | undefined;
    while (i < n && format.charCodeAt(i) >= 48 && format.charCodeAt(i) <= 57) {
      if ((value ?? 0) > MAX_WIDTH) {
        i = n;
        return undefined;
      }
      value = (value ?? 0) * 10 + (format.charCodeAt(i) - 48);
      i++;
    }
    return value;
  };
  /** Go's intFromArg: the operand as a width or precision, undefined unless it is a small int. */
  const intFromArg = (): number | undefined => {
    if (argNum >= args.length) return undefined;
    const value = args[argNum];
    argNum++;
    return isGoInt(value) && Math.abs(value) <= MAX_WIDTH ? value : undefined;
  };
  const readIndex = (): boolean => {
    if (format[i] !== '[') return true;
    reordered = true;
    const close = format.indexOf(']', i);
    const text = close < 0 ? '' : format.slice(i + 1, close);
    if (close < 0 || !/^[0-9]+$/.test(text) || Number(text) < 1 || Number(text) > args.length) {
      i = close < 0 ? n : close + 1;
      return false;
    }
    argNum = Number(text) - 1;
    i = close + 1;
    return true;
  };
  while (i < n) {
    const percent = format.indexOf('%', i);
    if (percent < 0) {
      out.push(format.slice(i));
      break;
    }
    out.push(format.slice(i, percent));
    i = percent + 1;
    const spec: Spec = {
      minus: false,
      plus: false,
      sharp: false,
      space: false,
      zero: false,
      width: undefined,
      precision: undefined,
    };
    flags: while (i < n) {
      switch (format[i]) {
        case '#':
          spec.sharp = true;
          break;
        case '0':
          spec.zero = true;
          break;
        case '+':
          spec.plus = true;
          break;
        case '-':
          spec.minus = true;
          break;
        case ' ':
          spec.space = true;
          break;
        default:
          break flags;
      }
      i++;
    }
    let goodIndex = readIndex();
    if (format[i] === '*') {
      i++;
      const width = intFromArg();
      if (width === undefined) out.push('%!(BADWIDTH)');
      else {
        spec.width = Math.abs(width);
        if (width < 0) spec.minus = true;
      }
    } else {
      spec.width = readNumber();
    }
    if (format[i] === '.') {
      i++;
      goodIndex = goodIndex && readIndex();
      if (format[i] === '*') {
        i++;
        const precision = intFromArg();
        if (precision === undefined || precision < 0) out.push('%!(BADPREC)');
        else spec.precision = precision;
      } else {
        spec.precision = readNumber() ?? 0;
      }
    }
    goodIndex = goodIndex && readIndex();
    if (spec.minus) spec.zero = false;
    if (i >= n) {
      out.push('%!(NOVERB)');
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') {
      out.push('%');
      continue;
    }
    if (!goodIndex) {
      out.push(`%!${verb}(BADINDEX)`);
      continue;
    }
    if (argNum >= args.length) {
      out.push(`%!${verb}(MISSING)`);
      continue;
    }
    const arg = args[argNum];
    argNum++;
    const known = 'vsqdboOxXcUeEfFgGtT';
    out.push(known.includes(verb) ? formatArg(arg, verb, spec, limit) : badVerb(verb, arg, limit));
  }
  if (!reordered && argNum < args.length) {
    out.push('%!(EXTRA ');
    args.slice(argNum).forEach((arg, index) => {
      if (index > 0) out.push(', ');
      out.push(arg === null || arg === undefined ? '<nil>' : `${goTypeName(arg)}=${formatValue(arg, limit)}`);
    });
    out.push(')');
  }
  return out.toString();
}

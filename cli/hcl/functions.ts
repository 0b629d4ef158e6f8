/**
 * The functions of Packer's HCL2 templates that real templates use, with Packer's semantics (cty's standard
 * library and Packer's own: `legacy_isotime`, `clean_resource_name`, `env`, `templatefile`…).
 *
 * - time and ids: `timestamp`, `formatdate`, `legacy_isotime`, `uuidv4`;
 * - strings: `lower`, `upper`, `title`, `replace`, `regex`, `regexall`, `regex_replace`, `format`, `join`, `split`, `trimspace`,
 *   `trim`, `trimprefix`, `trimsuffix`, `chomp`, `substr`, `startswith`, `endswith`, `clean_resource_name`;
 * - collections: `concat`, `merge`, `lookup`, `length`, `coalesce`, `coalescelist`, `contains`, `keys`,
 *   `values`, `element`, `flatten`, `distinct`, `compact`, `reverse`, `sort`, `slice`, `zipmap`;
 * - numbers and conversions: `max`, `min`, `abs`, `tostring`, `tonumber`, `tobool`;
 * - paths and files: `basename`, `dirname`, `abspath`, `file`, `fileexists`, `templatefile`;
 * - encodings and hashes: `jsonencode`, `jsondecode`, `base64encode`, `base64decode`, `md5`, `sha256`;
 * - `can` and `try` (./evaluate.ts);
 * - `env`, only in variable defaults.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { cleanResourceName } from '../../lambdas/shared/template/functions.js';
import { formatGoTime, LONG_DAYS, LONG_MONTHS } from '../../lambdas/shared/template/go-time.js';
import type { HclFunction } from './evaluate.js';
import {
  equal,
  HclEvalError,
  type HclValue,
  isObject,
  makeObject,
  numberText,
  toBool,
  toList,
  toMap,
  toNumber,
  toStr,
} from './values.js';

export interface FunctionContext {
  /** The build's start time: `timestamp()` and `legacy_isotime()`. */
  now: Date;
  /** The working directory: relative paths of `file`, `abspath`… are resolved against it. */
  cwd: string;
  /** Renders a template file for `templatefile` (HCL template syntax), with the given variables. */
  templatefile: (path: string, vars: { [key: string]: HclValue }) => HclValue;
}

function arity(name: string, args: HclValue[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    const want =
      min === max ? `${min}` : max === Number.POSITIVE_INFINITY ? `at least ${min}` : `${min} to ${max}`;
    throw new HclEvalError(
      args.length < min ? 'Not enough function arguments' : 'Too many function arguments',
      `Function "${name}" expects ${want} argument(s). Missing value for ${args.length < min ? 'an argument' : 'nothing'}.`.replace(
        ' Missing value for nothing.',
        '',
      ),
    );
  }
}

/** An RFC 3339 timestamp as `timestamp()` gives it: UTC, seconds, `Z`. */
export function rfc3339(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function parseTimestamp(text: string): { date: Date; offsetMinutes: number; zone: string } {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.exec(text);
  if (match === null) {
    throw new HclEvalError(
      'Invalid function argument',
      `Invalid value for "timestamp" parameter: not a valid RFC3339 timestamp: cannot use ${JSON.stringify(text)} as year.`,
    );
  }
  const zone = (match[8] ?? 'Z').toUpperCase();
  const offsetMinutes =
    zone === 'Z'
      ? 0
      : (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const utc = Date.UTC(
    Number(match[1]),
    Number(match[2]) - 1,
    Number(match[3]),
    Number(match[4]),
    Number(match[5]),
    Number(match[6]),
  );
  // The wall clock of the timestamp's own zone, held in a Date's UTC fields.
  return { date: new Date(utc), offsetMinutes, zone };
}

/** Terraform/Packer's `formatdate(spec, timestamp)`. */
export function formatdate(spec: string, timestamp: string): string {
  const { date, offsetMinutes, zone } = parseTimestamp(timestamp);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const hours12 = date.getUTCHours() % 12 === 0 ? 12 : date.getUTCHours() % 12;
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const tokens: Record<string, () => string> = {
    YYYY: () => pad(date.getUTCFullYear(), 4),
    YY: () => pad(date.getUTCFullYear() % 100),
    MMMM: () => LONG_MONTHS[date.getUTCMonth()] ?? '',
    MMM: () => (LONG_MONTHS[date.getUTCMonth()] ?? '').slice(0, 3),
    MM: () => pad(date.getUTCMonth() + 1),
    M: () => String(date.getUTCMonth() + 1),
    DD: () => pad(date.getUTCDate()),
    D: () => String(date.getUTCDate()),
    EEEE: () => LONG_DAYS[date.getUTCDay()] ?? '',
    EEE: () => (LONG_DAYS[date.getUTCDay()] ?? '').slice(0, 3),
    hh: () => pad(date.getUTCHours()),
    h: () => String(date.getUTCHours()),
    HH: () => pad(hours12),
    H: () => String(hours12),
    AA: () => (date.getUTCHours() < 12 ? 'AM' : 'PM'),
    aa: () => (date.getUTCHours() < 12 ? 'am' : 'pm'),
    mm: () => pad(date.getUTCMinutes()),
    m: () => String(date.getUTCMinutes()),
    ss: () => pad(date.getUTCSeconds()),
    s: () => String(date.getUTCSeconds()),
    ZZZZZ: () => (zone === 'Z' ? 'Z' : `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`),
    ZZZZ: () => `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`,
    ZZZ: () => (offsetMinutes === 0 ? 'UTC' : `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`),
    Z: () => (zone === 'Z' ? 'Z' : `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`),
  };
  let out = '';
  let i = 0;
  while (i < spec.length) {
    const c = spec[i] ?? '';
    if (c === "'") {
      if (spec[i + 1] === "'") {
        out += "'";
        i += 2;
        continue;
      }
      const close = spec.indexOf("'", i + 1);
      if (close < 0)
        throw new HclEvalError(
          'Invalid function argument',
          'Invalid value for "format" parameter: unterminated literal \'.',
        );
      out += spec.slice(i + 1, close);
      i = close + 1;
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (spec[j] === c) j++;
      const run = spec.slice(i, j);
      const token = tokens[run];
      if (token === undefined) {
        throw new HclEvalError(
          'Invalid function argument',
          `Invalid value for "format" parameter: invalid date format verb ${JSON.stringify(run)}: unsupported.`,
        );
      }
      out += token();
      i = j;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

/** cty's `format`: `%s %d %f %v %q %t %%` with flags, width and precision. */
export function format(spec: string, args: HclValue[]): string {
  let next = 0;
  return spec.replace(
    /%([-+ 0#]*)(\d+)?(?:\.(\d+))?([sdfvqtbxXoeEgG%])/g,
    (_, flags: string, width?: string, precision?: string, verb?: string) => {
      if (verb === '%') return '%';
      if (next >= args.length)
        throw new HclEvalError(
          'Error in function call',
          `Call to function "format" failed: not enough arguments for "%${verb}" at ${next}: need index ${next} but have ${args.length} total.`,
        );
      const arg = args[next++] ?? null;
      let text: string;
      switch (verb) {
        case 'd':
          text = numberText(Math.trunc(toNumber(arg)));
          if (flags.includes('+') && !text.startsWith('-')) text = `+${text}`;
          break;
        case 'f':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
          text =
            verb === 'f'
              ? toNumber(arg).toFixed(precision === undefined ? 6 : Number(precision))
              : String(toNumber(arg));
          break;
        case 'x':
        case 'X':
          text = Math.trunc(toNumber(arg)).toString(16);
          if (verb === 'X') text = text.toUpperCase();
          break;
        case 'o':
          text = Math.trunc(toNumber(arg)).toString(8);
          break;
        case 'b':
          text = Math.trunc(toNumber(arg)).toString(2);
          break;
        case 't':
          text = toBool(arg) ? 'true' : 'false';
          break;
        case 'q':
          text = JSON.stringify(toStr(arg));
          break;
        case 'v':
          text = Array.isArray(arg) || isObject(arg) ? JSON.stringify(arg) : toStr(arg);
          break;
        default:
          text = toStr(arg);
          if (precision !== undefined) text = [...text].slice(0, Number(precision)).join('');
      }
      if (width !== undefined && text.length < Number(width)) {
        const fill = flags.includes('0') && !flags.includes('-') && verb !== 's' ? '0' : ' ';
        text = flags.includes('-') ? text.padEnd(Number(width)) : text.padStart(Number(width), fill);
      }
      return text;
    },
  );
}

function regex(pattern: string): RegExp {
  try {
    // Go's RE2 inline flags at the start, such as (?i), become JavaScript flags.
    const inline = /^\(\?([imsU]+)\)/.exec(pattern);
    const flags = `g${(inline?.[1] ?? '').replace(/[^ims]/g, '')}`;
    return new RegExp(inline === null ? pattern : pattern.slice(inline[0].length), flags);
  } catch (error) {
    throw new HclEvalError(
      'Invalid function argument',
      `Invalid value for "pattern" parameter: invalid regular expression: ${(error as Error).message}.`,
    );
  }
}

/** cty's regex result: the match, the list of groups, or the object of named groups. */
function matchValue(match: RegExpMatchArray): HclValue {
  if (match.groups !== undefined)
    return makeObject(Object.entries(match.groups).map(([k, v]) => [k, v ?? null]));
  if (match.length > 1) return match.slice(1).map((v) => v ?? null);
  return match[0];
}

function regexResult(pattern: RegExp, value: string, required: boolean): HclValue | undefined {
  const match = new RegExp(pattern.source, pattern.flags.replace('g', '')).exec(value);
  if (match === null) {
    if (required)
      throw new HclEvalError(
        'Error in function call',
        'Call to function "regex" failed: pattern did not match any part of the given string.',
      );
    return undefined;
  }
  return matchValue(match);
}

/** Go's regexp replacement `$1` / `${1}` / `${name}` → JavaScript's. */
function goReplacement(text: string): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)|\$\$/g, (all, braced?: string, bare?: string) => {
    if (all === '$$') return '$$';
    const name = braced ?? bare ?? '';
    return /^\d+$/.test(name) ? `$${name}` : `$<${name}>`;
  });
}

function stringLength(value: string): number {
  return [...new Intl.Segmenter().segment(value)].length;
}

/** The functions, bound to a build's context. `env` is added for variable defaults only. */
export function hclFunctions(context: FunctionContext): Record<string, HclFunction> {
  const path = (p: string) => resolve(context.cwd, p);
  const fns: Record<string, HclFunction> = {
    timestamp: (args) => {
      arity('timestamp', args, 0);
      return rfc3339(context.now);
    },
    formatdate: (args) => {
      arity('formatdate', args, 2);
      return formatdate(toStr(args[0] ?? null, 'format'), toStr(args[1] ?? null, 'timestamp'));
    },
    legacy_isotime: (args) => {
      arity('legacy_isotime', args, 1);
      return formatGoTime(context.now, toStr(args[0] ?? null, 'format'));
    },
    uuidv4: (args) => {
      arity('uuidv4', args, 0);
      return randomUUID();
    },
    lower: (args) => {
      arity('lower', args, 1);
      return toStr(args[0] ?? null).toLowerCase();
    },
    upper: (args) => {
      arity('upper', args, 1);
      return toStr(args[0] ?? null).toUpperCase();
    },
    title: (args) => {
      arity('title', args, 1);
      return toStr(args[0] ?? null).replace(
        /(^|[^\p{L}\p{N}'])(\p{L})/gu,
        (_, a: string, b: string) => a + b.toUpperCase(),
      );
    },
    replace: (args) => {
      arity('replace', args, 3);
      const [value, search, replacement] = args.map((a) => toStr(a ?? null));
      if (search !== undefined && search.length > 1 && search.startsWith('/') && search.endsWith('/')) {
        return (value ?? '').replace(regex(search.slice(1, -1)), goReplacement(replacement ?? ''));
      }
      return (value ?? '').split(search ?? '').join(replacement ?? '');
    },
    regex: (args) => {
      arity('regex', args, 2);
      const pattern = regex(toStr(args[0] ?? null, 'pattern'));
      const value = toStr(args[1] ?? null);
      return regexResult(pattern, value, true) ?? null;
    },
    regexall: (args) => {
      arity('regexall', args, 2);
      const pattern = regex(toStr(args[0] ?? null, 'pattern'));
      return [...toStr(args[1] ?? null).matchAll(pattern)].map((m) => matchValue(m));
    },
    regex_replace: (args) => {
      arity('regex_replace', args, 3);
      const [value, pattern, replacement] = args.map((a) => toStr(a ?? null));
      return (value ?? '').replace(regex(pattern ?? ''), goReplacement(replacement ?? ''));
    },
    format: (args) => {
      arity('format', args, 1, Number.POSITIVE_INFINITY);
      return format(toStr(args[0] ?? null, 'format'), args.slice(1));
    },
    join: (args) => {
      arity('join', args, 2, Number.POSITIVE_INFINITY);
      const separator = toStr(args[0] ?? null, 'separator');
      return args
        .slice(1)
        .flatMap((list) => toList(list ?? null, 'lists'))
        .map((v) => toStr(v))
        .join(separator);
    },
    split: (args) => {
      arity('split', args, 2);
      const separator = toStr(args[0] ?? null, 'separator');
      const value = toStr(args[1] ?? null);
      return separator === '' ? [...value] : value.split(separator);
    },
    trimspace: (args) => {
      arity('trimspace', args, 1);
      return toStr(args[0] ?? null).trim();
    },
    trim: (args) => {
      arity('trim', args, 2);
      const value = toStr(args[0] ?? null);
      const cut = new Set(toStr(args[1] ?? null));
      let start = 0;
      let end = value.length;
      while (start < end && cut.has(value[start] ?? '')) start++;
      while (end > start && cut.has(value[end - 1] ?? '')) end--;
      return value.slice(start, end);
    },
    trimprefix: (args) => {
      arity('trimprefix', args, 2);
      const [value, prefix] = [toStr(args[0] ?? null), toStr(args[1] ?? null)];
      return value.startsWith(prefix) ? value.slice(prefix.length) : value;
    },
    trimsuffix: (args) => {
      arity('trimsuffix', args, 2);
      const [value, suffix] = [toStr(args[0] ?? null), toStr(args[1] ?? null)];
      return suffix !== '' && value.endsWith(suffix) ? value.slice(0, -suffix.length) : value;
    },
    chomp: (args) => {
      arity('chomp', args, 1);
      return toStr(args[0] ?? null).replace(/(\r?\n)+$/, '');
    },
    startswith: (args) => {
      arity('startswith', args, 2);
      return toStr(args[0] ?? null).startsWith(toStr(args[1] ?? null));
    },
    endswith: (args) => {
      arity('endswith', args, 2);
      return toStr(args[0] ?? null).endsWith(toStr(args[1] ?? null));
    },
    substr: (args) => {
      arity('substr', args, 3);
      const chars = [...toStr(args[0] ?? null)];
      let offset = toNumber(args[1] ?? null, 'offset');
      const length = toNumber(args[2] ?? null, 'length');
      if (offset < 0) offset = Math.max(chars.length + offset, 0);
      if (offset > chars.length) {
        throw new HclEvalError(
          'Invalid function argument',
          'Invalid value for "offset" parameter: offset cannot be larger than the length of the string.',
        );
      }
      return chars.slice(offset, length < 0 ? undefined : offset + length).join('');
    },
    clean_resource_name: (args) => {
      arity('clean_resource_name', args, 1);
      return cleanResourceName(toStr(args[0] ?? null));
    },
    concat: (args) => args.flatMap((list) => toList(list, 'seqs')),
    merge: (args) =>
      makeObject(args.flatMap((map) => (map === null ? [] : Object.entries(toMap(map, 'maps'))))),
    lookup: (args) => {
      arity('lookup', args, 2, 3);
      const map = toMap(args[0] ?? null, 'inputMap');
      const key = toStr(args[1] ?? null, 'key');
      if (Object.hasOwn(map, key)) return map[key] ?? null;
      if (args.length === 3) return args[2] ?? null;
      throw new HclEvalError(
        'Invalid function argument',
        `Invalid value for "key" parameter: the given key ${JSON.stringify(key)} does not exist in the map.`,
      );
    },
    length: (args) => {
      arity('length', args, 1);
      const value = args[0] ?? null;
      if (typeof value === 'string') return stringLength(value);
      if (Array.isArray(value)) return value.length;
      if (isObject(value)) return Object.keys(value).length;
      throw new HclEvalError(
        'Invalid function argument',
        'Invalid value for "value" parameter: argument must be a string, a collection type, or a structural type.',
      );
    },
    coalesce: (args) => {
      for (const value of args) if (value !== null && value !== '') return value;
      throw new HclEvalError(
        'Error in function call',
        'Call to function "coalesce" failed: no non-null, non-empty-string arguments.',
      );
    },
    coalescelist: (args) => {
      for (const value of args) if (toList(value, 'vals').length > 0) return value;
      throw new HclEvalError(
        'Error in function call',
        'Call to function "coalescelist" failed: no non-null arguments.',
      );
    },
    contains: (args) => {
      arity('contains', args, 2);
      return toList(args[0] ?? null, 'list').some((v) => equal(v, args[1] ?? null));
    },
    keys: (args) => {
      arity('keys', args, 1);
      return Object.keys(toMap(args[0] ?? null, 'inputMap')).sort();
    },
    values: (args) => {
      arity('values', args, 1);
      const map = toMap(args[0] ?? null, 'values');
      return Object.keys(map)
        .sort()
        .map((k) => map[k] ?? null);
    },
    element: (args) => {
      arity('element', args, 2);
      const list = toList(args[0] ?? null, 'list');
      if (list.length === 0)
        throw new HclEvalError(
          'Error in function call',
          'Call to function "element" failed: cannot use element function with an empty list.',
        );
      const index = Math.trunc(toNumber(args[1] ?? null, 'index'));
      if (index < 0)
        throw new HclEvalError(
          'Invalid function argument',
          'Invalid value for "index" parameter: cannot use element function with a negative index.',
        );
      return list[index % list.length] ?? null;
    },
    flatten: (args) => {
      arity('flatten', args, 1);
      const flat = (list: HclValue[]): HclValue[] => list.flatMap((v) => (Array.isArray(v) ? flat(v) : [v]));
      return flat(toList(args[0] ?? null, 'list'));
    },
    distinct: (args) => {
      arity('distinct', args, 1);
      const out: HclValue[] = [];
      for (const v of toList(args[0] ?? null, 'list')) if (!out.some((o) => equal(o, v))) out.push(v);
      return out;
    },
    compact: (args) => {
      arity('compact', args, 1);
      return toList(args[0] ?? null, 'list').filter((v) => v !== null && v !== '');
    },
    reverse: (args) => {
      arity('reverse', args, 1);
      return [...toList(args[0] ?? null, 'list')].reverse();
    },
    sort: (args) => {
      arity('sort', args, 1);
      return toList(args[0] ?? null, 'list')
        .map((v) => toStr(v))
        .sort();
    },
    slice: (args) => {
      arity('slice', args, 3);
      const list = toList(args[0] ?? null, 'list');
      const start = toNumber(args[1] ?? null, 'start_index');
      const end = toNumber(args[2] ?? null, 'end_index');
      if (start < 0 || end > list.length || start > end) {
        throw new HclEvalError(
          'Invalid function argument',
          'Invalid value for "end_index" parameter: end index must not be less than start index, nor greater than the length of the list.',
        );
      }
      return list.slice(start, end);
    },
    zipmap: (args) => {
      arity('zipmap', args, 2);
      const keys = toList(args[0] ?? null, 'keys');
      const values = toList(args[1] ?? null, 'values');
      if (keys.length !== values.length) {
        throw new HclEvalError(
          'Error in function call',
          `Call to function "zipmap" failed: number of keys (${keys.length}) does not match number of values (${values.length}).`,
        );
      }
      return makeObject(keys.map((k, i) => [toStr(k), values[i] ?? null]));
    },
    max: (args) => Math.max(...args.map((a) => toNumber(a))),
    min: (args) => Math.min(...args.map((a) => toNumber(a))),
    abs: (args) => {
      arity('abs', args, 1);
      return Math.abs(toNumber(args[0] ?? null));
    },
    tostring: (args) => {
      arity('tostring', args, 1);
      return args[0] === null ? null : toStr(args[0] ?? null);
    },
    tonumber: (args) => {
      arity('tonumber', args, 1);
      return args[0] === null ? null : toNumber(args[0] ?? null);
    },
    tobool: (args) => {
      arity('tobool', args, 1);
      return args[0] === null ? null : toBool(args[0] ?? null);
    },
    basename: (args) => {
      arity('basename', args, 1);
      return basename(toStr(args[0] ?? null, 'path'));
    },
    dirname: (args) => {
      arity('dirname', args, 1);
      return dirname(toStr(args[0] ?? null, 'path'));
    },
    abspath: (args) => {
      arity('abspath', args, 1);
      return path(toStr(args[0] ?? null, 'path'));
    },
    file: (args) => {
      arity('file', args, 1);
      const file = toStr(args[0] ?? null, 'path');
      try {
        return readFileSync(path(file), 'utf8');
      } catch {
        throw new HclEvalError(
          'Invalid function argument',
          `Invalid value for "path" parameter: no file exists at ${JSON.stringify(file)}; this function works only with files that are distributed as part of the configuration source code.`,
        );
      }
    },
    fileexists: (args) => {
      arity('fileexists', args, 1);
      const file = path(toStr(args[0] ?? null, 'path'));
      if (!existsSync(file)) return false;
      if (!statSync(file).isFile()) {
        throw new HclEvalError(
          'Error in function call',
          `Call to function "fileexists" failed: ${file} is not a regular file, but "directory".`,
        );
      }
      return true;
    },
    templatefile: (args) => {
      arity('templatefile', args, 2);
      const vars = toMap(args[1] ?? null, 'vars');
      return context.templatefile(path(toStr(args[0] ?? null, 'path')), vars);
    },
    jsonencode: (args) => {
      arity('jsonencode', args, 1);
      return JSON.stringify(args[0] ?? null);
    },
    jsondecode: (args) => {
      arity('jsondecode', args, 1);
      try {
        return JSON.parse(toStr(args[0] ?? null, 'str')) as HclValue;
      } catch (error) {
        throw new HclEvalError(
          'Error in function call',
          `Call to function "jsondecode" failed: ${(error as Error).message}.`,
        );
      }
    },
    base64encode: (args) => {
      arity('base64encode', args, 1);
      return Buffer.from(toStr(args[0] ?? null), 'utf8').toString('base64');
    },
    base64decode: (args) => {
      arity('base64decode', args, 1);
      const text = toStr(args[0] ?? null);
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
        throw new HclEvalError(
          'Error in function call',
          'Call to function "base64decode" failed: failed to decode base64 data.',
        );
      }
      return Buffer.from(text, 'base64').toString('utf8');
    },
    md5: (args) => {
      arity('md5', args, 1);
      return createHash('md5')
        .update(toStr(args[0] ?? null), 'utf8')
        .digest('hex');
    },
    sha256: (args) => {
      arity('sha256', args, 1);
      return createHash('sha256')
        .update(toStr(args[0] ?? null), 'utf8')
        .digest('hex');
    },
  };
  return fns;
}

/** `env(name)`: the variable's value, or "" when unset. Packer allows it only in variable defaults. */
export function envFunction(env: Readonly<Record<string, string | undefined>>): HclFunction {
  return (args) => {
    arity('env', args, 1);
    return env[toStr(args[0] ?? null, 'key')] ?? '';
  };
}

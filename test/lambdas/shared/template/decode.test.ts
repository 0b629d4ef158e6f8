import { describe, expect, it } from 'vitest';
import {
  decodeBool,
  decodeDuration,
  decodeInteger,
  decodeString,
  decodeStringList,
  decodeStringMap,
  decodeTrilean,
  describeValue,
  formatEntry,
  formatPath,
  parseGoDuration,
  parseGoInt,
  Report,
} from '../../../../lambdas/shared/template/decode.js';

const at = ['builders', 0, 'key'];

function decode<T>(
  fn: (v: unknown, p: typeof at, r: Report) => T,
  value: unknown,
): { value: T; problems: string[] } {
  const report = new Report();
  const result = fn(value, at, report);
  return { value: result, problems: report.problems.map((p) => formatEntry(p)) };
}

describe('lenient decoding, as mapstructure WeaklyTypedInput', () => {
  it.each([
    [true, true],
    ['true', true],
    ['1', true],
    ['t', true],
    ['TRUE', true],
    ['True', true],
    [1, true],
    [false, false],
    ['false', false],
    ['0', false],
    ['F', false],
    ['', false],
    [0, false],
  ])('reads %j as the boolean %j', (input, expected) => {
    expect(decode(decodeBool, input)).toEqual({ value: expected, problems: [] });
  });

  it('fails on other booleans with the allowed forms', () => {
    expect(decode(decodeBool, 'yes').problems).toEqual([
      'builders[0].key: cannot parse "yes" as a boolean; allowed: true or false, or a string Go parses as one ("true", "false", "1", "0", "t", "f", "TRUE", …)',
    ]);
    expect(decode(decodeBool, {}).problems[0]).toContain('expected a boolean, got an object');
  });

  it('reads an empty string as an unset trilean', () => {
    expect(decode(decodeTrilean, '').value).toBeUndefined();
    expect(decode(decodeTrilean, 'false').value).toBe(false);
  });

  it.each([
    ['12', 12],
    [12, 12],
    [12.9, 12],
    ['-3', -3],
    ['0x1f', 31],
    ['0b101', 5],
    ['0o17', 15],
    ['017', 15],
    ['', 0],
    [true, 1],
  ])('reads %j as the integer %j', (input, expected) => {
    expect(decode(decodeInteger, input)).toEqual({ value: expected, problems: [] });
  });

  it('fails on integers Go would not parse', () => {
    for (const bad of [' 12', '1e3', '12abc', '0x', '08']) {
      expect(decode(decodeInteger, bad).problems[0]).toContain(
        `cannot parse ${JSON.stringify(bad)} as an integer`,
      );
    }
    expect(parseGoInt('9007199254740993')).toBeUndefined();
  });

  it.each([
    ['text', 'text'],
    [12, '12'],
    [1.5, '1.5'],
    [1e21, '1000000000000000000000'],
    [true, '1'],
    [false, '0'],
  ])('reads %j as the string %j', (input, expected) => {
    expect(decode(decodeString, input)).toEqual({ value: expected, problems: [] });
  });

  it('reads a comma-separated string and a single value as lists', () => {
    expect(decode(decodeStringList, 'a,b, c').value).toEqual(['a', 'b', ' c']);
    expect(decode(decodeStringList, '').value).toEqual([]);
    expect(decode(decodeStringList, 7).value).toEqual(['7']);
    expect(decode(decodeStringList, ['x', 2, false]).value).toEqual(['x', '2', '0']);
  });

  it('trims ids in lists and drops empty entries', () => {
    const report = new Report();
    expect(decodeStringList(' sg-1 , ,sg-2,', at, report, { trim: true })).toEqual(['sg-1', 'sg-2']);
  });

  it('reads objects of strings, keys named like prototype members as own keys', () => {
    expect(decode(decodeStringMap, { a: 1, b: true, c: 'x' }).value).toEqual({ a: '1', b: '1', c: 'x' });
    const named = JSON.parse('{"__proto__": "x", "constructor": "c", "ok": "y"}');
    const decoded = decode(decodeStringMap, named);
    expect(decoded.problems).toEqual([]);
    expect(Object.getOwnPropertyDescriptor(decoded.value, '__proto__')?.value).toBe('x');
    expect(Object.getOwnPropertyDescriptor(decoded.value, 'constructor')?.value).toBe('c');
    expect(Object.getPrototypeOf(decoded.value)).toBe(Object.prototype);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });
});

describe('Go durations', () => {
  it.each([
    ['5m', 300],
    ['1h30m', 5400],
    ['90s', 90],
    ['1.5h', 5400],
    ['300ms', 0.3],
    ['0', 0],
    ['2h45m30s', 9930],
  ])('reads %j as %j seconds', (input, expected) => {
    expect(parseGoDuration(input)).toBeCloseTo(expected);
  });

  it("fails with Go's messages and the allowed form", () => {
    expect(parseGoDuration('5')).toBe('time: missing unit in duration "5"');
    expect(parseGoDuration('5y')).toBe('time: unknown unit "y" in duration "5y"');
    expect(parseGoDuration('')).toBe('time: invalid duration ""');
    expect(parseGoDuration('m')).toBe('time: invalid duration "m"');
    expect(decode(decodeDuration, 'abc').problems).toEqual([
      'builders[0].key: time: invalid duration "abc"; allowed: a Go duration such as "90s", "5m" or "1h30m"',
    ]);
  });
});

describe('messages', () => {
  it('describes values briefly, whatever their size or depth', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i += 1) deep = [deep];
    expect(describeValue(deep)).toBe('a list of 1 item(s)');
    expect(describeValue('y'.repeat(1_000_000))).toHaveLength(82);
    expect(describeValue('password', true)).toBe('a string (value hidden)');
  });

  it('formats key paths', () => {
    expect(formatPath(['builders', 0, 'source_ami_filter', 'filters', 'tag:Name'])).toBe(
      'builders[0].source_ami_filter.filters["tag:Name"]',
    );
  });

  it('names the key once when the message already names it', () => {
    expect(formatEntry({ path: ['builders', 1, 'ami_name'], message: 'ami_name must be specified' })).toBe(
      'builders[1]: ami_name must be specified',
    );
    expect(formatEntry({ path: ['ami_name'], message: 'ami_name must be specified' })).toBe(
      'ami_name must be specified',
    );
    expect(formatEntry({ path: ['ssh_port'], message: 'cannot parse "x"' })).toBe(
      'ssh_port: cannot parse "x"',
    );
  });
});

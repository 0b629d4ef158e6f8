// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are HCL expressions, whose ${…} is HCL's.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate, type Scope } from '../../../cli/hcl/evaluate.js';
import { envFunction, formatdate, hclFunctions } from '../../../cli/hcl/functions.js';
import { expressionTrees } from '../../../cli/hcl/hcl2json.js';
import { HclEvalError, type HclValue } from '../../../cli/hcl/values.js';

const NOW = new Date('2025-07-15T09:05:03Z');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ami-builder-hcl-fn-'));
  writeFileSync(join(dir, 'motd'), 'Welcome\n');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function scope(): Scope {
  const functions = {
    ...hclFunctions({
      now: NOW,
      cwd: dir,
      templatefile: () => {
        throw new Error('not in this test');
      },
    }),
    env: envFunction({ HOME: '/home/packer' }),
  };
  return {
    roots: new Map<string, HclValue>([
      ['var', { region: 'us-east-1', list: ['a', 'b'], map: { k: 'v' }, servers: [{ id: 1 }, { id: 2 }] }],
    ]),
    functions,
  };
}

/** Evaluates expressions written as in a .pkr.hcl file. */
async function values(expressions: string[]): Promise<HclValue[]> {
  const trees = await expressionTrees(expressions);
  return trees.map((tree, i) => evaluate(tree, expressions[i] ?? '', scope()));
}

describe('HCL2 functions', () => {
  it.each([
    ['timestamp()', '2025-07-15T09:05:03Z'],
    ['formatdate("YYYY-MM-DD hh:mm:ss", timestamp())', '2025-07-15 09:05:03'],
    ['formatdate("DD MMM YYYY hh:mm ZZZ", "2018-01-02T23:12:01Z")', '02 Jan 2018 23:12 UTC'],
    [
      'formatdate("EEEE, DD-MMM-YY hh:mm:ss ZZZ", "2018-01-02T23:12:01-08:00")',
      'Tuesday, 02-Jan-18 23:12:01 -0800',
    ],
    ['formatdate("h:mm\'h\' AA", "2018-01-02T23:12:01Z")', '23:12h PM'],
    ['legacy_isotime("2006-01-02")', '2025-07-15'],
    ['lower("HeLLo")', 'hello'],
    ['upper(var.region)', 'US-EAST-1'],
    ['replace("1 + 2 + 3", "+", "-")', '1 - 2 - 3'],
    ['replace("hello world", "/w.*d/", "everybody")', 'hello everybody'],
    ['regex_replace("ami-0123", "[0-9]+", "N")', 'ami-N'],
    ['regex_replace("a-b", "(\\\\w)-(\\\\w)", "$2-$1")', 'b-a'],
    ['format("Hello, %s! %d items, %05.1f%%", "Ander", 3, 3.14159)', 'Hello, Ander! 3 items, 003.1%'],
    ['join(", ", var.list)', 'a, b'],
    ['split(",", "a,b,c")', ['a', 'b', 'c']],
    ['trimspace("  hi \\n")', 'hi'],
    ['substr("hello world", 1, 4)', 'ello'],
    ['substr("hello world", -5, -1)', 'world'],
    ['clean_resource_name("a b:c*é")', 'a b-c---'],
    ['concat(var.list, ["c"], [])', ['a', 'b', 'c']],
    ['merge(var.map, { x = 1 }, { k = "w" })', { k: 'w', x: 1 }],
    ['lookup(var.map, "k", "d")', 'v'],
    ['lookup(var.map, "nope", "d")', 'd'],
    ['length("héllo")', 5],
    ['length(var.list)', 2],
    ['length(var.map)', 1],
    ['coalesce("", null, "x")', 'x'],
    ['contains(var.list, "b")', true],
    ['basename("/a/b/c.sh")', 'c.sh'],
    ['dirname("/a/b/c.sh")', '/a/b'],
    ['file("motd")', 'Welcome\n'],
    ['fileexists("motd")', true],
    ['fileexists("nope")', false],
    ['jsonencode({ a = [1, true, null] })', '{"a":[1,true,null]}'],
    ['jsondecode("{\\"a\\": [1, 2]}").a[1]', 2],
    ['base64encode("hello")', 'aGVsbG8='],
    ['base64decode("aGVsbG8=")', 'hello'],
    ['md5("hello")', '5d41402abc4b2a76b9719d911017c592'],
    ['sha256("hello")', '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'],
    ['env("HOME")', '/home/packer'],
    ['can(regex("^[0-9]+$", "12a"))', false],
    ['try(var.map.nope, "fallback")', 'fallback'],
    ['keys({ b = 1, a = 2 })', ['a', 'b']],
    ['var.servers[*].id', [1, 2]],
    ['[for s in var.list : upper(s) if s != "a"]', ['B']],
    ['{ for k, v in var.map : v => k }', { v: 'k' }],
    ['"%{ for s in var.list }<${s}>%{ endfor }"', '<a><b>'],
    ['"%{ if var.region == "us-east-1" }east%{ else }other%{ endif }"', 'east'],
    ['length(var.list) > 1 ? "many" : "one"', 'many'],
    ['"literal $${not} %%{not}"', 'literal ${not} %{not}'],
    ['abspath("x")', ''],
  ])('%s', async (expression, expected) => {
    // Act
    const [value] = await values([expression]);

    // Assess
    if (expression.startsWith('abspath')) expect(value).toBe(join(dir, 'x'));
    else expect(value).toEqual(expected);
  });

  it('gives uuidv4 a fresh version 4 UUID each call', async () => {
    const [a, b] = await values(['uuidv4()', 'uuidv4()']);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a).not.toBe(b);
  });

  it.each([
    ['nope(1)', 'Call to unknown function', 'There is no function named "nope".'],
    ['var.nope', 'Unsupported attribute', 'This object does not have an attribute named "nope".'],
    ['what.ever', 'Unknown variable', 'There is no variable named "what".'],
    [
      'lookup(var.map, "x")',
      'Invalid function argument',
      'Invalid value for "key" parameter: the given key "x" does not exist in the map.',
    ],
    [
      'upper()',
      'Not enough function arguments',
      'Function "upper" expects 1 argument(s). Missing value for an argument.',
    ],
    [
      '"x-${var.list}"',
      'Invalid template interpolation value',
      'Cannot include the given value in a string template: string required, got tuple.',
    ],
    [
      'file("missing.txt")',
      'Invalid function argument',
      expect.stringContaining('no file exists at "missing.txt"'),
    ],
    ['1 / 0', 'Operation failed', "Error during operation: can't divide by zero."],
  ])("fails on %s with HCL's diagnostic", async (expression, summary, detail) => {
    const [tree] = await expressionTrees([expression]);
    let error: unknown;
    try {
      evaluate(tree!, expression, scope());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HclEvalError);
    expect({ summary: (error as HclEvalError).summary, detail: (error as HclEvalError).detail }).toEqual({
      summary,
      detail,
    });
  });

  it('formats dates with literal text in quotes and refuses unknown verbs', () => {
    expect(formatdate("YYYY'Y'MM", '2024-02-29T00:00:00Z')).toBe('2024Y02');
    expect(() => formatdate('QQ', '2024-02-29T00:00:00Z')).toThrow(/invalid date format verb "QQ"/);
  });
});

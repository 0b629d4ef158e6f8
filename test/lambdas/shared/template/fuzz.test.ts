import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ShellProvisioner } from '../../../../lambdas/shared/config.js';
import { TemplateValidationError } from '../../../../lambdas/shared/errors.js';
import { SHELL_SAFE } from '../../../../lambdas/shared/shell.js';
import { BUILDER_KEYS } from '../../../../lambdas/shared/template/keys.js';
import { validateTemplate } from '../../../../lambdas/shared/template/validate.js';
import { BASE, builder, cli, workflow } from './helpers.js';

const HUGE = 'A'.repeat(300_000);
const HUGE_TEMPLATE = '{{'.repeat(50_000);
const deep = (depth: number, leaf: unknown, wrap: (inner: unknown) => unknown): unknown => {
  let value = leaf;
  for (let i = 0; i < depth; i += 1) value = wrap(value);
  return value;
};
const DEEP_LIST = deep(50_000, 'x', (v) => [v]);
const DEEP_OBJECT = deep(50_000, 'x', (v) => ({ a: v }));
const POLLUTERS = JSON.parse(
  '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"prototype":{"polluted":true}}',
);

const SHELL_METACHARACTERS = [
  ' ',
  ';',
  '&',
  '|',
  '$',
  '`',
  '(',
  ')',
  '<',
  '>',
  '"',
  "'",
  '\\',
  '*',
  '?',
  '[',
  ']',
  '{',
  '}',
  '!',
  '#',
  '~',
  '\n',
  '\t',
];

/** Strings meant to break things: shell syntax, template syntax, huge text, odd unicode. */
const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '$(reboot)',
    '`id`',
    "'; rm -rf / #",
    'a && b || c; d | e > /etc/passwd',
    '{{',
    '}}',
    '{{ . }}',
    '{{user `x`}}',
    '{{env `HOME`}}',
    '{{.SourceAMI}}',
    '{{ if }}{{ end }}',
    '{{range .}}{{.}}{{end}}',
    '{{template "x"}}',
    '{{ printf "%s" (index . "__proto__") }}',
    '\u0000',
    '\ud800',
    'é😀',
    HUGE,
    HUGE_TEMPLATE,
  ),
  fc
    .array(fc.constantFrom(...SHELL_METACHARACTERS, 'a', '/'), { maxLength: 12 })
    .map((chars) => chars.join('')),
);

/** Any JSON-like value, plus deep nesting and prototype-pollution objects. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: hostileString, weight: 5 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 3 },
  {
    arbitrary: fc.constantFrom(DEEP_LIST, DEEP_OBJECT, POLLUTERS, null, Number.NaN, -1, 1e308, true, [], {}),
    weight: 2,
  },
  { arbitrary: fc.array(hostileString, { maxLength: 4 }), weight: 2 },
  { arbitrary: fc.dictionary(hostileString, hostileString, { maxKeys: 4 }), weight: 2 },
);

const builderKey = fc.constantFrom(
  ...BUILDER_KEYS.map((k) => k.key),
  'type',
  'name',
  '__proto__',
  'constructor',
  'bogus',
);

/** A valid builder with some keys replaced by hostile values. */
const hostileBuilder = fc.array(fc.tuple(builderKey, hostileValue), { maxLength: 6 }).map((changes) => {
  const result: Record<string, unknown> = { ...BASE };
  for (const [key, value] of changes)
    Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true });
  return result;
});

const hostileProvisioner = fc.record(
  {
    type: fc.oneof(fc.constantFrom('shell', 'file', 'ansible'), hostileString),
    inline: hostileValue,
    script: hostileValue,
    environment_vars: hostileValue,
    execute_command: hostileValue,
    destination: hostileValue,
    source: hostileValue,
    override: hostileValue,
    only: hostileValue,
  },
  { requiredKeys: ['type'] },
);

const hostileDocument = fc.oneof(
  hostileValue,
  hostileBuilder,
  fc.record(
    {
      variables: fc.oneof(
        hostileValue,
        fc.dictionary(hostileString, fc.oneof(hostileString, fc.constant(null)), { maxKeys: 4 }),
      ),
      'sensitive-variables': hostileValue,
      builders: fc.oneof(hostileValue, fc.array(hostileBuilder, { minLength: 1, maxLength: 3 })),
      provisioners: fc.oneof(hostileValue, fc.array(hostileProvisioner, { maxLength: 3 })),
      'post-processors': hostileValue,
      'error-cleanup-provisioner': hostileProvisioner,
    },
    { requiredKeys: ['builders'] },
  ),
  fc.record({
    template: fc.oneof(hostileBuilder, hostileString),
    vars: hostileValue,
    only: hostileValue,
    except: hostileValue,
  }),
);

/** Validates; returns 'ok' or 'invalid', and fails the property on any other outcome. */
function outcome(input: unknown, options = workflow): 'ok' | 'invalid' {
  try {
    const result = validateTemplate(input, options);
    expect(Array.isArray(result.builds)).toBe(true);
    expect(Array.isArray(result.warnings)).toBe(true);
    return 'ok';
  } catch (error) {
    if (error instanceof TemplateValidationError) {
      expect(error.problems.length).toBeGreaterThan(0);
      for (const problem of error.problems) expect(problem.length).toBeLessThan(5000);
      return 'invalid';
    }
    throw error;
  }
}

describe('hostile documents', () => {
  it('always give a normalized config or a TemplateValidationError, quickly, in both modes', () => {
    fc.assert(
      fc.property(hostileDocument, fc.boolean(), (document, inCli) => {
        const started = Date.now();
        outcome(document, inCli ? cli : workflow);
        expect(Date.now() - started).toBeLessThan(3000);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.getPrototypeOf({})).toBe(Object.prototype);
      }),
      { numRuns: 400 },
    );
  });

  it('never lets a shell metacharacter reach a value substituted unquoted', () => {
    const unquoted = [
      'x509_upload_path',
      'bundle_destination',
      'bundle_prefix',
      's3_bucket',
      'region',
      'account_id',
      'ssh_username',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...unquoted),
        fc.constantFrom(...SHELL_METACHARACTERS),
        fc.string({ maxLength: 8 }),
        (key, metacharacter, rest) => {
          // Prepare
          const value = `/tmp/a${metacharacter}${rest}`;

          // Act
          const result = outcome(builder({ [key]: value }));

          // Assess
          expect(result).toBe('invalid');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps every value substituted unquoted shell-safe in a valid config', () => {
    fc.assert(
      fc.property(hostileBuilder, (input) => {
        let built: ReturnType<typeof validateTemplate> | undefined;
        try {
          built = validateTemplate(input, workflow);
        } catch (error) {
          if (error instanceof TemplateValidationError) return;
          throw error;
        }
        for (const c of built.builds) {
          for (const value of [
            c.x509.uploadPath,
            c.bundle.destination,
            c.bundle.prefix,
            c.bundle.bucket,
            c.bundle.keyPrefix,
            c.region,
            c.accountId ?? '',
            c.runAsUser ?? '',
          ]) {
            expect(value).toMatch(SHELL_SAFE);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('accepts any environment value and inline command as written, for the script to quote', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 30 }).filter((s) => !s.includes('\u0000') && !s.includes('{{')),
        (text) => {
          // Prepare
          const input = {
            builders: [builder()],
            provisioners: [
              { type: 'shell', inline: [text === '' ? 'true' : text], environment_vars: [`VALUE=${text}`] },
            ],
          };

          // Act
          const built = validateTemplate(input, workflow);

          // Assess
          const shell = built.builds[0]?.provisioners[0] as ShellProvisioner;
          expect(shell.environmentVars).toEqual([{ name: 'VALUE', value: text }]);
        },
      ),
      { numRuns: 200 },
    );
  });
});

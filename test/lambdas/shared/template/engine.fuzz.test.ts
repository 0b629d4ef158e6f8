import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isPlainText,
  parseTemplate,
  referencedFields,
  referencedFunctions,
  referencedUserVariables,
  renderTemplate,
  type TemplateFunction,
  TemplateRenderError,
  TemplateSyntaxError,
} from '../../../../lambdas/shared/template/engine.js';
import { packerFunctions } from '../../../../lambdas/shared/template/functions.js';
import { goQuote } from '../../../../lambdas/shared/template/go-fmt.js';
import { seededUuid } from '../../../../lambdas/shared/template/uuid.js';

/** Generous, so that a loaded CI machine does not flake; a hang or a blow-up takes far longer. */
const MAX_MILLISECONDS_PER_TEMPLATE = 2_000;

const FUNCS: Record<string, TemplateFunction> = {
  ...packerFunctions({
    now: new Date(Date.UTC(2024, 2, 5, 7, 8, 9)),
    uuid: seededUuid('fuzz'),
    userVariables: { a: 'A', region: 'us-east-1' },
    env: () => undefined,
    build: (name) => `build:${name}`,
  }),
  fail: () => {
    throw new Error('fails');
  },
  nothing: () => undefined,
  object: () => ({ A: 1, L: [1, 2] }),
};

const DATA = {
  A: 'a',
  B: { C: [1, 'two', null], D: { E: true } },
  L: ['x', 'y', 'z'],
  N: 3,
  F: 1.5,
  Empty: '',
  Nil: null,
  M: new Map<string, unknown>([['k', 'v']]),
};

const TOKENS = [
  '{{',
  '}}',
  '{{- ',
  ' -}}',
  '{{/*',
  '*/}}',
  ' ',
  '\n',
  '.',
  '.A',
  '.B',
  '.C',
  '.L',
  '.N',
  '.Nil',
  '.M.k',
  '.__proto__',
  '.constructor',
  '$',
  '$x',
  '$i',
  '$e',
  ':=',
  '=',
  ',',
  '|',
  '(',
  ')',
  '"s"',
  '"%s"',
  '"%d%v%q%x%5.2f%*d%[2]s"',
  '"\\x41\\u00e9\\n"',
  '"\\q"',
  '`raw`',
  "'c'",
  "'\\n'",
  '0',
  '1',
  '-1',
  '3',
  '1000',
  '1.5',
  '0x1F',
  '1e3',
  '1__0',
  '1+2i',
  'true',
  'false',
  'nil',
  'if',
  'else',
  'end',
  'range',
  'with',
  'break',
  'continue',
  'define',
  'eq',
  'ne',
  'lt',
  'and',
  'or',
  'not',
  'len',
  'index',
  'slice',
  'print',
  'printf',
  'println',
  'user',
  'env',
  'build',
  'timestamp',
  'isotime',
  'uuid',
  'upper',
  'replace',
  'replace_all',
  'split',
  'clean_resource_name',
  'fail',
  'nothing',
  'object',
  'undefinedFunction',
  '{',
  '}',
  '-',
  '@',
  'é',
  '\u0000',
];

type Outcome = 'rendered' | 'syntax error' | 'render error';

/** Renders, returning how it ended; anything but a result or one of the two template errors is rethrown. */
function outcome(template: string): Outcome {
  try {
    const output = renderTemplate(template, DATA, FUNCS);
    if (typeof output !== 'string') throw new Error(`rendered a ${typeof output}`);
    return 'rendered';
  } catch (error) {
    if (error instanceof TemplateSyntaxError) return 'syntax error';
    if (error instanceof TemplateRenderError) return 'render error';
    throw error;
  }
}

function timed<T>(action: () => T): T {
  const started = performance.now();
  const result = action();
  const elapsed = performance.now() - started;
  if (elapsed > MAX_MILLISECONDS_PER_TEMPLATE) throw new Error(`took ${elapsed.toFixed(0)} ms`);
  return result;
}

const anyText = fc.string({ unit: 'binary', maxLength: 300 });
const templateish = fc.array(fc.constantFrom(...TOKENS), { maxLength: 80 }).map((tokens) => tokens.join(''));
const spacedAction = fc
  .array(fc.constantFrom(...TOKENS.filter((token) => !token.includes('{{') && !token.includes('}}'))), {
    minLength: 1,
    maxLength: 12,
  })
  .map((tokens) => `x {{ ${tokens.join(' ')} }} y`);
const controlled = fc
  .tuple(
    fc.constantFrom('if', 'with', 'range'),
    fc.constantFrom('.A', '.L', '.N', '.Nil', '$i, $e := .L', '$x := .B', '3', 'eq .N 3', '(index .L 1)'),
    templateish,
    fc.boolean(),
  )
  .map(
    ([keyword, pipe, body, withElse]) => `{{${keyword} ${pipe}}}${body}${withElse ? '{{else}}e' : ''}{{end}}`,
  );

describe('template engine under arbitrary input', () => {
  it('renders or throws a template error for any string, quickly', () => {
    fc.assert(
      fc.property(anyText, (template) => {
        timed(() => outcome(template));
      }),
      { numRuns: 400 },
    );
  });

  it('renders or throws a template error for strings made of template tokens, quickly', () => {
    fc.assert(
      fc.property(fc.oneof(templateish, spacedAction, controlled), (template) => {
        timed(() => outcome(template));
      }),
      { numRuns: 1500 },
    );
  });

  it('reaches every outcome, so the generators exercise the evaluator and not only the parser', () => {
    // Act
    const seen = new Set<Outcome>(
      fc.sample(fc.oneof(templateish, spacedAction, controlled), { numRuns: 3000, seed: 42 }).map(outcome),
    );

    // Assess
    expect([...seen].sort()).toEqual(['render error', 'rendered', 'syntax error']);
  });

  it('analyses any template that parses without throwing', () => {
    fc.assert(
      fc.property(fc.oneof(templateish, spacedAction, controlled), (source) => {
        let template: ReturnType<typeof parseTemplate>;
        try {
          template = parseTemplate(source);
        } catch (error) {
          if (error instanceof TemplateSyntaxError) return;
          throw error;
        }
        for (const list of [
          referencedFields(template),
          referencedFunctions(template),
          referencedUserVariables(template),
        ]) {
          expect(list.every((item) => typeof item === 'string')).toBe(true);
        }
      }),
      { numRuns: 800 },
    );
  });

  it('never adds properties to Object.prototype', () => {
    // Prepare
    const before = Object.getOwnPropertyNames(Object.prototype).sort();

    // Act
    fc.assert(
      fc.property(templateish, (template) => {
        outcome(template);
      }),
      { numRuns: 300 },
    );

    // Assess
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
  });

  it('renders text without actions unchanged', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        fc.pre(!text.includes('{{'));
        expect(isPlainText(text)).toBe(true);
        expect(renderTemplate(text, DATA, FUNCS)).toBe(text);
      }),
    );
  });

  it('reads back any Go-quoted string literal as the original string', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        expect(renderTemplate(`{{ ${goQuote(text)} }}`, {}, {})).toBe(text);
      }),
    );
  });

  it('reads back any raw string literal without backquotes or carriage returns as written', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        fc.pre(!text.includes('`') && !text.includes('\r'));
        expect(renderTemplate(`{{ \`${text}\` }}`, {}, {})).toBe(text);
      }),
    );
  });

  it('prints data strings unchanged, directly and through printf %s', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        expect(renderTemplate('{{ .S }}|{{ printf "%s" .S }}', { S: text }, {})).toBe(`${text}|${text}`);
      }),
    );
  });
});

import { describe, expect, it, vi } from 'vitest';
import {
  BUILTIN_FUNCTIONS,
  isPlainText,
  parseTemplate,
  referencedFields,
  referencedFunctions,
  referencedUserVariables,
  renderTemplate,
  TEMPLATE_LIMITS,
  type TemplateFunction,
  TemplateRenderError,
  TemplateSyntaxError,
} from '../../../../lambdas/shared/template/engine.js';

function render(template: string, data: unknown = {}, funcs: Record<string, TemplateFunction> = {}): string {
  return renderTemplate(template, data, funcs);
}

function errorOf(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('template engine', () => {
  describe('text and actions', () => {
    it('renders text without actions as itself', () => {
      expect(render('plain } text {')).toBe('plain } text {');
      expect(isPlainText('plain } text {')).toBe(true);
      expect(isPlainText('a {{.}}')).toBe(false);
    });

    it('renders fields of the data', () => {
      expect(
        render('sudo -i -n ec2-bundle-vol -u {{.AccountId}} -r {{ .Architecture }}', {
          AccountId: '012345678901',
          Architecture: 'x86_64',
        }),
      ).toBe('sudo -i -n ec2-bundle-vol -u 012345678901 -r x86_64');
    });

    it('renders nested fields of objects and Maps', () => {
      // Prepare
      const data = { SourceAMITags: new Map([['Name', 'base']]), Build: { Info: { Id: 7 } } };

      // Act
      const rendered = render('{{.SourceAMITags.Name}}/{{.Build.Info.Id}}', data);

      // Assess
      expect(rendered).toBe('base/7');
    });

    it('trims the whitespace beside trim markers, including newlines', () => {
      expect(render('a  \n\t{{- "b" -}}\n  c')).toBe('abc');
      expect(render('a {{- 3}}')).toBe('a3');
      expect(render('a {{-3}}')).toBe('a -3');
      expect(render('{{3 -}} x')).toBe('3x');
    });

    it('skips comments, with or without trim markers', () => {
      expect(render('a{{/* note */}}b {{- /* trimmed */ -}} c')).toBe('abc');
      expect(render('{{/* a comment may hold }} and {{ */}}x')).toBe('x');
    });

    it('allows newlines inside actions', () => {
      expect(render('{{ printf\n"%s-%s"\n"a"\n"b" }}')).toBe('a-b');
    });
  });

  describe('literals', () => {
    it.each([
      [String.raw`{{ "tab\there" }}`, 'tab\there'],
      [String.raw`{{ "line\nbreak" }}`, 'line\nbreak'],
      [String.raw`{{ "quote\"back\\slash" }}`, 'quote"back\\slash'],
      [String.raw`{{ "\x41\u00e9\U0001F600\101" }}`, 'Aé😀A'],
      [String.raw`{{ "\xe2\x82\xac" }}`, '€'],
      [String.raw`{{ "\a\b\f\r\v" }}`, '\x07\b\f\r\v'],
      ['{{ `raw \\n {{ "kept" }} ` }}', 'raw \\n {{ "kept" }} '],
      ['{{ `two\nlines` }}', 'two\nlines'],
    ])('renders the string literal %s', (template, expected) => {
      expect(render(template)).toBe(expected);
    });

    it.each([
      ['{{ 42 }}', '42'],
      ['{{ -7 }}', '-7'],
      ['{{ 1.5 }}', '1.5'],
      ['{{ .25 }}', '0.25'],
      ['{{ 0x1F }}', '31'],
      ['{{ 0o17 }}', '15'],
      ['{{ 017 }}', '15'],
      ['{{ 09 }}', '9'],
      ['{{ 0b101 }}', '5'],
      ['{{ 1_000_000 }}', '1000000'],
      ['{{ 2.5e3 }}', '2500'],
      ["{{ 'a' }}", '97'],
      ["{{ '\\n' }}", '10'],
      ["{{ '\\'' }}", '39'],
      ['{{ true }} {{ false }}', 'true false'],
    ])('renders the literal %s as Go does', (template, expected) => {
      expect(render(template)).toBe(expected);
    });

    it.each([
      [String.raw`{{ "\q" }}`, 'invalid escape sequence \\q in string'],
      [String.raw`{{ "\u12" }}`, 'invalid escape sequence \\u12'],
      [String.raw`{{ "\ud800" }}`, 'not a valid Unicode code point'],
      ['{{ "open }}', 'unterminated quoted string'],
      ['{{ `open }}', 'unterminated raw quoted string'],
      ["{{ 'ab' }}", 'malformed character constant: "\'ab\'"'],
      ['{{ 1__0 }}', 'illegal number syntax: "1__0"'],
      ['{{ 1e400 }}', 'illegal number syntax: "1e400"'],
      ['{{ 99999999999999999999 }}', 'illegal number syntax'],
      ['{{ 1+2i }}', 'complex numbers are not supported: "1+2i"'],
      ['{{ 3x }}', 'bad number syntax: "3x"'],
    ])('fails when the literal is invalid: %s', (template, message) => {
      expect(() => render(template)).toThrow(message);
    });
  });

  describe('pipelines', () => {
    it('passes the previous value as the last argument', () => {
      expect(render('{{ "a" | printf "%s-%s" "b" | printf "[%s]" }}')).toBe('[b-a]');
    });

    it('evaluates parenthesized pipelines as arguments', () => {
      expect(render('{{ printf "%s/%s" (print 1) (.A | printf "%s!") }}', { A: 'x' })).toBe('1/x!');
    });

    it('reads fields of a parenthesized result', () => {
      expect(render('{{ (index .L 0).Name }}', { L: [{ Name: 'first' }] })).toBe('first');
    });

    it('calls a function given as an argument without arguments', () => {
      const funcs = { now: () => 'NOW' };
      expect(render('{{ printf "%s" now }}', {}, funcs)).toBe('NOW');
    });

    it('fails when a literal follows a pipe', () => {
      expect(() => render('{{ .A | "b" }}', { A: 1 })).toThrow('non executable command in pipeline stage 2');
    });

    it('fails when a value that is not a function gets arguments', () => {
      expect(() => render('{{ "a" "b" }}')).toThrow('can\'t give argument to non-function "a"');
      expect(() => render('{{ "a" | .A }}', { A: 1 })).toThrow('A is not a method but has arguments');
    });

    it('fails when a pipe has no command after it', () => {
      expect(() => render('{{ .A | }}', { A: 1 })).toThrow('missing command after |');
    });
  });

  describe('fields', () => {
    it('fails when a field is missing, naming it (missingkey=error)', () => {
      expect(() => render('--url {{.S3Endpoint}}', { Region: 'us-east-1' })).toThrow(
        new TemplateRenderError('template: no field or key "S3Endpoint" in data'),
      );
    });

    it('fails when a nested key is missing, naming the path', () => {
      expect(() => render('{{ .SourceAMITags.Owner }}', { SourceAMITags: { Name: 'x' } })).toThrow(
        'template: no field or key "Owner" in .SourceAMITags',
      );
    });

    it('treats an undefined property as missing and null as nil', () => {
      expect(() => render('{{ .Token }}', { Token: undefined })).toThrow('no field or key "Token"');
      expect(render('{{ .Token }}', { Token: null })).toBe('<no value>');
    });

    it('fails when reading a field of nil or of a string', () => {
      expect(() => render('{{ .A.B }}', { A: null })).toThrow("can't evaluate field B: .A is nil");
      expect(() => render('{{ .A.B }}', { A: 'text' })).toThrow("can't evaluate field B in type string");
    });

    it.each(['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'])(
      'fails when reading %s, which exists only on the prototype',
      (key) => {
        expect(() => render(`{{ .${key} }}`, {})).toThrow(`no field or key "${key}" in data`);
        expect(() => render(`{{ .M.${key} }}`, { M: new Map() })).toThrow(`no field or key "${key}"`);
      },
    );

    it('reads an own __proto__ key of parsed JSON without touching Object.prototype', () => {
      // Prepare
      const data = JSON.parse('{"__proto__": {"polluted": "yes"}}');

      // Act
      const rendered = render('{{ .__proto__.polluted }}', data);

      // Assess
      expect(rendered).toBe('yes');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('ignores accessor properties, reading only data properties', () => {
      // Prepare
      const getter = vi.fn(() => 'secret');
      const data = Object.defineProperty({}, 'Computed', { get: getter, enumerable: true });

      // Act
      const error = errorOf(() => render('{{ .Computed }}', data));

      // Assess
      expect(error.message).toBe('template: no field or key "Computed" in data');
      expect(getter).not.toHaveBeenCalled();
    });
  });

  describe('printing values', () => {
    it.each([
      [{ V: 'text' }, 'text'],
      [{ V: 42 }, '42'],
      [{ V: -0.5 }, '-0.5'],
      [{ V: 0.1 }, '0.1'],
      [{ V: 1e18 }, '1000000000000000000'],
      [{ V: 1e21 }, '1e+21'],
      [{ V: 1234567.5 }, '1.2345675e+06'],
      [{ V: 1e-7 }, '1e-07'],
      [{ V: true }, 'true'],
      [{ V: null }, '<no value>'],
      [{ V: ['a', 1, null, ['b']] }, '[a 1 <nil> [b]]'],
      [{ V: { b: 2, a: 'x' } }, 'map[a:x b:2]'],
      [
        {
          V: new Map<unknown, unknown>([
            [2, 'two'],
            [1, 'one'],
          ]),
        },
        'map[1:one 2:two]',
      ],
      [{ V: new Date(Date.UTC(2024, 2, 5, 7, 8, 9, 120)) }, '2024-03-05 07:08:09.12 +0000 UTC'],
    ])('prints %j as Go prints it', (data, expected) => {
      expect(render('{{ .V }}', data)).toBe(expected);
    });

    it('fails when the value is a function', () => {
      expect(() => render('{{ .F }}', { F: () => 1 })).toThrow("can't print value of type func");
    });
  });

  describe('control structures', () => {
    it.each([
      [{ A: 'x' }, 'is x'],
      [{ A: 'y', B: true }, 'b'],
      [{ A: 'y', B: false }, 'other'],
    ])('chooses the if / else if / else branch for %j', (data, expected) => {
      expect(render('{{if eq .A "x"}}is x{{else if .B}}b{{else}}other{{end}}', data)).toBe(expected);
    });

    it.each([
      ['', false],
      ['x', true],
      [0, false],
      [3, true],
      [false, false],
      [true, true],
      [null, false],
      [[], false],
      [[0], true],
      [{}, false],
      [{ k: 1 }, true],
      [new Map(), false],
    ])('treats %j as %s, as Go does', (value, truth) => {
      expect(render('{{if .V}}T{{else}}F{{end}}', { V: value })).toBe(truth ? 'T' : 'F');
    });

    it('sets dot inside with, and runs else / else with when the value is empty', () => {
      expect(render('{{with .A}}[{{.}}]{{end}}', { A: 'a' })).toBe('[a]');
      expect(render('{{with .A}}[{{.}}]{{else with .B}}<{{.}}>{{else}}none{{end}}', { A: '', B: 'b' })).toBe(
        '<b>',
      );
      expect(render('{{with .A}}[{{.}}]{{else with .B}}<{{.}}>{{else}}none{{end}}', { A: '', B: 0 })).toBe(
        'none',
      );
    });

    it('ranges over arrays with index and element variables', () => {
      expect(render('{{range $i, $e := .L}}{{$i}}={{$e}};{{end}}', { L: ['a', 'b'] })).toBe('0=a;1=b;');
      expect(render('{{range .L}}<{{.}}>{{end}}', { L: ['a', 'b'] })).toBe('<a><b>');
      expect(render('{{range $e := .L}}{{$e}}{{end}}', { L: ['x', 'y'] })).toBe('xy');
    });

    it('ranges over maps in key order, and over integers', () => {
      expect(render('{{range $k, $v := .M}}{{$k}}:{{$v}} {{end}}', { M: { b: 2, a: 1 } })).toBe('a:1 b:2 ');
      expect(render('{{range 3}}{{.}}{{end}}')).toBe('012');
    });

    it('runs the else branch of range when there is nothing to iterate', () => {
      expect(render('{{range .L}}x{{else}}empty{{end}}', { L: [] })).toBe('empty');
      expect(render('{{range .L}}x{{else}}empty{{end}}', { L: null })).toBe('empty');
    });

    it('stops and skips iterations with break and continue', () => {
      expect(
        render('{{range .L}}{{if eq . 3}}{{break}}{{end}}{{if eq . 1}}{{continue}}{{end}}{{.}}{{end}}', {
          L: [0, 1, 2, 3, 4],
        }),
      ).toBe('02');
    });

    it('fails when range gets a value it cannot iterate', () => {
      expect(() => render('{{range .S}}{{end}}', { S: 'abc' })).toThrow("range can't iterate over abc");
    });
  });

  describe('variables', () => {
    it('declares, assigns and reads variables, and $ is the data', () => {
      expect(render('{{ $x := .A }}{{ $x = printf "%s!" $x }}{{ $x }} {{ $.A }}', { A: 'a' })).toBe('a! a');
    });

    it('reads $ fields inside range and with, where dot has changed', () => {
      expect(render('{{range .L}}{{.}}{{$.Sep}}{{end}}', { L: [1, 2], Sep: ',' })).toBe('1,2,');
    });

    it('ends a variable’s scope at the end of its control structure', () => {
      // Act
      const error = errorOf(() => render('{{if true}}{{$x := 1}}{{end}}{{$x}}'));

      // Assess
      expect(error).toBeInstanceOf(TemplateSyntaxError);
      expect(error.message).toBe('template: undefined variable "$x" at col 32');
    });

    it('lets an inner assignment change the outer variable, as Go does', () => {
      expect(render('{{$x := 1}}{{range 3}}{{$x = .}}{{end}}{{$x}}')).toBe('2');
    });
  });

  describe('builtins', () => {
    it.each([
      ['{{ eq 1 1 }}', 'true'],
      ['{{ eq "a" "b" "c" "a" }}', 'true'],
      ['{{ eq "a" "b" "c" }}', 'false'],
      ['{{ eq .N nil }}', 'true'],
      ['{{ eq 1 nil }}', 'false'],
      ['{{ ne 1 2 }}', 'true'],
      ['{{ lt 1 2 }} {{ le 2 2 }} {{ gt 1 2 }} {{ ge 2 3 }}', 'true true false false'],
      ['{{ lt "a" "b" }}', 'true'],
      ['{{ and 1 "x" }} {{ and 1 0 2 }} {{ or 0 "" }} {{ or 0 "z" 1 }} {{ not "" }}', 'x 0  z true'],
      ['{{ len "héllo" }} {{ len .L }} {{ len .M }}', '6 2 1'],
      ['{{ index .L 1 }} {{ index .M "k" }} {{ index .Deep 0 "k" 1 }} {{ index "abc" 1 }}', 'b v y 98'],
      ['{{ slice "hello" 1 3 }} {{ slice .L 1 }}', 'el [b]'],
      ['{{ print "a" "b" 1 2 true "c" }}', 'ab1 2 truec'],
      ['{{ println "a" 1 }}', 'a 1\n'],
    ])('evaluates %s', (template, expected) => {
      expect(render(template, { N: null, L: ['a', 'b'], M: { k: 'v' }, Deep: [{ k: ['x', 'y'] }] })).toBe(
        expected,
      );
    });

    it('evaluates and / or lazily, stopping at the deciding argument', () => {
      // Prepare
      const fail = vi.fn(() => {
        throw new Error('evaluated');
      });

      // Act
      const rendered = render('{{ and false (fail) }} {{ or true (fail) }}', {}, { fail });

      // Assess
      expect(rendered).toBe('false true');
      expect(fail).not.toHaveBeenCalled();
    });

    it.each([
      ['{{ eq 1 "1" }}', 'error calling eq: incompatible types for comparison'],
      ['{{ eq .L .L }}', 'error calling eq: non-comparable types'],
      ['{{ eq 1 }}', 'error calling eq: missing argument for comparison'],
      ['{{ lt true false }}', 'error calling lt: invalid type for comparison'],
      ['{{ lt 1 "a" }}', 'error calling lt: incompatible types for comparison'],
      ['{{ len 3 }}', 'error calling len: len of type int'],
      ['{{ index .L 5 }}', 'error calling index: index out of range: 5'],
      ['{{ not }}', 'wrong number of args for not: want 1 got 0'],
      ['{{ and }}', 'wrong number of args for and: want at least 1 got 0'],
      ['{{ printf 1 }}', 'wrong type for value; expected string; got int'],
      ['{{ nil }}', 'nil is not a command'],
    ])('fails on %s as Go does', (template, message) => {
      expect(() => render(template, { L: ['a'] })).toThrow(message);
    });

    it('lets a function replace a builtin of the same name, as Go’s Funcs does', () => {
      expect(render('{{ len "abc" }}', {}, { len: () => 'mine' })).toBe('mine');
    });
  });

  describe('printf', () => {
    it.each([
      ['%s|%d|%v|%t', ['s', 42, 1.5, true], 's|42|1.5|true'],
      ['%q|%q|%#q', ['a"b\n', 'é\u0001', 'raw'], '"a\\"b\\n"|"é\\x01"|`raw`'],
      ['%%|%5s|%-5s|%.2s', ['ab', 'ab', 'abc'], '%|   ab|ab   |ab'],
      [
        '%05d|%+d|% d|%x|%X|%#x|%o|%#o|%b',
        [42, 42, 42, 255, 255, 255, 8, 8, 5],
        '00042|+42| 42|ff|FF|0xff|10|010|101',
      ],
      ['%c|%U|%#U|%q', [65, 0x1f600, 65, 97], "A|U+1F600|U+0041 'A'|'a'"],
      [
        '%.2f|%8.3f|%e|%g|%G|%.3g',
        [1.23456, 2.5, 123456.0, 1e-7, 1e21, 1234.5678],
        '1.23|   2.500|1.234560e+05|1e-07|1E+21|1.23e+03',
      ],
      ['%.0f %.0f %.1f', [2.5, 3.5, 0.25], '2 4 0.2'],
      ['%x|% x|%X', ['hi', 'hi', 'é'], '6869|68 69|C3A9'],
      ['%v|%s|%d', [['a', 'b'], { k: 'v' }, [1, 2]], '[a b]|map[k:v]|[1 2]'],
      ['%T %T %T %T %T', ['s', 1, 1.5, true, null], 'string int float64 bool <nil>'],
      ['%[2]s-%[1]s', ['a', 'b'], 'b-a'],
      ['%*d|%-*d|%.*f', [4, 7, 3, 7, 1, 2.25], '   7|7  |2.2'],
      ['%d', ['x'], '%!d(string=x)'],
      ['%s', [1], '%!s(int=1)'],
      ['%z', [1], '%!z(int=1)'],
      ['%s %s', ['a'], 'a %!s(MISSING)'],
      ['%s', ['a', 1, null], 'a%!(EXTRA int=1, <nil>)'],
      ['%', [], '%!(NOVERB)'],
      ['%s', [null], '%!s(<nil>)'],
      ['%v', [null], '<nil>'],
      ['%[3]d', [1], '%!d(BADINDEX)'],
      ['%*d', ['x', 1], '%!(BADWIDTH)1'],
      ['%.*d', [-1, 1], '%!(BADPREC)1'],
      ['%100000000d', [1], '%!(NOVERB)%!(EXTRA int=1)'],
    ])('formats %j with %j as Go’s fmt.Sprintf does', (format, args, expected) => {
      // Prepare
      const names = args.map((_, i) => `.A${i}`).join(' ');
      const data = Object.fromEntries(args.map((arg, i) => [`A${i}`, arg]));

      // Act
      const rendered = render(`{{ printf .F ${names} }}`, { F: format, ...data });

      // Assess
      expect(rendered).toBe(expected);
    });
  });

  describe('function calls', () => {
    it('passes evaluated arguments and the piped value last', () => {
      // Prepare
      const join = vi.fn((...args: unknown[]) => args.join('+'));

      // Act
      const rendered = render('{{ .X | join "a" 1 true }}', { X: 'x' }, { join });

      // Assess
      expect(rendered).toBe('a+1+true+x');
      expect(join).toHaveBeenCalledWith('a', 1, true, 'x');
    });

    it('fails with the function’s message when it throws', () => {
      // Prepare
      const boom = () => {
        throw new Error('boom');
      };

      // Act
      const error = errorOf(() => render('{{ boom }}', {}, { boom }));

      // Assess
      expect(error).toBeInstanceOf(TemplateRenderError);
      expect(error.message).toBe('template: error calling boom: boom');
    });

    it('passes a TemplateRenderError thrown by a function through unchanged', () => {
      const strict = () => {
        throw new TemplateRenderError('template: wrong number of args for strict: want 1 got 0');
      };
      expect(() => render('{{ strict }}', {}, { strict })).toThrow(
        new TemplateRenderError('template: wrong number of args for strict: want 1 got 0'),
      );
    });

    it('fails when a function returns a Promise', () => {
      expect(() => render('{{ later }}', {}, { later: async () => 'x' })).toThrow(
        'function later returned a Promise; template functions must be synchronous',
      );
    });

    it('prints <no value> for a function that returns nothing', () => {
      expect(render('{{ nothing }}', {}, { nothing: () => undefined })).toBe('<no value>');
    });

    it('fails before rendering when a function is not defined, even in a branch not taken', () => {
      // Prepare
      const called = vi.fn(() => 'x');

      // Act
      const error = errorOf(() => render('{{ called }}{{ if false }}{{ foo }}{{ end }}', {}, { called }));

      // Assess
      expect(error).toBeInstanceOf(TemplateSyntaxError);
      expect(error.message).toBe('template: function "foo" not defined at col 30');
      expect(called).not.toHaveBeenCalled();
    });

    it('does not find Object.prototype members as functions', () => {
      expect(() => render('{{ constructor }}', {}, {})).toThrow('function "constructor" not defined');
      expect(() => render('{{ toString }}', {}, {})).toThrow('function "toString" not defined');
    });
  });

  describe('syntax errors', () => {
    it.each([
      ['{{ .A } }}', 'template: unexpected "}" in operand at col 7'],
      ['{{', 'template: unclosed action at col 3'],
      ['{{ .A', 'template: unclosed action'],
      ['{{}}', 'template: missing value for command at col 3'],
      ['{{ if .A }}x', 'template: unexpected EOF at col 13'],
      ['x{{ end }}', 'template: unexpected {{end}} at col 5'],
      ['{{ else }}', 'template: unexpected {{else}}'],
      ['{{ if }}{{ end }}', 'template: missing value for if'],
      ['{{ range .L }}{{ else if .A }}{{ end }}', 'template: unexpected <if> in input'],
      ['{{ break }}', 'template: {{break}} outside {{range}}'],
      ['{{ define "x" }}{{ end }}', 'template: {{define}} is not supported'],
      ['{{ template "x" }}', 'template: {{template}} is not supported'],
      ['{{ $x }}', 'template: undefined variable "$x"'],
      ['{{ (1 }}', 'template: unclosed left paren'],
      ['{{ 1) }}', 'template: unexpected ")" in command at col 5'],
      ['{{ print 1) }}', 'template: unexpected ")" in command'],
      ['{{ .A-}}', "template: bad character U+002D '-'"],
      ['{{ "a".B }}', 'template: unexpected . after term "\\"a\\""'],
      ['{{ /* c */ }}', 'template: unexpected "/" in command'],
      ['{{/* c */ x }}', 'template: comment ends before closing delimiter'],
      ['{{/* c', 'template: unclosed comment'],
      ['{{ $x, $y := 1 }}', 'template: too many declarations in command'],
      ['{{ a := 1 }}', 'template: unexpected ":=" in operand'],
      ['{{ 1 : 2 }}', 'template: expected :='],
      ['{{ \u0000 }}', 'template: unrecognized character in action: U+0000'],
    ])('fails on %j with %j', (template, message) => {
      // Act
      const error = errorOf(() => render(template, { A: 1, L: [] }));

      // Assess
      expect(error).toBeInstanceOf(TemplateSyntaxError);
      expect(error.message).toContain(message);
    });

    it('gives the line and column in a multi-line template', () => {
      // Act
      const error = errorOf(() => parseTemplate('line one\nline {{ two ) }}')) as TemplateSyntaxError;

      // Assess
      expect(error.message).toBe('template: unexpected ")" in command at line 2 col 13');
      expect([error.line, error.column]).toEqual([2, 13]);
    });
  });

  describe('limits', () => {
    it('fails when the template is longer than the limit', () => {
      expect(() => parseTemplate('x'.repeat(TEMPLATE_LIMITS.maxTemplateLength + 1))).toThrow(
        `template: the template is ${TEMPLATE_LIMITS.maxTemplateLength + 1} characters long; the limit is 262144`,
      );
    });

    it('fails when parentheses nest deeper than the limit', () => {
      // Prepare
      const depth = TEMPLATE_LIMITS.maxDepth + 1;
      const template = `{{ ${'(print '.repeat(depth)}1${')'.repeat(depth)} }}`;

      // Act
      const error = errorOf(() => parseTemplate(template));

      // Assess
      expect(error).toBeInstanceOf(TemplateSyntaxError);
      expect(error.message).toContain('template nests deeper than 100 levels');
    });

    it('accepts nesting up to the limit', () => {
      const depth = TEMPLATE_LIMITS.maxDepth;
      expect(render(`${'{{if true}}'.repeat(depth)}ok${'{{end}}'.repeat(depth)}`)).toBe('ok');
    });

    it('fails when control structures nest deeper than the limit', () => {
      const depth = TEMPLATE_LIMITS.maxDepth + 1;
      expect(() => parseTemplate(`${'{{if true}}'.repeat(depth)}${'{{end}}'.repeat(depth)}`)).toThrow(
        'template nests deeper than 100 levels',
      );
    });

    it('fails when the output grows past the limit', () => {
      expect(() => render('{{range 2000}}{{$.S}}{{end}}', { S: 'x'.repeat(1024) })).toThrow(
        'template: output exceeds 1048576 characters',
      );
    });

    it('fails quickly when a loop runs too long', () => {
      // Act
      const started = Date.now();
      const error = errorOf(() => render('{{range 1000000000}}{{end}}'));

      // Assess
      expect(error.message).toBe('template: rendering takes more than 1000000 steps');
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('fails when a string doubles until it is too long', () => {
      expect(() =>
        render(
          '{{ $s := "0123456789abcdef" }}{{ range 20 }}{{ $s = printf "%s%s" $s $s }}{{ end }}{{ len $s }}',
        ),
      ).toThrow('template: error calling printf: result exceeds 1048576 characters');
    });

    it('fails when functions are fed too many characters in total', () => {
      // Prepare
      const big = 'x'.repeat(1024 * 1024);

      // Act
      const error = errorOf(() =>
        render('{{ range 100 }}{{ if eq $.Big $.Big }}{{ end }}{{ end }}', { Big: big }),
      );

      // Assess
      expect(error.message).toBe(
        `template: rendering processes more than ${TEMPLATE_LIMITS.maxWork} characters`,
      );
    });
  });

  describe('analysis', () => {
    it('lists the data fields a template reads', () => {
      // Prepare
      const template = parseTemplate(
        '{{.AccountId}} {{.SourceAMITags.Name}} {{.}} {{with .Build}}{{.Id}}{{.}}{{end}} ' +
          '{{range .List}}{{.Ignored}}{{$.Root}}{{end}} {{ printf "%s" (.Arg) }} {{ .AccountId }}',
      );

      // Act
      const fields = referencedFields(template);

      // Assess
      expect(fields).toEqual([
        'AccountId',
        'SourceAMITags.Name',
        '',
        'Build',
        'Build.Id',
        'List',
        'Root',
        'Arg',
      ]);
    });

    it('lists the functions a template calls, without the builtins', () => {
      // Prepare
      const template = parseTemplate(
        '{{ timestamp }} {{ .X | clean_resource_name }} {{ printf "%s" uuid }} {{ if eq 1 1 }}{{ upper (user `a`) }}{{ end }}',
      );

      // Act
      const names = referencedFunctions(template);

      // Assess
      expect(names).toEqual(['timestamp', 'clean_resource_name', 'uuid', 'upper', 'user']);
      expect(BUILTIN_FUNCTIONS).toEqual(
        expect.arrayContaining(['eq', 'printf', 'len', 'index', 'and', 'or', 'not']),
      );
    });

    it('lists the literal names given to user, in every form', () => {
      // Prepare
      const template = parseTemplate(
        '{{user "a"}} {{ user `b` }} {{ "c" | user }} {{ clean_resource_name (user "d") }} {{ if user "e" }}{{ end }} {{ user "a" }}',
      );

      // Act
      const names = referencedUserVariables(template);

      // Assess
      expect(names).toEqual(['a', 'b', 'c', 'd', 'e']);
    });

    it('renders one parsed template many times', () => {
      // Prepare
      const template = parseTemplate('{{ .N }}');

      // Act
      const outputs = [1, 2, 3].map((N) => renderTemplate(template, { N }, {}));

      // Assess
      expect(outputs).toEqual(['1', '2', '3']);
      expect(template.source).toBe('{{ .N }}');
    });
  });
});

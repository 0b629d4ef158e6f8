import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type CommandPart, composeShellCommand } from '../../../lambdas/shared/shell.js';

const text = (t: string): CommandPart => ({ kind: 'text', text: t });
const value = (t: string): CommandPart => ({ kind: 'value', text: t, label: '{{user `v`}}' });
const variable = (name: string): CommandPart => ({ kind: 'variable', name, label: '{{.AccessKey}}' });

function compose(parts: CommandPart[]): string {
  const result = composeShellCommand(parts);
  if ('problem' in result) throw new Error(result.problem);
  return result.command;
}

function problemOf(parts: CommandPart[]): string | undefined {
  const result = composeShellCommand(parts);
  return 'problem' in result ? result.problem : undefined;
}

/** Characters that mean something to a shell, and a few that do not. */
const NASTY = [...'\'"\\$`(){}[];&|<>*?~#!=, \t\n\r%@:/-', 'a', 'b', 'é', '\u2028'];

/** Each context puts the value somewhere in `args …`, with the arguments `args` must then receive. */
const CONTEXTS: { name: string; parts: (v: string) => CommandPart[]; expected: (v: string) => string[] }[] = [
  { name: 'outside quotes', parts: (v) => [text('args '), value(v)], expected: (v) => [v] },
  { name: 'in single quotes', parts: (v) => [text("args '"), value(v), text("'")], expected: (v) => [v] },
  { name: 'in double quotes', parts: (v) => [text('args "'), value(v), text('"')], expected: (v) => [v] },
  {
    name: 'inside a word',
    parts: (v) => [text('args x'), value(v), text('y -z')],
    expected: (v) => [`x${v}y`, '-z'],
  },
  {
    name: 'three times, mixed',
    parts: (v) => [text("args '"), value(v), text('\'"'), value(v), text('"'), value(v), text(' ; args 2')],
    expected: (v) => [`${v}${v}${v}`, '2'],
  },
  {
    name: 'after a line continuation, which joins the word',
    parts: (v) => [text('args a\\\n'), value(v)],
    expected: (v) => [`a${v}`],
  },
];

/** bash (Amazon Linux's /bin/sh) and this machine's /bin/sh (dash on Debian), as the bundle scripts run commands. */
const SHELLS: [string, string[]][] = [
  ['bash', ['/bin/bash', '--norc', '--noprofile', '-c']],
  ['/bin/sh', ['/bin/sh', '-c']],
];

describe.each(SHELLS)('composeShellCommand under %s', (_, [shell, ...shellArgs]) => {
  const dir = mkdtempSync(join(tmpdir(), 'ami-builder-shell-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs each command with `args` recording its arguments, and returns what each call received. */
  function run(commands: string[]): string[][] {
    const script = [
      'n=0',
      `args() { printf '%s\\0' "$@" >>"$OUT/$n"; }`,
      ...commands.flatMap((command) => [command, 'n=$((n + 1))']),
    ].join('\n');
    rmSync(join(dir, 'out'), { recursive: true, force: true });
    spawnSync('/bin/mkdir', [join(dir, 'out')]);
    const result = spawnSync(shell as string, [...shellArgs, script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: dir,
      env: { PATH: '/nonexistent', OUT: join(dir, 'out') },
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    return commands.map((_, i) => {
      let recorded = '';
      try {
        recorded = readFileSync(join(dir, 'out', String(i)), 'utf8');
      } catch {
        return [];
      }
      return recorded.slice(0, -1).split('\0');
    });
  }

  it('gives every value to the command as written, whatever it holds, in every context', () => {
    // Prepare: hostile values, and random strings of shell syntax (one bash run for all of them)
    const values = [
      '--no-filter; touch marker',
      '$(touch marker)',
      '`touch marker`',
      "'; touch marker; '",
      '"; touch marker; "',
      "\\'; touch marker #",
      'a\ntouch marker',
      '{a,b}',
      '*',
      '$IFS',
      '\\',
      ...fc.sample(fc.string({ unit: fc.constantFrom(...NASTY), minLength: 1, maxLength: 24 }), {
        numRuns: 400,
        seed: 20260701,
      }),
    ];
    const commands = values.flatMap((v) => CONTEXTS.map((context) => compose(context.parts(v))));

    // Act
    const received = run(commands);

    // Assess
    expect(received).toEqual(values.flatMap((v) => CONTEXTS.map((context) => context.expected(v))));
  });

  it('passes an empty value as one empty argument outside quotes', () => {
    expect(run([compose([text('args '), value(''), text(' next')])])).toEqual([['', 'next']]);
  });

  it('expands a variable reference as one word, inside the user’s single quotes too', () => {
    // Prepare
    const commands = [
      compose([text('V="a b" ; args -a '), variable('V')]),
      compose([text("V='a b' ; args -a '"), variable('V'), text("'")]),
      compose([text('V="a b" ; args -a "'), variable('V'), text('_x"')]),
    ];

    // Act
    const received = run(commands);

    // Assess
    expect(received).toEqual([
      ['-a', 'a b'],
      ['-a', 'a b'],
      ['-a', 'a b_x'],
    ]);
  });

  it('keeps plain words as they are, as Packer renders them', () => {
    expect(compose([text('-k '), value('/tmp/key.pem'), text(' -e '), value('/tmp'), text('/*')])).toBe(
      '-k /tmp/key.pem -e /tmp/*',
    );
  });

  it('quotes a plain word that holds a comma, which brace expansion would split', () => {
    expect(compose([text('args {x,'), value('a,b'), text('}')])).toBe("args {x,'a,b'}");
  });

  it('writes a value in a comment as it is, unless it holds a newline', () => {
    expect(compose([text('args # '), value('a b; c')])).toBe('args # a b; c');
    expect(problemOf([text('args # '), value('a\ntouch marker')])).toContain('is in a comment');
  });

  it('treats a # inside a word as text, not as a comment', () => {
    expect(compose([text('args a#'), value('b c')])).toBe("args a#'b c'");
  });

  it.each([
    ['a backquote', 'args `echo '],
    ['"$("', 'args $(echo '],
    ['"${"', 'args ${X:-'],
    ['"$\'"', "args $'"],
    ['a here-document', 'cat <<EOF\n'],
    ['an arithmetic "(("', '(( '],
    ['"$(" inside double quotes', 'args "$(echo '],
  ])('refuses a value that is not a plain word after %s', (_, before) => {
    expect(problemOf([text(before), value('a b')])).toContain('whose quoting this system does not follow');
    expect(compose([text(before), value('plain-word')])).toBe(`${before}plain-word`);
  });

  it.each([
    ['a "$"', 'args $'],
    ['a backslash', 'args \\'],
    ['a backslash in double quotes', 'args "\\'],
    ['a "$" across a line continuation', 'args $\\\n'],
  ])('refuses a value right after %s', (_, before) => {
    expect(problemOf([text(before), value('(touch marker)')])).toContain('which would join its value to it');
  });

  it('refuses a NUL byte, which a shell cannot pass', () => {
    expect(problemOf([text('args '), value('a\0b')])).toContain('NUL');
  });
});

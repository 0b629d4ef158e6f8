/**
 * Shell quoting for everything this system writes into scripts that run on the build instance.
 */

/** Quotes a value as one POSIX shell word: `it's` → `'it'"'"'s'`. Safe for any input, including NUL-free binary. */
export function shellQuote(value: string): string {
  if (value === '') return "''";
  if (/^[A-Za-z0-9_./:@%+=,-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'"'"'`)}'`;
}

/**
 * Characters that cannot change the meaning of a shell command line when substituted unquoted: no blanks,
 * quotes, `$`, backquotes, globs, redirections, separators or backslashes. The build's own values in the bundle
 * commands (paths, bucket, region) must match this, as must paths written raw into scripts.
 */
export const SHELL_SAFE = /^[A-Za-z0-9_./:@%+=,-]*$/;

export function isShellSafe(value: string): boolean {
  return SHELL_SAFE.test(value);
}

/**
 * A piece of a command line composed from a user's command template:
 * - `text`: the template's own text, kept exactly as written (its quoting is the user's);
 * - `value`: a substituted value, which must stay within the word and quoting the template puts it in;
 * - `variable`: a reference to a shell variable that the surrounding script sets (a credential), expanded
 *   as one word wherever it appears, inside the user's single quotes included.
 * `label` names the substitution in messages (never its value, which may be sensitive).
 */
export type CommandPart =
  | { kind: 'text'; text: string }
  | { kind: 'value'; text: string; label: string }
  | { kind: 'variable'; name: string; label: string }
  /** Several words already quoted by this system (`FACTER_a='1' FACTER_b='2'`): allowed only outside quotes. */
  | { kind: 'words'; text: string; label: string };

/** Where the shell is, at a point of a command line. */
type QuotingContext =
  | { mode: 'unquoted' | 'single' | 'double' | 'comment' }
  /** A construct whose quoting rules this scanner does not model: only plain values may follow. */
  | { mode: 'opaque'; construct: string };

/**
 * Characters that stay one plain word, unquoted, in every context: {@link SHELL_SAFE} without the comma
 * (bash brace expansion splits `{a,b}`) and never empty.
 */
const PLAIN_WORD = /^[A-Za-z0-9_./:@%+=-]+$/;
/** Where bash starts a new token, so that `#` begins a comment. */
const TOKEN_BREAK = new Set([' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>']);
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Composes a command line from a template's text and its substituted values, quoting each value for the
 * context the template's own text puts it in, so that no value can end a word, a quote or a command:
 *
 * - outside quotes, a value becomes one single-quoted word (`a b; c` → `'a b; c'`);
 * - inside the user's single quotes, its `'` become `'\''`; inside double quotes, `\ " $ \`` are escaped;
 * - in a comment, a value may not hold a newline (which would end the comment);
 * - a variable reference becomes `"${NAME}"`, `${NAME}` inside double quotes, and `'"${NAME}"'` inside single
 *   quotes, so the user's own quotes around a credential pass its value, never the variable's name.
 *
 * Values that stay one plain word in every context ({@link PLAIN_WORD}: letters, digits and `_ . / : @ % + = -`)
 * are written as they are, so the default commands read as in Packer. The scanner follows POSIX sh and bash
 * quoting: quotes, backslashes and comments. After a construct it does not model (a backquote, `$(`, `${`,
 * `$'`, `$"`, `$[`, `((`, a here-document) it stops tracking, and any value that is not a plain word is refused
 * rather than guessed at; so is a value that follows a `$` or a backslash, which would join the value to them.
 * A NUL byte is refused anywhere (a shell cannot pass it).
 *
 * A command that hands a quoted string to another shell (`sh -c '…'`, `eval`) re-parses it there: the value is
 * one word of the outer command line only.
 *
 * @returns the command line, or the problem (naming the substitution by its label, never its value).
 */
export function composeShellCommand(
  parts: readonly CommandPart[],
): { command: string } | { problem: string } {
  let context: QuotingContext = { mode: 'unquoted' };
  /** The previous character of the template's text was an unescaped `\` (unquoted or in double quotes). */
  let escaped = false;
  /** The previous character was an unescaped `$` (unquoted or in double quotes). */
  let dollar = false;
  /** Unquoted: the next character starts a token. */
  let tokenStart = true;
  /** The previous character, unquoted (for `<<` and `((`). */
  let previous = '';
  /** The state before the pending backslash: `\<newline>` is removed before tokens are read, so it restores it. */
  let beforeBackslash = { dollar, tokenStart, previous };
  const out: string[] = [];

  const scan = (char: string): void => {
    const wasDollar = dollar;
    const wasEscaped = escaped;
    dollar = false;
    escaped = false;
    if (wasEscaped && char === '\n' && (context.mode === 'unquoted' || context.mode === 'double')) {
      ({ dollar, tokenStart, previous } = beforeBackslash);
      return;
    }
    if (char === '\\' && !wasEscaped) beforeBackslash = { dollar: wasDollar, tokenStart, previous };
    switch (context.mode) {
      case 'opaque':
        return;
      case 'comment':
        if (char === '\n') {
          context = { mode: 'unquoted' };
          tokenStart = true;
          previous = '\n';
        }
        return;
      case 'single':
        if (char === "'") {
          context = { mode: 'unquoted' };
          tokenStart = false;
          previous = "'";
        }
        return;
      case 'double':
        if (wasEscaped) return;
        if (char === '\\') escaped = true;
        else if (char === '"') {
          context = { mode: 'unquoted' };
          tokenStart = false;
          previous = '"';
        } else if (char === '`') context = { mode: 'opaque', construct: 'a backquoted command substitution' };
        else if (wasDollar && (char === '(' || char === '{' || char === '['))
          context = { mode: 'opaque', construct: `"$${char}"` };
        else if (char === '$') dollar = true;
        return;
      case 'unquoted': {
        if (wasEscaped) {
          tokenStart = false;
          previous = '';
          return;
        }
        if (char === '\\') escaped = true;
        else if (wasDollar && '\'"({['.includes(char)) context = { mode: 'opaque', construct: `"$${char}"` };
        else if (char === "'") context = { mode: 'single' };
        else if (char === '"') context = { mode: 'double' };
        else if (char === '`') context = { mode: 'opaque', construct: 'a backquoted command substitution' };
        else if (char === '#' && tokenStart) context = { mode: 'comment' };
        else if (char === '<' && previous === '<') context = { mode: 'opaque', construct: 'a here-document' };
        else if (char === '(' && previous === '(')
          context = { mode: 'opaque', construct: 'an arithmetic "(("' };
        else if (char === '$') dollar = true;
        tokenStart = TOKEN_BREAK.has(char);
        previous = char;
        return;
      }
    }
  };

  const joined = (label: string, what: string) => ({
    problem: `${label} follows ${what}, which would join its value to it; put a blank or a quote in between`,
  });

  for (const part of parts) {
    if (part.kind === 'text') {
      for (const char of part.text) scan(char);
      out.push(part.text);
      continue;
    }
    if (escaped) return joined(part.label, 'a backslash');
    if (dollar) return joined(part.label, 'a "$"');
    // Read through a widened binding: `scan` changes the context in a closure, which narrowing does not see.
    const here = context as QuotingContext;
    if (part.kind === 'words') {
      if (here.mode !== 'unquoted') {
        return { problem: `${part.label} is several shell words, so it must stand outside quotes` };
      }
      for (const char of part.text) scan(char);
      out.push(part.text);
      continue;
    }
    if (part.kind === 'variable') {
      if (!VARIABLE_NAME.test(part.name)) return { problem: `${part.label}: invalid variable name` };
      const ref = `\${${part.name}}`;
      if (here.mode === 'unquoted') out.push(`"${ref}"`);
      else if (here.mode === 'single') out.push(`'"${ref}"'`);
      else out.push(ref);
    } else {
      const value = part.text;
      if (value.includes('\0')) return { problem: `${part.label}: its value holds a NUL byte` };
      switch (here.mode) {
        case 'unquoted':
          out.push(PLAIN_WORD.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`);
          break;
        case 'single':
          out.push(value.replace(/'/g, `'\\''`));
          break;
        case 'double':
          out.push(value.replace(/[\\"$`]/g, '\\$&'));
          break;
        case 'comment':
          if (value.includes('\n'))
            return { problem: `${part.label} is in a comment, where a newline in its value would end it` };
          out.push(value);
          break;
        case 'opaque':
          if (value !== '' && !PLAIN_WORD.test(value)) {
            return {
              problem: `${part.label} comes after ${here.construct}, whose quoting this system does not follow: its value may only contain letters, digits and _ . / : @ % + = - there (put the variable before it)`,
            };
          }
          out.push(value);
          break;
      }
    }
    if (here.mode === 'unquoted') tokenStart = false;
    previous = '';
  }
  return { command: out.join('') };
}

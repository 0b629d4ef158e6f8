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
 * quotes, `$`, backquotes, globs, redirections, separators or backslashes. Values substituted raw into
 * user-written command templates (bundle commands) must match this.
 */
export const SHELL_SAFE = /^[A-Za-z0-9_./:@%+=,-]*$/;

export function isShellSafe(value: string): boolean {
  return SHELL_SAFE.test(value);
}

/**
 * What the guest-side provisioners (`ansible-local`, `puppet-masterless`) share: their local paths (files and
 * whole directories, `s3://` references in the workflow), the directories they name on the instance, and the
 * `extra_arguments` that Packer pastes into a remote command line.
 */
import type { FileRef } from '../../config.js';
import { parseFileRef } from '../builder.js';
import { type Decoded, describeValue, type Path, type Report, truncate } from '../decode.js';
import { checkRemoteDirectory } from './guest.js';

export interface GuestContext {
  mode: 'workflow' | 'cli';
  report: Report;
  /** The CLI's check of a local path; it may also tell a directory from a file ({@link LocalKindChecker}). */
  checkLocalFile?: (path: string) => string | undefined;
}

/** A local path checker that can also tell whether an existing path is a directory (the CLI's). */
export type LocalKindChecker = ((path: string) => string | undefined) & {
  isDirectory?: (path: string) => boolean | undefined;
};

/** What a key must name, and Packer's message when it names the other kind. */
export interface Kind {
  kind: 'file' | 'directory';
  wrong: (value: string) => string;
}

/**
 * A local file or directory a guest provisioner uploads: `s3://bucket/key` for a file, `s3://bucket/prefix/` for
 * a directory (the CLI uploads a local one with its layout), or a local path (CLI only, before staging).
 *
 * @param bad Packer's message for a path it cannot read (`playbook_file: x is invalid: stat x: …`).
 */
export function guestRef(
  value: string,
  key: string,
  path: Path,
  ctx: GuestContext,
  bad: (error: string) => string,
  kind?: Kind,
): FileRef | undefined {
  const ref = parseFileRef(value, path, ctx.report, {
    mode: ctx.mode,
    key,
    allowFolder: true,
    checkLocalFile: ctx.checkLocalFile,
    badLocal: bad,
  });
  if (ref?.kind !== 'local' || kind === undefined) return ref;
  const isDirectory = (ctx.checkLocalFile as LocalKindChecker | undefined)?.isDirectory?.(ref.path);
  if (isDirectory !== undefined && isDirectory !== (kind.kind === 'directory')) {
    ctx.report.error(path, kind.wrong(value));
    return undefined;
  }
  return ref;
}

/** {@link guestRef} for an optional single-valued key. */
export function optionalRef(
  d: Decoded,
  key: string,
  ctx: GuestContext,
  bad: (value: string, error: string) => string,
  kind?: Kind,
): { ref?: FileRef; ok: boolean } {
  const value = d.nonEmpty(key)?.trim();
  if (value === undefined || value === '') return { ok: !d.failed.has(key) };
  const ref = guestRef(value, key, d.at(key), ctx, (e) => bad(value, e), kind);
  return ref === undefined ? { ok: false } : { ref, ok: true };
}

/** {@link guestRef} for each entry of a list key. */
export function refList(
  d: Decoded,
  key: string,
  ctx: GuestContext,
  bad: (value: string, index: number, error: string) => string,
  kind?: { kind: 'file' | 'directory'; wrong: (value: string, index: number) => string },
): { refs: FileRef[]; ok: boolean } {
  const refs: FileRef[] = [];
  let ok = !d.failed.has(key);
  (d.list(key) ?? []).forEach((raw, i) => {
    const value = raw.trim();
    if (value === '') return;
    const ref = guestRef(
      value,
      key,
      [...d.at(key), i],
      ctx,
      (e) => bad(value, i, e),
      kind === undefined ? undefined : { kind: kind.kind, wrong: (v) => kind.wrong(v, i) },
    );
    if (ref === undefined) ok = false;
    else refs.push(ref);
  });
  return { refs, ok };
}

/** An optional directory on the instance: {@link checkRemoteDirectory}'s rule. */
export function remoteDirectory(d: Decoded, key: string, report: Report): string | undefined {
  const value = d.nonEmpty(key);
  if (value === undefined) return undefined;
  return checkRemoteDirectory(value, key, d.at(key), report) ? value : undefined;
}

/**
 * Splits one `extra_arguments` entry into words as the remote shell does when Packer pastes it into the
 * command line (`--extra-vars "a=1 b=2"` gives `--extra-vars` and `a=1 b=2`), without any expansion: each word
 * is then quoted, so the entry can add arguments but never commands. What would expand or start another
 * command (`$`, a backquote, `;`, `&`, `|`, `<`, `>`, `(`, `)` outside single quotes) is refused with the
 * reason, as its meaning would depend on the instance's shell.
 *
 * @returns the words, or `undefined` when the entry was refused (reported at `path`).
 */
export function splitArguments(
  entry: string,
  path: Path,
  report: Report,
  key = 'extra_arguments',
): string[] | undefined {
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  const refuse = (char: string, where: string) => {
    report.error(
      path,
      `${key}: ${describeValue(truncate(entry, 100))} has ${JSON.stringify(char)} ${where}, which the shell would expand or treat as a command; each value is passed as plain arguments here: write it without it, or inside single quotes`,
    );
    return undefined;
  };
  for (let i = 0; i < entry.length; i++) {
    const char = entry.charAt(i);
    if (char === '\u0000') return refuse(char, 'in it');
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else word += char;
      continue;
    }
    if (quote === '"') {
      if (char === '"') quote = undefined;
      else if (char === '\\' && '"\\$`'.includes(entry.charAt(i + 1))) {
        word += entry.charAt(i + 1);
        i++;
      } else if (char === '$' || char === '`') return refuse(char, 'inside double quotes');
      else word += char;
      continue;
    }
    if (char === ' ' || char === '\t' || char === '\n') {
      if (word !== undefined) words.push(word);
      word = undefined;
      continue;
    }
    if (char === "'" || char === '"') {
      quote = char;
      word ??= '';
      continue;
    }
    if (char === '\\') {
      word = (word ?? '') + entry.charAt(i + 1);
      i++;
      continue;
    }
    if ('$`;&|<>()'.includes(char)) return refuse(char, 'outside quotes');
    word = (word ?? '') + char;
  }
  if (quote !== undefined) {
    report.error(path, `${key}: ${describeValue(truncate(entry, 100))} has an unterminated ${quote} quote`);
    return undefined;
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** {@link splitArguments} over a list key. */
export function extraArguments(d: Decoded, key: string, report: Report): string[] | undefined {
  const words: string[] = [];
  let ok = !d.failed.has(key);
  (d.list(key) ?? []).forEach((entry, i) => {
    const split = splitArguments(entry, [...d.at(key), i], report, key);
    if (split === undefined) ok = false;
    else words.push(...split);
  });
  return ok ? words : undefined;
}

/** The last segment of a path or `s3://` URI, without a trailing slash. */
export function refBasename(ref: FileRef): string {
  const text = ref.kind === 's3' ? ref.key : ref.kind === 'local' ? ref.path : ref.name;
  const parts = text.split(/[/\\]/).filter((p) => p !== '');
  return parts[parts.length - 1] ?? '';
}

/**
 * What the guest-side provisioners (`ansible-local`, `chef-solo`, `puppet-masterless`, `salt-masterless`)
 * share: the local files and directories they name (one reference check for all: {@link guestRef}), the
 * directories they name on the instance, the `extra_arguments` Packer pastes into a remote command line, their
 * command templates (chef-solo's and salt-masterless's rendered at validation into one command line whose
 * substituted values are quoted for where they stand), and the JSON they pass on.
 *
 * Packer runs these tools over SSH from its own host; here the same commands run on the instance from the
 * staged command folder (see ../../scripts/chef-solo.ts and ../../scripts/salt-masterless.ts).
 */
import type { FileRef } from '../../config.js';
import { parseFileRef } from '../builder.js';
import { composeCommandTemplate } from '../command-template.js';
import { type Decoded, describeValue, type Path, type Report, truncate } from '../decode.js';
import { referencedFields } from '../engine.js';
import {
  checkFunctionUse,
  checkUserVariables,
  functionsFor,
  parseAt,
  type RenderEnv,
  renderEarly,
  usesUnresolved,
} from '../render.js';

/** A local file or directory (or its `s3://` form) that a guest provisioner places on the instance. */
export interface GuestUpload {
  /** The template key, for messages (`cookbook_paths[0]`). */
  key: string;
  ref: FileRef;
  /** A directory's contents go into `target`; a file is written at `target`. */
  kind: 'directory' | 'file';
  /** Absolute path on the instance. */
  target: string;
}

/**
 * Renders a provisioner's command template (`execute_command`, `install_command`) at validation, with Packer's
 * data for it. The template's own text is kept as written; each value a `{{.Field}}` prints is quoted for the
 * place it stands in (`composeShellCommand`), so a staging directory with a space stays one word. What
 * template functions print (`{{user "x"}}`) is pasted as written, as Packer does.
 *
 * @returns the command line, or `undefined` when a problem was reported at `path`.
 */
export function renderGuestCommand(
  text: string,
  key: string,
  data: Record<string, string | boolean>,
  path: Path,
  report: Report,
  env: RenderEnv,
): string | undefined {
  const parsed = parseAt(text, path, report);
  if (parsed === undefined) return undefined;
  const allowed = Object.keys(data);
  const unknown = referencedFields(parsed).filter((f) => !allowed.includes(f.split('.')[0] ?? ''));
  if (unknown.length > 0) {
    report.error(
      path,
      `${key} may only use ${allowed.map((f) => `{{.${f}}}`).join(', ')}; unknown variable ${unknown.map((f) => `{{.${f}}}`).join(', ')}`,
    );
    return undefined;
  }
  if (!checkFunctionUse(parsed, path, report, env) || usesUnresolved(parsed, env)) return undefined;
  const names = checkUserVariables(parsed, path, report, env);
  const userVariables = { ...Object.fromEntries(names.map((n) => [n, ''])), ...env.userVariables };
  let composed: ReturnType<typeof composeCommandTemplate>;
  try {
    composed = composeCommandTemplate(parsed, data, {
      functions: functionsFor({ ...env, userVariables }),
      functionOutput: 'text',
      label: () => `${key}: a {{.Field}} value`,
    });
  } catch (error) {
    report.error(path, error instanceof Error ? error.message : String(error));
    return undefined;
  }
  if ('problem' in composed) {
    report.error(path, composed.problem);
    return undefined;
  }
  return composed.command;
}

const NOT_DIRECTORY = (path: string) => `stat ${path}: not a directory`;

/** How Packer words a bad local path of one key. */
export interface LocalPathRule {
  /** Packer's message for a path that cannot be used (`Bad cookbook path 'x': <reason>`). */
  bad: (path: string, reason: string) => string;
  /** A directory is required (Packer: `!info.IsDir()` is an error). */
  directory: boolean;
  /** Packer's whole message for a path that exists but is not a directory, when it has its own. */
  notDirectory?: (path: string) => string;
}

/**
 * A path key of chef-solo or salt-masterless: {@link guestRef} with Packer's wording of that key ({@link
 * LocalPathRule}); an `s3://` prefix only where a directory is required.
 */
export function guestPathRef(
  value: string,
  key: string,
  path: Path,
  ctx: GuestContext,
  rule: LocalPathRule,
): FileRef | undefined {
  const notDirectory = (v: string) => rule.notDirectory?.(v) ?? rule.bad(v, NOT_DIRECTORY(v));
  return guestRef(
    value,
    key,
    path,
    ctx,
    (reason) => rule.bad(value, reason),
    rule.directory ? { kind: 'directory', wrong: notDirectory } : undefined,
    rule.directory,
  );
}

/**
 * Renders the user variables in every string of a JSON value (Packer's `processJsonUserVars`), reporting
 * problems at the string's path.
 */
export function renderJsonStrings(value: unknown, path: Path, report: Report, env: RenderEnv): unknown {
  if (typeof value === 'string') return renderEarly(value, path, report, env) ?? value;
  if (Array.isArray(value)) return value.map((item, i) => renderJsonStrings(item, [...path, i], report, env));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, renderJsonStrings(v, [...path, k], report, env)]),
    );
  }
  return value;
}

/** Packer's `guest_os_type`: only `unix` runs here. */
export function checkGuestOsType(value: string | undefined, path: Path, report: Report): void {
  if (value === undefined || value === '') return;
  const lower = value.toLowerCase();
  if (lower === 'unix') return;
  if (lower === 'windows') {
    report.error(path, 'guest_os_type "windows" is not supported: instance-store AMIs are Linux only');
    return;
  }
  report.error(path, `Invalid guest_os_type: "${value}"`);
}

/**
 * An absolute directory on the instance (`staging_directory`, `working_directory`, `galaxy_roles_path`…),
 * without NUL, line breaks or `..` segments: it is quoted wherever it is used, so any other character works.
 * The one check of every guest-side provisioner.
 */
export function checkRemoteDirectory(value: string, key: string, path: Path, report: Report): boolean {
  if (!value.startsWith('/') || /[\n\r\0]/.test(value)) {
    report.error(
      path,
      `${key} must be an absolute path on the instance, on one line; got ${JSON.stringify(value)}`,
    );
    return false;
  }
  if (value.split('/').includes('..')) {
    report.error(path, `${key} must not have ".." segments; got ${JSON.stringify(value)}`);
    return false;
  }
  return true;
}

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
  allowFolder = true,
): FileRef | undefined {
  const ref = parseFileRef(value, path, ctx.report, {
    mode: ctx.mode,
    key,
    allowFolder,
    checkLocalFile: ctx.checkLocalFile,
    badLocal: bad,
  });
  if (ref?.kind !== 'local' || kind === undefined) return ref;
  const checker = ctx.checkLocalFile as LocalKindChecker | undefined;
  // Without the CLI's isDirectory, `<dir>/.` stats only when `<dir>` is a directory.
  const isDirectory =
    checker?.isDirectory?.(ref.path) ??
    (kind.kind === 'directory' && checker !== undefined
      ? checker(`${ref.path.replace(/\/+$/, '')}/.`) === undefined
      : undefined);
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

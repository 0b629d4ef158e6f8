/**
 * What the guest-side configuration-management provisioners (`chef-solo`, `salt-masterless`) share: their
 * command templates, rendered at validation into one command line whose substituted values are quoted for
 * where they stand; the local files and directories they name; and the JSON they pass on.
 *
 * Packer runs these tools over SSH from its own host; here the same commands run on the instance from the
 * staged command folder (see ../../scripts/chef-solo.ts and ../../scripts/salt-masterless.ts).
 */
import { randomUUID } from 'node:crypto';
import type { FileRef } from '../../config.js';
import { type CommandPart, composeShellCommand } from '../../shell.js';
import { parseFileRef } from '../builder.js';
import type { Path, Report } from '../decode.js';
import { referencedFields, renderTemplateParts } from '../engine.js';
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
  const nonce = randomUUID();
  const markers = new Map<string, string>();
  const marked: Record<string, string | boolean> = {};
  for (const [field, value] of Object.entries(data)) {
    // An empty value stays empty, so `{{if .Version}}` is false for it as in Packer.
    if (typeof value === 'boolean' || value === '') {
      marked[field] = value;
      continue;
    }
    const marker = `\u0001${nonce}:${field}\u0001`;
    markers.set(marker, value);
    marked[field] = marker;
  }
  let parts: CommandPart[];
  try {
    parts = renderTemplateParts(parsed, marked, functionsFor({ ...env, userVariables })).map((part) => {
      if (part.kind === 'text') return part;
      let value = part.text;
      let fromData = false;
      for (const [marker, real] of markers) {
        if (value.includes(marker)) {
          value = value.split(marker).join(real);
          fromData = true;
        }
      }
      return fromData
        ? { kind: 'value', text: value, label: `${key}: a {{.Field}} value` }
        : { kind: 'text', text: value };
    });
  } catch (error) {
    report.error(path, error instanceof Error ? error.message : String(error));
    return undefined;
  }
  const composed = composeShellCommand(parts);
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
 * A path key of a guest provisioner: `s3://…` in the workflow (a prefix, for a directory), a local path in the
 * CLI, checked as Packer checks it (`os.Stat`, then file or directory).
 */
export function guestPathRef(
  value: string,
  key: string,
  path: Path,
  report: Report,
  mode: 'workflow' | 'cli',
  rule: LocalPathRule,
  checkLocalFile: ((path: string) => string | undefined) | undefined,
): FileRef | undefined {
  return parseFileRef(value, path, report, {
    mode,
    key,
    allowFolder: rule.directory,
    checkLocalFile:
      checkLocalFile === undefined
        ? undefined
        : (local) => {
            const missing = checkLocalFile(local);
            if (missing !== undefined || !rule.directory) return missing;
            // `<dir>/.` stats only when `<dir>` is a directory.
            return checkLocalFile(`${local.replace(/\/+$/, '')}/.`) === undefined
              ? undefined
              : NOT_DIRECTORY(local);
          },
    badLocal: (reason) =>
      reason === NOT_DIRECTORY(value) && rule.notDirectory !== undefined
        ? rule.notDirectory(value)
        : rule.bad(value, reason),
  });
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

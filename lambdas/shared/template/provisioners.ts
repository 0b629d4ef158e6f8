/**
 * Provisioners: `shell` and `file`, with Packer's keys, defaults and messages (`provisioner/shell`,
 * `provisioner/file`), plus the core's `only` / `except` / `override` / `pause_before` / `max_retries` /
 * `timeout` (packer-plugin-sdk `template/parse.go`, packer `packer/core.go`). Other types are refused with
 * the alternative. Provisioners are decoded per build, because `override` gives each build its own keys.
 */
import type { FileProvisioner, FileRef, Provisioner, ShellProvisioner } from '../config.js';
import { SHELL_SAFE } from '../shell.js';
import { MAX_COMMAND_SECONDS, parseFileRef } from './builder.js';
import {
  asRecord,
  type Decoded,
  decodeFields,
  decodeStringList,
  describeValue,
  hasLineBreakOrNul,
  own,
  type Path,
  parseGoInt,
  type Renderer,
  type Report,
  truncate,
} from './decode.js';
import { isPlainText, referencedFields, referencedFunctions, renderTemplate } from './engine.js';
import { FILE_KEYS, type FieldSpec, SHELL_IGNORED_KEYS, SHELL_KEYS } from './keys.js';
import { GUEST_PROVISIONER_TYPES, guestType } from './provisioners/guest-types.js';
import {
  checkFunctionUse,
  checkUserVariables,
  functionsFor,
  parseAt,
  type RenderEnv,
  renderEarly,
  usesUnresolved,
} from './render.js';

export const DEFAULT_EXECUTE_COMMAND = 'chmod +x {{.Path}}; {{.Vars}} {{.Path}}';
export const DEFAULT_INLINE_SHEBANG = '/bin/sh -e';
export const DEFAULT_REMOTE_FOLDER = '/tmp';

/** What to use instead of a provisioner type this system does not run. */
const ALTERNATIVES: Record<string, string> = {
  'shell-local':
    'it runs on the machine running Packer, and there is none here: run it before or after `ami-builder build`, or use a shell provisioner',
  'chef-client': 'install Chef on the instance and run chef-client from a shell provisioner',
  'puppet-server': 'install Puppet on the instance and run the agent from a shell provisioner',
  converge: 'run converge from a shell provisioner',
  inspec: 'run InSpec from a shell provisioner on the instance',
  powershell: 'instance-store AMIs are Linux only: use a shell provisioner',
  'windows-shell': 'instance-store AMIs are Linux only: use a shell provisioner',
  'windows-restart': 'instance-store AMIs are Linux only; a reboot also ends the SSM command',
  breakpoint: 'a workflow cannot pause for a person: use on_error "abort" to keep the instance for debugging',
};

export interface ProvisionerContext {
  mode: 'workflow' | 'cli';
  env: RenderEnv;
  report: Report;
  checkLocalFile?: (path: string) => string | undefined;
  /** The build's `command_timeout`, the default `timeout`. */
  commandTimeoutSeconds: number;
}

interface RawProvisioner {
  record: Record<string, unknown>;
  type: string;
  path: Path;
  only?: string[];
  except?: string[];
  override?: Record<string, unknown>;
}

/**
 * Reads the template-level shape of a provisioner; problems are reported once, not per build.
 *
 * `selectedNames` holds the raw names of the builds this run builds. A provisioner that their `only`/`except`
 * excludes from all of them gets only the checks Packer makes before selection (its `type` is present, its
 * `only`/`except`/`override` name builders), as Packer never loads it: its type is not checked, and
 * `undefined` is returned since it never runs. Without `selectedNames`, every provisioner is checked in full.
 */
export function readProvisioner(
  value: unknown,
  path: Path,
  label: string,
  builderNames: readonly string[],
  report: Report,
  selectedNames?: readonly string[],
): RawProvisioner | undefined {
  const record = asRecord(value);
  if (record === undefined) {
    report.error(path, `${label}: expected an object, got ${describeValue(value)}`);
    return undefined;
  }
  const type = own(record, 'type');
  if (typeof type !== 'string' || type === '') {
    report.error(path, `${label}: Provisioner missing 'type'`);
    return undefined;
  }
  const only = decodeStringList(own(record, 'only'), [...path, 'only'], report, { trim: true });
  const except = decodeStringList(own(record, 'except'), [...path, 'except'], report, { trim: true });
  if ((only?.length ?? 0) > 0 && (except?.length ?? 0) > 0) {
    report.error(path, `${label}: only one of 'only' or 'except' may be specified`);
  }
  for (const name of only ?? []) {
    if (!builderNames.includes(name))
      report.error(
        [...path, 'only'],
        `${label}: 'only' specified builder '${truncate(name, 100)}' not found`,
      );
  }
  for (const name of except ?? []) {
    if (!builderNames.includes(name))
      report.error(
        [...path, 'except'],
        `${label}: 'except' specified builder '${truncate(name, 100)}' not found`,
      );
  }
  let override: Record<string, unknown> | undefined;
  const rawOverride = own(record, 'override');
  if (rawOverride !== undefined && rawOverride !== null) {
    override = asRecord(rawOverride);
    if (override === undefined) {
      report.error(
        [...path, 'override'],
        `${label}: expected an object of build name → keys, got ${describeValue(rawOverride)}`,
      );
    } else {
      for (const name of Object.keys(override)) {
        if (!builderNames.includes(name)) {
          report.error(
            [...path, 'override', name],
            `${label}: override '${truncate(name, 100)}' doesn't exist`,
          );
        } else if (asRecord(own(override, name)) === undefined) {
          report.error(
            [...path, 'override', name],
            `${label}: expected an object of keys, got ${describeValue(own(override, name))}`,
          );
        }
      }
    }
  }
  if (selectedNames !== undefined && !selectedNames.some((name) => runsFor({ only, except }, name))) {
    return undefined;
  }
  if (type !== 'shell' && type !== 'file' && guestType(type) === undefined) {
    const hint = ALTERNATIVES[type];
    report.error(
      [...path, 'type'],
      `provisioner type ${JSON.stringify(truncate(type, 60))} is not supported; supported: shell, file, ${GUEST_PROVISIONER_TYPES.join(', ')}${hint === undefined ? '' : `. Instead: ${hint}`}`,
    );
    return undefined;
  }
  return { record, type, path, only, except, override };
}

/** Whether a provisioner runs for a build (Packer's `OnlyExcept.Skip`, by the builder's raw name). */
export function runsFor(raw: { only?: string[]; except?: string[] }, rawName: string): boolean {
  if (raw.only !== undefined && raw.only.length > 0) return raw.only.includes(rawName);
  if (raw.except !== undefined && raw.except.length > 0) return !raw.except.includes(rawName);
  return true;
}

function merged(raw: RawProvisioner, rawName: string): Record<string, unknown> {
  const base = Object.keys(raw.record).filter((k) => k !== 'override' && k !== 'only' && k !== 'except');
  const entries: [string, unknown][] = base.map((k) => [k, own(raw.record, k)]);
  const override = raw.override === undefined ? undefined : asRecord(own(raw.override, rawName));
  if (override !== undefined) for (const k of Object.keys(override)) entries.push([k, own(override, k)]);
  return Object.fromEntries(entries);
}

/**
 * `execute_command` is rendered on the instance side with `{{.Vars}}` and `{{.Path}}`; any other field is an
 * error. When it also calls functions (`{{user}}`…), those are rendered now and the two fields are kept as
 * written.
 */
function executeCommand(text: string, path: Path, report: Report, env: RenderEnv): string | undefined {
  if (isPlainText(text)) return text;
  const parsed = parseAt(text, path, report);
  if (parsed === undefined) return undefined;
  const unknown = referencedFields(parsed).filter((f) => f !== 'Vars' && f !== 'Path');
  if (unknown.length > 0) {
    report.error(
      path,
      `execute_command may only use {{.Vars}} and {{.Path}}; unknown variable ${unknown.map((f) => `{{.${f}}}`).join(', ')}`,
    );
    return undefined;
  }
  if (referencedFunctions(parsed).length === 0) return text;
  if (!checkFunctionUse(parsed, path, report, env)) return undefined;
  if (usesUnresolved(parsed, env)) {
    report.markUnresolved(path);
    return undefined;
  }
  const names = checkUserVariables(parsed, path, report, env);
  const userVariables = { ...Object.fromEntries(names.map((n) => [n, ''])), ...env.userVariables };
  try {
    return renderTemplate(
      parsed,
      { Vars: '{{.Vars}}', Path: '{{.Path}}' },
      functionsFor({ ...env, userVariables }),
    );
  } catch (error) {
    report.error(path, error instanceof Error ? error.message : String(error));
    return undefined;
  }
}

function exitCodes(values: string[] | undefined, path: Path, report: Report): number[] | undefined {
  if (values === undefined) return undefined;
  const codes: number[] = [];
  let ok = true;
  for (const part of values.map((v) => v.trim()).filter((v) => v !== '')) {
    const code = parseGoInt(part);
    if (code === undefined || code < 0 || code > 255) {
      report.error(path, `${describeValue(part)} is not an exit code; allowed: whole numbers 0–255`);
      ok = false;
    } else {
      codes.push(code);
    }
  }
  return ok ? [...new Set(codes)] : undefined;
}

export function timing(d: Decoded, ctx: ProvisionerContext, label: string) {
  const timeout = d.number('timeout') || ctx.commandTimeoutSeconds;
  if (timeout > MAX_COMMAND_SECONDS) {
    ctx.report.error(d.at('timeout'), `${label}: timeout may be at most 48h (SSM's limit)`);
  }
  const pause = d.number('pause_before') ?? 0;
  if (pause > MAX_COMMAND_SECONDS)
    ctx.report.error(d.at('pause_before'), `${label}: pause_before may be at most 48h`);
  return {
    maxRetries: d.number('max_retries') ?? 0,
    timeoutSeconds: Math.ceil(timeout),
    pauseBeforeSeconds: Math.ceil(pause),
  };
}

function fileRefs(
  values: string[],
  key: string,
  path: Path,
  ctx: ProvisionerContext,
  badLocal: (path: string, error: string) => string,
  allowFolder: boolean,
): FileRef[] | undefined {
  const refs: FileRef[] = [];
  let ok = true;
  for (const value of values) {
    const ref = parseFileRef(value, path, ctx.report, {
      mode: ctx.mode,
      key,
      allowFolder,
      checkLocalFile: ctx.checkLocalFile,
      badLocal: (e) => badLocal(value, e),
    });
    if (ref === undefined) ok = false;
    else refs.push(ref);
  }
  return ok ? refs : undefined;
}

const SHELL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A shell provisioner's commands from decoded keys (`inline`, `script`/`scripts`, `environment_vars`, `env`,
 * `execute_command`, …; absent keys take their defaults), with Packer's checks. Also decodes `ami_test`.
 */
export function shell(
  d: Decoded,
  index: number,
  ctx: ProvisionerContext,
  label = `provisioner ${index + 1}`,
): ShellProvisioner | undefined {
  const { report } = ctx;
  const before = report.problems.length;
  const ignored = [...d.present].filter((k) => SHELL_IGNORED_KEYS.has(k)).sort();
  if (ignored.length > 0) {
    report.warn(
      d.path,
      `${ignored.join(', ')}: accepted but ignored: scripts are staged and run through SSM Run Command`,
    );
  }
  let inline = d.list('inline');
  if (inline !== undefined && inline.length === 0) inline = undefined;
  const script = d.nonEmpty('script');
  const scriptList = d.list('scripts') ?? [];
  if (script !== undefined && scriptList.length > 0)
    report.error(d.path, 'Only one of script or scripts can be specified.');
  const scriptTexts = script !== undefined ? [script] : scriptList;
  if (!d.failed.has('inline') && !d.failed.has('script') && !d.failed.has('scripts')) {
    if (scriptTexts.length === 0 && inline === undefined) {
      report.error(d.path, 'Either a script file or inline script must be specified.');
    } else if (scriptTexts.length > 0 && inline !== undefined) {
      report.error(d.path, 'Only a script file or an inline script can be specified, not both.');
    }
  }
  const scripts = fileRefs(
    scriptTexts,
    script !== undefined ? 'script' : 'scripts',
    d.at(script !== undefined ? 'script' : 'scripts'),
    ctx,
    (p, e) => `Bad script '${p}': ${e}`,
    false,
  );

  const environmentVars: { name: string; value: string }[] = [];
  const addVar = (name: string, value: string, path: Path, text: string) => {
    if (name === '') {
      report.error(path, `Environment variable not in format 'key=value': ${truncate(text, 100)}`);
    } else if (!SHELL_IDENTIFIER.test(name)) {
      report.error(
        path,
        `environment variable name ${describeValue(name)} must be a shell identifier (letters, digits and _, not starting with a digit)`,
      );
    } else if (value.includes('\u0000')) {
      report.error(path, `the value of environment variable ${name} must not contain NUL characters`);
    } else {
      environmentVars.push({ name, value });
    }
  };
  for (const kv of d.list('environment_vars') ?? []) {
    const eq = kv.indexOf('=');
    if (eq < 0)
      report.error(
        d.at('environment_vars'),
        `Environment variable not in format 'key=value': ${truncate(kv, 100)}`,
      );
    else addVar(kv.slice(0, eq), kv.slice(eq + 1), d.at('environment_vars'), kv);
  }
  for (const [name, value] of Object.entries(d.map('env') ?? {}))
    addVar(name, value, [...d.at('env'), name], `${name}=${value}`);

  const executeText = d.nonEmpty('execute_command');
  const execute =
    executeText === undefined
      ? DEFAULT_EXECUTE_COMMAND
      : executeCommand(executeText, d.at('execute_command'), report, ctx.env);
  const shebang = d.nonEmpty('inline_shebang') ?? DEFAULT_INLINE_SHEBANG;
  if (hasLineBreakOrNul(shebang))
    report.error(d.at('inline_shebang'), `${label}: inline_shebang must be a single line`);
  const remoteFolder = d.nonEmpty('remote_folder') ?? DEFAULT_REMOTE_FOLDER;
  if (
    !SHELL_SAFE.test(remoteFolder) ||
    !remoteFolder.startsWith('/') ||
    remoteFolder.split('/').includes('..')
  ) {
    report.error(
      d.at('remote_folder'),
      `remote_folder must be an absolute directory of letters, digits and _ . / : @ % + = , - (scripts are run from it), got ${describeValue(remoteFolder)}`,
    );
  }
  const codes = exitCodes(d.list('valid_exit_codes'), d.at('valid_exit_codes'), report);
  const times = timing(d, ctx, label);
  if (report.problems.length > before || scripts === undefined || execute === undefined) return undefined;
  const result: ShellProvisioner = {
    type: 'shell',
    index,
    name: d.nonEmpty('name') ?? 'shell',
    scripts,
    environmentVars,
    executeCommand: execute,
    inlineShebang: shebang,
    remoteFolder,
    validExitCodes: codes === undefined || codes.length === 0 ? [0] : codes,
    ...times,
  };
  if (inline !== undefined) result.inline = inline;
  return result;
}

function file(d: Decoded, index: number, ctx: ProvisionerContext): FileProvisioner | undefined {
  const { report } = ctx;
  const label = `provisioner ${index + 1}`;
  const before = report.problems.length;
  if (d.nonEmpty('direction') === 'download') {
    report.error(
      d.at('direction'),
      `${label}: direction "download" is not supported: files can only be uploaded to the instance here`,
    );
  }
  if (d.boolean('generated') === true) {
    report.error(
      d.at('generated'),
      `${label}: generated is not supported: sources must exist (in S3) before the build starts`,
    );
  }
  const texts = [
    ...(d.list('sources') ?? []),
    ...(d.nonEmpty('source') === undefined ? [] : [d.nonEmpty('source') ?? '']),
  ];
  const content = d.string('content');
  const hasContent = content !== undefined && content !== '';
  if (!d.failed.has('source') && !d.failed.has('sources') && !d.failed.has('content')) {
    if (texts.length === 0 && !hasContent) report.error(d.path, 'Source must be specified.');
    if (texts.length > 0 && hasContent) report.error(d.path, 'Cannot specify source file AND content');
  }
  const sources = fileRefs(
    texts,
    d.present.has('sources') ? 'sources' : 'source',
    d.at(d.present.has('sources') ? 'sources' : 'source'),
    ctx,
    (p, e) => `Bad source '${p}': ${e}`,
    true,
  );
  const destination = d.nonEmpty('destination');
  if (destination === undefined && !d.failed.has('destination'))
    report.error(d.path, 'Destination must be specified.');
  if (destination !== undefined && hasLineBreakOrNul(destination)) {
    report.error(d.at('destination'), `${label}: destination must not contain newlines or NUL characters`);
  }
  const times = timing(d, ctx, label);
  if (report.problems.length > before || sources === undefined || destination === undefined) return undefined;
  const result: FileProvisioner = {
    type: 'file',
    index,
    name: d.nonEmpty('name') ?? 'file',
    sources,
    destination,
    ...times,
  };
  if (hasContent) result.content = content;
  return result;
}

/** Decodes one provisioner for one build (its `override` for that build applied). */
export function buildProvisioner(
  raw: RawProvisioner,
  index: number,
  rawName: string,
  ctx: ProvisionerContext,
): Provisioner | undefined {
  const record = merged(raw, rawName);
  const guest = guestType(raw.type);
  const specs: readonly FieldSpec[] = guest?.keys ?? (raw.type === 'shell' ? SHELL_KEYS : FILE_KEYS);
  const early: Renderer = (text, at) => renderEarly(text, at, ctx.report, ctx.env);
  const d = decodeFields(record, specs, raw.path, ctx.report, {
    rendererFor: (spec) =>
      spec.key === 'execute_command' || spec.key === 'install_command' || spec.key === 'json'
        ? undefined
        : early,
  });
  if (guest !== undefined) return guest.decode(d, index, ctx);
  return raw.type === 'shell' ? shell(d, index, ctx) : file(d, index, ctx);
}

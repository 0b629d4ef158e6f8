/**
 * How the validator uses the template engine: which functions a string may call where, what the data is,
 * and how engine errors become validation problems (with the key path) instead of exceptions.
 *
 * - Early strings (everything but the late keys) are rendered at validation with Packer's functions and no
 *   data: `{{.X}}` there is an error that says where build variables may be used.
 * - `{{env}}` only works in variable defaults, and only in the CLI (Packer: "env vars are not allowed here").
 * - `{{template_dir}}` and `{{pwd}}` only work in the CLI.
 * - A `{{user "x"}}` of an undefined variable renders as "" (as in Packer), with a warning.
 * - `{{clean_ami_name}}` (removed in Packer 1.5) still works, with a warning that names `clean_resource_name`.
 */
import type { Path, Report } from './decode.js';
import {
  isPlainText,
  type ParsedTemplate,
  parseTemplate,
  referencedFields,
  referencedFunctions,
  referencedUserVariables,
  renderTemplate,
  type TemplateFunction,
} from './engine.js';
import { packerFunctions } from './functions.js';

export interface RenderEnv {
  mode: 'workflow' | 'cli';
  now: Date;
  uuid: () => string;
  /** User variables known so far (template defaults, then overrides). */
  userVariables: Record<string, string>;
  /** Environment lookup for `{{env}}` in variable defaults (CLI only). */
  env?: (name: string) => string | undefined;
  templateDir?: string;
  pwd?: string;
  /** Variables that could not be resolved (already reported): strings using them are skipped silently. */
  unresolved?: ReadonlySet<string>;
  /** `{{build_name}}` / `{{build_type}}`, while a builder or its provisioners are checked. */
  buildName?: string;
  buildType?: string;
}

export interface EarlyOptions {
  /** Rendering a variable default: `{{env}}` is allowed (CLI only). */
  variableDefault?: boolean;
  /** The dot, for strings that have data (e.g. none at validation). */
  data?: unknown;
  /** Field names this string may read, and where they can be used otherwise (for the message). */
  fields?: { allowed: readonly string[]; hint: string };
}

const CLI_ONLY = new Set(['template_dir', 'pwd']);

/** Parses a string; a syntax error becomes a problem at `path`. */
export function parseAt(text: string, path: Path, report: Report): ParsedTemplate | undefined {
  try {
    return parseTemplate(text);
  } catch (error) {
    report.error(path, messageOf(error));
    return undefined;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The functions a string may call, given where it is. */
export function functionsFor(
  env: RenderEnv,
  options: { variableDefault?: boolean } = {},
): Record<string, TemplateFunction> {
  return packerFunctions({
    now: env.now,
    uuid: env.uuid,
    userVariables: env.userVariables,
    env: options.variableDefault === true && env.mode === 'cli' ? env.env : undefined,
    templateDir: env.mode === 'cli' ? env.templateDir : undefined,
    pwd: env.mode === 'cli' ? env.pwd : undefined,
    buildName: env.buildName,
    buildType: env.buildType,
  });
}

/**
 * Checks the functions a parsed string calls against where it is, reporting each misuse. Returns false when a
 * call cannot work here.
 */
export function checkFunctionUse(
  parsed: ParsedTemplate,
  path: Path,
  report: Report,
  env: RenderEnv,
  options: { variableDefault?: boolean } = {},
): boolean {
  let ok = true;
  for (const name of referencedFunctions(parsed)) {
    if (name === 'clean_ami_name') {
      report.warn(
        path,
        'clean_ami_name was removed in Packer 1.5: use clean_resource_name, which does the same (`packer fix` rewrites it)',
      );
    }
    if (name === 'env' && options.variableDefault !== true) {
      report.error(path, 'env vars are not allowed here: {{env}} may only be used in variable defaults');
      ok = false;
    } else if (name === 'env' && env.mode === 'workflow') {
      report.error(
        path,
        '{{env}} is resolved only by the CLI (ami-builder validate/build); in the workflow, pass the value in "vars" instead',
      );
      ok = false;
    } else if (CLI_ONLY.has(name) && env.mode === 'workflow') {
      report.error(path, `{{${name}}} is available only in the CLI: the workflow has no local directory`);
      ok = false;
    }
  }
  return ok;
}

/** True when the string uses a variable whose own problem was already reported. */
export function usesUnresolved(parsed: ParsedTemplate, env: RenderEnv): boolean {
  const unresolved = env.unresolved;
  return unresolved !== undefined && referencedUserVariables(parsed).some((name) => unresolved.has(name));
}

/** Warns about `{{user "x"}}` of variables that do not exist, and returns the names referenced. */
export function checkUserVariables(
  parsed: ParsedTemplate,
  path: Path,
  report: Report,
  env: RenderEnv,
): string[] {
  const names = referencedUserVariables(parsed);
  for (const name of names) {
    if (!Object.hasOwn(env.userVariables, name)) {
      report.warn(
        path,
        `user variable ${JSON.stringify(name)} is not defined; it renders as an empty string, as in Packer`,
      );
    }
  }
  return names;
}

function withMissingVariables(env: RenderEnv, names: readonly string[]): RenderEnv {
  const missing = names.filter((name) => !Object.hasOwn(env.userVariables, name));
  if (missing.length === 0) return env;
  return {
    ...env,
    userVariables: Object.fromEntries([...Object.entries(env.userVariables), ...missing.map((n) => [n, ''])]),
  };
}

/**
 * Renders a string at validation. Problems (syntax, misuse of a function, fields that have no data here, a
 * failing function) are reported at `path`; returns `undefined` then.
 */
export function renderEarly(
  text: string,
  path: Path,
  report: Report,
  env: RenderEnv,
  options: EarlyOptions = {},
): string | undefined {
  if (isPlainText(text)) return text;
  const parsed = parseAt(text, path, report);
  if (parsed === undefined) return undefined;
  if (!checkFunctionUse(parsed, path, report, env, options)) return undefined;
  const allowed = options.fields?.allowed ?? [];
  const unknown = referencedFields(parsed).filter((field) => !allowed.includes(field.split('.')[0] ?? ''));
  if (unknown.length > 0) {
    const hint =
      options.fields?.hint ??
      'build variables are only known once the source AMI is found; they may be used in tags, run_tags and ami_description';
    report.error(path, `${unknown.map((f) => `{{.${f}}}`).join(', ')} cannot be used here: ${hint}`);
    return undefined;
  }
  if (usesUnresolved(parsed, env)) {
    report.markUnresolved(path);
    return undefined;
  }
  const names = checkUserVariables(parsed, path, report, env);
  try {
    return renderTemplate(
      parsed,
      options.data ?? {},
      functionsFor(withMissingVariables(env, names), options),
    );
  } catch (error) {
    report.error(path, messageOf(error));
    return undefined;
  }
}

/**
 * Checks a string that is rendered later (with build variables or bundle variables as data): syntax, function
 * use and the fields it reads. Returns the user variables it references (`undefined` when invalid).
 */
export function checkLate(
  text: string,
  path: Path,
  report: Report,
  env: RenderEnv,
  fields: { allowed: readonly string[]; describe: string },
): string[] | undefined {
  if (isPlainText(text)) return [];
  const parsed = parseAt(text, path, report);
  if (parsed === undefined) return undefined;
  let ok = checkFunctionUse(parsed, path, report, env);
  const unknown = referencedFields(parsed).filter(
    (field) => !fields.allowed.includes(field.split('.')[0] ?? ''),
  );
  if (unknown.length > 0) {
    const list = fields.allowed.map((f) => `{{.${f}}}`).join(', ');
    report.error(
      path,
      `unknown variable ${unknown.map((f) => `{{.${f}}}`).join(', ')} in ${fields.describe}; allowed: ${list}`,
    );
    ok = false;
  }
  if (usesUnresolved(parsed, env)) {
    report.markUnresolved(path);
    return undefined;
  }
  const names = checkUserVariables(parsed, path, report, env);
  return ok ? names : undefined;
}

/** The fields a string reads (first segment), for checks by callers. */
export function fieldsOf(text: string): string[] {
  if (isPlainText(text)) return [];
  try {
    return referencedFields(parseTemplate(text)).map((f) => f.split('.')[0] ?? '');
  } catch {
    return [];
  }
}

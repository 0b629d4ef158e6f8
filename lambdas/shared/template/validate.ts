/**
 * Template validation: the input (any form) → one normalized {@link BuildConfig} per selected
 * `amazon-instance` builder, the warnings, and the builders skipped. Every problem is collected; the result is
 * either a {@link ValidatedTemplate} or a {@link TemplateValidationError} listing them all — never another
 * exception, whatever the input.
 */
import type { BuildConfig, Provisioner, ValidatedTemplate } from '../config.js';
import { TemplateValidationError } from '../errors.js';
import { locateSensitive, Masker, MIN_SECRET_LENGTH } from '../sensitive.js';
import { type BuilderContext, buildBuilderConfig } from './builder.js';
import {
  asRecord,
  checkFreeKey,
  formatEntry,
  own,
  type Path,
  type Problem,
  Report,
  truncate,
  type Warning,
} from './decode.js';
import { isPlainText, parseTemplate, referencedUserVariables } from './engine.js';
import { BUILDER_TYPE, readInput, selectBuilds, type TemplateDocument } from './input.js';
import { BUILDER_KEY_MAP } from './keys.js';
import { buildManifest, readPostProcessors } from './post-processors.js';
import { buildProvisioner, type ProvisionerContext, readProvisioner, runsFor } from './provisioners.js';
import { checkFunctionUse, parseAt, type RenderEnv, renderEarly } from './render.js';
import { seededUuid } from './uuid.js';

export interface ValidateOptions {
  mode: 'workflow' | 'cli';
  /** Clock for `{{timestamp}}` / `{{isotime}}` (the workflow passes the execution start time). */
  now: Date;
  /** Seed for `{{uuid}}` (the workflow passes the execution id): the same input gives the same names. */
  uuidSeed: string;
  /** Variable overrides (CLI `-var` / `-var-file`), merged over the wrapper's `vars`. */
  vars?: Record<string, string>;
  /** Build selection, applied together with the wrapper's `only` / `except`. */
  only?: string[];
  except?: string[];
  /** CLI only: `{{env}}` in variable defaults. */
  env?: (name: string) => string | undefined;
  /** CLI only: `{{template_dir}}` and `{{pwd}}`. */
  templateDir?: string;
  pwd?: string;
  /** Check the template's structure and template syntax only (Packer's `-syntax-only`). */
  syntaxOnly?: boolean;
  /**
   * CLI only: checks that a local file can be read, returning Go's error text (`stat x: no such file or
   * directory`) or undefined. Without it, local paths are accepted as they are.
   */
  checkLocalFile?: (path: string) => string | undefined;
}

/** Everything validation found, for callers that present problems themselves (the CLI). */
export interface ValidationReport {
  /** The result, when there is no problem. */
  template?: ValidatedTemplate;
  problems: Problem[];
  warnings: Warning[];
  /** The build names selected (problems carry them in `build`). Messages are already scrubbed of secrets. */
  builds: string[];
  /**
   * CLI only: the sensitive values validation saw (`sensitive-variables` values and credentials), for the CLI to
   * mask in what it prints. Never part of a {@link ValidatedTemplate}: secrets do not enter the state.
   */
  sensitiveValues: string[];
}

/** Largest normalized configuration accepted: the whole execution state holds at most 256 KB. */
const MAX_CONFIG_BYTES = 160 * 1024;
const BUILD_NAME = /^[A-Za-z0-9 _.:/=+@-]{1,128}$/;

/**
 * Validates and normalizes a template.
 *
 * @throws TemplateValidationError listing every problem (key path, value, what is allowed).
 */
export function validateTemplate(input: unknown, options: ValidateOptions): ValidatedTemplate {
  const result = checkTemplate(input, options);
  if (result.template === undefined) throw new TemplateValidationError(formatProblems(result.problems));
  return result.template;
}

/** `<path>: <message>` for each problem, duplicates (the same problem in several builds) removed. */
export function formatProblems(problems: readonly Problem[]): string[] {
  return [...new Set(problems.map((p) => formatEntry(p)))];
}

/** Like {@link validateTemplate}, but returns the problems instead of throwing. Never throws. */
export function checkTemplate(input: unknown, options: ValidateOptions): ValidationReport {
  const report = new Report();
  const secrets: string[] = [];
  let template: ValidatedTemplate | undefined;
  let builds: string[] = [];
  try {
    const outcome = run(input, options, report, secrets);
    template = outcome.template;
    builds = outcome.builds;
  } catch (error) {
    // A bug must still come out as a validation error, not as an unknown exception in the workflow.
    report.error(
      [],
      `internal error while validating the template (${error instanceof Error ? error.name : 'unknown'})`,
    );
    template = undefined;
  }
  const masker = new Masker(secrets);
  const scrub = (text: string) => masker.mask(text);
  const clean = <T extends Problem | Warning>(entry: T): T => ({
    ...entry,
    path: entry.path.map((segment) => (typeof segment === 'string' ? scrub(segment) : segment)),
    message: scrub(entry.message),
  });
  const problems = report.problems.map(clean);
  const warnings = dedupeWarnings(report.warnings.map(clean));
  if (problems.length > 0) template = undefined;
  if (template !== undefined) {
    template.warnings = warnings.map((w) => formatEntry(w));
    for (const config of template.builds) {
      const sensitive = locateSensitive(config, secrets);
      if (sensitive.length > 0) config.sensitive = sensitive;
    }
  }
  return { template, problems, warnings, builds, sensitiveValues: [...new Set(secrets)] };
}

function dedupeWarnings(warnings: Warning[]): Warning[] {
  const seen = new Set<string>();
  return warnings.filter((w) => {
    const key = formatEntry(w);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

interface Outcome {
  template?: ValidatedTemplate;
  builds: string[];
}

function run(input: unknown, options: ValidateOptions, report: Report, secrets: string[]): Outcome {
  const doc = readInput(input, report);
  if (doc === undefined) return { builds: [] };
  checkFilters(options, report);

  const env: RenderEnv = {
    mode: options.mode,
    now: options.now,
    uuid: seededUuid(options.uuidSeed),
    userVariables: {},
    env: options.env,
    templateDir: options.templateDir,
    pwd: options.pwd,
  };
  env.userVariables = resolveVariables(doc, options, env, report);
  for (const name of doc.sensitiveVariables) {
    const value = Object.hasOwn(env.userVariables, name) ? env.userVariables[name] : undefined;
    if (value !== undefined && value !== '') secrets.push(value);
  }
  collectCredentialValues(doc, env, secrets);

  const names = doc.builders.map((builder) =>
    buildName(builder.rawName, builder.path, builder.type, env, report),
  );
  const filters = [doc.wrapper, { only: options.only, except: options.except }];
  warnUnmatchedFilters(filters, names, doc, report);
  const selection = selectBuilds(doc, names, filters, report);
  const rawNames = doc.builders.map((b) => b.rawName);
  // A provisioner excluded from every selected build is never loaded, as in Packer: its type is not checked.
  const selectedRawNames = selection.selected.map((s) => s.builder.rawName);

  const provisioners = doc.provisioners.map((p, i) =>
    readProvisioner(
      p,
      [...doc.root, 'provisioners', i],
      `provisioner ${i + 1}`,
      rawNames,
      report,
      selectedRawNames,
    ),
  );
  const cleanup =
    doc.errorCleanupProvisioner === undefined
      ? undefined
      : readProvisioner(
          doc.errorCleanupProvisioner,
          [...doc.root, 'error-cleanup-provisioner'],
          'On Error Cleanup Provisioner error',
          rawNames,
          report,
          selectedRawNames,
        );
  const manifests = readPostProcessors(
    doc.postProcessors,
    [...doc.root, 'post-processors'],
    rawNames,
    report,
  );
  const skipped = selection.skipped;
  const selected = selection.selected.map((s) => s.name);

  if (options.syntaxOnly === true) {
    for (const { builder } of selection.selected) checkSyntax(builder.record, builder.path, report, 0);
    doc.provisioners.forEach((p, i) => {
      checkSyntax(p, [...doc.root, 'provisioners', i], report, 0);
    });
    return { template: { builds: [], warnings: [], skipped }, builds: selected };
  }
  const parallel =
    doc.wrapper.parallelBuilds === undefined ? {} : { parallelBuilds: doc.wrapper.parallelBuilds };

  const except = [...(doc.wrapper.except ?? []), ...(options.except ?? [])];
  const builds: BuildConfig[] = [];
  for (const { builder, name } of selection.selected) {
    report.build = name;
    const buildEnv: RenderEnv = { ...env, buildName: name, buildType: BUILDER_TYPE };
    const context: BuilderContext = {
      mode: options.mode,
      env: buildEnv,
      report,
      checkLocalFile: options.checkLocalFile,
    };
    const result = buildBuilderConfig(builder, name, context);
    const commandTimeoutSeconds = result?.config.commandTimeoutSeconds ?? 7200;
    const pctx: ProvisionerContext = {
      mode: options.mode,
      env: buildEnv,
      report,
      checkLocalFile: options.checkLocalFile,
      commandTimeoutSeconds,
    };
    const list: Provisioner[] = [];
    provisioners.forEach((raw, index) => {
      if (raw === undefined || !runsFor(raw, builder.rawName)) return;
      const provisioner = buildProvisioner(raw, index, builder.rawName, pctx);
      if (provisioner !== undefined) list.push(provisioner);
    });
    const errorCleanupProvisioner =
      cleanup === undefined || !runsFor(cleanup, builder.rawName)
        ? undefined
        : buildProvisioner(cleanup, -1, builder.rawName, pctx);
    const manifest = buildManifest(manifests, builder.rawName, except, buildEnv, report);
    report.build = undefined;
    if (result === undefined) continue;
    const lateVariables: Record<string, string> = Object.fromEntries(
      [...result.lateUserVariables]
        .filter((n) => Object.hasOwn(env.userVariables, n))
        .map((n) => [n, env.userVariables[n] ?? '']),
    );
    const config: BuildConfig = {
      ...result.config,
      lateVariables,
      provisioners: list,
      postProcessors: manifest === undefined ? {} : { manifest },
    };
    if (errorCleanupProvisioner !== undefined) config.errorCleanupProvisioner = errorCleanupProvisioner;
    warnSensitive(config, doc, env, report, builder.path);
    builds.push(config);
  }
  const size = Buffer.byteLength(JSON.stringify(builds), 'utf8');
  if (size > MAX_CONFIG_BYTES) {
    report.error(
      doc.root,
      `the normalized configuration is ${size} bytes; at most ${MAX_CONFIG_BYTES} fit in the workflow's state (256 KB): move long inline scripts or file content to S3`,
    );
  }
  return { template: { builds, warnings: [], skipped, ...parallel }, builds: selected };
}

function checkFilters(options: ValidateOptions, report: Report) {
  if ((options.only?.length ?? 0) > 0 && (options.except?.length ?? 0) > 0) {
    report.error([], "Only one of '-only' or '-except' may be specified.");
  }
}

function warnUnmatchedFilters(
  filters: { only?: string[]; except?: string[] }[],
  names: readonly string[],
  doc: TemplateDocument,
  report: Report,
) {
  for (const filter of filters) {
    for (const n of [...(filter.only ?? []), ...(filter.except ?? [])]) {
      if (!names.includes(n))
        report.warn(
          doc.root,
          `only/except names ${JSON.stringify(truncate(n, 100))}, which matches no builder`,
        );
    }
  }
}

/** The build name: the builder's `name` rendered with the user variables (Packer interpolates it), or its type. */
function buildName(rawName: string, path: Path, type: string, env: RenderEnv, report: Report): string {
  let name = rawName;
  if (!isPlainText(rawName)) {
    const scratch = new Report();
    name = renderEarly(rawName, [...path, 'name'], type === BUILDER_TYPE ? report : scratch, env) ?? rawName;
  }
  if (type === BUILDER_TYPE && !BUILD_NAME.test(name)) {
    report.error(
      [...path, 'name'],
      `build name ${JSON.stringify(truncate(name, 100))} may only contain 1–128 letters, digits, spaces and _ . : / = + - @ (it is used in tags and S3 keys)`,
    );
  }
  return name;
}

/**
 * User variables, as Packer's core resolves them: template defaults, then the wrapper's `vars`, then the
 * caller's overrides; every value is rendered (it may use other variables, `{{timestamp}}`, and in the CLI
 * `{{env}}`). A required (null) variable without a value is `required variable not set: <name>`.
 */
function resolveVariables(doc: TemplateDocument, options: ValidateOptions, env: RenderEnv, report: Report) {
  const raw = new Map<string, { text: string | null; path: Path }>();
  for (const [name, text] of doc.variables) raw.set(name, { text, path: [...doc.root, 'variables', name] });
  for (const [name, text] of doc.wrapper.vars) raw.set(name, { text, path: ['vars', name] });
  for (const name of Object.keys(options.vars ?? {})) {
    const text = own(options.vars ?? {}, name);
    if (!checkFreeKey(name, ['vars', name], report)) continue;
    if (typeof text === 'string') raw.set(name, { text, path: ['vars', name] });
  }
  const resolved = new Map<string, string>();
  const failed = new Set<string>();
  const visiting: string[] = [];

  const resolve = (name: string): string | undefined => {
    const known = resolved.get(name);
    if (known !== undefined) return known;
    if (failed.has(name)) return undefined;
    const entry = raw.get(name);
    if (entry === undefined) return undefined;
    if (entry.text === null) {
      report.error(entry.path, `required variable not set: ${truncate(name, 100)}`);
      failed.add(name);
      return undefined;
    }
    if (visiting.includes(name)) {
      report.error(
        entry.path,
        `variable ${JSON.stringify(name)} refers to itself through ${[...visiting.slice(visiting.indexOf(name)), name].join(' → ')}`,
      );
      failed.add(name);
      return undefined;
    }
    if (isPlainText(entry.text)) {
      resolved.set(name, entry.text);
      return entry.text;
    }
    const parsed = parseAt(entry.text, entry.path, report);
    if (
      parsed === undefined ||
      !checkFunctionUse(parsed, entry.path, report, env, { variableDefault: true })
    ) {
      failed.add(name);
      return undefined;
    }
    visiting.push(name);
    const values: Record<string, string> = {};
    let ok = true;
    for (const dep of referencedUserVariables(parsed)) {
      if (!raw.has(dep)) {
        report.error(
          entry.path,
          `references user variable ${JSON.stringify(truncate(dep, 100))}, which is not defined; Packer treats all variables used to interpolate other user variables as required`,
        );
        ok = false;
        continue;
      }
      const value = resolve(dep);
      if (value === undefined) ok = false;
      else
        Object.defineProperty(values, dep, { value, enumerable: true, writable: true, configurable: true });
    }
    visiting.pop();
    if (!ok) {
      failed.add(name);
      return undefined;
    }
    const rendered = renderEarly(
      entry.text,
      entry.path,
      report,
      { ...env, userVariables: values },
      { variableDefault: true },
    );
    if (rendered === undefined) {
      failed.add(name);
      return undefined;
    }
    resolved.set(name, rendered);
    return rendered;
  };

  for (const name of [...raw.keys()].sort()) resolve(name);
  env.unresolved = failed;
  return Object.fromEntries(resolved);
}

/** The values of credential keys, so that messages can mask them (Packer's LogSecretFilter). */
function collectCredentialValues(doc: TemplateDocument, env: RenderEnv, secrets: string[]) {
  const scratch = new Report();
  for (const builder of doc.builders) {
    if (builder.type !== BUILDER_TYPE) continue;
    for (const key of Object.keys(builder.record)) {
      const spec = BUILDER_KEY_MAP.get(key);
      const value = own(builder.record, key);
      if (spec?.secret !== true || typeof value !== 'string' || value === '') continue;
      secrets.push(value);
      if (!isPlainText(value)) {
        const rendered = renderEarly(value, [], scratch, env);
        if (rendered !== undefined && rendered !== '') secrets.push(rendered);
      }
    }
  }
}

/** Warns when a sensitive variable's value ended up in the configuration (and so in the execution state). */
function warnSensitive(
  config: BuildConfig,
  doc: TemplateDocument,
  env: RenderEnv,
  report: Report,
  path: Path,
) {
  const text = JSON.stringify(config);
  for (const name of doc.sensitiveVariables) {
    const value = Object.hasOwn(env.userVariables, name) ? env.userVariables[name] : undefined;
    if (
      value !== undefined &&
      value.length >= MIN_SECRET_LENGTH &&
      text.includes(JSON.stringify(value).slice(1, -1))
    ) {
      report.warn(
        path,
        `the value of sensitive variable ${JSON.stringify(name)} is used in the build configuration, so it is stored in the execution's state; pass secrets through SSM or S3 instead`,
      );
    }
  }
}

/** Parses every template string of a (bounded) JSON value, for `-syntax-only`. */
function checkSyntax(value: unknown, path: Path, report: Report, depth: number) {
  if (depth > 8) return;
  if (typeof value === 'string') {
    if (!isPlainText(value)) {
      try {
        parseTemplate(value);
      } catch (error) {
        report.error(path, error instanceof Error ? error.message : String(error));
      }
    }
    return;
  }
  if (Array.isArray(value)) {
    value.slice(0, 1000).forEach((item, i) => {
      checkSyntax(item, [...path, i], report, depth + 1);
    });
    return;
  }
  const record = asRecord(value);
  if (record === undefined) return;
  for (const key of Object.keys(record).slice(0, 1000)) {
    const spec = depth === 0 ? BUILDER_KEY_MAP.get(key) : undefined;
    if (spec?.secret === true) continue;
    checkSyntax(own(record, key), [...path, key], report, depth + 1);
  }
}

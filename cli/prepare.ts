/**
 * The input of one build, prepared the same way for the deployed stack (`ami-builder build`) and for the local
 * emulator (`ami-builder local`):
 *
 * 1. Reads the template (a file, or standard input for `-`) and the `-var-file` / `-var` values. An HCL2
 *    template (a `.pkr.hcl` file or a folder) is converted first, with its variables, into the JSON input a JSON
 *    template gives (./hcl/convert.ts); the rest is the same for both formats.
 * 2. Validates it locally, in CLI mode (`{{env}}` in variable defaults, `{{template_dir}}`, local files), with the
 *    messages of `ami-builder validate`.
 * 3. Removes credential keys (`access_key`, `secret_key`, `token`, …), with a warning: the workflow builds with
 *    its own role. Plans the variables: only those the remaining template uses are sent, CLI-only values
 *    rendered.
 * 4. Asks the caller where to stage ({@link PrepareContext.stagingTarget}: the stack's bucket, or the emulator's),
 *    names the execution `<build or template>-<UTC yyyymmdd-hhmmss>-<4 hex>`, and plans the staging of the local
 *    files the template references under `staging/<execution name>/` (./stage.ts): keys, hashes and the
 *    template rewritten to their `s3://` URIs. Nothing is uploaded yet.
 * 5. Builds the final execution input `{ template, vars, only?, except?, parallel_builds? }` and refuses one that
 *    carries the caller's AWS credentials or exceeds Step Functions' 256 KB.
 *
 * Only then do the callers upload and start, with {@link uploadThenStart} (./start.ts): every check has run
 * before the first object is staged, and the staged objects are deleted when the start fails or is interrupted.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { BuildConfig, ValidatedTemplate } from '../lambdas/shared/config.js';
import { TemplateValidationError } from '../lambdas/shared/errors.js';
import type { Masker } from '../lambdas/shared/sensitive.js';
import { type Problem, Report, type Warning } from '../lambdas/shared/template/decode.js';
import {
  isPlainText,
  parseTemplate,
  referencedFunctions,
  referencedUserVariables,
  renderTemplate,
} from '../lambdas/shared/template/engine.js';
import { packerFunctions } from '../lambdas/shared/template/functions.js';
import { goQuote } from '../lambdas/shared/template/go-fmt.js';
import { readInput, readVarMap } from '../lambdas/shared/template/input.js';
import { BUILDER_KEYS } from '../lambdas/shared/template/keys.js';
import { checkTemplate, formatProblems, type ValidationReport } from '../lambdas/shared/template/validate.js';
import { localFileChecker } from './files.js';
import { convertHcl, isHclTarget } from './hcl/convert.js';
import { diagnosticLine, HclDiagnosticsError } from './hcl/diagnostics.js';
import { problemLines } from './hcl/problems.js';
import { describeRunError, readFailure } from './hints.js';
import type { CliIo } from './io.js';
import { StackLookupError } from './stack-errors.js';
import { planStaging, type StagedFile, StagingInterruptedError, type StagingPlan } from './stage.js';
import { parseTemplateText } from './validate.js';

/** Step Functions' limit on an execution's input. */
export const MAX_EXECUTION_INPUT_BYTES = 262_144;

/** Step Functions' limit on an execution name. */
export const MAX_EXECUTION_NAME_CHARS = 80;

/** Builder keys that carry credentials: never sent to the workflow (keys.ts marks them). */
export const CREDENTIAL_KEYS: readonly string[] = BUILDER_KEYS.filter((k) => k.credential === true).map(
  (k) => k.key,
);

/** The caller's credentials, which no variable may carry into the execution input. */
const CREDENTIAL_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_SECURITY_TOKEN',
];

// Functions only the CLI can evaluate: a variable whose value uses one is sent already rendered.
const CLI_ONLY_FUNCTIONS = new Set(['env', 'template_dir', 'pwd']);

/** The input the state machine receives. */
export interface ExecutionInput {
  template: unknown;
  vars: Record<string, string>;
  only?: string[];
  except?: string[];
  /** Packer's `-parallel-builds=N`: the Build Each Builder Map's MaxConcurrencyPath. */
  parallel_builds?: number;
  /** `ami-builder resume`: the failed execution (ARN) whose builds this execution resumes. */
  resume?: string;
}

/** What the user asked to build: Packer's `TEMPLATE`, `-var`, `-var-file`, `-only` and `-except`. */
export interface TemplateRequest {
  /** The template's path (relative to the working directory), or `-` for standard input. */
  file: string;
  /** `-var` values, in order. */
  vars: ReadonlyMap<string, string>;
  /** `-var-file` paths, in order; their values come before the `-var` values (later ones win). */
  varFiles: readonly string[];
  only?: string[];
  except?: string[];
}

/** Where the template's local files are uploaded. */
export interface StagingTarget {
  s3: S3Client;
  bucket: string;
}

export interface PrepareContext {
  io: CliIo;
  /** `ami-builder resume`: the failed execution's ARN, asked once the stack is found (a name needs its ARN). */
  resume?: () => string;
  /** The run's clock: `{{timestamp}}` while validating, and the execution name. */
  now: Date;
  /** Four random hex digits, for the execution name. */
  randomHex: () => string;
  /** Prints a `==> <build>: …` line. */
  say: (text: string) => void;
  /** Prints an indented `    <build>: …` line. */
  message: (text: string) => void;
  /**
   * Learns the sensitive values the validation found (`sensitive-variables` values, credentials), to mask them
   * in what the run prints.
   * @default nothing is learnt
   */
  masker?: Masker;
  /**
   * Packer's `-parallel-builds=N`, sent as the input's `parallel_builds`.
   * @default no limit (nothing sent)
   */
  parallelBuilds?: number;
  /**
   * Called with the parsed input and the given variables before validation, which checks that local files
   * exist (`ami-builder local` creates the example's throwaway X.509 pair there).
   * @default nothing
   */
  beforeValidation?: (
    input: unknown,
    context: { templateDir: string; vars: ReadonlyMap<string, string> },
  ) => void;
  /**
   * Called once the template is valid, before anything is printed about it (e.g. to name the printer's target
   * after a single build).
   * @default nothing
   */
  onValidated?: (validated: ValidatedTemplate) => void;
  /**
   * Called once the template is valid and before anything is uploaded: finds the bucket to stage to (the
   * stack's outputs, or the emulator). An error it throws ends the preparation.
   */
  stagingTarget: (validated: ValidatedTemplate) => Promise<StagingTarget>;
}

export interface PreparedExecution {
  /** The execution name, also the staging folder `staging/<name>/`. */
  name: string;
  input: ExecutionInput;
  /** `input` as JSON text, within {@link MAX_EXECUTION_INPUT_BYTES}. */
  body: string;
  /** The local validation's result: the selected builds, skipped builders and warnings. */
  validated: ValidatedTemplate;
  /** The files to upload, with their `s3://` URIs. */
  staged: StagedFile[];
  /** The objects to upload before the start ({@link uploadThenStart}). */
  staging: StagingPlan;
  /** Where they go: what {@link PrepareContext.stagingTarget} returned. */
  target: StagingTarget;
  /** Absolute directory of the template (the working directory for standard input). */
  templateDir: string;
}

/**
 * The template, its variables or its local validation failed before anything was sent. `lines` are what the
 * user reads on standard error, in the words of `ami-builder validate` and Packer.
 */
export class TemplateInputError extends Error {
  override readonly name = 'TemplateInputError' as const;
  constructor(readonly lines: readonly string[]) {
    super(lines.join('\n'));
  }
}

/** The prepared input cannot be sent (credentials in a variable, too large); the message is what the user reads. */
export class BuildStartError extends Error {
  override readonly name = 'BuildStartError' as const;
}

// ---------------------------------------------------------------------------------------------------------
// Execution names

function utcStamp(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${p(date.getUTCFullYear(), 4)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}-` +
    `${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}`
  );
}

/**
 * A readable, unique execution name: `<base>-<UTC yyyymmdd-hhmmss>-<4 hex>`, only `[A-Za-z0-9-_]`, at most 80
 * characters (the base is shortened to fit).
 */
export function executionName(base: string, now: Date, hex: string): string {
  const suffix = `-${utcStamp(now)}-${hex
    .toLowerCase()
    .replace(/[^0-9a-f]/g, '0')
    .padEnd(4, '0')
    .slice(0, 4)}`;
  const clean =
    base
      .replace(/[^A-Za-z0-9_-]+/g, '-')
      .replace(/-{2,}/g, '-')
      .replace(/^[-_]+|[-_]+$/g, '')
      .slice(0, MAX_EXECUTION_NAME_CHARS - suffix.length)
      .replace(/[-_]+$/, '') || 'ami-build';
  return `${clean}${suffix}`;
}

/** The first build's name when the builder was named, else the template file's stem. */
export function executionBase(builds: readonly BuildConfig[], templateFile: string): string {
  const first = builds[0]?.name;
  if (first !== undefined && first !== 'amazon-instance') return first;
  if (templateFile === '-') return first ?? 'template';
  return basename(templateFile, extname(templateFile));
}

// ---------------------------------------------------------------------------------------------------------
// What is sent

type JsonRecord = Record<string, unknown>;

function asRecord(value: unknown): JsonRecord | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as JsonRecord)
    : undefined;
}

/**
 * Removes the credential keys from every builder of `template` (a Packer template or a bare builder), in place.
 * Returns a warning per builder that had any; the warning names the keys, never their values.
 */
export function stripCredentials(template: JsonRecord): string[] {
  const warnings: string[] = [];
  const builders = Array.isArray(template.builders) ? template.builders : [template];
  builders.forEach((raw, i) => {
    const builder = asRecord(raw);
    if (builder === undefined) return;
    const removed = CREDENTIAL_KEYS.filter((key) => Object.hasOwn(builder, key));
    for (const key of removed) delete builder[key];
    if (removed.length > 0) {
      const name = typeof builder.name === 'string' ? builder.name : (builder.type ?? `builder ${i + 1}`);
      warnings.push(
        `builder '${String(name)}': removed ${removed.join(', ')}: credentials are not sent to the workflow, which builds with its own IAM role`,
      );
    }
  });
  return warnings;
}

function stringsOf(value: unknown, out: string[]): void {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsOf(v, out);
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      stringsOf(v, out);
    }
  }
}

function referencesOf(text: string): { variables: string[]; functions: string[] } {
  if (isPlainText(text)) return { variables: [], functions: [] };
  try {
    const parsed = parseTemplate(text);
    return { variables: referencedUserVariables(parsed), functions: referencedFunctions(parsed) };
  } catch {
    return { variables: [], functions: [] };
  }
}

/** The user variables a template's strings use, outside its `variables` block. */
function usedVariables(template: JsonRecord): Set<string> {
  const strings: string[] = [];
  for (const [key, value] of Object.entries(template)) if (key !== 'variables') stringsOf(value, strings);
  return new Set(strings.flatMap((s) => referencesOf(s).variables));
}

export interface VariablePlan {
  /** The values sent in the execution input's `vars`. */
  vars: Record<string, string>;
  /** Every variable's value as this run sees it (for staging paths). */
  resolved: Record<string, string>;
  /** Declared variables that nothing uses (removed from the template sent). */
  unused: string[];
}

/** Go template text that renders as `value` exactly, so a value is not rendered a second time by the workflow. */
function literal(value: string): string {
  return value.includes('{{') ? `{{${goQuote(value)}}}` : value;
}

/**
 * Works out the variables to send. The workflow resolves the template's own defaults itself; it is sent only
 * what it cannot know or evaluate: values given on the command line (or in the input's `vars`), and values
 * whose text uses `{{env}}`, `{{template_dir}}` or `{{pwd}}` (sent rendered). Variables nothing uses are not
 * sent at all; they are removed from the template, since their defaults may read credentials from the
 * environment.
 */
export function planVariables(
  template: JsonRecord,
  declared: ReadonlyMap<string, string | null>,
  given: ReadonlyMap<string, string>,
  context: { now: Date; env: (name: string) => string | undefined; templateDir: string; pwd: string },
): VariablePlan {
  const texts = new Map<string, string | null>(declared);
  for (const [k, v] of given) texts.set(k, v);

  const resolved = new Map<string, string>();
  const visiting = new Set<string>();
  const resolveOne = (name: string): string => {
    const known = resolved.get(name);
    if (known !== undefined) return known;
    const text = texts.get(name) ?? '';
    if (visiting.has(name) || isPlainText(text)) {
      resolved.set(name, text);
      return text;
    }
    visiting.add(name);
    const values: Record<string, string> = {};
    for (const dep of referencesOf(text).variables) if (texts.has(dep)) values[dep] = resolveOne(dep);
    visiting.delete(name);
    let value = text;
    try {
      value = renderTemplate(
        text,
        {},
        packerFunctions({
          now: context.now,
          uuid: randomUUID,
          userVariables: values,
          env: context.env,
          templateDir: context.templateDir,
          pwd: context.pwd,
        }),
      );
    } catch {
      // Validation already reported it; keep the text.
    }
    resolved.set(name, value);
    return value;
  };

  // The variables in use: those the template's strings name, and those their values name in turn.
  const used = new Set<string>();
  const pending = [...usedVariables(template)];
  while (pending.length > 0) {
    const name = pending.pop() ?? '';
    if (used.has(name) || !texts.has(name)) continue;
    used.add(name);
    pending.push(...referencesOf(texts.get(name) ?? '').variables);
  }

  const vars: Record<string, string> = {};
  for (const name of [...used].sort()) {
    const text = texts.get(name) ?? '';
    const cliOnly = referencesOf(text).functions.some((f) => CLI_ONLY_FUNCTIONS.has(f));
    if (cliOnly) vars[name] = literal(resolveOne(name));
    else if (given.has(name)) vars[name] = text;
  }
  for (const name of texts.keys()) resolveOne(name);
  return {
    vars,
    resolved: Object.fromEntries(resolved),
    unused: [...declared.keys()].filter((n) => !used.has(n)).sort(),
  };
}

/**
 * Fails when the execution input would carry the caller's AWS credentials (from the environment), naming the
 * variable that holds them when there is one. The credentials themselves are never printed.
 */
export function checkNoCredentials(
  input: ExecutionInput,
  env: Readonly<Record<string, string | undefined>>,
): void {
  const text = JSON.stringify(input);
  for (const name of CREDENTIAL_ENV) {
    const value = env[name];
    if (value === undefined || value.length < 8 || !text.includes(value)) continue;
    const variable = Object.entries(input.vars).find(([, v]) => v.includes(value))?.[0];
    throw new BuildStartError(
      `${variable === undefined ? 'the template' : `variable "${variable}"`} holds your AWS credentials (${name}); ` +
        'they are never sent to the workflow, which builds with its own IAM role: remove that use of the variable',
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reading and validating

function section(title: string, messages: readonly string[]): string {
  return `${title} ${messages.length} error(s) occurred:\n\n${messages.map((m) => `* ${m}`).join('\n')}`;
}

/**
 * The failure part of `ami-builder validate`'s report, in the same words: for an HCL2 template, Packer's HCL
 * diagnostics at the place each problem was written.
 */
export function validationFailureLines(
  result: ValidationReport,
  read?: Pick<ReadTemplate, 'diagnose'>,
): string[] {
  if (read?.diagnose !== undefined) return read.diagnose(result.problems, 'error');
  const sections: string[] = [];
  const general = result.problems.filter((p) => p.build === undefined);
  if (general.length > 0) sections.push(section('Errors validating the template.', formatProblems(general)));
  for (const build of result.builds) {
    const own = result.problems.filter((p) => p.build === build);
    if (own.length > 0) sections.push(section(`Errors validating build '${build}'.`, formatProblems(own)));
  }
  return ['Template validation failed. Errors are shown below.\n', sections.join('\n\n')];
}

function readJsonFile(path: string): { value?: unknown; error?: string } {
  try {
    return parseTemplateText(readFileSync(path, 'utf8'));
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** `-var-file` values, then `-var` values (later ones win, as in Packer). */
function givenVariables(request: TemplateRequest, cwd: string): Map<string, string> {
  const given = new Map<string, string>();
  for (const file of request.varFiles) {
    const content = readJsonFile(resolve(cwd, file));
    const report = new Report();
    const values =
      content.error === undefined ? readVarMap(content.value, [], report) : new Map<string, string>();
    const problems = content.error !== undefined ? [content.error] : formatProblems(report.problems);
    if (problems.length > 0) {
      throw new TemplateInputError([`Error reading variables in '${file}': ${problems.join('; ')}`]);
    }
    for (const [k, v] of values) given.set(k, v);
  }
  for (const [k, v] of request.vars) given.set(k, v);
  return given;
}

/** A template request read: the input (JSON as given, or converted from HCL2) and the variables given. */
export interface ReadTemplate {
  input: unknown;
  /** The variables given (`-var-file`, `-var`); for HCL2, the sensitive variables the conversion keeps. */
  given: Map<string, string>;
  templateDir: string;
  /** Whether the template was HCL2 (its -var, -var-file, -only and -except are already applied). */
  hcl: boolean;
  /** What the HCL2 conversion noted (`required_plugins`), and its warnings, one line each. */
  notes: string[];
  /**
   * HCL2 only: validation problems or warnings (key paths of the converted JSON input) as Packer's HCL
   * diagnostics at the file, line and column where each was written, in text form.
   */
  diagnose?: (entries: readonly (Problem | Warning)[], severity: 'error' | 'warning') => string[];
}

/**
 * Reads the template of a request: a JSON file (or standard input), or an HCL2 file or folder, which is converted
 * with its variables (`-var-file` `.pkrvars.hcl` or JSON, `-var`, `PKR_VAR_*`, `*.auto.pkrvars.hcl`) into the
 * `{ template, vars, only, except }` input a JSON template gives.
 *
 * @throws TemplateInputError with the parse errors, or Packer's HCL diagnostics
 */
export async function readRequest(request: TemplateRequest, io: CliIo, now: Date): Promise<ReadTemplate> {
  if (request.file !== '-' && isHclTarget(request.file, io.cwd)) {
    try {
      const conversion = await convertHcl({
        target: request.file,
        cwd: io.cwd,
        env: io.env,
        varFiles: request.varFiles,
        vars: request.vars,
        only: request.only,
        except: request.except,
        now,
      });
      return {
        input: conversion.input,
        given: new Map(Object.entries(conversion.input.vars)),
        templateDir: conversion.templateDir,
        hcl: true,
        notes: [...conversion.notes, ...conversion.warnings.map((w) => `warning: ${diagnosticLine(w)}`)],
        diagnose: (entries, severity) => problemLines(entries, severity, conversion),
      };
    } catch (error) {
      if (error instanceof HclDiagnosticsError) throw new TemplateInputError(error.lines());
      throw error;
    }
  }
  let text: string;
  try {
    text = request.file === '-' ? await io.readStdin() : readFileSync(resolve(io.cwd, request.file), 'utf8');
  } catch (error) {
    throw new TemplateInputError([readFailure('template file', request.file, io.cwd, error)]);
  }
  const parsedText = parseTemplateText(text);
  if (parsedText.error !== undefined) throw new TemplateInputError([parsedText.error]);
  return {
    input: parsedText.value,
    given: givenVariables(request, io.cwd),
    templateDir: request.file === '-' ? io.cwd : dirname(resolve(io.cwd, request.file)),
    hcl: false,
    notes: [],
  };
}

/**
 * Prepares one build's execution input (see the file comment for the steps) and plans its staging, uploading
 * nothing. Prints the skipped builders and the warnings (`say`, standard error).
 *
 * @throws TemplateInputError when the template or a variable file cannot be read, or the template is invalid
 * @throws TemplateValidationError when a referenced local file cannot be read
 * @throws BuildStartError when the input would carry the caller's credentials or is too large
 * @throws whatever {@link PrepareContext.stagingTarget} throws
 */
export async function prepareExecution(
  request: TemplateRequest,
  context: PrepareContext,
): Promise<PreparedExecution> {
  const { io, now } = context;

  // 1. Read (an HCL2 template is converted to the JSON input it stands for).
  const read = await readRequest(request, io, now);
  const parsedText = { value: read.input };
  const given = read.given;
  const templateDir = read.templateDir;
  for (const note of read.notes) io.err(`Note: ${note}`);
  context.beforeValidation?.(parsedText.value, { templateDir, vars: given });

  // 2. Validate locally.
  const envOf = (name: string) => io.env[name];
  const validation = checkTemplate(parsedText.value, {
    mode: 'cli',
    now,
    uuidSeed: randomUUID(),
    vars: Object.fromEntries(given),
    only: read.hcl ? undefined : request.only,
    except: read.hcl ? undefined : request.except,
    env: envOf,
    templateDir,
    pwd: io.cwd,
    checkLocalFile: localFileChecker(io.cwd),
  });
  context.masker?.add(validation.sensitiveValues);
  if (validation.template === undefined)
    throw new TemplateInputError(validationFailureLines(validation, read));
  const validated = validation.template;
  context.onValidated?.(validated);
  for (const skip of validated.skipped) {
    context.say(`Skipping build '${skip.name}' (${skip.type}): ${skip.reason}`);
  }
  if (read.diagnose !== undefined)
    for (const line of read.diagnose(validation.warnings, 'warning')) io.err(line);
  else for (const warning of validated.warnings) io.err(`Warning: ${warning}`);

  // 3. What is sent: the template without credentials, unused variables or local paths.
  const report = new Report();
  const doc = readInput(parsedText.value, report);
  const input = asRecord(parsedText.value) ?? {};
  const wrapped = doc?.root.length === 1;
  let template = structuredClone(
    wrapped
      ? (asRecord(typeof input.template === 'string' ? JSON.parse(input.template) : input.template) ?? {})
      : input,
  );
  const all = new Map<string, string>([...(doc?.wrapper.vars ?? new Map<string, string>()), ...given]);
  for (const warning of stripCredentials(template)) io.err(`Warning: ${warning}`);
  const plan = planVariables(template, doc?.variables ?? new Map(), all, {
    now,
    env: envOf,
    templateDir,
    pwd: io.cwd,
  });
  const declared = asRecord(template.variables);
  if (declared !== undefined) {
    for (const name of plan.unused) delete declared[name];
  }

  // 4. Where to, then the staged files.
  const target = await context.stagingTarget(validated);
  const cliOnly = read.hcl ? undefined : request.only;
  const cliExcept = read.hcl ? undefined : request.except;
  const filters = [doc?.wrapper.only, cliOnly].some((f) => (f?.length ?? 0) > 0)
    ? { only: validated.builds.map((b) => b.name) }
    : (doc?.wrapper.except?.length ?? 0) > 0 || (cliExcept?.length ?? 0) > 0
      ? { except: [...(doc?.wrapper.except ?? []), ...(cliExcept ?? [])] }
      : {};
  const name = executionName(executionBase(validated.builds, request.file), now, context.randomHex());
  const staged = await planStaging(template, {
    bucket: target.bucket,
    prefix: name,
    templateDir,
    vars: plan.resolved,
    pwd: io.cwd,
    only: validated.builds.map((b) => b.name),
    now,
  });
  template = asRecord(staged.template) ?? template;

  // 5. The final input, checked before anything is uploaded.
  const executionInput: ExecutionInput = {
    template,
    vars: plan.vars,
    ...filters,
    ...(context.parallelBuilds === undefined ? {} : { parallel_builds: context.parallelBuilds }),
    ...(context.resume === undefined ? {} : { resume: context.resume() }),
  };
  checkNoCredentials(executionInput, io.env);
  const body = JSON.stringify(executionInput);
  if (Buffer.byteLength(body, 'utf8') > MAX_EXECUTION_INPUT_BYTES) {
    throw new BuildStartError(
      `the execution input is ${Buffer.byteLength(body, 'utf8')} bytes, over Step Functions' limit of ${MAX_EXECUTION_INPUT_BYTES}: move long inline scripts to files`,
    );
  }
  return {
    name,
    input: executionInput,
    body,
    validated,
    staged: staged.staged,
    staging: staged,
    target,
    templateDir,
  };
}

/** Prints why a `build` or `local` run could not go on: template problems, stack lookup, start refusals, AWS errors. */
export function printRunError(io: Pick<CliIo, 'err'>, error: unknown): void {
  if (error instanceof TemplateInputError) {
    for (const line of error.lines) io.err(line);
  } else if (error instanceof TemplateValidationError) {
    io.err('Template validation failed. Errors are shown below.\n');
    io.err(error.message);
  } else if (
    error instanceof StackLookupError ||
    error instanceof BuildStartError ||
    error instanceof StagingInterruptedError
  ) {
    io.err(`Error: ${error.message}`);
  } else {
    io.err(describeRunError(error));
  }
}

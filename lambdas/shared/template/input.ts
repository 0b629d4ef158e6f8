/**
 * The input forms a template arrives in, and the template-level parts of Packer's core: user variables,
 * `sensitive-variables`, builder names and the selection of builds by `only` / `except`.
 *
 * Accepted forms (execution input or file):
 * - a bare builder object (`{ "type": "amazon-instance", … }`, the seed's "Basic Example");
 * - a Packer JSON template (`{ "variables", "builders", "provisioners", "post-processors", … }`);
 * - either of them wrapped as `{ "template": …, "vars": {…}, "only": […], "except": […] }`, so that an execution
 *   or a schedule can override user variables and pick builds. `template` may also be the template's JSON text.
 *
 * Messages follow Packer's `template/parse.go` and `packer/core.go` where Packer has one.
 */
import {
  asRecord,
  checkFreeKey,
  decodeStringList,
  describeValue,
  MAX_STRING_LENGTH,
  own,
  type Path,
  type Report,
  truncate,
} from './decode.js';
import { TEMPLATE_KEYS } from './keys.js';

/** The builder type this system builds. */
export const BUILDER_TYPE = 'amazon-instance';

export interface RawBuilder {
  /** Position in `builders` (0-based). */
  index: number;
  type: string;
  /** The `name` as written (overrides and provisioner `only`/`except` refer to it), or the type. */
  rawName: string;
  /** The builder's keys, `type` and `name` removed. */
  record: Record<string, unknown>;
  path: Path;
}

export interface TemplateDocument {
  form: 'builder' | 'template';
  /** Path of the template inside the input (`[]`, or `['template']` in the wrapper form). */
  root: Path;
  /** Declared user variables: name → default as written (`null`: required). */
  variables: Map<string, string | null>;
  sensitiveVariables: string[];
  builders: RawBuilder[];
  provisioners: unknown[];
  errorCleanupProvisioner?: unknown;
  postProcessors: unknown[];
  /** The wrapper's `vars`, `only`, `except` and `parallel_builds` (Packer's `-parallel-builds`). */
  wrapper: { vars: Map<string, string>; only?: string[]; except?: string[]; parallelBuilds?: number };
}

const WRAPPER_KEYS = ['template', 'vars', 'only', 'except', 'parallel_builds', 'resume'] as const;

/** Largest `parallel_builds` (Step Functions' MaxConcurrency is at most 1000 for an inline Map). */
export const MAX_PARALLEL_BUILDS = 1000;

/** The wrapper's `parallel_builds`: a whole number from 0 (no limit) to {@link MAX_PARALLEL_BUILDS}. */
function readParallelBuilds(value: unknown, report: Report): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_PARALLEL_BUILDS) {
    return value;
  }
  report.error(
    ['parallel_builds'],
    `parallel_builds must be a whole number from 0 (no limit) to ${MAX_PARALLEL_BUILDS}, got ${describeValue(value)}`,
  );
  return undefined;
}
const ROOT_KEYS: ReadonlySet<string> = new Set(TEMPLATE_KEYS.map((k) => k.key));

/** Reads the input in any of its forms. Returns `undefined` when it is not a template at all. */
export function readInput(input: unknown, report: Report): TemplateDocument | undefined {
  const record = asRecord(input);
  if (record === undefined) {
    report.error(
      [],
      `expected a JSON object (a Packer template, an amazon-instance builder, or { "template", "vars" }), got ${describeValue(input)}`,
    );
    return undefined;
  }
  const isWrapper =
    Object.hasOwn(record, 'template') && !Object.hasOwn(record, 'builders') && !Object.hasOwn(record, 'type');
  if (!isWrapper) return readTemplate(record, [], report, { vars: new Map() });

  for (const key of Object.keys(record).sort()) {
    if (!(WRAPPER_KEYS as readonly string[]).includes(key)) {
      report.error(
        [key],
        `unknown key ${JSON.stringify(truncate(key, 100))} next to "template"; allowed: ${WRAPPER_KEYS.join(', ')}`,
      );
    }
  }
  const wrapper = {
    vars: readVarMap(own(record, 'vars'), ['vars'], report),
    only: decodeStringList(own(record, 'only'), ['only'], report, { trim: true }),
    except: decodeStringList(own(record, 'except'), ['except'], report, { trim: true }),
    parallelBuilds: readParallelBuilds(own(record, 'parallel_builds'), report),
  };
  checkOnlyExcept(wrapper.only, wrapper.except, [], report);
  // `resume` (an execution ARN) is the workflow's business (Validate Template resumes that execution's builds).
  const resume = own(record, 'resume');
  if (resume !== undefined && (typeof resume !== 'string' || resume.trim() === '')) {
    report.error(['resume'], `resume must be the ARN of a failed execution, got ${describeValue(resume)}`);
  }

  let template = own(record, 'template');
  if (typeof template === 'string') {
    template = parseJson(template, ['template'], report);
    if (template === undefined) return undefined;
  }
  const inner = asRecord(template);
  if (inner === undefined) {
    report.error(
      ['template'],
      `expected a Packer template or a builder object, got ${describeValue(template)}`,
    );
    return undefined;
  }
  return readTemplate(inner, ['template'], report, wrapper);
}

/** `JSON.parse` with Packer's message; `undefined` (problem reported) on a syntax error. */
export function parseJson(text: string, path: Path, report: Report): unknown {
  if (text.length > 4 * MAX_STRING_LENGTH) {
    report.error(
      path,
      `the template is ${text.length} characters long; at most ${4 * MAX_STRING_LENGTH} are allowed`,
    );
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    report.error(path, `Failed to parse template: Error parsing JSON: ${(error as Error).message}`);
    return undefined;
  }
}

/** "only one of 'only' or 'except' may be specified", as Packer's OnlyExcept.Validate. */
export function checkOnlyExcept(
  only: string[] | undefined,
  except: string[] | undefined,
  path: Path,
  report: Report,
) {
  if (only !== undefined && only.length > 0 && except !== undefined && except.length > 0) {
    report.error(path, "only one of 'only' or 'except' may be specified");
  }
}

/** A `name → string` map of variable values (the wrapper's `vars`, a `-var-file`). */
export function readVarMap(value: unknown, path: Path, report: Report): Map<string, string> {
  const result = new Map<string, string>();
  if (value === undefined || value === null) return result;
  const record = asRecord(value);
  if (record === undefined) {
    report.error(path, `expected an object of variable values, got ${describeValue(value)}`);
    return result;
  }
  for (const key of Object.keys(record)) {
    if (!checkFreeKey(key, [...path, key], report)) continue;
    const text = variableText(own(record, key), [...path, key], report, false);
    if (typeof text === 'string') result.set(key, text);
  }
  return result;
}

/**
 * A variable value as text. Packer only takes strings; numbers and booleans are accepted here as their JSON
 * text (`12` → "12", `true` → "true"), which is what a template author means. `null` marks a required variable.
 */
function variableText(
  value: unknown,
  path: Path,
  report: Report,
  allowNull: boolean,
): string | null | undefined {
  if (typeof value === 'string') {
    if (value.length > MAX_STRING_LENGTH) {
      report.error(
        path,
        `value is ${value.length} characters long; at most ${MAX_STRING_LENGTH} are allowed`,
      );
      return undefined;
    }
    return value;
  }
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === null && allowNull) return null;
  report.error(
    path,
    `expected a string${allowNull ? ' default, or null for a required variable' : ' value'}, got ${describeValue(value)}`,
  );
  return undefined;
}

function readTemplate(
  record: Record<string, unknown>,
  root: Path,
  report: Report,
  wrapper: TemplateDocument['wrapper'],
): TemplateDocument | undefined {
  const isTemplate = !Object.hasOwn(record, 'type') || Object.hasOwn(record, 'builders');
  if (!isTemplate) {
    const builder = readBuilder(record, 0, root, report);
    if (builder === undefined) return undefined;
    return {
      form: 'builder',
      root,
      variables: new Map(),
      sensitiveVariables: [],
      builders: [builder],
      provisioners: [],
      postProcessors: [],
      wrapper,
    };
  }

  for (const key of Object.keys(record).sort()) {
    // `$schema` binds an editor to schema/template.schema.json: accepted and ignored.
    if (ROOT_KEYS.has(key) || key === '$schema') continue;
    if (key.startsWith('_')) {
      if (typeof own(record, key) !== 'string') {
        report.error(
          [...root, key],
          `Failed to cast root level comment value in comment "${truncate(key, 100)}" to string.`,
        );
      }
      continue;
    }
    report.error([...root, key], `Unknown root level key in template: '${truncate(key, 100)}'`);
  }

  const doc: TemplateDocument = {
    form: 'template',
    root,
    variables: readVariables(own(record, 'variables'), [...root, 'variables'], report),
    sensitiveVariables:
      decodeStringList(own(record, 'sensitive-variables'), [...root, 'sensitive-variables'], report) ?? [],
    builders: [],
    provisioners: readList(own(record, 'provisioners'), [...root, 'provisioners'], report),
    postProcessors: readList(own(record, 'post-processors'), [...root, 'post-processors'], report),
    wrapper,
  };
  const cleanup = own(record, 'error-cleanup-provisioner');
  if (cleanup !== undefined && cleanup !== null) doc.errorCleanupProvisioner = cleanup;

  for (const key of ['description', 'min_packer_version']) {
    const value = own(record, key);
    if (value !== undefined && value !== null && typeof value !== 'string') {
      report.error([...root, key], `expected a string, got ${describeValue(value)}`);
    }
  }

  const builders = own(record, 'builders');
  const list = readList(builders, [...root, 'builders'], report);
  if (list.length === 0 && (builders === undefined || Array.isArray(builders))) {
    report.error([...root, 'builders'], 'at least one builder must be defined');
  }
  const names = new Set<string>();
  list.forEach((raw, index) => {
    const builder = readBuilder(raw, index, [...root, 'builders', index], report);
    if (builder === undefined) return;
    if (names.has(builder.rawName)) {
      report.error(
        builder.path,
        `builder ${index + 1}: builder with name '${truncate(builder.rawName, 100)}' already exists`,
      );
      return;
    }
    names.add(builder.rawName);
    doc.builders.push(builder);
  });
  return doc;
}

function readList(value: unknown, path: Path, report: Report): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    report.error(path, `expected a list, got ${describeValue(value)}`);
    return [];
  }
  return value;
}

function readVariables(value: unknown, path: Path, report: Report): Map<string, string | null> {
  const result = new Map<string, string | null>();
  if (value === undefined || value === null) return result;
  const record = asRecord(value);
  if (record === undefined) {
    report.error(path, `expected an object of variables (name → default), got ${describeValue(value)}`);
    return result;
  }
  for (const key of Object.keys(record)) {
    if (!checkFreeKey(key, [...path, key], report)) continue;
    const text = variableText(own(record, key), [...path, key], report, true);
    if (text !== undefined) result.set(key, text);
  }
  return result;
}

function readBuilder(value: unknown, index: number, path: Path, report: Report): RawBuilder | undefined {
  const record = asRecord(value);
  if (record === undefined) {
    report.error(path, `builder ${index + 1}: expected an object, got ${describeValue(value)}`);
    return undefined;
  }
  const type = own(record, 'type');
  if (type === undefined || type === null || type === '') {
    report.error(path, `builder ${index + 1}: missing 'type'`);
    return undefined;
  }
  if (typeof type !== 'string') {
    report.error(
      [...path, 'type'],
      `builder ${index + 1}: expected a string type, got ${describeValue(type)}`,
    );
    return undefined;
  }
  const name = own(record, 'name');
  if (name !== undefined && name !== null && typeof name !== 'string') {
    report.error(
      [...path, 'name'],
      `builder ${index + 1}: expected a string name, got ${describeValue(name)}`,
    );
    return undefined;
  }
  const rest = Object.fromEntries(
    Object.keys(record)
      .filter((k) => k !== 'type' && k !== 'name')
      .map((k) => [k, own(record, k)]),
  );
  return {
    index,
    type,
    rawName: typeof name === 'string' && name !== '' ? name : type,
    record: rest,
    path,
  };
}

/** The builders a run builds and those it skips, with the reason. */
export interface Selection {
  selected: { builder: RawBuilder; name: string }[];
  skipped: { name: string; type: string; reason: string }[];
}

/**
 * Picks the builds: `amazon-instance` builders that pass every only/except filter (the wrapper's and the
 * caller's: `only` lists narrow, `except` lists add up). Others are skipped, with the reason. `names` holds
 * the interpolated name of each builder (Packer selects by it).
 */
export function selectBuilds(
  doc: TemplateDocument,
  names: readonly string[],
  filters: { only?: string[]; except?: string[] }[],
  report: Report,
): Selection {
  const selection: Selection = { selected: [], skipped: [] };
  doc.builders.forEach((builder, i) => {
    const name = names[i] ?? builder.rawName;
    const filtered = filters.some(
      (f) =>
        (f.only !== undefined && f.only.length > 0 && !f.only.includes(name)) ||
        f.except?.includes(name) === true,
    );
    if (builder.type !== BUILDER_TYPE) {
      selection.skipped.push({
        name,
        type: builder.type,
        reason: filtered
          ? 'excluded by only/except'
          : `builder type "${truncate(builder.type, 60)}" is not built here (only amazon-instance builders are)`,
      });
    } else if (filtered) {
      selection.skipped.push({ name, type: builder.type, reason: 'excluded by only/except' });
    } else {
      selection.selected.push({ builder, name });
    }
  });
  if (selection.selected.length === 0 && doc.builders.length > 0) {
    const listed = doc.builders.map((b, i) => `${names[i] ?? b.rawName} (${b.type})`).join(', ');
    report.error(
      [...doc.root, ...(doc.form === 'template' ? ['builders'] : [])],
      `no amazon-instance builder left to build; the template has: ${truncate(listed, 1000)}`,
    );
  }
  return selection;
}

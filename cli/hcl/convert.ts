/**
 * HCL2 templates (`.pkr.hcl` files, or a folder of them) turned into the input a JSON template gives:
 * `{ template, vars, only?, except? }`, where `template` is a Packer JSON template. The workflow only ever sees
 * JSON: the CLI converts, and the JSON decoder and checks then apply to both formats alike.
 *
 * As Packer reads HCL2 (hcl2template):
 * - `packer { required_version, required_plugins }` is read and noted; `hcp_packer_registry` is ignored with a
 *   warning;
 * - `variable` blocks (`type`, `default`, `sensitive`, `validation { condition, error_message }`) and the legacy
 *   `variables` block take their values from, in increasing precedence: defaults, `PKR_VAR_<name>`,
 *   `*.auto.pkrvars.hcl` (folder targets, in lexical order), then `-var-file` and `-var` in command-line order;
 * - `locals` / `local` blocks; `data "amazon-ami"` blocks, resolved at build time: a source whose `source_ami`
 *   is `data.amazon-ami.<name>.id` gets that data source's filter as its `source_ami_filter`;
 * - `source` blocks, and `build` blocks with `name`, `sources`, per-build `source` blocks that override a
 *   source's arguments, `provisioner`, `error-cleanup-provisioner`, `post-processor` and `post-processors`;
 *   `only` / `except` name sources as `amazon-instance.<name>`;
 * - every build of a `build` block is a JSON builder named `<build name>.<type>.<source name>` (or
 *   `<type>.<source name>`), Packer's build name; provisioners and post-processors are emitted in order, with
 *   `only` naming the builders they run for.
 *
 * Values are fully evaluated here. The legacy `{{ … }}` templates inside strings (`{{timestamp}}`,
 * `{{ .SourceAMIName }}`) are left for the JSON decoder, which renders them as Packer's plugins do. Sensitive
 * variables stay variables: their values are replaced by `{{user `name`}}` and sent in `vars`, with the
 * variable listed in `sensitive-variables`, so that messages mask them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, relative, resolve } from 'node:path';
import { type Diagnostic, Diagnostics, HclDiagnosticsError } from './diagnostics.js';
import { evaluate, type Scope } from './evaluate.js';
import { envFunction, hclFunctions } from './functions.js';
import { type AstNode, expressionTrees, parseHcl } from './hcl2json.js';
import {
  attributeOf,
  blocksOf,
  type FileOutline,
  type OutlineBlock,
  type OutlineItem,
  outlineOf,
  positionIn,
} from './outline.js';
import { ANY, convert, readType, type TypeSpec, takesRawText } from './types.js';
import { BuildTimeValue, HclEvalError, type HclValue, isObject, makeObject, toStr } from './values.js';

/** What to convert, and the values given on the command line. */
export interface HclRequest {
  /** A `.pkr.hcl` file or a folder, as given (relative to `cwd`). */
  target: string;
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  /** `-var-file` paths (`.pkrvars.hcl` or JSON), in order. */
  varFiles: readonly string[];
  /** `-var` values, in order. */
  vars: ReadonlyMap<string, string>;
  /** `-only` / `-except` globs over build names (`amazon-instance.*`, `web.amazon-instance.a`). */
  only?: readonly string[];
  except?: readonly string[];
  /** The build's start time: `timestamp()`. */
  now: Date;
}

/** The JSON template and the input around it. */
export interface HclInput {
  template: Record<string, unknown>;
  vars: Record<string, string>;
  only?: string[];
  except?: string[];
}

export interface HclConversion {
  input: HclInput;
  /** Warnings, as HCL diagnostics. */
  warnings: Diagnostic[];
  /** What was read and noted (`required_plugins`, `required_version`). */
  notes: string[];
  /** The files read, by the name diagnostics use. */
  sources: Map<string, string>;
  /** Absolute folder of the template (the folder itself for a folder target). */
  templateDir: string;
  /**
   * Where a key path of the JSON input (`template.builders[0].region`, as validation reports it) was written in
   * the HCL2 files: the attribute (its value), else the nested block, else the block the JSON element came from.
   * `consumed` is how many segments of the path name that element (`template`, `builders`, `0`): the rest is
   * the key path inside it. Undefined for parts of the input no block wrote (`only`, `except`). With `name`,
   * an attribute's name rather than its value (where HCL puts an "Unsupported argument").
   */
  locate: (path: readonly (string | number)[], options?: { name?: boolean }) => HclLocation | undefined;
}

/** A place in an HCL2 file, for a key path of the JSON input. */
export interface HclLocation {
  file: string;
  line: number;
  column: number;
  consumed: number;
}

/** Where one element of the JSON template (a builder, a provisioner, …) comes from in the HCL2 files. */
interface Origin {
  /** Its key path in the JSON template. */
  prefix: readonly (string | number)[];
  /** The place of a key path inside it. */
  place: (rest: readonly (string | number)[]) => { file: string; line: number; column: number };
}

/** Marks an evaluation error already reported at its place (so that callers up the chain do not repeat it). */
const PLACED = '\u0001placed';
const TEMPLATE_EXTENSION = '.pkr.hcl';
const VARS_EXTENSION = '.pkrvars.hcl';
const AUTO_VARS_EXTENSION = '.auto.pkrvars.hcl';
const TOP_LEVEL_BLOCKS = new Set([
  'packer',
  'variable',
  'variables',
  'locals',
  'local',
  'source',
  'build',
  'data',
]);
const VARIABLE_ARGUMENTS = new Set(['type', 'default', 'description', 'sensitive', 'nullable']);
const PROVISIONER_META = new Set(['only', 'except', 'override']);
const DATA_TYPES = new Set(['amazon-ami']);
const DATA_FILTER_KEYS = ['filters', 'owners', 'most_recent', 'include_deprecated'];

/** Whether a template argument is HCL2: a `.pkr.hcl` file, or a folder. */
export function isHclTarget(target: string, cwd: string): boolean {
  if (target.endsWith(TEMPLATE_EXTENSION)) return true;
  if (target === '-') return false;
  try {
    return statSync(resolve(cwd, target)).isDirectory();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Requoting: hcl2json gives template strings with their literal parts unescaped and their `${…}` parts as
// written; HCL's expression parser needs them as quoted strings again.

function interpolationEnd(text: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\') i += 2;
        else if ((text[i] === '$' || text[i] === '%') && text[i + 1] === '{')
          i = interpolationEnd(text, i + 2) + 1;
        else i++;
      }
      i++;
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}') {
      if (depth === 0) return i;
      depth--;
    }
    i++;
  }
  return text.length;
}

/** An hcl2json string as an HCL quoted template. */
export function requote(text: string): string {
  let out = '"';
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? '';
    const next = text[i + 1];
    if ((c === '$' || c === '%') && next === c && text[i + 2] === '{') {
      out += text.slice(i, i + 3);
      i += 3;
    } else if ((c === '$' || c === '%') && next === '{') {
      const end = interpolationEnd(text, i + 2);
      out += text.slice(i, end + 1);
      i = end + 1;
    } else {
      out +=
        c === '\\'
          ? '\\\\'
          : c === '"'
            ? '\\"'
            : c === '\n'
              ? '\\n'
              : c === '\r'
                ? '\\r'
                : c === '\t'
                  ? '\\t'
                  : c;
      i++;
    }
  }
  return `${out}"`;
}

function needsEvaluation(text: string): boolean {
  return text.includes('${') || text.includes('%{');
}

/** Trees of parsed expressions, by requoted text. */
type TreeCache = Map<string, AstNode>;

/** Thrown when an expression has not been parsed yet (a `templatefile` read during evaluation). */
class NeedsParsing extends Error {
  override readonly name = 'NeedsParsing';
  constructor(readonly texts: string[]) {
    super('expressions to parse');
  }
}

function collectStrings(value: unknown, out: Set<string>): void {
  if (typeof value === 'string') {
    if (needsEvaluation(value)) out.add(requote(value));
  } else if (Array.isArray(value)) for (const v of value) collectStrings(v, out);
  else if (typeof value === 'object' && value !== null)
    for (const v of Object.values(value)) collectStrings(v, out);
}

// ---------------------------------------------------------------------------------------------------------
// Files

interface ParsedFile {
  /** The name diagnostics use (relative to the working directory when possible). */
  name: string;
  json: Record<string, unknown>;
  outline: FileOutline;
}

function displayName(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel.startsWith('..') || rel === '' ? path : rel;
}

function listFolder(folder: string, suffix: string, exclude?: string): string[] {
  return readdirSync(folder)
    .filter((f) => f.endsWith(suffix) && (exclude === undefined || !f.endsWith(exclude)))
    .sort()
    .map((f) => resolve(folder, f));
}

// ---------------------------------------------------------------------------------------------------------
// The conversion

interface Located {
  file: ParsedFile;
  block: OutlineBlock;
}

interface VariableDef {
  name: string;
  at: Located;
  type: TypeSpec;
  sensitive: boolean;
  json: Record<string, unknown>;
}

interface SourceDef {
  type: string;
  name: string;
  at: Located;
  json: Record<string, unknown>;
}

interface DataDef {
  type: string;
  name: string;
  at: Located;
  json: Record<string, unknown>;
}

interface SourceUse {
  type: string;
  /** The source's name (its label). */
  name: string;
  /** The name in this build (`name` of a per-build source block), else the source's name. */
  localName: string;
  /** The per-build source block's arguments. */
  override?: { json: Record<string, unknown>; at: Located };
  at: Located;
  /** `<type>.<localName>`, what `only` / `except` match. */
  ref: string;
  /** Packer's build name, the JSON builder's name. */
  fullName: string;
}

class Converter {
  readonly diagnostics = new Diagnostics();
  readonly notes: string[] = [];
  private readonly functions: ReturnType<typeof hclFunctions>;
  private readonly variables = new Map<string, VariableDef>();
  private readonly values = new Map<string, HclValue>();
  private readonly localDefs = new Map<
    string,
    { expression: unknown; at: Located; attribute: string; sensitive: boolean }
  >();
  private readonly localValues = new Map<string, HclValue>();
  private readonly localsResolving: string[] = [];
  private readonly localsFailed = new Set<string>();
  private readonly sources = new Map<string, SourceDef>();
  private readonly data = new Map<string, DataDef>();
  private readonly sensitiveNames = new Set<string>();
  private readonly pathValue: HclValue;
  /** Where each element of the JSON template was written. */
  readonly origins: Origin[] = [];
  /** While set, {@link place} gives an attribute's name rather than its value (HCL's range for an argument). */
  private atNames = false;
  /** The data source whose filter became a build's source_ami_filter, by build name. */
  private readonly dataUsed = new Map<string, string>();

  constructor(
    private readonly request: HclRequest,
    private readonly files: ParsedFile[],
    private readonly varFiles: { name: string; json: Record<string, unknown>; outline?: FileOutline }[],
    private readonly trees: TreeCache,
    private readonly templateFiles: Map<string, string>,
    rootPath: string,
  ) {
    this.functions = hclFunctions({
      now: request.now,
      cwd: request.cwd,
      templatefile: (path, vars) => this.templatefile(path, vars),
    });
    this.pathValue = makeObject([
      ['root', rootPath],
      ['cwd', request.cwd],
    ]);
  }

  // ---- positions ------------------------------------------------------------------------------------------

  /** The place of an argument (by its path of keys and block indexes) inside a block, near a text if given. */
  private place(at: Located, path: readonly (string | number)[], near?: string) {
    let body: readonly OutlineItem[] = at.block.body;
    let position = at.block.position;
    let span: [number, number] | undefined;
    let within = near;
    for (let i = 0; i < path.length; i++) {
      const key = path[i];
      if (typeof key !== 'string') continue;
      const attribute = attributeOf(body, key);
      if (attribute !== undefined) {
        position = attribute.position;
        span = [attribute.valueStart, attribute.valueEnd];
        // A key inside a map value (`tags = { Name = … }`): its text in the value, when written there.
        within ??= path.slice(i + 1).findLast((k): k is string => typeof k === 'string');
        break;
      }
      const next = path[i + 1];
      const blocks = blocksOf(body, key);
      const block = blocks[typeof next === 'number' ? next : 0];
      if (block === undefined) break;
      body = block.body;
      position = block.position;
    }
    const text = at.file.outline.text;
    if (span !== undefined && !this.atNames) {
      const found = within === undefined || within === '' ? -1 : text.slice(span[0], span[1]).indexOf(within);
      const offset = found >= 0 ? span[0] + found : span[0];
      position = positionIn(text, offset);
    }
    return { file: at.file.name, line: position.line, column: position.column };
  }

  private fail(error: unknown, at: Located, path: readonly (string | number)[]): void {
    if (error instanceof NeedsParsing) throw error;
    if (error instanceof HclEvalError && error.near === PLACED) return;
    if (error instanceof HclEvalError) {
      this.diagnostics.error(error.summary, error.detail, this.place(at, path, error.near));
      return;
    }
    throw error;
  }

  // ---- evaluation -------------------------------------------------------------------------------------------

  private tree(text: string): AstNode {
    const quoted = requote(text);
    const tree = this.trees.get(quoted);
    if (tree === undefined) throw new NeedsParsing([quoted]);
    return tree;
  }

  /** Evaluates an hcl2json value (strings with `${…}` are expressions; the rest is literal). */
  private value(raw: unknown, scope: Scope): HclValue {
    if (typeof raw === 'string') {
      if (!needsEvaluation(raw)) return raw;
      const quoted = requote(raw);
      return evaluate(this.tree(raw), quoted, scope);
    }
    if (Array.isArray(raw)) return raw.map((v) => this.value(v, scope));
    if (typeof raw === 'object' && raw !== null) {
      return makeObject(Object.entries(raw).map(([k, v]) => [k, this.value(v, scope)]));
    }
    if (typeof raw === 'number' || typeof raw === 'boolean') return raw;
    return null;
  }

  /** Evaluates each argument of a block body, reporting each failure at its place. */
  private body(
    json: Record<string, unknown>,
    scope: Scope,
    at: Located,
    skip: ReadonlySet<string> = new Set(),
  ): Record<string, HclValue> | undefined {
    const out: [string, HclValue][] = [];
    let ok = true;
    for (const [key, raw] of Object.entries(json)) {
      if (skip.has(key)) continue;
      try {
        out.push([key, this.evalNested(raw, scope, at, [key])]);
      } catch (error) {
        this.fail(error, at, [key]);
        ok = false;
      }
    }
    return ok ? makeObject(out) : undefined;
  }

  /** Nested blocks (lists of objects) are evaluated item by item, so that errors find their block. */
  private evalNested(raw: unknown, scope: Scope, at: Located, path: (string | number)[]): HclValue {
    if (Array.isArray(raw) && raw.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v))) {
      const key = path[path.length - 1];
      const isBlock = typeof key === 'string' && blocksOf(this.bodyAt(at, path.slice(0, -1)), key).length > 0;
      if (isBlock) {
        return raw.map((item, i) => {
          const entries: [string, HclValue][] = [];
          for (const [k, v] of Object.entries(item as Record<string, unknown>)) {
            try {
              entries.push([k, this.evalNested(v, scope, at, [...path, i, k])]);
            } catch (error) {
              if (error instanceof HclEvalError && error.near !== PLACED) {
                this.fail(error, at, [...path, i, k]);
                throw new HclEvalError(error.summary, error.detail, PLACED);
              }
              throw error;
            }
          }
          return makeObject(entries);
        });
      }
    }
    return this.value(raw, scope);
  }

  private bodyAt(at: Located, path: readonly (string | number)[]): readonly OutlineItem[] {
    let body: readonly OutlineItem[] = at.block.body;
    for (let i = 0; i < path.length; i++) {
      const key = path[i];
      if (typeof key !== 'string') continue;
      const next = path[i + 1];
      const block = blocksOf(body, key)[typeof next === 'number' ? next : 0];
      if (block === undefined) return [];
      body = block.body;
    }
    return body;
  }

  private scope(extra: { build?: HclValue; source?: HclValue } = {}): Scope {
    const roots = new Map<string, HclValue | ((name: string) => HclValue)>([
      ['var', makeObject(this.values)],
      ['local', (name: string) => this.local(name)],
      ['path', this.pathValue],
      ['data', this.dataValue()],
    ]);
    const unavailable = new Map<string, string>([
      ['env()', 'Function "env" is only available in the default value of a variable: use var.<name> here.'],
    ]);
    if (extra.build !== undefined) roots.set('build', extra.build);
    else unavailable.set('build', 'build.* is available only inside a build block.');
    if (extra.source !== undefined) roots.set('source', extra.source);
    else unavailable.set('source', 'source.* is available only in source and build blocks.');
    return { roots, functions: this.functions, unavailable };
  }

  private dataValue(): HclValue {
    const byType = new Map<string, [string, HclValue][]>();
    for (const def of this.data.values()) {
      const source = `data.${def.type}.${def.name}`;
      const attributes = makeObject(
        ['id', 'name', 'creation_date', 'owner', 'owner_name', 'architecture', 'platform'].map((a) => [
          a,
          new BuildTimeValue(source, a),
        ]),
      );
      byType.set(def.type, [...(byType.get(def.type) ?? []), [def.name, attributes]]);
    }
    return makeObject([...byType].map(([type, entries]) => [type, makeObject(entries)]));
  }

  private local(name: string): HclValue {
    if (this.localValues.has(name)) return this.localValues.get(name) ?? null;
    if (this.localsFailed.has(name))
      throw new HclEvalError('Invalid local', `local.${name} has an error.`, PLACED);
    const def = this.localDefs.get(name);
    if (def === undefined) {
      throw new HclEvalError(
        'Unsupported attribute',
        `This object does not have an attribute named "${name}".`,
        `local.${name}`,
      );
    }
    if (this.localsResolving.includes(name)) {
      throw new HclEvalError(
        'Cyclic local',
        `local.${name} refers to itself through ${[...this.localsResolving.slice(this.localsResolving.indexOf(name)), name].map((n) => `local.${n}`).join(' → ')}.`,
        `local.${name}`,
      );
    }
    this.localsResolving.push(name);
    try {
      const value = this.value(def.expression, this.scope());
      this.localValues.set(name, value);
      return value;
    } catch (error) {
      if (error instanceof HclEvalError) {
        this.localsFailed.add(name);
        this.fail(error, def.at, [def.attribute]);
        throw new HclEvalError(error.summary, error.detail, PLACED);
      }
      throw error;
    } finally {
      this.localsResolving.pop();
    }
  }

  private templatefile(path: string, vars: { [key: string]: HclValue }): HclValue {
    let text = this.templateFiles.get(path);
    if (text === undefined) {
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        throw new HclEvalError(
          'Invalid function argument',
          `Invalid value for "path" parameter: no file exists at ${JSON.stringify(path)}.`,
        );
      }
      this.templateFiles.set(path, text);
    }
    if (!needsEvaluation(text)) return text;
    const tree = this.tree(text);
    const scope: Scope = {
      roots: new Map(Object.entries(vars)),
      functions: Object.fromEntries(Object.entries(this.functions).filter(([n]) => n !== 'templatefile')),
    };
    return evaluate(tree, requote(text), scope);
  }

  // ---- top level -------------------------------------------------------------------------------------------

  private located(file: ParsedFile, block: OutlineBlock): Located {
    return { file, block };
  }

  /** The hcl2json body of the n-th block with this type and labels in a body. */
  private static jsonBlock(body: Record<string, unknown>, block: OutlineBlock, occurrence: number) {
    let value: unknown = body[block.type];
    for (const label of block.labels) value = (value as Record<string, unknown> | undefined)?.[label];
    const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
    const item = list[occurrence];
    return typeof item === 'object' && item !== null && !Array.isArray(item)
      ? (item as Record<string, unknown>)
      : {};
  }

  /** Each block of a body with its hcl2json content, in the order written. */
  private static blocksWithJson(items: readonly OutlineItem[], json: Record<string, unknown>) {
    const seen = new Map<string, number>();
    const out: { block: OutlineBlock; json: Record<string, unknown> }[] = [];
    for (const item of items) {
      if (item.kind !== 'block') continue;
      const key = JSON.stringify([item.type, ...item.labels]);
      const n = seen.get(key) ?? 0;
      seen.set(key, n + 1);
      out.push({ block: item, json: Converter.jsonBlock(json, item, n) });
    }
    return out;
  }

  run(): HclInput {
    const topBlocks: { file: ParsedFile; block: OutlineBlock; json: Record<string, unknown> }[] = [];
    for (const file of this.files) {
      for (const item of file.outline.body) {
        if (item.kind === 'attribute') {
          this.diagnostics.error(
            'Unsupported argument',
            `An argument named "${item.name}" is not expected here.`,
            {
              file: file.name,
              line: item.position.line,
              column: item.position.column,
            },
          );
        }
      }
      for (const { block, json } of Converter.blocksWithJson(file.outline.body, file.json)) {
        if (!TOP_LEVEL_BLOCKS.has(block.type)) {
          this.diagnostics.error(
            'Unsupported block type',
            `Blocks of type "${block.type}" are not expected here.`,
            {
              file: file.name,
              line: block.position.line,
              column: block.position.column,
            },
          );
          continue;
        }
        topBlocks.push({ file, block, json });
      }
    }
    for (const { file, block, json } of topBlocks) {
      const at = this.located(file, block);
      if (block.type === 'packer') this.readPacker(json);
      else if (block.type === 'variable') this.declareVariable(block.labels[0] ?? '', json, at);
      else if (block.type === 'variables') {
        for (const [name, raw] of Object.entries(json))
          this.declareVariable(name, { default: raw }, at, name);
      } else if (block.type === 'locals') {
        for (const [name, expression] of Object.entries(json))
          this.declareLocal(name, expression, at, name, false);
      } else if (block.type === 'local') {
        this.declareLocal(block.labels[0] ?? '', json.expression, at, 'expression', json.sensitive === true);
      } else if (block.type === 'source') this.declareSource(block, json, at);
      else if (block.type === 'data') this.declareData(block, json, at);
    }
    // Values missing or wrong would only cascade into every use: stop at the variables' own errors.
    const before = this.diagnostics.errors.length;
    this.assignVariables();
    if (this.diagnostics.errors.length > before) return { template: {}, vars: {} };
    this.validateVariables();
    for (const name of this.localDefs.keys()) {
      try {
        this.local(name);
      } catch (error) {
        if (error instanceof HclEvalError && error.near === PLACED) continue;
        const def = this.localDefs.get(name);
        if (def !== undefined) this.fail(error, def.at, [def.attribute]);
      }
    }
    const dataFilters = this.dataFilters();
    const builds = topBlocks.filter((b) => b.block.type === 'build');
    if (builds.length === 0 && this.diagnostics.errors.length === 0) {
      this.diagnostics.error(
        'No build block',
        'The template has no build block: nothing would be built. Add a build block that names the sources to build.',
      );
    }
    const template = this.readBuilds(builds, dataFilters);
    return template;
  }

  private readPacker(json: Record<string, unknown>): void {
    if (typeof json.required_version === 'string')
      this.notes.push(
        `required_version ${json.required_version}: this tool follows Packer 1.x HCL2 templates`,
      );
    const plugins = Array.isArray(json.required_plugins) ? json.required_plugins : [];
    for (const group of plugins) {
      if (!isObject(group as HclValue)) continue;
      for (const [name, spec] of Object.entries(group as Record<string, unknown>)) {
        const s = (spec ?? {}) as Record<string, unknown>;
        this.notes.push(
          `required_plugins ${name} (${String(s.source ?? '?')} ${String(s.version ?? '')}`.trimEnd() +
            `): read and noted; ${name === 'amazon' ? 'the amazon-instance builder is built in' : 'plugins are not installed here'}`,
        );
      }
    }
  }

  private declareVariable(
    name: string,
    json: Record<string, unknown>,
    at: Located,
    attribute?: string,
  ): void {
    const place = attribute === undefined ? this.place(at, []) : this.place(at, [attribute]);
    if (this.variables.has(name)) {
      const first = this.variables.get(name);
      this.diagnostics.error(
        'Duplicate variable',
        `Duplicate ${name} variable definition found${first === undefined ? '' : ` (first at ${first.at.file.name}:${first.at.block.position.line})`}.`,
        place,
      );
      return;
    }
    if (attribute === undefined) {
      for (const key of Object.keys(json)) {
        if (!VARIABLE_ARGUMENTS.has(key) && key !== 'validation') {
          this.diagnostics.error(
            'Unsupported argument',
            `An argument named "${key}" is not expected here.`,
            this.place(at, [key]),
          );
        }
      }
    }
    let type: TypeSpec = ANY;
    if (typeof json.type === 'string' && needsEvaluation(json.type)) {
      try {
        type = readType(this.tree(json.type), requote(json.type));
      } catch (error) {
        this.fail(error, at, ['type']);
      }
    }
    const sensitive = json.sensitive === true;
    if (sensitive) this.sensitiveNames.add(name);
    this.variables.set(name, { name, at, type, sensitive, json });
    if (Object.hasOwn(json, 'default')) {
      const scope: Scope = {
        roots: new Map(),
        functions: { ...this.functions, env: envFunction(this.request.env) },
        unavailable: new Map([
          ['var', 'Variables may not be used here: a variable default cannot refer to other variables.'],
          ['local', 'Variables may not be used here: a variable default cannot refer to locals.'],
        ]),
      };
      try {
        this.values.set(name, convert(this.value(json.default, scope), type));
      } catch (error) {
        this.fail(error, at, [attribute ?? 'default']);
      }
    }
  }

  private declareLocal(
    name: string,
    expression: unknown,
    at: Located,
    attribute: string,
    sensitive: boolean,
  ): void {
    if (this.localDefs.has(name)) {
      this.diagnostics.error(
        'Duplicate local definition',
        `Duplicate local definition found for "${name}".`,
        this.place(at, [attribute]),
      );
      return;
    }
    this.localDefs.set(name, { expression, at, attribute, sensitive });
  }

  private declareSource(block: OutlineBlock, json: Record<string, unknown>, at: Located): void {
    const [type = '', name = ''] = block.labels;
    const key = `${type}.${name}`;
    if (this.sources.has(key)) {
      this.diagnostics.error(
        'Duplicate source block',
        `This source block has the same type and name as a previous block: ${key}.`,
        this.place(at, []),
      );
      return;
    }
    this.sources.set(key, { type, name, at, json });
  }

  private declareData(block: OutlineBlock, json: Record<string, unknown>, at: Located): void {
    const [type = '', name = ''] = block.labels;
    if (!DATA_TYPES.has(type)) {
      this.diagnostics.error(
        'Unsupported data source',
        `The data source type "${type}" is not supported here; supported: amazon-ami (resolved at build time as a source AMI filter).`,
        this.place(at, []),
      );
      return;
    }
    this.data.set(`${type}.${name}`, { type, name, at, json });
  }

  // ---- variables -------------------------------------------------------------------------------------------

  private setFromText(name: string, text: string, origin: string): void {
    const def = this.variables.get(name);
    if (def === undefined) return;
    if (takesRawText(def.type) || def.type.kind === 'any') {
      try {
        this.values.set(name, convert(text, def.type));
      } catch (error) {
        if (error instanceof HclEvalError)
          this.diagnostics.error(error.summary, `Invalid value for ${origin}: ${error.detail}`);
      }
      return;
    }
    try {
      const value = evaluate(this.tree(`\${${text}}`), requote(`\${${text}}`), {
        roots: new Map(),
        functions: {},
      });
      this.values.set(name, convert(value, def.type));
    } catch (error) {
      if (error instanceof NeedsParsing) throw error;
      if (error instanceof HclEvalError)
        this.diagnostics.error(error.summary, `Invalid value for ${origin}: ${error.detail}`);
    }
  }

  private assignVariables(): void {
    const undeclared = (name: string, origin: string, asError: boolean) => {
      const detail = `A "${name}" variable was set${origin} but was not found in known variables. To declare variable "${name}", place this block in one of your .pkr.hcl files, such as variables.pkr.hcl`;
      if (asError) this.diagnostics.error('Undefined -var variable', detail);
      else this.diagnostics.warn('Undefined variable', detail);
    };
    for (const [key, value] of Object.entries(this.request.env)) {
      if (!key.startsWith('PKR_VAR_') || value === undefined) continue;
      const name = key.slice('PKR_VAR_'.length);
      if (this.variables.has(name)) this.setFromText(name, value, `the environment variable ${key}`);
    }
    for (const varFile of this.varFiles) {
      const scope: Scope = {
        roots: new Map(),
        functions: {},
        unavailable: new Map([
          ['var', 'Variables may not be used here.'],
          ['local', 'Variables may not be used here.'],
        ]),
      };
      for (const [name, raw] of Object.entries(varFile.json)) {
        const def = this.variables.get(name);
        if (def === undefined) {
          undeclared(name, ` in ${varFile.name}`, false);
          continue;
        }
        try {
          this.values.set(name, convert(this.value(raw, scope), def.type));
        } catch (error) {
          if (error instanceof NeedsParsing) throw error;
          if (!(error instanceof HclEvalError)) throw error;
          const item = varFile.outline === undefined ? undefined : attributeOf(varFile.outline.body, name);
          this.diagnostics.error(
            error.summary,
            error.detail,
            item === undefined
              ? { file: varFile.name, line: 1, column: 1 }
              : { file: varFile.name, line: item.position.line, column: item.position.column },
          );
        }
      }
    }
    for (const [name, text] of this.request.vars) {
      if (!this.variables.has(name)) {
        undeclared(name, ' (-var)', true);
        continue;
      }
      this.setFromText(name, text, `-var ${name}`);
    }
    for (const def of this.variables.values()) {
      if (!this.values.has(def.name)) {
        this.diagnostics.error(
          `Unset variable "${def.name}"`,
          'A used variable must be set or have a default value; see https://packer.io/docs/templates/hcl_templates/syntax for details.',
          this.place(def.at, []),
        );
      }
    }
  }

  private validateVariables(): void {
    for (const def of this.variables.values()) {
      const rules = Array.isArray(def.json.validation)
        ? (def.json.validation as Record<string, unknown>[])
        : [];
      rules.forEach((rule, i) => {
        const scope: Scope = {
          roots: new Map([['var', makeObject([[def.name, this.values.get(def.name) ?? null]])]]),
          functions: this.functions,
        };
        try {
          const ok = this.value(rule.condition, scope);
          if (ok !== true && ok !== 'true') {
            const ruleBlock = blocksOf(def.at.block.body, 'validation')[i];
            const where =
              ruleBlock === undefined
                ? ''
                : `\n\nThis was checked by the validation rule at ${def.at.file.name}:${ruleBlock.position.line},${ruleBlock.position.column}.`;
            this.diagnostics.error(
              'Invalid value for variable',
              `${toStr(this.value(rule.error_message ?? '', scope))}${where}`,
              this.place(def.at, []),
            );
          }
        } catch (error) {
          this.fail(error, def.at, ['validation', i, 'condition']);
        }
      });
    }
  }

  // ---- data sources ----------------------------------------------------------------------------------------

  private dataFilters(): Map<string, Record<string, HclValue>> {
    const filters = new Map<string, Record<string, HclValue>>();
    for (const def of this.data.values()) {
      for (const key of Object.keys(def.json)) {
        if (!DATA_FILTER_KEYS.includes(key)) {
          this.diagnostics.error(
            'Unsupported argument',
            `An argument named "${key}" is not expected in a data "amazon-ami" block here; supported: ${DATA_FILTER_KEYS.join(', ')}.`,
            this.place(def.at, [key]),
          );
        }
      }
      const body = this.body(def.json, this.scope(), def.at);
      if (body !== undefined) filters.set(`data.${def.type}.${def.name}`, body);
    }
    return filters;
  }

  // ---- builds ----------------------------------------------------------------------------------------------

  private readBuilds(
    builds: { file: ParsedFile; block: OutlineBlock; json: Record<string, unknown> }[],
    dataFilters: Map<string, Record<string, HclValue>>,
  ): HclInput {
    const builders: Record<string, unknown>[] = [];
    const provisioners: Record<string, unknown>[] = [];
    const cleanups: Record<string, unknown>[] = [];
    const postProcessors: unknown[] = [];
    const descriptions: string[] = [];
    const fullNames = new Map<string, Located>();
    const uses: SourceUse[] = [];

    for (const { file, block, json } of builds) {
      const at = this.located(file, block);
      const buildName =
        typeof json.name === 'string' ? toStrSafe(this.tryValue(json.name, this.scope(), at, ['name'])) : '';
      if (typeof json.description === 'string') descriptions.push(json.description);
      for (const key of Object.keys(json)) {
        if (
          ![
            'name',
            'description',
            'sources',
            'source',
            'provisioner',
            'error-cleanup-provisioner',
            'post-processor',
            'post-processors',
            'hcp_packer_registry',
          ].includes(key)
        ) {
          this.diagnostics.error(
            'Unsupported argument',
            `An argument named "${key}" is not expected here.`,
            this.place(at, [key]),
          );
        }
      }
      // The sources of this build: the `sources` list, then the `source` blocks.
      const buildUses: SourceUse[] = [];
      const addUse = (
        ref: string,
        where: Located,
        override?: { json: Record<string, unknown>; at: Located },
      ) => {
        const cleaned = ref.replace(/^source\./, '');
        const dot = cleaned.indexOf('.');
        const type = cleaned.slice(0, dot);
        const name = cleaned.slice(dot + 1);
        const source = this.sources.get(cleaned);
        if (dot <= 0 || source === undefined) {
          const known = [...this.sources.keys()].map((k) => `source.${k}`);
          this.diagnostics.error(
            'Unknown source',
            `Unknown source ${cleaned}: there is no source "${type}" "${name}" block.${known.length > 0 ? ` Known sources: ${known.join(', ')}.` : ''}`,
            override === undefined ? this.place(where, ['sources'], ref) : this.place(override.at, []),
          );
          return;
        }
        const localName = typeof override?.json.name === 'string' ? override.json.name : name;
        const refName = `${type}.${localName}`;
        const fullName = buildName === '' ? refName : `${buildName}.${refName}`;
        if (fullNames.has(fullName)) {
          this.diagnostics.error(
            'Duplicate build',
            `The build ${fullName} is defined twice; give one of them another name (name = "…" in a source block of the build).`,
            override === undefined ? this.place(where, ['sources'], ref) : this.place(override.at, []),
          );
          return;
        }
        fullNames.set(fullName, where);
        buildUses.push({ type, name, localName, override, at: source.at, ref: refName, fullName });
      };
      const sourcesList = Array.isArray(json.sources) ? json.sources : [];
      for (const ref of sourcesList) if (typeof ref === 'string') addUse(ref, at);
      const nested = Converter.blocksWithJson(block.body, json);
      for (const { block: inner, json: innerJson } of nested) {
        if (inner.type === 'source')
          addUse(inner.labels[0] ?? '', at, { json: innerJson, at: this.located(file, inner) });
      }
      uses.push(...buildUses);
      const buildValue = makeObject([['name', buildName]]);

      for (const use of buildUses) {
        this.origins.push({
          prefix: ['builders', builders.length],
          place: (rest) => this.builderPlace(use, rest),
        });
        builders.push(this.builder(use, buildValue, dataFilters));
      }
      const emit = (target: unknown[], prefix: (string | number)[], list: unknown[], at: Located) => {
        for (const item of list) {
          this.origins.push({
            prefix: [...prefix, target.length],
            place: (rest) => this.provisionerPlace(at, rest),
          });
          target.push(item);
        }
      };

      for (const { block: inner, json: innerJson } of nested) {
        const innerAt = this.located(file, inner);
        switch (inner.type) {
          case 'source':
            break;
          case 'provisioner':
            emit(
              provisioners,
              ['provisioners'],
              this.provisioner(inner, innerJson, innerAt, buildUses, buildValue),
              innerAt,
            );
            break;
          case 'error-cleanup-provisioner': {
            const list = this.provisioner(inner, innerJson, innerAt, buildUses, buildValue);
            if (cleanups.length === 0 && list.length > 0) {
              this.origins.push({
                prefix: ['error-cleanup-provisioner'],
                place: (rest) => this.provisionerPlace(innerAt, rest),
              });
            }
            cleanups.push(...list);
            break;
          }
          case 'post-processor':
            emit(
              postProcessors,
              ['post-processors'],
              this.provisioner(inner, innerJson, innerAt, buildUses, buildValue),
              innerAt,
            );
            break;
          case 'post-processors': {
            const chain = Converter.blocksWithJson(inner.body, innerJson).filter(
              (c) => c.block.type === 'post-processor',
            );
            const steps = chain.map((c) =>
              this.provisioner(c.block, c.json, this.located(file, c.block), buildUses, buildValue),
            );
            // A chain is emitted once per group of builds for which every step is the same.
            const groups = new Map<string, { names: string[]; steps: number[] }>();
            for (const use of buildUses) {
              const found = steps
                .map((list, step) => ({
                  step,
                  p: list.find((p) => (p.only as string[]).includes(use.fullName)),
                }))
                .filter((s) => s.p !== undefined);
              const sequence = found.map(({ p }) => {
                const { only: _, ...rest } = p ?? {};
                return rest;
              });
              if (sequence.length === 0) continue;
              const key = JSON.stringify(sequence);
              const group = groups.get(key) ?? { names: [], steps: found.map((s) => s.step) };
              group.names.push(use.fullName);
              groups.set(key, group);
            }
            for (const [key, { names, steps: used }] of groups) {
              const sequence = JSON.parse(key) as Record<string, unknown>[];
              used.forEach((step, m) => {
                const stepBlock = chain[step]?.block;
                if (stepBlock === undefined) return;
                const stepAt = this.located(file, stepBlock);
                this.origins.push({
                  prefix: ['post-processors', postProcessors.length, m],
                  place: (rest) => this.provisionerPlace(stepAt, rest),
                });
              });
              postProcessors.push(sequence.map((p) => ({ ...p, only: names })));
            }
            break;
          }
          case 'hcp_packer_registry':
            this.diagnostics.warn(
              'hcp_packer_registry is ignored',
              'This system does not publish build metadata to HCP Packer; the block is ignored.',
              this.place(innerAt, []),
            );
            break;
          default:
            this.diagnostics.error(
              'Unsupported block type',
              `Blocks of type "${inner.type}" are not expected here.`,
              this.place(innerAt, []),
            );
        }
      }
    }

    if (cleanups.length > 1) {
      this.diagnostics.error(
        'Several error-cleanup-provisioners',
        'The builds would need different error-cleanup-provisioners; a template holds one here. Use one error-cleanup-provisioner, in one build block.',
      );
    }

    const template: Record<string, unknown> = {};
    if (descriptions.length > 0) template.description = descriptions.join('\n');
    const vars: Record<string, string> = {};
    const sensitive = [...this.sensitiveNames].filter((n) => this.values.has(n)).sort();
    if (sensitive.length > 0) {
      template.variables = Object.fromEntries(sensitive.map((n) => [n, null]));
      template['sensitive-variables'] = sensitive;
      for (const name of sensitive) {
        const value = this.values.get(name) ?? null;
        vars[name] = typeof value === 'string' ? value : JSON.stringify(value);
      }
    }
    this.variableOrigins();
    template.builders = builders;
    if (provisioners.length > 0) template.provisioners = provisioners;
    if (cleanups[0] !== undefined) template['error-cleanup-provisioner'] = cleanups[0];
    if (postProcessors.length > 0) template['post-processors'] = postProcessors;
    const masked = maskSensitive(template, vars) as Record<string, unknown>;

    const input: HclInput = { template: masked, vars };
    const select = (globs: readonly string[] | undefined) => {
      if (globs === undefined || globs.length === 0) return undefined;
      const patterns = globs.map(globRegex);
      const names = uses
        .filter((u) => patterns.some((p) => p.test(u.fullName) || p.test(u.ref)))
        .map((u) => u.fullName);
      return names;
    };
    const only = select(this.request.only);
    const except = select(this.request.except);
    if (only !== undefined) input.only = only.length > 0 ? only : [...(this.request.only ?? [])];
    if (except !== undefined && except.length > 0) input.except = except;
    return input;
  }

  /** A key path inside a builder: the per-build source block, the data source of its filter, or the source. */
  private builderPlace(use: SourceUse, rest: readonly (string | number)[]) {
    const key = rest[0];
    if (typeof key === 'string' && use.override !== undefined && Object.hasOwn(use.override.json, key))
      return this.place(use.override.at, rest);
    const source = this.sources.get(`${use.type}.${use.name}`);
    const data = this.data.get((this.dataUsed.get(use.fullName) ?? '').replace(/^data\./, ''));
    if (key === 'source_ami_filter' && data !== undefined && !Object.hasOwn(source?.json ?? {}, key))
      return this.place(data.at, rest.slice(1));
    return this.place(source?.at ?? use.at, rest);
  }

  /** A key path inside a provisioner or post-processor: its type label, its argument, or its override. */
  private provisionerPlace(at: Located, rest: readonly (string | number)[]) {
    const key = rest[0];
    const label = at.block.labelPositions[0];
    if (key === 'type' && label !== undefined)
      return { file: at.file.name, line: label.line, column: label.column };
    const written = typeof key === 'string' && attributeOf(at.block.body, key) !== undefined;
    const nested = typeof key === 'string' && blocksOf(at.block.body, key).length > 0;
    if (
      typeof key === 'string' &&
      !written &&
      !nested &&
      attributeOf(at.block.body, 'override') !== undefined
    )
      return this.place(at, ['override'], key);
    return this.place(at, rest);
  }

  /** The variable blocks, for the `variables`, `sensitive-variables` and `vars` the JSON input carries. */
  private variableOrigins(): void {
    const variablePlace = (name: unknown) => {
      const def = typeof name === 'string' ? this.variables.get(name) : undefined;
      return def === undefined ? undefined : this.place(def.at, []);
    };
    const names = [...this.sensitiveNames].filter((n) => this.values.has(n)).sort();
    for (const name of names) {
      const place = variablePlace(name);
      if (place === undefined) continue;
      this.origins.push({ prefix: ['variables', name], place: () => place });
      this.origins.push({ prefix: ['vars', name], place: () => place });
    }
    names.forEach((name, i) => {
      const place = variablePlace(name);
      if (place !== undefined) this.origins.push({ prefix: ['sensitive-variables', i], place: () => place });
    });
  }

  /** See {@link HclConversion.locate}. */
  locate(path: readonly (string | number)[], options: { name?: boolean } = {}): HclLocation | undefined {
    const wrapped = path[0] === 'template' ? 1 : 0;
    const inner = path.slice(wrapped);
    let best: Origin | undefined;
    for (const origin of this.origins) {
      const matches =
        origin.prefix.length <= inner.length && origin.prefix.every((segment, i) => inner[i] === segment);
      if (matches && (best === undefined || origin.prefix.length > best.prefix.length)) best = origin;
    }
    if (best === undefined) return undefined;
    const consumed = wrapped + best.prefix.length;
    this.atNames = options.name === true;
    try {
      return { ...best.place(path.slice(consumed)), consumed };
    } finally {
      this.atNames = false;
    }
  }

  private tryValue(raw: unknown, scope: Scope, at: Located, path: (string | number)[]): HclValue {
    try {
      return this.value(raw, scope);
    } catch (error) {
      this.fail(error, at, path);
      return null;
    }
  }

  /** One JSON builder: the source's arguments, then the build's per-build source block over them. */
  private builder(use: SourceUse, buildValue: HclValue, dataFilters: Map<string, Record<string, HclValue>>) {
    const source = this.sources.get(`${use.type}.${use.name}`);
    const result: Record<string, unknown> = { type: use.type, name: use.fullName };
    if (source === undefined) return result;
    if (use.type !== 'amazon-instance') return result; // not built here: reported as skipped
    const scope = this.scope({
      build: buildValue,
      source: makeObject([
        ['name', use.localName],
        ['type', use.type],
      ]),
    });
    const base = this.body(source.json, scope, source.at, new Set(['name', 'type']));
    const override =
      use.override === undefined
        ? {}
        : this.body(use.override.json, scope, use.override.at, new Set(['name']));
    if (base === undefined || override === undefined) return result;
    const merged: Record<string, HclValue> = { ...base, ...override };
    // data.amazon-ami.<name>.id as source_ami: the data source's filter becomes the source_ami_filter.
    let dataSource: string | undefined;
    const sourceAmi = merged.source_ami;
    if (sourceAmi instanceof BuildTimeValue && sourceAmi.attribute === 'id') {
      dataSource = sourceAmi.source;
      this.dataUsed.set(use.fullName, dataSource);
      const filter = dataFilters.get(sourceAmi.source);
      delete merged.source_ami;
      if (merged.source_ami_filter !== undefined) {
        this.diagnostics.error(
          'Conflicting source AMI',
          `source_ami is ${sourceAmi.toString()}, whose filter becomes the source_ami_filter, and source_ami_filter is set too: keep one.`,
          this.place(source.at, ['source_ami']),
        );
      }
      if (filter !== undefined) merged.source_ami_filter = filter;
    }
    try {
      Object.assign(result, finalize(merged, dataSource));
    } catch (error) {
      this.fail(error, source.at, []);
    }
    return result;
  }

  /** A provisioner (or post-processor) block, emitted once per distinct body, with `only` naming its builds. */
  private provisioner(
    block: OutlineBlock,
    json: Record<string, unknown>,
    at: Located,
    uses: readonly SourceUse[],
    buildValue: HclValue,
  ): Record<string, unknown>[] {
    const type = block.labels[0] ?? '';
    const scope0 = this.scope({ build: buildValue });
    const list = (key: 'only' | 'except') => {
      const value = json[key] === undefined ? undefined : this.tryValue(json[key], scope0, at, [key]);
      return Array.isArray(value) ? value.map((v) => toStrSafe(v)) : undefined;
    };
    const only = list('only');
    const except = list('except');
    const override =
      json.override === undefined ? undefined : this.tryValue(json.override, scope0, at, ['override']);
    const groups: { body: string; names: string[] }[] = [];
    for (const use of uses) {
      const runs =
        only !== undefined && only.length > 0 ? only.includes(use.ref) : !(except ?? []).includes(use.ref);
      if (!runs) continue;
      const scope = this.scope({
        build: buildValue,
        source: makeObject([
          ['name', use.localName],
          ['type', use.type],
        ]),
      });
      const body = this.body(json, scope, at, PROVISIONER_META);
      if (body === undefined) return [];
      const extra =
        isObject(override) && isObject(override[use.ref] ?? null)
          ? (override[use.ref] as Record<string, HclValue>)
          : {};
      let final: unknown;
      try {
        final = finalize({ type, ...body, ...extra }, undefined);
      } catch (error) {
        this.fail(error, at, []);
        return [];
      }
      const text = JSON.stringify(final);
      const group = groups.find((g) => g.body === text);
      if (group === undefined) groups.push({ body: text, names: [use.fullName] });
      else group.names.push(use.fullName);
    }
    return groups.map((g) => ({ ...(JSON.parse(g.body) as Record<string, unknown>), only: g.names }));
  }
}

function toStrSafe(value: HclValue): string {
  try {
    return toStr(value);
  } catch {
    return '';
  }
}

/** `*` and `?` globs, as Packer's -only / -except take them. */
function globRegex(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${body}$`);
}

/**
 * Turns evaluated values into JSON: data source attributes become the build variables that hold them
 * (`{{ .SourceAMI }}`, `{{ .SourceAMIName }}`) in the source that uses that data source, and are errors elsewhere.
 */
function finalize(value: HclValue, dataSource: string | undefined): unknown {
  const buildVariable = (source: string, attribute: string): string => {
    if (source === dataSource && attribute === 'id') return '{{ .SourceAMI }}';
    if (source === dataSource && attribute === 'name') return '{{ .SourceAMIName }}';
    throw new HclEvalError(
      'Value known only at build time',
      `${source}.${attribute} is resolved when the build runs: use ${source}.id as this source's source_ami (its filter becomes the source_ami_filter); then ${source}.id and ${source}.name may be used in its strings.`,
      source,
    );
  };
  if (value instanceof BuildTimeValue) return buildVariable(value.source, value.attribute);
  if (typeof value === 'string') {
    return value.replace(
      /\uE000(data\.[^.\uE000]+\.[^.\uE000]+)\.([^.\uE000]+)\uE000/g,
      (_, source: string, attribute: string) => buildVariable(source, attribute),
    );
  }
  if (Array.isArray(value)) return value.map((v) => finalize(v, dataSource));
  if (isObject(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, finalize(v, dataSource)]));
  return value;
}

/** Replaces each sensitive value in the template's strings by `{{user `name`}}`. */
function maskSensitive(value: unknown, vars: Record<string, string>): unknown {
  const entries = Object.entries(vars)
    .filter(([, v]) => v !== '')
    .sort(([, a], [, b]) => b.length - a.length);
  if (entries.length === 0) return value;
  const walk = (v: unknown, key?: string): unknown => {
    if (key === 'variables' || key === 'sensitive-variables') return v;
    if (typeof v === 'string') {
      return entries.reduce((text, [name, secret]) => text.split(secret).join(`{{user \`${name}\`}}`), v);
    }
    if (Array.isArray(v)) return v.map((item) => walk(item));
    if (typeof v === 'object' && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item, k)]));
    }
    return v;
  };
  return walk(value);
}

// ---------------------------------------------------------------------------------------------------------
// Entry point

async function readHclFile(
  path: string,
  cwd: string,
  diagnostics: Diagnostics,
  sources: Map<string, string>,
) {
  const name = displayName(path, cwd);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    diagnostics.error(
      'Failed to read file',
      `The file ${JSON.stringify(name)} could not be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`,
    );
    return undefined;
  }
  sources.set(name, text);
  const parsed = await parseHcl(name, text);
  if ('problem' in parsed) {
    const p = parsed.problem;
    diagnostics.error(
      p.summary,
      p.detail,
      p.line === undefined ? undefined : { file: name, line: p.line, column: p.column ?? 1 },
    );
    return undefined;
  }
  return { name, json: parsed.body, outline: outlineOf(name, text) };
}

/**
 * Converts an HCL2 template (a file or a folder) with its variables into the JSON input.
 * @throws HclDiagnosticsError with Packer's diagnostics when the template, a variable file or a value is wrong
 */
export async function convertHcl(request: HclRequest): Promise<HclConversion> {
  const diagnostics = new Diagnostics();
  const sources = new Map<string, string>();
  const target = resolve(request.cwd, request.target);
  let isFolder = false;
  try {
    isFolder = statSync(target).isDirectory();
  } catch {
    diagnostics.error(
      'Failed to read template',
      `The template ${JSON.stringify(request.target)} does not exist.`,
    );
    throw new HclDiagnosticsError(diagnostics.list, sources);
  }
  const templatePaths = isFolder ? listFolder(target, TEMPLATE_EXTENSION) : [target];
  if (templatePaths.length === 0) {
    diagnostics.error(
      'No template files',
      `The folder ${JSON.stringify(request.target)} holds no ${TEMPLATE_EXTENSION} file.`,
    );
    throw new HclDiagnosticsError(diagnostics.list, sources);
  }
  const autoVarPaths = isFolder ? listFolder(target, AUTO_VARS_EXTENSION) : [];
  const files: ParsedFile[] = [];
  for (const path of templatePaths) {
    const file = await readHclFile(path, request.cwd, diagnostics, sources);
    if (file !== undefined) files.push(file);
  }
  const varFiles: { name: string; json: Record<string, unknown>; outline?: FileOutline }[] = [];
  for (const path of [...autoVarPaths, ...request.varFiles.map((f) => resolve(request.cwd, f))]) {
    if (path.endsWith('.json')) {
      const name = displayName(path, request.cwd);
      try {
        const text = readFileSync(path, 'utf8');
        sources.set(name, text);
        const json = JSON.parse(text) as unknown;
        if (typeof json !== 'object' || json === null || Array.isArray(json))
          throw new Error('expected a JSON object of variable values');
        varFiles.push({ name, json: json as Record<string, unknown> });
      } catch (error) {
        diagnostics.error('Failed to read variable file', `${name}: ${(error as Error).message}`);
      }
      continue;
    }
    const file = await readHclFile(path, request.cwd, diagnostics, sources);
    if (file === undefined) continue;
    for (const item of file.outline.body) {
      if (item.kind === 'block') {
        diagnostics.error(
          'Unexpected block',
          `Blocks are not allowed here: a ${VARS_EXTENSION} file holds only variable values.`,
          { file: file.name, line: item.position.line, column: item.position.column },
        );
      }
    }
    varFiles.push(file);
  }
  if (diagnostics.errors.length > 0) throw new HclDiagnosticsError(diagnostics.list, sources);

  const texts = new Set<string>();
  for (const file of [...files, ...varFiles]) collectStrings(file.json, texts);
  for (const [, text] of request.vars) texts.add(requote(`\${${text}}`));
  for (const [key, value] of Object.entries(request.env)) {
    if (key.startsWith('PKR_VAR_') && value !== undefined) texts.add(requote(`\${${value}}`));
  }
  const trees: TreeCache = new Map();
  const parseMore = async (list: string[]) => {
    // A value given as text may not be an expression at all (a plain string for a string variable).
    const parsedOk = [...new Set(list.filter((t) => !trees.has(t)))];
    try {
      const result = await expressionTrees(parsedOk);
      parsedOk.forEach((t, i) => {
        trees.set(t, result[i] as AstNode);
      });
    } catch {
      // Parse one by one, so that only the bad ones are left out.
      for (const t of parsedOk) {
        try {
          const [tree] = await expressionTrees([t]);
          if (tree !== undefined) trees.set(t, tree);
        } catch {
          // Left unparsed: using it reports an error.
        }
      }
    }
  };
  await parseMore([...texts]);

  const templateDir = isFolder ? target : dirname(target);
  const rootPath = isFolder ? request.target : dirname(request.target);
  const templateFiles = new Map<string, string>();
  for (let round = 0; round < 10; round++) {
    const converter = new Converter(request, files, varFiles, trees, templateFiles, rootPath);
    let input: HclInput;
    try {
      input = converter.run();
    } catch (error) {
      if (!(error instanceof NeedsParsing)) throw error;
      const before = trees.size;
      await parseMore(error.texts);
      if (trees.size === before) {
        diagnostics.error(
          'Invalid expression',
          `This expression could not be parsed: ${error.texts[0]?.slice(0, 200) ?? ''}`,
        );
        throw new HclDiagnosticsError(diagnostics.list, sources);
      }
      continue;
    }
    const fileOrder = [...sources.keys()];
    const rank = (d: Diagnostic) => [
      d.file === undefined ? -1 : fileOrder.indexOf(d.file),
      d.line ?? 0,
      d.column ?? 0,
    ];
    const all = [...diagnostics.list, ...converter.diagnostics.list].sort((a, b) => {
      const [x, y] = [rank(a), rank(b)];
      return (x[0] ?? 0) - (y[0] ?? 0) || (x[1] ?? 0) - (y[1] ?? 0) || (x[2] ?? 0) - (y[2] ?? 0);
    });
    if (all.some((d) => d.severity === 'error')) throw new HclDiagnosticsError(all, sources);
    return {
      input,
      warnings: all.filter((d) => d.severity === 'warning'),
      notes: converter.notes,
      sources,
      templateDir,
      locate: (path, options) => converter.locate(path, options),
    };
  }
  diagnostics.error('Template too complex', 'Evaluating the template needed too many rounds of parsing.');
  throw new HclDiagnosticsError(diagnostics.list, sources);
}

/** The base name of an HCL2 target, for execution names (`web.pkr.hcl` → `web`, a folder → its name). */
export function hclTargetBase(target: string): string {
  return basename(target).replace(/\.pkr\.hcl$/, '') || 'template';
}

/**
 * Staging of local files: the workflow reads files only from S3 (or SSM), so before a build the CLI uploads every
 * local file a template references and hands the workflow a copy of the template that names the uploads
 * instead. File contents never enter the execution input: only `s3://` URIs do.
 *
 * Referenced files (the keys Packer reads from the local disk):
 * - `amazon-instance` builders: `x509_cert_path`, `x509_key_path`, `user_data_file`;
 * - provisioners (and `error-cleanup-provisioner`): `script`, `scripts`, file `source` / `sources`, also inside
 *   per-build `override` blocks.
 *
 * Each value is rendered first (`{{user "x"}}`, `{{template_dir}}`, `{{pwd}}`), as Packer renders it before it
 * reads the file; a relative path is relative to the working directory, as in Packer. `s3://` and `ssm:` values
 * are left as they are. Uploads are encrypted (SSE-S3) and content-addressed:
 * `staging/<prefix>/files/<first 12 hex of sha256>/<file name>`, so the same file is stored once per build.
 *
 * Shared by `ami-builder build` and `ami-builder local`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { TemplateValidationError } from '../lambdas/shared/errors.js';
import { STAGING_ROOT, safeSegment } from '../lambdas/shared/staging.js';
import { isPlainText, renderTemplate } from '../lambdas/shared/template/engine.js';
import { packerFunctions } from '../lambdas/shared/template/functions.js';
import { statError } from './files.js';

export interface StageOptions {
  s3: S3Client;
  /** The stack's staging bucket. */
  bucket: string;
  /** The per-build folder under `staging/`: the execution name, so the abort cleanup also removes the files. */
  prefix: string;
  /** Absolute directory of the template file, for `{{template_dir}}`. */
  templateDir: string;
  /** The user variables of the run (defaults, `-var-file`, `-var`), for `{{user "x"}}`. */
  vars: Record<string, string>;
  /**
   * Base of relative paths, and `{{pwd}}`.
   * @default process.cwd()
   */
  pwd?: string;
  /**
   * Build names to stage (Packer's `-only`); other builders' files are left alone, as Packer never reads them.
   * @default every amazon-instance builder
   */
  only?: string[];
  /**
   * Build names not to stage (Packer's `-except`).
   * @default none
   */
  except?: string[];
  /**
   * The clock for `{{timestamp}}` / `{{isotime}}` in a path.
   * @default now
   */
  now?: Date;
}

/** One uploaded file (or folder, for a file provisioner source that is a directory). */
export interface StagedFile {
  localPath: string;
  uri: string;
}

export interface StageResult {
  /** A copy of the input with every local reference replaced by its `s3://` URI. The input is not changed. */
  template: unknown;
  /** What was uploaded, once per distinct file, in the order first referenced. */
  staged: StagedFile[];
}

/** The builder type whose files are staged. */
const BUILDER_TYPE = 'amazon-instance';

type JsonRecord = Record<string, unknown>;

function asRecord(value: unknown): JsonRecord | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as JsonRecord)
    : undefined;
}

/** True for values the workflow reads itself. */
export function isRemoteReference(value: string): boolean {
  return value.startsWith('s3://') || value.startsWith('ssm:');
}

/** Where a file reference sits, and how Packer names a bad one. */
interface Reference {
  /** `builders[0].x509_cert_path`, for messages that need the place. */
  where: string;
  /** The raw template value. */
  value: string;
  /** Directories are accepted (file provisioner sources). */
  allowDirectory: boolean;
  /** Guest provisioner paths: what the key must name, Packer's message otherwise, and how a directory is sent. */
  guest?: GuestKey;
  /** Packer's message for a file that cannot be read. */
  bad: (path: string, error: string) => string;
  replace: (uri: string) => void;
}

const BUILDER_KEYS: readonly { key: string; bad: (path: string, error: string) => string }[] = [
  { key: 'x509_cert_path', bad: (_p, e) => `x509_cert_path points to bad file: ${e}` },
  { key: 'x509_key_path', bad: (_p, e) => `x509_key_path points to bad file: ${e}` },
  { key: 'user_data_file', bad: (p) => `user_data_file not found: ${p}` },
];

/** Collects the file references of one provisioner (and its `override` blocks for the staged builds). */
function provisionerReferences(
  provisioner: unknown,
  where: string,
  builds: ReadonlySet<string>,
  out: Reference[],
): void {
  const p = asRecord(provisioner);
  if (p === undefined) return;
  if (!appliesToAny(p, builds)) return;
  const type = p.type;
  collectProvisionerKeys(p, type, where, out);
  const override = asRecord(p.override);
  if (override === undefined) return;
  for (const [build, block] of Object.entries(override)) {
    const o = asRecord(block);
    if (o !== undefined && builds.has(build))
      collectProvisionerKeys(o, type, `${where}.override.${build}`, out);
  }
}

function appliesToAny(p: JsonRecord, builds: ReadonlySet<string>): boolean {
  const names = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const only = names(p.only);
  const except = names(p.except);
  return [...builds].some((b) => (only.length === 0 || only.includes(b)) && !except.includes(b));
}

function collectProvisionerKeys(p: JsonRecord, type: unknown, where: string, out: Reference[]): void {
  const guest = typeof type === 'string' && Object.hasOwn(GUEST_KEYS, type) ? GUEST_KEYS[type] : undefined;
  if (guest !== undefined) {
    collectGuestKeys(p, guest, where, out);
    return;
  }
  const single = type === 'file' ? 'source' : 'script';
  const plural = type === 'file' ? 'sources' : 'scripts';
  if (type !== 'file' && type !== 'shell') return;
  const bad =
    type === 'file'
      ? (path: string, error: string) => `Bad source '${path}': ${error}`
      : (path: string, error: string) => `Bad script '${path}': ${error}`;
  const allowDirectory = type === 'file';
  const value = p[single];
  if (typeof value === 'string' && value !== '') {
    out.push({
      where: `${where}.${single}`,
      value,
      allowDirectory,
      bad,
      replace: (uri) => (p[single] = uri),
    });
  }
  const list = p[plural];
  if (Array.isArray(list)) {
    list.forEach((item, i) => {
      if (typeof item === 'string' && item !== '') {
        out.push({
          where: `${where}.${plural}[${i}]`,
          value: item,
          allowDirectory,
          bad,
          replace: (uri) => (list[i] = uri),
        });
      }
    });
  }
}

/**
 * The local paths of the guest-side provisioners (Packer stats each in `Prepare`): `kind` is what the key must
 * name. Directories are uploaded with their layout and always mean their contents (Packer's `UploadDir` of
 * `src/`); `folder` uploads the file's whole folder with it (the remote `ansible` playbook, which runs on the
 * instance beside what it finds next to it on Packer's host).
 */
interface GuestKey {
  key: string;
  list?: boolean;
  kind: 'file' | 'directory' | 'any';
  folder?: boolean;
  /** Packer's message for a path that cannot be stat'ed, and for one of the wrong kind. */
  bad: (path: string, error: string, index: number) => string;
  wrong: (path: string, index: number) => string;
}

const ansibleFile = (key: string, list = false): GuestKey => ({
  key,
  list,
  kind: 'file',
  bad: (p, e) => `${key}: ${p} is invalid: ${e}`,
  wrong: (p) => `${key}: ${p} must point to a file`,
});
const ansibleDir = (key: string, list = false): GuestKey => ({
  key,
  list,
  kind: 'directory',
  bad: (p, e) => `${key}: ${p} is invalid: ${e}`,
  wrong: (p) => `${key}: ${p} must point to a directory`,
});

const GUEST_KEYS: Readonly<Record<string, readonly GuestKey[]>> = {
  'ansible-local': [
    ansibleDir('playbook_dir'),
    ansibleFile('playbook_file'),
    ansibleFile('playbook_files', true),
    ansibleFile('inventory_file'),
    ansibleFile('galaxy_file'),
    ansibleDir('group_vars'),
    ansibleDir('host_vars'),
    ansibleDir('role_paths', true),
    ansibleDir('collection_paths', true),
    ansibleDir('playbook_paths', true),
  ],
  ansible: [
    { ...ansibleFile('playbook_file'), folder: true },
    ansibleFile('inventory_file'),
    ansibleFile('galaxy_file'),
  ],
  'puppet-masterless': [
    {
      key: 'hiera_config_path',
      kind: 'file',
      bad: (_p, e) => `hiera_config_path is invalid: ${e}`,
      wrong: () => 'hiera_config_path must point to a file',
    },
    {
      key: 'manifest_dir',
      kind: 'directory',
      bad: (_p, e) => `manifest_dir is invalid: ${e}`,
      wrong: () => 'manifest_dir must point to a directory',
    },
    {
      key: 'module_paths',
      list: true,
      kind: 'directory',
      bad: (_p, e, i) => `module_path[${i}] is invalid: ${e}`,
      wrong: (_p, i) => `module_path[${i}] must point to a directory`,
    },
    {
      key: 'manifest_file',
      kind: 'any',
      bad: (_p, e) => `manifest_file is invalid: ${e}`,
      wrong: () => '',
    },
  ],
};

function collectGuestKeys(p: JsonRecord, keys: readonly GuestKey[], where: string, out: Reference[]): void {
  for (const guest of keys) {
    const value = p[guest.key];
    const add = (text: string, at: string, index: number, replace: (uri: string) => void) => {
      if (text.trim() === '') return;
      out.push({
        where: at,
        value: text.trim(),
        allowDirectory: guest.kind !== 'file',
        guest: {
          ...guest,
          bad: (path, e) => guest.bad(path, e, index),
          wrong: (path) => guest.wrong(path, index),
        },
        bad: (path, e) => guest.bad(path, e, index),
        replace,
      });
    };
    if (guest.list === true && Array.isArray(value)) {
      value.forEach((item, i) => {
        if (typeof item === 'string') add(item, `${where}.${guest.key}[${i}]`, i, (uri) => (value[i] = uri));
      });
    } else if (typeof value === 'string') {
      add(value, `${where}.${guest.key}`, 0, (uri) => (p[guest.key] = uri));
    }
  }
}

function builderReferences(builder: JsonRecord, where: string, out: Reference[]): void {
  for (const { key, bad } of BUILDER_KEYS) {
    const value = builder[key];
    if (typeof value === 'string' && value.trim() !== '') {
      out.push({
        where: `${where}.${key}`,
        value: value.trim(),
        allowDirectory: false,
        bad,
        replace: (uri) => (builder[key] = uri),
      });
    }
  }
}

/** The template object inside any input form (wrapper, template, bare builder); a JSON text is parsed. */
function templateRoot(input: JsonRecord): { root: JsonRecord; rewrap: (root: JsonRecord) => unknown } {
  const isWrapper =
    Object.hasOwn(input, 'template') && !Object.hasOwn(input, 'builders') && !Object.hasOwn(input, 'type');
  if (!isWrapper) return { root: input, rewrap: (root) => root };
  const inner = input.template;
  if (typeof inner === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(inner) as unknown;
    } catch (error) {
      throw new TemplateValidationError(
        `Failed to parse template: Error parsing JSON: ${(error as Error).message}`,
      );
    }
    const record = asRecord(parsed);
    if (record === undefined)
      throw new TemplateValidationError('template: expected a Packer template object');
    return { root: record, rewrap: (root) => ({ ...input, template: root }) };
  }
  const record = asRecord(inner);
  if (record === undefined) throw new TemplateValidationError('template: expected a Packer template object');
  return { root: record, rewrap: () => input };
}

/** Hashes a file, or a folder as the sorted list of its files' relative paths and hashes. */
async function hashPath(path: string, isDirectory: boolean): Promise<{ hash: string; files: string[] }> {
  if (!isDirectory) {
    return {
      hash: createHash('sha256')
        .update(await readFile(path))
        .digest('hex'),
      files: [path],
    };
  }
  const files = (await listFiles(path)).sort();
  const h = createHash('sha256');
  for (const file of files) {
    h.update(relative(path, file).split(sep).join('/'));
    h.update('\0');
    h.update(
      createHash('sha256')
        .update(await readFile(file))
        .digest('hex'),
    );
    h.update('\0');
  }
  return { hash: h.digest('hex'), files };
}

async function listFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await listFiles(full)));
    else if ((await stat(full)).isFile()) found.push(full);
  }
  return found;
}

/**
 * Uploads the local files the template references and returns the template rewritten to their `s3://` URIs.
 *
 * A directory given as a file provisioner source keeps Packer's meaning through the S3 folder it becomes:
 * `dir` (the folder itself, into `destination/dir`) stages as the folder that *contains* `dir`; `dir/` (its
 * contents) stages as `dir/` itself.
 *
 * @throws TemplateValidationError listing every reference that cannot be rendered or read, in Packer's words
 *   (`x509_cert_path points to bad file: stat cert.pem: no such file or directory`), before anything is uploaded.
 */
export async function stageTemplateFiles(template: unknown, opts: StageOptions): Promise<StageResult> {
  const input = asRecord(template);
  if (input === undefined) return { template, staged: [] };
  const copy = structuredClone(input);
  const { root, rewrap } = templateRoot(copy);
  const pwd = opts.pwd ?? process.cwd();
  const functions = packerFunctions({
    now: opts.now ?? new Date(),
    uuid: randomUUID,
    userVariables: opts.vars,
    templateDir: opts.templateDir,
    pwd,
  });
  const problems: string[] = [];
  const render = (text: string, where: string): string | undefined => {
    if (isPlainText(text)) return text;
    try {
      return renderTemplate(text, {}, functions);
    } catch (error) {
      problems.push(`${where}: ${(error as Error).message}`);
      return undefined;
    }
  };

  const references: Reference[] = [];
  const builds = new Set<string>();
  const builders = Object.hasOwn(root, 'builders') ? root.builders : [root];
  if (Array.isArray(builders)) {
    builders.forEach((raw, i) => {
      const builder = asRecord(raw);
      if (builder === undefined || builder.type !== BUILDER_TYPE) return;
      const rawName = typeof builder.name === 'string' && builder.name !== '' ? builder.name : BUILDER_TYPE;
      const name = render(rawName, `builders[${i}].name`) ?? rawName;
      if (opts.only !== undefined && opts.only.length > 0 && !opts.only.includes(name)) return;
      if (opts.except?.includes(name)) return;
      // Provisioner only/except and override blocks may name the build as written or as rendered.
      builds.add(rawName);
      builds.add(name);
      builderReferences(builder, Object.hasOwn(root, 'builders') ? `builders[${i}]` : 'builder', references);
    });
  }
  if (Array.isArray(root.provisioners)) {
    root.provisioners.forEach((p, i) => {
      provisionerReferences(p, `provisioners[${i}]`, builds, references);
    });
  }
  provisionerReferences(root['error-cleanup-provisioner'], 'error-cleanup-provisioner', builds, references);

  // Render and check every reference first: nothing is uploaded unless all of them are readable.
  const locals: { ref: Reference; path: string; isDirectory: boolean }[] = [];
  for (const ref of references) {
    const rendered = render(ref.value, ref.where);
    if (rendered === undefined || isRemoteReference(rendered)) continue;
    const path = resolve(pwd, rendered);
    const problem = statError(rendered, pwd);
    if (problem !== undefined) {
      problems.push(ref.bad(rendered, problem));
      continue;
    }
    const isDirectory = (await stat(path)).isDirectory();
    if (
      ref.guest !== undefined &&
      isDirectory !== (ref.guest.kind === 'directory') &&
      ref.guest.kind !== 'any'
    ) {
      problems.push(ref.guest.wrong(rendered, 0));
    } else if (isDirectory && !ref.allowDirectory) {
      problems.push(ref.bad(rendered, `${rendered} is a directory, not a file`));
    } else {
      locals.push({ ref, path, isDirectory });
    }
  }
  if (problems.length > 0) throw new TemplateValidationError(problems);

  const prefix = `${STAGING_ROOT}${safeSegment(opts.prefix)}/files/`;
  const staged: StagedFile[] = [];
  const uploaded = new Map<string, string>();
  for (const { ref, path, isDirectory } of locals) {
    // A guest provisioner's directory always means its contents; the remote ansible playbook brings its folder.
    const trailingSlash = ref.guest !== undefined || /[/\\]$/.test(ref.value);
    const folder = ref.guest?.folder === true;
    const source = folder ? dirname(path) : path;
    const cacheKey = `${source}\0${(isDirectory || folder) && trailingSlash ? '/' : ''}`;
    let uri = uploaded.get(cacheKey);
    if (uri === undefined) {
      uri = await upload(opts, prefix, source, isDirectory || folder, trailingSlash);
      uploaded.set(cacheKey, uri);
      staged.push({ localPath: source, uri });
    }
    ref.replace(folder ? `${uri}${relative(source, path).split(sep).map(safeSegment).join('/')}` : uri);
  }
  return { template: rewrap(root), staged };
}

async function upload(
  opts: StageOptions,
  prefix: string,
  path: string,
  isDirectory: boolean,
  contentsOnly: boolean,
): Promise<string> {
  const { hash, files } = await hashPath(path, isDirectory);
  const folder = `${prefix}${hash.slice(0, 12)}/`;
  const name = safeSegment(basename(path));
  if (!isDirectory) {
    const key = `${folder}${name}`;
    await put(opts, key, await readFile(path));
    return `s3://${opts.bucket}/${key}`;
  }
  for (const file of files) {
    const parts = relative(path, file).split(sep).map(safeSegment);
    await put(opts, `${folder}${name}/${parts.join('/')}`, await readFile(file));
  }
  return `s3://${opts.bucket}/${contentsOnly ? `${folder}${name}/` : folder}`;
}

async function put(opts: StageOptions, key: string, body: Buffer): Promise<void> {
  await opts.s3.send(
    new PutObjectCommand({
      Bucket: opts.bucket,
      Key: key,
      Body: body,
      ServerSideEncryption: 'AES256',
    }),
  );
}

/**
 * Staging of local files: the workflow reads files only from S3 (or SSM), so before a build the CLI uploads every
 * local file a template references and hands the workflow a copy of the template that names the uploads
 * instead. File contents never enter the execution input: only `s3://` URIs do.
 *
 * Referenced files (the keys Packer reads from the local disk):
 * - `amazon-instance` builders: `x509_cert_path`, `x509_key_path`, `user_data_file`;
 * - `ami_test` of a builder: `script`, `scripts`, as a shell provisioner's;
 * - provisioners (and `error-cleanup-provisioner`): `script`, `scripts`, file `source` / `sources`, the paths of
 *   chef-solo (`cookbook_paths`, `roles_path`, `data_bags_path`, `environments_path`,
 *   `encrypted_data_bag_secret_path`, `config_template`) and salt-masterless (`local_state_tree`,
 *   `local_pillar_roots`, `minion_config`, `grains_file`), also inside per-build `override` blocks. Their
 *   directories are staged as `s3://…/` prefixes of their contents, with the layout intact.
 *
 * Each value is rendered first (`{{user "x"}}`, `{{template_dir}}`, `{{pwd}}`), as Packer renders it before it
 * reads the file; a relative path is relative to the working directory, as in Packer. `s3://` and `ssm:` values
 * are left as they are. Uploads are encrypted (SSE-S3), carry their SHA-256 checksum (S3 verifies and keeps it;
 * `skip_if_unchanged` reads it as the content's digest) and are content-addressed:
 * `staging/<prefix>/files/<first 12 hex of sha256>/<file name>`, so the same file is stored once per build.
 *
 * Shared by `ami-builder build` and `ami-builder local`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { TemplateValidationError } from '../lambdas/shared/errors.js';
import { STAGING_ROOT, safeSegment } from '../lambdas/shared/staging-paths.js';
import { isPlainText, renderTemplate } from '../lambdas/shared/template/engine.js';
import { packerFunctions } from '../lambdas/shared/template/functions.js';
import { CHEF_SOLO_PATH_KEYS } from '../lambdas/shared/template/provisioners/chef-solo.js';
import { SALT_MASTERLESS_PATH_KEYS } from '../lambdas/shared/template/provisioners/salt-masterless.js';
import { statError } from './files.js';

export interface StageOptions extends PlanOptions {
  s3: S3Client;
}

export interface PlanOptions {
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

/** One object to upload: its key in the staging bucket and the local file it holds. */
export interface StagedObject {
  key: string;
  localPath: string;
  /** The referenced file or folder it belongs to ({@link StagedFile.localPath}). */
  uploadedAs: string;
}

/** What staging will upload, computed before anything is: see {@link planStaging}. */
export interface StagingPlan extends StageResult {
  bucket: string;
  /** Every object to upload, each key once. */
  objects: StagedObject[];
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

/** chef-solo's and salt-masterless's path keys (their modules word Packer's messages for them). */
const packerPathKeys = (
  keys: readonly {
    key: string;
    list: boolean;
    directory: boolean;
    bad: (p: string, e: string) => string;
    notDirectory?: (p: string) => string;
  }[],
): GuestKey[] =>
  keys.map(({ key, list, directory, bad, notDirectory }) => ({
    key,
    list,
    kind: directory ? 'directory' : 'file',
    bad: (p, e) => bad(p, e),
    wrong: directory
      ? (p) => notDirectory?.(p) ?? bad(p, `stat ${p}: not a directory`)
      : (p) => bad(p, `${p} is a directory, not a file`),
  }));

/** The local path keys of every guest-side provisioner type. */
const GUEST_KEYS: Readonly<Record<string, readonly GuestKey[]>> = {
  'chef-solo': packerPathKeys(CHEF_SOLO_PATH_KEYS),
  'salt-masterless': packerPathKeys(SALT_MASTERLESS_PATH_KEYS),
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
    } else if (guest.list === true && typeof value === 'string') {
      // A comma-separated list, as Packer's decoder splits it.
      const parts = value.split(',');
      parts.forEach((item, i) => {
        add(item, `${where}.${guest.key}[${i}]`, i, (uri) => {
          parts[i] = uri;
          p[guest.key] = [...parts];
        });
      });
    } else if (typeof value === 'string') {
      add(value, `${where}.${guest.key}`, 0, (uri) => (p[guest.key] = uri));
    }
  }
}

function builderReferences(builder: JsonRecord, where: string, out: Reference[]): void {
  // ami_test's scripts, staged like a shell provisioner's (an object, or HCL-style JSON's one-element list).
  const amiTest = Array.isArray(builder.ami_test) ? builder.ami_test[0] : builder.ami_test;
  const test = asRecord(amiTest);
  if (test !== undefined) collectProvisionerKeys(test, 'shell', `${where}.ami_test`, out);
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
 * Plans the staging of the local files the template references, and uploads nothing: checks that each one can
 * be read, hashes it, and returns the template rewritten to the `s3://` URIs the files will have, with the
 * objects to upload. So every check of the run (the input's size, credentials) happens before the first upload.
 *
 * A directory given as a file provisioner source keeps Packer's meaning through the S3 folder it becomes:
 * `dir` (the folder itself, into `destination/dir`) stages as the folder that *contains* `dir`; `dir/` (its
 * contents) stages as `dir/` itself.
 *
 * @throws TemplateValidationError listing every reference that cannot be rendered or read, in Packer's words
 *   (`x509_cert_path points to bad file: stat cert.pem: no such file or directory`), before anything is uploaded.
 */
export async function planStaging(template: unknown, opts: PlanOptions): Promise<StagingPlan> {
  const input = asRecord(template);
  if (input === undefined) return { template, staged: [], bucket: opts.bucket, objects: [] };
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
  const objects: StagedObject[] = [];
  const planned = new Map<string, string>();
  for (const { ref, path, isDirectory } of locals) {
    // A guest provisioner's directory always means its contents; the remote ansible playbook brings its folder.
    const trailingSlash = ref.guest !== undefined || /[/\\]$/.test(ref.value);
    const folder = ref.guest?.folder === true;
    const source = folder ? dirname(path) : path;
    const cacheKey = `${source}\0${(isDirectory || folder) && trailingSlash ? '/' : ''}`;
    let uri = planned.get(cacheKey);
    if (uri === undefined) {
      const planOne = await planUpload(opts.bucket, prefix, source, isDirectory || folder, trailingSlash);
      uri = planOne.uri;
      planned.set(cacheKey, uri);
      staged.push({ localPath: source, uri });
      for (const object of planOne.objects) {
        if (!objects.some((o) => o.key === object.key)) objects.push(object);
      }
    }
    ref.replace(folder ? `${uri}${relative(source, path).split(sep).map(safeSegment).join('/')}` : uri);
  }
  return { template: rewrap(root), staged, bucket: opts.bucket, objects };
}

/**
 * Uploads the local files the template references and returns the template rewritten to their `s3://` URIs:
 * {@link planStaging}, then {@link uploadStaging}.
 *
 * @throws TemplateValidationError listing every reference that cannot be rendered or read, before anything is
 *   uploaded
 */
export async function stageTemplateFiles(template: unknown, opts: StageOptions): Promise<StageResult> {
  const plan = await planStaging(template, opts);
  await uploadStaging(plan, opts.s3);
  return { template: plan.template, staged: plan.staged };
}

/** The objects one referenced file or folder becomes, and the URI the template names it by. */
async function planUpload(
  bucket: string,
  prefix: string,
  path: string,
  isDirectory: boolean,
  contentsOnly: boolean,
): Promise<{ uri: string; objects: StagedObject[] }> {
  const { hash, files } = await hashPath(path, isDirectory);
  const folder = `${prefix}${hash.slice(0, 12)}/`;
  const name = safeSegment(basename(path));
  if (!isDirectory) {
    const key = `${folder}${name}`;
    return { uri: `s3://${bucket}/${key}`, objects: [{ key, localPath: path, uploadedAs: path }] };
  }
  const objects = files.map((file) => {
    const parts = relative(path, file).split(sep).map(safeSegment);
    return { key: `${folder}${name}/${parts.join('/')}`, localPath: file, uploadedAs: path };
  });
  return { uri: `s3://${bucket}/${contentsOnly ? `${folder}${name}/` : folder}`, objects };
}

/** What {@link uploadStaging} reports as it goes, and how it learns that the user interrupted. */
export interface UploadOptions {
  /**
   * Asked before each object: when it returns true, nothing more is uploaded, what was is deleted, and
   * {@link StagingInterruptedError} is thrown.
   * @default never
   */
  interrupted?: () => boolean;
  /**
   * Called once the objects of a referenced file or folder are uploaded.
   * @default nothing
   */
  onUploaded?: (file: StagedFile) => void;
}

/** The user interrupted the upload; what was uploaded is deleted (or, if that failed, listed in `left`). */
export class StagingInterruptedError extends Error {
  override readonly name = 'StagingInterruptedError' as const;
  constructor(
    readonly removed: number,
    readonly left: readonly string[],
  ) {
    super(
      left.length === 0
        ? `interrupted before the build started: removed the ${removed} staged file(s)`
        : `interrupted before the build started: ${left.length} staged file(s) could not be removed (${left.join(', ')}); the staging bucket's lifecycle rule expires them`,
    );
  }
}

/**
 * Uploads a plan's objects (encrypted, SSE-S3), in order, and returns their keys. When an upload fails or the
 * user interrupts, the objects already uploaded are deleted before the error is thrown.
 *
 * @throws StagingInterruptedError when {@link UploadOptions.interrupted} said so
 * @throws the S3 error of a failed upload
 */
export async function uploadStaging(
  plan: StagingPlan,
  s3: S3Client,
  options: UploadOptions = {},
): Promise<string[]> {
  const uploaded: string[] = [];
  try {
    for (const object of plan.objects) {
      if (options.interrupted?.() === true) {
        const left = await deleteStagedObjects(s3, plan.bucket, uploaded);
        throw new StagingInterruptedError(uploaded.length - left.length, left);
      }
      await put(s3, plan.bucket, object.key, await readFile(object.localPath));
      uploaded.push(object.key);
      const file = plan.staged.find((f) => f.localPath === object.uploadedAs);
      const last = plan.objects.filter((o) => o.uploadedAs === object.uploadedAs).at(-1);
      if (file !== undefined && last === object) options.onUploaded?.(file);
    }
    if (options.interrupted?.() === true) {
      const left = await deleteStagedObjects(s3, plan.bucket, uploaded);
      throw new StagingInterruptedError(uploaded.length - left.length, left);
    }
  } catch (error) {
    if (!(error instanceof StagingInterruptedError)) await deleteStagedObjects(s3, plan.bucket, uploaded);
    throw error;
  }
  return uploaded;
}

/**
 * Deletes staged objects (DeleteObjects, 1000 keys a call). Never throws: returns the keys it could not
 * delete, for the caller to report.
 */
export async function deleteStagedObjects(
  s3: S3Client,
  bucket: string,
  keys: readonly string[],
): Promise<string[]> {
  const left: string[] = [];
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    try {
      // Loaded here: `validate` reads templates through this module and never uploads.
      const { DeleteObjectsCommand } = await import('@aws-sdk/client-s3');
      const result = await s3.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      for (const e of result?.Errors ?? []) left.push(`s3://${bucket}/${e.Key ?? ''}`);
    } catch {
      left.push(...batch.map((key) => `s3://${bucket}/${key}`));
    }
  }
  return left;
}

async function put(s3: S3Client, bucket: string, key: string, body: Buffer): Promise<void> {
  // Loaded here: `validate` reads templates through this module and never uploads.
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      ServerSideEncryption: 'AES256',
      // S3 checks it and keeps it: the content digest skip_if_unchanged reads (HeadObject), without a download.
      ChecksumSHA256: createHash('sha256').update(body).digest('base64'),
    }),
  );
}

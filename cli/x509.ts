/**
 * The examples' throwaway X.509 pair. `amazon-instance` templates must name an X.509 certificate and key
 * (`x509_cert_path`, `x509_key_path`); the examples name local files that are never committed (`.gitignore`:
 * `*.pem`, `examples/x509/`). When `ami-builder local` runs an example and those files are missing, it creates a
 * self-signed pair there with `openssl`. Files outside the repository's `examples/` folder are never created:
 * a missing certificate of a real template stays an error.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPlainText, renderTemplate } from '../lambdas/shared/template/engine.js';
import { packerFunctions } from '../lambdas/shared/template/functions.js';

/** The repository's `examples/` folder: the only place a pair is generated. */
// From dist/cli/ too (the compiled CLI): the examples stay in the repository.
export const EXAMPLES_DIR = fileURLToPath(
  new URL('../examples/', import.meta.url.replace(/\/dist\/(?=(cli|lambdas|infra|emulator)\/)/, '/')),
);

/** Days the generated certificate is valid for. */
export const THROWAWAY_CERT_DAYS = 365;

/** A certificate and key that were generated. */
export interface GeneratedPair {
  cert: string;
  key: string;
}

export interface ExamplePairOptions {
  /** Base of relative paths (Packer reads them relative to the working directory). */
  cwd: string;
  /** Absolute directory of the template, for `{{template_dir}}`. */
  templateDir: string;
  /** The variables given on the command line, for `{{user "x"}}` in a path. */
  vars: ReadonlyMap<string, string>;
  /** @default {@link EXAMPLES_DIR} */
  examplesDir?: string;
  /** Creates the pair. @default {@link generateSelfSignedPair} (openssl) */
  generate?: (pair: GeneratedPair) => void;
}

type JsonRecord = Record<string, unknown>;

const asRecord = (value: unknown): JsonRecord | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonRecord) : undefined;

/** The builders and variable defaults of any input form: a template, a bare builder, or `{ template, vars }`. */
function buildersOf(input: unknown): { builders: JsonRecord[]; variables: Record<string, unknown> } {
  let root = asRecord(input) ?? {};
  let wrapperVars: Record<string, unknown> = {};
  const inner = root.template;
  if (!Object.hasOwn(root, 'builders') && !Object.hasOwn(root, 'type') && inner !== undefined) {
    wrapperVars = asRecord(root.vars) ?? {};
    try {
      root = asRecord(typeof inner === 'string' ? JSON.parse(inner) : inner) ?? {};
    } catch {
      return { builders: [], variables: {} };
    }
  }
  const list = Array.isArray(root.builders) ? root.builders : [root];
  return {
    builders: list.map(asRecord).filter((b): b is JsonRecord => b?.type === 'amazon-instance'),
    variables: { ...(asRecord(root.variables) ?? {}), ...wrapperVars },
  };
}

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/**
 * The certificate/key pairs the template names as local files that are both missing and inside the examples
 * folder, as absolute paths. Paths are rendered (`{{template_dir}}`, `{{user "x"}}`) as Packer renders them.
 */
export function missingExamplePairs(input: unknown, options: ExamplePairOptions): GeneratedPair[] {
  const examplesDir = resolve(options.examplesDir ?? EXAMPLES_DIR);
  const { builders, variables } = buildersOf(input);
  const userVariables: Record<string, string> = {};
  for (const [name, value] of Object.entries(variables)) {
    if (typeof value === 'string') userVariables[name] = value;
  }
  for (const [name, value] of options.vars) userVariables[name] = value;
  const functions = packerFunctions({
    now: new Date(),
    uuid: randomUUID,
    userVariables,
    templateDir: options.templateDir,
    pwd: options.cwd,
  });
  const localPath = (value: unknown): string | undefined => {
    if (typeof value !== 'string' || value.trim() === '') return undefined;
    let text = value.trim();
    if (!isPlainText(text)) {
      try {
        text = renderTemplate(text, {}, functions);
      } catch {
        return undefined;
      }
    }
    if (text.startsWith('s3://') || text.startsWith('ssm:')) return undefined;
    return resolve(options.cwd, text);
  };

  const pairs: GeneratedPair[] = [];
  for (const builder of builders) {
    const cert = localPath(builder.x509_cert_path);
    const key = localPath(builder.x509_key_path);
    if (cert === undefined || key === undefined) continue;
    if (!isInside(cert, examplesDir) || !isInside(key, examplesDir)) continue;
    if (existsSync(cert) && existsSync(key)) continue;
    if (!pairs.some((p) => p.cert === cert && p.key === key)) pairs.push({ cert, key });
  }
  return pairs;
}

/**
 * Writes a self-signed RSA 2048 certificate and its unencrypted private key (mode 0600) with `openssl`.
 * Both files are replaced: half of an old pair is useless. Each file is written under a temporary name and
 * renamed, so a concurrent run never reads half a file.
 */
export function generateSelfSignedPair(pair: GeneratedPair): void {
  mkdirSync(dirname(pair.cert), { recursive: true });
  mkdirSync(dirname(pair.key), { recursive: true });
  const suffix = `.${process.pid}-${randomUUID().slice(0, 8)}.tmp`;
  const cert = `${pair.cert}${suffix}`;
  const key = `${pair.key}${suffix}`;
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-sha256',
        '-days',
        String(THROWAWAY_CERT_DAYS),
        '-subj',
        '/CN=ami-builder local throwaway',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    chmodSync(key, 0o600);
    renameSync(key, pair.key);
    renameSync(cert, pair.cert);
  } finally {
    rmSync(cert, { force: true });
    rmSync(key, { force: true });
  }
}

/**
 * Creates the throwaway pairs an example needs (see {@link missingExamplePairs}); returns what was created.
 */
export function ensureExampleX509(input: unknown, options: ExamplePairOptions): GeneratedPair[] {
  const pairs = missingExamplePairs(input, options);
  const generate = options.generate ?? generateSelfSignedPair;
  for (const pair of pairs) generate(pair);
  return pairs;
}

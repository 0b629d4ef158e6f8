/**
 * The fingerprint of a build (`skip_if_unchanged`): a SHA-256 over everything that decides the image, so that a
 * build whose fingerprint matches an AMI this stack already built can report that AMI instead of building.
 *
 * What it covers, as one canonical JSON document ({@link fingerprintDocument}):
 * - the normalized configuration, with three replacements:
 *   - `ami_name` and `bundle_prefix` as Validate Template rendered them with a fixed clock and `{{uuid}}` seed
 *     (`fingerprintNames`): a `{{timestamp}}` in a name changes every run and decides nothing;
 *   - every `s3://` reference by its content ({@link ContentDigest}), not its URI: the CLI stages files under a
 *     per-execution key, so the same script has another URI in every run;
 *   - the X.509 certificate and key left out (only `x509_upload_path` stays): they sign the bundle's manifest and
 *     decide nothing in the image; rotating them must not cause a rebuild;
 * - the resolved source AMI id (a `source_ami_filter` with `most_recent` resolves to a newer image in time);
 * - the bundle and upload commands as they run (rendered with the account, the architecture and the fixed
 *   names), so that a change in what the build variables give them counts too.
 *
 * Kept apart from any SDK client: Validate Template imports the fixed clock from here.
 */
import { createHash } from 'node:crypto';
import type { BuildConfig } from './config.js';

/**
 * The clock of the second rendering of the names (Validate Template): fixed, so names rendered from the time
 * come out the same in every run. 2001-09-09T01:46:40Z is Unix time 1000000000, as many digits as today's
 * `{{timestamp}}`, so that length limits judge both renderings alike.
 */
export const FINGERPRINT_CLOCK = new Date(1_000_000_000_000);
/** The `{{uuid}}` seed of that rendering. */
export const FINGERPRINT_UUID_SEED = 'ami-builder:fingerprint';
/** Changes when what the fingerprint covers changes, so that no old fingerprint matches a new one by accident. */
export const FINGERPRINT_VERSION = 1;

/** An S3 reference the configuration names, found by {@link s3References}. */
export interface S3Reference {
  bucket: string;
  key: string;
  uri: string;
}

/**
 * What an `s3://` reference holds, as the build reads it: one object (`file`, with its name, which decides the
 * file's name on the instance), or the objects of a folder, each by its key relative to the folder. `digest` is
 * `sha256:<base64>` of the object's bytes or, for an object that S3 stored with a composite (multipart)
 * SHA-256, `sha256-composite:<S3's value>`: a digest of the parts' digests, which changes with the content too.
 */
export type ContentDigest =
  | { layout: 'file'; name: string; digest: string }
  /** `name`: a folder named without a trailing `/` (Send Command copies it as a directory of that name). */
  | { layout: 'folder'; name?: string; objects: [relativeKey: string, digest: string][] }
  | { layout: 'missing' };

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isS3Ref(value: unknown): value is S3Reference & { kind: 's3' } {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    v.kind === 's3' && typeof v.bucket === 'string' && typeof v.key === 'string' && typeof v.uri === 'string'
  );
}

/** The configuration as the fingerprint takes it: X.509 files out, the fixed names in, itself out. */
function fingerprintConfig(config: BuildConfig): Record<string, unknown> {
  const { fingerprintNames, x509, ...rest } = config;
  return {
    ...rest,
    amiName: fingerprintNames?.amiName ?? config.amiName,
    bundle: { ...config.bundle, prefix: fingerprintNames?.bundlePrefix ?? config.bundle.prefix },
    x509: { uploadPath: x509.uploadPath },
  };
}

/** Every `s3://` reference of the configuration that the fingerprint reads (scripts, files, folders, user data). */
export function s3References(config: BuildConfig): S3Reference[] {
  const found = new Map<string, S3Reference>();
  const walk = (value: unknown): void => {
    if (isS3Ref(value)) {
      found.set(value.uri, { bucket: value.bucket, key: value.key, uri: value.uri });
      return;
    }
    if (Array.isArray(value)) for (const item of value) walk(item);
    else if (typeof value === 'object' && value !== null) for (const item of Object.values(value)) walk(item);
  };
  walk(fingerprintConfig(config));
  return [...found.values()].sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
}

/** The configuration with every S3 reference replaced by its content. */
function withContents(value: unknown, contents: ReadonlyMap<string, ContentDigest>): Json {
  if (isS3Ref(value)) {
    const content = contents.get(value.uri);
    if (content === undefined) throw new Error(`no content digest for ${value.uri}`);
    return { kind: 's3', content: content as unknown as Json };
  }
  if (Array.isArray(value)) return value.map((v) => withContents(v, contents));
  if (typeof value === 'object' && value !== null) {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = withContents(v, contents);
    return out;
  }
  if (value === undefined) return null;
  return value as Json;
}

/** JSON with every object's keys sorted: the same document always gives the same text. */
export function canonicalJson(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] as Json)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export interface FingerprintInputs {
  config: BuildConfig;
  /** The resolved source AMI id (Prevalidate's `$.source.imageId`). */
  sourceAmiId: string;
  /** Content of every reference {@link s3References} lists, by URI. */
  contents: ReadonlyMap<string, ContentDigest>;
  /** The rendered bundle and upload commands (their scripts), with the fixed names and clock. */
  bundleCommands: { bundle: string; upload: string };
}

/** The document the fingerprint hashes (exported for tests and for explaining a fingerprint). */
export function fingerprintDocument(inputs: FingerprintInputs): Json {
  return {
    version: FINGERPRINT_VERSION,
    config: withContents(fingerprintConfig(inputs.config), inputs.contents),
    sourceAmiId: inputs.sourceAmiId,
    bundleCommands: inputs.bundleCommands,
  };
}

/** The fingerprint: `v1:` and the SHA-256 of the canonical document, in hex (67 characters, a valid tag value). */
export function fingerprint(inputs: FingerprintInputs): string {
  const hash = createHash('sha256')
    .update(canonicalJson(fingerprintDocument(inputs)))
    .digest('hex');
  return `v${FINGERPRINT_VERSION}:${hash}`;
}

/**
 * Check Unchanged (`skip_if_unchanged`): computes the build's fingerprint (../shared/fingerprint.ts) once the
 * source AMI is resolved, and looks for an AMI this stack built with the same fingerprint. When one is available
 * in the build region and every `ami_regions` region (the AMI and its copies, from one build), the build
 * launches nothing: the Choice after this state goes to publishing and reporting that AMI, with status
 * `unchanged`. Otherwise the build goes on, and Finish AMI tags the new AMI and its copies with the fingerprint.
 *
 * Content digests come from S3, per object: the SHA-256 checksum S3 stored at upload (the CLI's staging uploads
 * set one), read with `ChecksumMode: ENABLED`, or else a SHA-256 computed while reading the object. An ETag is
 * never taken for a digest: a multipart upload's ETag is not the MD5 of the content, nor is an SSE-KMS one.
 */
import { createHash } from 'node:crypto';
import { DescribeImagesCommand, type Image } from '@aws-sdk/client-ec2';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { planCommand, RUN_SCRIPT } from '../send-command/plan.js';
import { validateAmiName } from '../shared/ami-name.js';
import { awsErrorCode } from '../shared/cleanup-report.js';
import {
  type ContentDigest,
  FINGERPRINT_CLOCK,
  FINGERPRINT_UUID_SEED,
  fingerprint,
  type S3Reference,
  s3References,
} from '../shared/fingerprint.js';
import { isOwnedByStack, tagValue } from '../shared/ownership.js';
import { type Clients, type Clock, TagKeys, type TaskEnvironment } from '../shared/runtime.js';
import { listFileKeys } from '../shared/s3-list.js';
import type { BuildState, FingerprintInfo, ImageInfo, TaskEvent } from '../shared/state.js';
import { requireState } from '../shared/task-event.js';

export interface CheckUnchangedDeps {
  clients: Pick<Clients, 'ec2' | 's3'>;
  env: Pick<TaskEnvironment, 'stackName' | 'adoptForeignImages'>;
  /** The region of the S3 client that reads the referenced objects (the stack's, as Send Command's). */
  stagingRegion: string;
  clock: Clock;
  log: (message: string) => void;
}

async function readDigest(s3: S3Client, bucket: string, key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  const body = out.Body as AsyncIterable<Uint8Array> | undefined;
  if (body !== undefined) for await (const chunk of body) hash.update(chunk);
  return `sha256:${hash.digest('base64')}`;
}

/**
 * The digest of one object: S3's stored SHA-256 when it has one (a full-object checksum is the SHA-256 of the
 * bytes, the same value reading gives; a composite one is marked as such), else the SHA-256 of its bytes.
 * `undefined` when the object does not exist.
 */
export async function objectDigest(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  let checksum: string | undefined;
  let type: string | undefined;
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
    checksum = head.ChecksumSHA256;
    type = head.ChecksumType;
  } catch (error) {
    const code = awsErrorCode(error);
    if (code === 'NotFound' || code === 'NoSuchKey') return undefined;
    throw error;
  }
  if (checksum !== undefined && checksum !== '') {
    const composite = type === 'COMPOSITE' || /-\d+$/.test(checksum);
    return composite ? `sha256-composite:${checksum}` : `sha256:${checksum}`;
  }
  return readDigest(s3, bucket, key);
}

async function folderDigest(
  s3: S3Client,
  bucket: string,
  prefix: string,
  name?: string,
): Promise<ContentDigest | undefined> {
  // Zero-byte "folder" markers are not files (Send Command skips them too).
  const keys = (await listFileKeys(s3, bucket, prefix)).sort();
  if (keys.length === 0) return undefined;
  const objects: [string, string][] = [];
  for (const key of keys) {
    objects.push([key.slice(prefix.length), (await objectDigest(s3, bucket, key)) ?? 'missing']);
  }
  return { layout: 'folder', ...(name === undefined ? {} : { name }), objects };
}

function basename(key: string): string {
  const trimmed = key.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/**
 * What a reference holds, resolved as Send Command resolves it: a key ending in `/` (or empty) is a folder; a
 * key naming no object is the folder `<key>/` if that has objects; else it is missing (the build then fails
 * where it reads it, and a missing file matches no earlier build).
 */
export async function contentDigest(s3: S3Client, ref: S3Reference): Promise<ContentDigest> {
  const { bucket, key } = ref;
  if (key === '' || key.endsWith('/')) return (await folderDigest(s3, bucket, key)) ?? { layout: 'missing' };
  const digest = await objectDigest(s3, bucket, key);
  if (digest !== undefined) return { layout: 'file', name: basename(key), digest };
  return (await folderDigest(s3, bucket, `${key}/`, basename(key))) ?? { layout: 'missing' };
}

/** The bundle and upload scripts as Send Command would render them, with the fixed names and clock. */
function bundleCommands(build: BuildState): { bundle: string; upload: string } {
  const source = requireState(build, 'source');
  const names = build.config.fingerprintNames;
  const neutral: BuildState = {
    ...build,
    config: {
      ...build.config,
      amiName: names?.amiName ?? build.config.amiName,
      bundle: { ...build.config.bundle, prefix: names?.bundlePrefix ?? build.config.bundle.prefix },
    },
    execution: {
      id: FINGERPRINT_UUID_SEED,
      name: FINGERPRINT_UUID_SEED,
      startTime: FINGERPRINT_CLOCK.toISOString(),
    },
  };
  const script = (kind: 'bundle' | 'upload') => {
    const plan = planCommand(neutral, {
      key: { kind, attempt: 1 },
      architecture: source.architecture,
      scriptSuffix: 0,
    });
    const run = plan.files.find((f) => f.name === RUN_SCRIPT)?.source;
    return run?.kind === 'text' ? run.body : '';
  };
  return { bundle: script('bundle'), upload: script('upload') };
}

/** The build's fingerprint (reads every referenced S3 object's digest). */
export async function buildFingerprint(build: BuildState, deps: CheckUnchangedDeps): Promise<string> {
  const source = requireState(build, 'source');
  const s3 = deps.clients.s3(deps.stagingRegion);
  const contents = new Map<string, ContentDigest>();
  for (const ref of s3References(build.config)) contents.set(ref.uri, await contentDigest(s3, ref));
  return fingerprint({
    config: build.config,
    sourceAmiId: source.imageId,
    contents,
    bundleCommands: bundleCommands(build),
  });
}

/** This stack's finished, available, not deprecated images with the fingerprint, in one region. */
async function matchingImages(
  region: string,
  value: string,
  deps: CheckUnchangedDeps,
): Promise<{ region: string; image: Image }[]> {
  const now = deps.clock.now().getTime();
  const found: { region: string; image: Image }[] = [];
  let token: string | undefined;
  do {
    const page = await deps.clients.ec2(region).send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [
          { Name: `tag:${TagKeys.stack}`, Values: [deps.env.stackName] },
          { Name: `tag:${TagKeys.fingerprint}`, Values: [value] },
          { Name: `tag:${TagKeys.finished}`, Values: ['true'] },
          { Name: 'state', Values: ['available'] },
        ],
        NextToken: token,
      }),
    );
    for (const image of page.Images ?? []) {
      // The filters say so; the tags are checked again, as every ownership decision is (../shared/ownership.ts).
      if (image.ImageId === undefined || image.State !== 'available') continue;
      if (!isOwnedByStack(image.Tags, deps.env.stackName)) continue;
      if (tagValue(image.Tags, TagKeys.fingerprint) !== value) continue;
      // A deprecated image is on its way out: build a new one instead.
      const deprecation =
        image.DeprecationTime === undefined ? Number.NaN : Date.parse(image.DeprecationTime);
      if (!Number.isNaN(deprecation) && deprecation <= now) continue;
      found.push({ region, image });
    }
    token = page.NextToken;
  } while (token !== undefined);
  return found;
}

/**
 * The newest build of this stack whose AMI, with this fingerprint, is available in every target region: the
 * images of one execution and build, so that the artifact is an AMI and its own copies.
 */
export async function findUnchanged(
  build: BuildState,
  value: string,
  deps: CheckUnchangedDeps,
): Promise<FingerprintInfo['unchanged']> {
  const { config } = build;
  const regions = [...new Set([config.region, ...config.amiRegions])];
  const found = await Promise.all(regions.map((region) => matchingImages(region, value, deps)));
  const origin = (image: Image) =>
    `${tagValue(image.Tags, TagKeys.execution) ?? ''}\n${tagValue(image.Tags, TagKeys.build) ?? ''}`;
  const newestFirst = [...(found[0] ?? [])].sort((a, b) =>
    (b.image.CreationDate ?? '').localeCompare(a.image.CreationDate ?? ''),
  );
  for (const candidate of newestFirst) {
    const key = origin(candidate.image);
    const copies: ImageInfo[] = [];
    for (const [i, region] of regions.entries()) {
      if (i === 0) continue;
      const copy = (found[i] ?? []).find((f) => origin(f.image) === key);
      if (copy?.image.ImageId === undefined) break;
      copies.push({ region, imageId: copy.image.ImageId });
    }
    if (copies.length !== regions.length - 1) continue;
    return {
      image: { region: config.region, imageId: candidate.image.ImageId ?? '' },
      copies,
      executionId: tagValue(candidate.image.Tags, TagKeys.execution) ?? '',
      ...(candidate.image.Name === undefined ? {} : { name: candidate.image.Name }),
    };
  }
  return undefined;
}

/**
 * Computes the fingerprint and looks for an unchanged AMI. With nothing found and no `force_deregister`, checks
 * that `ami_name` is unused, the check Prevalidate leaves to this state when `skip_if_unchanged` is set (an
 * unchanged static name is no conflict).
 *
 * @throws AmiNameInUseError when nothing matches and an AMI already has the name.
 */
export async function checkUnchanged(event: TaskEvent, deps: CheckUnchangedDeps): Promise<FingerprintInfo> {
  const { build } = event;
  const value = await buildFingerprint(build, deps);
  deps.log(`Build fingerprint: ${value}`);
  const unchanged = await findUnchanged(build, value, deps);
  if (unchanged !== undefined) {
    deps.log(
      `Nothing changed since ${unchanged.image.imageId} (${unchanged.image.region}) was built: reporting it, launching nothing.`,
    );
    return { value, unchanged };
  }
  if (!build.config.forceDeregister) await validateAmiName(deps, build);
  return { value };
}

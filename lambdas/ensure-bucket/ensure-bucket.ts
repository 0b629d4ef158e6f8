/**
 * Ensure Bundle Bucket: makes sure `s3_bucket` can receive the bundle and that RegisterImage can read the
 * manifest from it. Packer leaves this to `ec2-upload-bundle`, which creates a missing bucket in us-east-1 and
 * so breaks registration in every other region (InvalidManifest, HTTP 301; packer#1424). Here the bucket is
 * checked, or created in the build region, before an instance is launched.
 */
import {
  type BucketLocationConstraint,
  CreateBucketCommand,
  GetBucketLocationCommand,
  PutPublicAccessBlockCommand,
} from '@aws-sdk/client-s3';
import { BucketNotAllowedError, BundleBucketError } from '../shared/errors.js';
import type { Clients, TaskEnvironment } from '../shared/runtime.js';
import { isTransient } from '../shared/runtime.js';
import type { BucketInfo, TaskEvent } from '../shared/state.js';

export interface EnsureBundleBucketDeps {
  clients: Pick<Clients, 's3'>;
  env: Pick<TaskEnvironment, 'allowedBucketPatterns'>;
}

interface S3ErrorLike {
  name?: string;
  message?: string;
  Region?: string;
  BucketRegion?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

/** True when `name` matches the glob `pattern`, where `*` stands for any run of characters. */
export function matchesBucketPattern(name: string, pattern: string): boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`).test(name);
}

/**
 * The region of a `GetBucketLocation` answer. Buckets in us-east-1 report no constraint, and buckets created
 * with the legacy `EU` constraint live in eu-west-1.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLocation.html
 */
export function bucketRegion(locationConstraint: string | undefined | null): string {
  if (locationConstraint === undefined || locationConstraint === null || locationConstraint === '') {
    return 'us-east-1';
  }
  if (locationConstraint === 'EU') return 'eu-west-1';
  return locationConstraint;
}

/** `<bucket>/<keyPrefix/><bundle prefix>.manifest.xml`, RegisterImage's ImageLocation. */
export function manifestLocation(bucket: string, keyPrefix: string, bundlePrefix: string): string {
  const prefix = keyPrefix === '' ? '' : `${keyPrefix}/`;
  return `${bucket}/${prefix}${bundlePrefix}.manifest.xml`;
}

type Location = { kind: 'found'; region: string } | { kind: 'missing' };

const statusOf = (e: S3ErrorLike): number | undefined => e.$metadata?.httpStatusCode;

function wrongRegion(bucket: string, bucketIn: string | undefined, buildRegion: string): BundleBucketError {
  const where = bucketIn === undefined ? 'another region' : bucketIn;
  const fix =
    bucketIn === undefined
      ? `use a bucket in ${buildRegion}`
      : `use a bucket in ${buildRegion} (a bucket name that does not exist yet is created there), or build in ${bucketIn}`;
  return new BundleBucketError(
    `The bundle bucket "${bucket}" is in ${where}, but the build runs in ${buildRegion}. RegisterImage reads the ` +
      `manifest from the build region and would fail with InvalidManifest (HTTP 301). To fix it, ${fix}.`,
  );
}

function notAccessible(bucket: string, error: S3ErrorLike): BundleBucketError {
  return new BundleBucketError(
    `The bundle bucket "${bucket}" belongs to another account or is not accessible ` +
      `(${error.name ?? 'AccessDenied'}): S3 bucket names are global, so choose another s3_bucket, or grant this ` +
      `stack's roles access to it.`,
  );
}

async function locate(deps: EnsureBundleBucketDeps, bucket: string, buildRegion: string): Promise<Location> {
  try {
    const out = await deps.clients.s3(buildRegion).send(new GetBucketLocationCommand({ Bucket: bucket }));
    return { kind: 'found', region: bucketRegion(out.LocationConstraint) };
  } catch (error) {
    const e = error as S3ErrorLike;
    if (isTransient(error)) throw error;
    if (e.name === 'NoSuchBucket' || statusOf(e) === 404) return { kind: 'missing' };
    if (e.name === 'PermanentRedirect' || e.name === 'AuthorizationHeaderMalformed' || statusOf(e) === 301) {
      const region = e.BucketRegion ?? e.Region ?? e.$response?.headers?.['x-amz-bucket-region'];
      throw wrongRegion(bucket, region, buildRegion);
    }
    if (e.name === 'AccessDenied' || e.name === 'AllAccessDisabled' || statusOf(e) === 403) {
      throw notAccessible(bucket, e);
    }
    throw new BundleBucketError(`Checking the bundle bucket "${bucket}" failed: ${e.name}: ${e.message}`);
  }
}

/** Creates the bucket in the build region; false when it appeared meanwhile (another build of the same run). */
async function create(deps: EnsureBundleBucketDeps, bucket: string, region: string): Promise<boolean> {
  const s3 = deps.clients.s3(region);
  try {
    await s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        // New buckets default to BucketOwnerEnforced, which disables ACLs. ec2-upload-bundle PUTs every part and
        // the manifest with the `aws-exec-read` canned ACL (so that EC2 can read the bundle) and fails with
        // AccessControlListNotSupported when ACLs are disabled; CopyImage of an instance-store AMI writes ACLs
        // too. BucketOwnerPreferred keeps ACLs working while the bucket owner still owns every object. Set at
        // creation, not by a later PutBucketOwnershipControls, so a retry after a crash cannot miss it.
        ObjectOwnership: 'BucketOwnerPreferred',
        // us-east-1 rejects an explicit constraint naming itself.
        ...(region === 'us-east-1'
          ? {}
          : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
      }),
    );
  } catch (error) {
    const e = error as S3ErrorLike;
    if (e.name === 'BucketAlreadyOwnedByYou') return false;
    if (e.name === 'BucketAlreadyExists') {
      throw new BundleBucketError(
        `The bundle bucket "${bucket}" already exists and is owned by someone else: S3 bucket names are ` +
          'global, so choose another s3_bucket.',
      );
    }
    if (isTransient(error)) throw error;
    throw new BundleBucketError(
      `Creating the bundle bucket "${bucket}" in ${region} failed: ${e.name}: ${e.message}`,
    );
  }
  // New buckets block public access by default since April 2023; this says so for older partitions and APIs.
  await s3.send(
    new PutPublicAccessBlockCommand({
      Bucket: bucket,
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      },
    }),
  );
  return true;
}

/**
 * Checks that `s3_bucket` is allowed by the stack, exists in the build region and is ours, creating it there if
 * it is missing. A bucket this task creates is kept after the build: it holds the AMI's bundle.
 *
 * @throws BucketNotAllowedError when no configured pattern matches the bucket name.
 * @throws BundleBucketError when the bucket is in another region, belongs to someone else or cannot be read.
 */
export async function ensureBundleBucket(
  event: TaskEvent,
  deps: EnsureBundleBucketDeps,
): Promise<BucketInfo> {
  const { config } = event.build;
  const { bucket, keyPrefix, prefix } = config.bundle;
  const patterns = deps.env.allowedBucketPatterns;
  if (!patterns.some((p) => matchesBucketPattern(bucket, p))) {
    const allowed = patterns.length === 0 ? 'none (no patterns are configured)' : patterns.join(', ');
    throw new BucketNotAllowedError(
      `s3_bucket "${bucket}" is not allowed by this stack. Allowed bucket name patterns: ${allowed}. Add a ` +
        'matching pattern to the allowedBucketPatterns context and redeploy, or use an allowed bucket.',
    );
  }

  let created = false;
  let location = await locate(deps, bucket, config.region);
  if (location.kind === 'missing') {
    created = await create(deps, bucket, config.region);
    // When another build created it first, it may have done so in its own region: look again.
    location = created ? { kind: 'found', region: config.region } : await locate(deps, bucket, config.region);
    if (location.kind === 'missing') {
      throw new BundleBucketError(
        `The bundle bucket "${bucket}" was reported as existing but cannot be found.`,
      );
    }
  }
  if (location.region !== config.region) throw wrongRegion(bucket, location.region, config.region);

  return {
    name: bucket,
    keyPrefix,
    region: config.region,
    manifestLocation: manifestLocation(bucket, keyPrefix, prefix),
    created,
  };
}

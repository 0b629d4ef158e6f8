/**
 * Where an instance-store image's bundle lives: its `ImageLocation` is `<bucket>/<prefix>.manifest.xml`, and
 * `ec2-upload-bundle` wrote the parts next to it as `<prefix>.part.<n>`. Shared by the tasks that delete a
 * bundle (Force Deregister, Sweep Orphans, Apply Retention): only keys of exactly that shape are ever deleted.
 */
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

/** The bundle an instance-store image was registered from: `s3://<bucket>/<prefix>.manifest.xml` and its parts. */
export interface BundleLocation {
  bucket: string;
  /** The key without `.manifest.xml`: parts are `<prefix>.part.<n>`. */
  prefix: string;
}

export const MANIFEST_SUFFIX = '.manifest.xml';

/**
 * Parses an instance-store image's `ImageLocation` (`<bucket>/<key prefix>.manifest.xml`).
 * Returns undefined for anything else (an EBS image's location is `<account>/<name>`).
 */
export function parseBundleLocation(imageLocation: string | undefined): BundleLocation | undefined {
  if (imageLocation === undefined || !imageLocation.endsWith(MANIFEST_SUFFIX)) return undefined;
  const slash = imageLocation.indexOf('/');
  if (slash <= 0) return undefined;
  const bucket = imageLocation.slice(0, slash);
  const prefix = imageLocation.slice(slash + 1, -MANIFEST_SUFFIX.length);
  if (prefix === '') return undefined;
  return { bucket, prefix };
}

/** True for exactly the keys `ec2-upload-bundle` wrote for this bundle: its manifest and its numbered parts. */
export function isBundleKey(key: string, prefix: string): boolean {
  if (key === `${prefix}${MANIFEST_SUFFIX}`) return true;
  if (!key.startsWith(`${prefix}.part.`)) return false;
  return /^\d+$/.test(key.slice(`${prefix}.part.`.length));
}

/** The outcome of {@link deleteBundle}: where the bundle was and how many objects went (and were kept). */
export interface DeletedBundle {
  /** `s3://<bucket>/<prefix>.manifest.xml` */
  location: string;
  deleted: number;
  /** Objects at bundle keys that `keep` protected. */
  kept: number;
}

/** A bundle object that S3 refused to delete (DeleteObjects' per-key errors). */
export class BundleDeleteError extends Error {
  override readonly name = 'BundleDeleteError';
}

// DeleteObjects takes at most 1000 keys per call.
const DELETE_BATCH = 1000;

/**
 * Deletes the S3 bundle an instance-store image was registered from: its manifest and numbered parts, nothing
 * else under the prefix, and no key `keep` names. Force Deregister, Sweep Orphans and Apply Retention share it.
 *
 * @param image the image's `ImageLocation` and `RootDeviceType`
 * @param s3 a client for the image's region (an image's bundle bucket lies in its region)
 * @param keep keys never deleted (Force Deregister: the bundle the build has just uploaded at the same keys)
 * @returns undefined when the image has no bundle (an EBS image, or a location of another shape)
 * @throws BundleDeleteError when S3 refuses some keys; S3's own errors pass through unchanged
 */
export async function deleteBundle(
  image: { ImageLocation?: string; RootDeviceType?: string },
  s3: Pick<S3Client, 'send'>,
  keep: (key: string) => boolean = () => false,
): Promise<DeletedBundle | undefined> {
  if (image.RootDeviceType !== 'instance-store') return undefined;
  const location = parseBundleLocation(image.ImageLocation);
  if (location === undefined) return undefined;
  const where = `s3://${location.bucket}/${location.prefix}${MANIFEST_SUFFIX}`;
  const keys: string[] = [];
  let kept = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: location.bucket,
        Prefix: location.prefix,
        ContinuationToken: token,
      }),
    );
    for (const object of page.Contents ?? []) {
      const key = object.Key;
      if (key === undefined || !isBundleKey(key, location.prefix)) continue;
      if (keep(key)) kept += 1;
      else keys.push(key);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);

  for (let i = 0; i < keys.length; i += DELETE_BATCH) {
    const batch = keys.slice(i, i + DELETE_BATCH);
    const result = await s3.send(
      new DeleteObjectsCommand({
        Bucket: location.bucket,
        Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    const failed = result.Errors ?? [];
    if (failed.length > 0) {
      const first = failed[0];
      throw new BundleDeleteError(
        `${failed.length} object(s) not deleted, first ${first?.Key}: ${first?.Code} ${first?.Message}`,
      );
    }
  }
  return { location: where, deleted: keys.length, kept };
}

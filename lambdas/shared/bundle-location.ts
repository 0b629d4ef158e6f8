/**
 * Where an instance-store image's bundle lives: its `ImageLocation` is `<bucket>/<prefix>.manifest.xml`, and
 * `ec2-upload-bundle` wrote the parts next to it as `<prefix>.part.<n>`. Shared by the tasks that delete a
 * bundle (Force Deregister, Sweep Orphans): only keys of exactly that shape are ever deleted.
 */

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

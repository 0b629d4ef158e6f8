/**
 * Force Deregister (Packer's `StepDeregisterAMI`, reference §1.1 step 17): with `force_deregister`, removes the
 * AMIs that already carry `ami_name` in every target region, just before Register AMI, so the name is free.
 * With `force_delete_snapshot` it also deletes what backs them: the S3 bundle of an instance-store image and
 * the EBS snapshots of its mappings.
 */
import {
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  type Image,
} from '@aws-sdk/client-ec2';
import { DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { RegisterImageError } from '../shared/errors.js';
import { type Clients, isTransient, TagKeys } from '../shared/runtime.js';
import type { BuildState, ImageInfo } from '../shared/state.js';

export interface ForceDeregisterResult {
  /** The images deregistered, in the order Packer visits the regions (`ami_regions`, then the build region). */
  deregistered: ImageInfo[];
}

export interface ForceDeregisterDeps {
  clients: Pick<Clients, 'ec2' | 's3'>;
  /** Where Packer's progress messages go (the function's log). */
  log: (message: string) => void;
}

/** The bundle an instance-store image was registered from: `s3://<bucket>/<prefix>.manifest.xml` and its parts. */
export interface BundleLocation {
  bucket: string;
  /** The key without `.manifest.xml`: parts are `<prefix>.part.<n>`. */
  prefix: string;
}

const MANIFEST_SUFFIX = '.manifest.xml';
// DeleteObjects takes at most 1000 keys per call.
const DELETE_BATCH = 1000;

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

/**
 * Deregisters every image owned by this account named `ami_name` in `ami_regions` and the build region,
 * except images tagged with this execution: on a redrive after Register AMI, the image this execution
 * registered is the one the build is waiting for, not an old one.
 *
 * @throws RegisterImageError when an image, snapshot or bundle cannot be removed (Packer halts the build too).
 */
export async function forceDeregister(
  event: { build: BuildState },
  deps: ForceDeregisterDeps,
): Promise<ForceDeregisterResult> {
  const { config, execution } = event.build;
  const deregistered: ImageInfo[] = [];
  if (!config.forceDeregister) return { deregistered };

  const regions = [...new Set([...config.amiRegions, config.region])];
  for (const region of regions) {
    const ec2 = deps.clients.ec2(region);
    let images: Image[];
    try {
      const response = await ec2.send(
        new DescribeImagesCommand({
          Owners: ['self'],
          Filters: [{ Name: 'name', Values: [config.amiName] }],
        }),
      );
      images = response.Images ?? [];
    } catch (error) {
      throw wrap(error, `Error describing AMI ${quote(config.amiName)} in ${region}`);
    }

    for (const image of images) {
      const imageId = image.ImageId;
      if (imageId === undefined) continue;
      if (image.Tags?.some((t) => t.Key === TagKeys.execution && t.Value === execution.id)) {
        deps.log(`Keeping AMI ${config.amiName}, id: ${imageId} in ${region}: this execution registered it`);
        continue;
      }
      try {
        await ec2.send(new DeregisterImageCommand({ ImageId: imageId }));
      } catch (error) {
        // Already gone (a concurrent deregistration, or a retry of this task): the name is free either way.
        if (!isImageGone(error)) {
          throw wrap(error, `Error deregistering existing AMI ${imageId} in ${region}`);
        }
      }
      deps.log(`Deregistered AMI ${config.amiName}, id: ${imageId}`);
      deregistered.push({ region, imageId });

      if (config.forceDeleteSnapshot) {
        await deleteBundle(image, region, deps);
        await deleteSnapshots(image, region, deps);
      }
    }
  }
  return { deregistered };
}

async function deleteBundle(image: Image, region: string, deps: ForceDeregisterDeps): Promise<void> {
  if (image.RootDeviceType !== 'instance-store') return;
  const location = parseBundleLocation(image.ImageLocation);
  if (location === undefined) {
    deps.log(
      `Not deleting the bundle of ${image.ImageId}: its location ${quote(image.ImageLocation ?? '')} is not <bucket>/<prefix>.manifest.xml`,
    );
    return;
  }
  const s3 = deps.clients.s3(region);
  const where = `s3://${location.bucket}/${location.prefix}${MANIFEST_SUFFIX}`;
  try {
    const keys: string[] = [];
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
        if (object.Key !== undefined && isBundleKey(object.Key, location.prefix)) keys.push(object.Key);
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
        throw new RegisterImageError(
          `Error deleting the bundle of existing AMI ${image.ImageId} (${where}): ${failed.length} object(s) not deleted, first ${first?.Key}: ${first?.Code} ${first?.Message}`,
        );
      }
    }
    deps.log(`Deleted bundle: ${where} (${keys.length} object(s))`);
  } catch (error) {
    if (error instanceof RegisterImageError) throw error;
    throw wrap(error, `Error deleting the bundle of existing AMI ${image.ImageId} (${where})`);
  }
}

async function deleteSnapshots(image: Image, region: string, deps: ForceDeregisterDeps): Promise<void> {
  const ec2 = deps.clients.ec2(region);
  for (const mapping of image.BlockDeviceMappings ?? []) {
    const snapshotId = mapping.Ebs?.SnapshotId;
    if (snapshotId === undefined || snapshotId === '') continue;
    try {
      await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
    } catch (error) {
      if (errorName(error) !== 'InvalidSnapshot.NotFound') {
        throw wrap(error, `Error deleting existing snapshot ${snapshotId} in ${region}`);
      }
    }
    deps.log(`Deleted snapshot: ${snapshotId}`);
  }
}

function isImageGone(error: unknown): boolean {
  const name = errorName(error);
  return name === 'InvalidAMIID.NotFound' || name === 'InvalidAMIID.Unavailable';
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

/** Throttling and 5xx pass through unchanged so the state machine retries them; the rest become named errors. */
function wrap(error: unknown, context: string): Error {
  if (isTransient(error) || !(error instanceof Error)) return error as Error;
  return new RegisterImageError(`${context}: ${error.name}: ${error.message}`);
}

function quote(value: string): string {
  return `'${value}'`;
}

/**
 * Force Deregister (Packer's `StepDeregisterAMI`, reference §1.1 step 17): with `force_deregister`, removes the
 * AMIs that already carry `ami_name` in every target region, just before Register AMI, so the name is free.
 * With `force_delete_snapshot` it also deletes what backs them: the S3 bundle of an instance-store image and
 * the EBS snapshots of its mappings.
 *
 * Ownership (checked here and in IAM): only images this stack built (tag `ami-builder:stack`) are deregistered,
 * unless the stack adopts foreign images (`adoptForeignImages`); only snapshots carrying the stack's tag are
 * deleted (a snapshot named in `ami_block_device_mappings` is the user's); and no object of the bundle this
 * build has just uploaded is deleted, even when a fixed `bundle_prefix` puts the old bundle at the same keys.
 */
import {
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  type Image,
} from '@aws-sdk/client-ec2';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import {
  BundleDeleteError,
  type BundleLocation,
  deleteBundle,
  isBundleKey,
  MANIFEST_SUFFIX,
  parseBundleLocation,
} from '../shared/bundle-location.js';
import { emptyCleanupReport, keptImage, mergeCleanupReports } from '../shared/cleanup-report.js';
import { ForeignImageError, RegisterImageError } from '../shared/errors.js';
import { checkImageOwnedByBuild, describeImage, isOwnedByStack } from '../shared/ownership.js';
import { type Clients, isTransient, TagKeys, type TaskEnvironment } from '../shared/runtime.js';
import type { BuildState, CleanupReport, ImageInfo } from '../shared/state.js';

export interface ForceDeregisterResult {
  /** The images deregistered, in the order Packer visits the regions (`ami_regions`, then the build region). */
  deregistered: ImageInfo[];
}

export interface ForceDeregisterDeps {
  clients: Pick<Clients, 'ec2' | 's3'>;
  /** The ownership tag's value and whether images this stack did not build may be deregistered. */
  env: Pick<TaskEnvironment, 'stackName' | 'adoptForeignImages'>;
  /** Where Packer's progress messages go (the function's log). */
  log: (message: string) => void;
}

export type { BundleLocation } from '../shared/bundle-location.js';
export { isBundleKey, parseBundleLocation } from '../shared/bundle-location.js';

/**
 * Deregisters every image owned by this account named `ami_name` in `ami_regions` and the build region,
 * except images tagged with this execution: on a redrive after Register AMI, the image this execution
 * registered is the one the build is waiting for, not an old one. Every image is checked before any is
 * deregistered.
 *
 * @throws ForeignImageError when an image was not built by this stack and the stack does not adopt foreign images
 *   (Prevalidate refuses the same build earlier; this is the second check).
 * @throws RegisterImageError when an image, snapshot or bundle cannot be removed (Packer halts the build too).
 */
export async function forceDeregister(
  event: { build: BuildState },
  deps: ForceDeregisterDeps,
): Promise<ForceDeregisterResult> {
  const { config, execution } = event.build;
  const deregistered: ImageInfo[] = [];
  if (!config.forceDeregister) return { deregistered };

  const found: { region: string; image: Image & { ImageId: string } }[] = [];
  const regions = [...new Set([...config.amiRegions, config.region])];
  for (const region of regions) {
    let images: Image[];
    try {
      const response = await deps.clients.ec2(region).send(
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
      found.push({ region, image: { ...image, ImageId: imageId } });
    }
  }

  const foreign = found.filter(({ image }) => !isOwnedByStack(image.Tags, deps.env.stackName));
  if (foreign.length > 0 && !deps.env.adoptForeignImages) {
    throw new ForeignImageError(
      `force_deregister: ${foreign.map(({ image, region }) => describeImage(image, region)).join('; ')}: ` +
        `not built by this stack (no ${TagKeys.stack}=${deps.env.stackName} tag); nothing was deregistered. ` +
        'Deploy the stack with -c adoptForeignImages=true to let it replace images it did not build.',
    );
  }

  const newBundle = parseBundleLocation(event.build.bucket?.manifestLocation);
  for (const { region, image } of found) {
    const ec2 = deps.clients.ec2(region);
    const imageId = image.ImageId;
    if (!isOwnedByStack(image.Tags, deps.env.stackName)) {
      deps.log(`Adopting ${describeImage(image, region)} (adoptForeignImages is on)`);
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
      await deleteImageBundle(image, region, newBundle, deps);
      await deleteSnapshots(image, region, deps);
    }
  }
  return { deregistered };
}

/**
 * The keys of the bundle this build uploaded that lie in `bucket`, as a predicate: its manifest and the parts
 * its manifest lists. When the manifest cannot be read, every key shaped like one of its parts counts as the
 * new bundle's, so nothing of it is deleted.
 */
async function newBundleKeys(
  bucket: string,
  region: string,
  newBundle: BundleLocation | undefined,
  deps: ForceDeregisterDeps,
): Promise<(key: string) => boolean> {
  if (newBundle === undefined || newBundle.bucket !== bucket) return () => false;
  const manifestKey = `${newBundle.prefix}${MANIFEST_SUFFIX}`;
  let parts: Set<string> | undefined;
  try {
    const out = await deps.clients
      .s3(region)
      .send(new GetObjectCommand({ Bucket: bucket, Key: manifestKey }));
    const xml = (await out.Body?.transformToString()) ?? '';
    const names = manifestPartNames(xml);
    if (names.length > 0) {
      const slash = newBundle.prefix.lastIndexOf('/');
      const folder = slash < 0 ? '' : newBundle.prefix.slice(0, slash + 1);
      parts = new Set(names.map((name) => `${folder}${name}`));
    }
  } catch (error) {
    if (isTransient(error)) throw error;
    deps.log(
      `Could not read this build's manifest s3://${bucket}/${manifestKey} (${errorName(error)}); keeping every key shaped like its parts`,
    );
  }
  return (key) =>
    key === manifestKey || (isBundleKey(key, newBundle.prefix) && (parts === undefined || parts.has(key)));
}

/** The part file names an `ec2-upload-bundle` manifest lists (`<parts><part><filename>…</filename>`). */
export function manifestPartNames(xml: string): string[] {
  const parts = /<parts\b[^>]*>([\s\S]*?)<\/parts>/.exec(xml)?.[1] ?? '';
  return [...parts.matchAll(/<filename>\s*([^<\s]+)\s*<\/filename>/g)].map((m) => m[1] as string);
}

async function deleteImageBundle(
  image: Image,
  region: string,
  newBundle: BundleLocation | undefined,
  deps: ForceDeregisterDeps,
): Promise<void> {
  if (image.RootDeviceType !== 'instance-store') return;
  const location = parseBundleLocation(image.ImageLocation);
  if (location === undefined) {
    deps.log(
      `Not deleting the bundle of ${image.ImageId}: its location ${quote(image.ImageLocation ?? '')} is not <bucket>/<prefix>.manifest.xml`,
    );
    return;
  }
  const where = `s3://${location.bucket}/${location.prefix}${MANIFEST_SUFFIX}`;
  try {
    // A rebuild with a fixed bundle_prefix uploaded its bundle to the same keys: those are this build's now.
    const isNewBundleKey = await newBundleKeys(location.bucket, region, newBundle, deps);
    const deleted = await deleteBundle(image, deps.clients.s3(region), isNewBundleKey);
    const count = deleted?.deleted ?? 0;
    const kept = deleted?.kept ?? 0;
    deps.log(
      `Deleted bundle: ${where} (${count} object(s))` +
        (kept > 0 ? `; kept ${kept} object(s) at the same keys: this build's own bundle` : ''),
    );
  } catch (error) {
    if (error instanceof BundleDeleteError) {
      throw new RegisterImageError(
        `Error deleting the bundle of existing AMI ${image.ImageId} (${where}): ${error.message}`,
      );
    }
    throw wrap(error, `Error deleting the bundle of existing AMI ${image.ImageId} (${where})`);
  }
}

/**
 * Deletes the image's EBS snapshots that carry this stack's tag. Others (a snapshot named in
 * `ami_block_device_mappings`, or one of an adopted image) are not the stack's to delete and are kept.
 */
async function deleteSnapshots(image: Image, region: string, deps: ForceDeregisterDeps): Promise<void> {
  const ec2 = deps.clients.ec2(region);
  const ids = [
    ...new Set(
      (image.BlockDeviceMappings ?? [])
        .map((m) => m.Ebs?.SnapshotId)
        .filter((id): id is string => id !== undefined && id !== ''),
    ),
  ];
  if (ids.length === 0) return;
  let owned: Set<string>;
  try {
    const out = await ec2.send(
      new DescribeSnapshotsCommand({
        SnapshotIds: ids,
        Filters: [{ Name: `tag:${TagKeys.stack}`, Values: [deps.env.stackName] }],
      }),
    );
    owned = new Set((out.Snapshots ?? []).flatMap((s) => (s.SnapshotId === undefined ? [] : [s.SnapshotId])));
  } catch (error) {
    // A snapshot already gone makes the whole call fail: fall back to one call per snapshot.
    if (errorName(error) !== 'InvalidSnapshot.NotFound') {
      throw wrap(error, `Error describing the snapshots of existing AMI ${image.ImageId} in ${region}`);
    }
    owned = new Set();
    for (const id of ids) if (await snapshotOwned(ec2, id, region, deps)) owned.add(id);
  }
  for (const snapshotId of ids) {
    if (!owned.has(snapshotId)) {
      deps.log(`Keeping snapshot ${snapshotId}: it does not carry ${TagKeys.stack}=${deps.env.stackName}`);
      continue;
    }
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

async function snapshotOwned(
  ec2: ReturnType<Clients['ec2']>,
  snapshotId: string,
  region: string,
  deps: ForceDeregisterDeps,
): Promise<boolean> {
  try {
    const out = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
    return (out.Snapshots ?? []).some((s) => isOwnedByStack(s.Tags, deps.env.stackName));
  } catch (error) {
    if (errorName(error) === 'InvalidSnapshot.NotFound') return false;
    throw wrap(error, `Error describing snapshot ${snapshotId} in ${region}`);
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

/**
 * The args of the Force Deregister function: none for Force Deregister; `failedTest` for the states that settle
 * the new AMI after its `ami_test` failed (Deregister Failed AMI, Keep Failed AMI).
 */
export const forceDeregisterArgsSchema = z.object({
  failedTest: z.optional(z.enum(['deregister', 'keep'])),
});
export type ForceDeregisterArgs = z.infer<typeof forceDeregisterArgsSchema>;

/** The value of `ami-builder:ami-test` on an AMI kept after its test failed (`on_failure: keep`). */
export const FAILED_TEST_TAG_VALUE = 'failed';

/**
 * After the new AMI failed its `ami_test`: `deregister` deregisters it and deletes its bundle (the manifest and
 * the parts, with the code Force Deregister uses for older images); `keep` tags it `ami-builder:ami-test=failed`
 * so that Sweep Orphans leaves it, and reports it as kept. Only the AMI this build registered (stack, execution
 * and build tags) is touched; one already gone counts as deregistered, so a retry does the same. Returns the
 * test's cleanup report (`$.testCleanup`, merged with the termination's).
 *
 * @throws ResourceNotOwnedError when `$.image` does not carry this build's tags.
 * @throws RegisterImageError when the image or its bundle cannot be removed or tagged.
 */
export async function settleFailedTest(
  event: { build: BuildState },
  action: 'deregister' | 'keep',
  deps: Pick<ForceDeregisterDeps, 'clients' | 'log'> & { env: Pick<TaskEnvironment, 'stackName'> },
): Promise<CleanupReport> {
  const { build } = event;
  const report = emptyCleanupReport();
  const target = build.image;
  if (target === undefined) return mergeCleanupReports(build.testCleanup, report);
  const { region, imageId } = target;
  const ec2 = deps.clients.ec2(region);
  let image: Image | undefined;
  try {
    const out = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
    image = out.Images?.find((i) => i.ImageId === imageId && i.State !== 'deregistered');
  } catch (error) {
    if (!isImageGone(error)) throw wrap(error, `Error describing the tested AMI ${imageId} in ${region}`);
  }
  if (image === undefined) {
    deps.log(`The tested AMI ${imageId} in ${region} is already gone`);
    if (action === 'deregister') report.deregisteredImages.push(imageId);
    return mergeCleanupReports(build.testCleanup, report);
  }
  checkImageOwnedByBuild(image, region, {
    stackName: deps.env.stackName,
    executionId: build.execution.id,
    buildName: build.config.name,
  });

  if (action === 'keep') {
    try {
      await ec2.send(
        new CreateTagsCommand({
          Resources: [imageId],
          Tags: [{ Key: TagKeys.amiTest, Value: FAILED_TEST_TAG_VALUE }],
        }),
      );
    } catch (error) {
      throw wrap(error, `Error tagging the tested AMI ${imageId} in ${region}`);
    }
    report.kept.push(
      keptImage(
        region,
        imageId,
        `its ami_test failed and on_failure is keep: tagged ${TagKeys.amiTest}=${FAILED_TEST_TAG_VALUE} for inspection (Sweep Orphans leaves it)`,
      ),
    );
    return mergeCleanupReports(build.testCleanup, report);
  }

  try {
    await ec2.send(new DeregisterImageCommand({ ImageId: imageId }));
  } catch (error) {
    if (!isImageGone(error)) throw wrap(error, `Error deregistering the tested AMI ${imageId} in ${region}`);
  }
  deps.log(`Deregistered AMI ${image.Name ?? ''}, id: ${imageId}: its ami_test failed`);
  // The bundle is this build's own: every key of it goes (no newer bundle to protect).
  await deleteImageBundle(image, region, undefined, {
    ...deps,
    env: { ...deps.env, adoptForeignImages: false },
  });
  report.deregisteredImages.push(imageId);
  return mergeCleanupReports(build.testCleanup, report);
}

/**
 * Whether `ami_name` is free in the build region and every `ami_regions` region (the copies carry the same
 * name): Prevalidate checks it, or, with `skip_if_unchanged`, Check Unchanged once it found nothing unchanged.
 */
import { DescribeImagesCommand, type Image } from '@aws-sdk/client-ec2';
import { AmiNameInUseError } from './errors.js';
import { type Clients, TagKeys } from './runtime.js';
import type { BuildState } from './state.js';

/** The images named `ami_name` in the build region and every `ami_regions` region, except this execution's. */
export async function sameNameImages(
  deps: { clients: Pick<Clients, 'ec2'> },
  build: BuildState,
): Promise<{ region: string; image: Image }[]> {
  const { config } = build;
  const found: { region: string; image: Image }[] = [];
  for (const region of [...new Set([config.region, ...config.amiRegions])]) {
    const out = await deps.clients.ec2(region).send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [{ Name: 'name', Values: [config.amiName] }],
      }),
    );
    for (const image of out.Images ?? []) {
      // Registered by this very execution (a retry or a redrive after Register AMI): not a conflict.
      const ours = (image.Tags ?? []).some(
        (t) => t.Key === TagKeys.execution && t.Value === build.execution.id,
      );
      if (!ours) found.push({ region, image });
    }
  }
  return found;
}

/**
 * Checks that `ami_name` is unused in the build region and every `ami_regions` region, since the copies carry
 * the same name.
 *
 * @throws AmiNameInUseError naming the region and the image.
 */
export async function validateAmiName(
  deps: { clients: Pick<Clients, 'ec2'> },
  build: BuildState,
): Promise<void> {
  const [taken] = await sameNameImages(deps, build);
  if (taken !== undefined) {
    throw new AmiNameInUseError(
      `Error: AMI Name: '${taken.image.Name ?? build.config.amiName}' is used by an existing AMI: ${taken.image.ImageId} ` +
        `(region ${taken.region}). Choose another ami_name (for example with {{timestamp}}), or set ` +
        'force_deregister to replace it.',
    );
  }
}

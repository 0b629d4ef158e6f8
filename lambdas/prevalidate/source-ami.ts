/**
 * Source AMI resolution, as Packer's StepSourceAMIInfo and `AmiFilterOptions.GetFilteredImage`
 * (reference §1.1 step 2).
 */
import {
  DescribeImagesCommand,
  type DescribeImagesCommandInput,
  type EC2Client,
  type Image,
} from '@aws-sdk/client-ec2';
import type { BuildConfig, Filters } from '../shared/config.js';
import { SourceAmiNotFoundError } from '../shared/errors.js';
import { isTransient } from '../shared/runtime.js';

const toEc2Filters = (filters: Filters) =>
  Object.entries(filters).map(([Name, Values]) => ({ Name, Values }));

/** The DescribeImages query for `source_ami` and/or `source_ami_filter`. */
export function sourceImageQuery(
  config: Pick<BuildConfig, 'sourceAmi' | 'sourceAmiFilter'>,
): DescribeImagesCommandInput {
  const filter = config.sourceAmiFilter;
  const input: DescribeImagesCommandInput = { IncludeDeprecated: filter?.includeDeprecated ?? false };
  if (config.sourceAmi !== undefined && config.sourceAmi !== '') input.ImageIds = [config.sourceAmi];
  if (filter !== undefined && Object.keys(filter.filters).length > 0)
    input.Filters = toEc2Filters(filter.filters);
  if (filter !== undefined && filter.owners.length > 0) input.Owners = filter.owners;
  return input;
}

/** A readable rendering of the query, for "No AMI was found matching filters: …". */
function describeQuery(input: DescribeImagesCommandInput): string {
  const parts: string[] = [];
  if (input.ImageIds !== undefined) parts.push(`ImageIds: [${input.ImageIds.join(' ')}]`);
  for (const f of input.Filters ?? []) parts.push(`${f.Name}: [${(f.Values ?? []).join(' ')}]`);
  if (input.Owners !== undefined) parts.push(`Owners: [${input.Owners.join(' ')}]`);
  parts.push(`IncludeDeprecated: ${input.IncludeDeprecated === true}`);
  return `{${parts.join(', ')}}`;
}

/** The image with the newest CreationDate (ISO 8601 strings sort by time). */
export function mostRecent(images: Image[]): Image | undefined {
  let best: Image | undefined;
  for (const image of images) {
    if (best === undefined || (image.CreationDate ?? '') > (best.CreationDate ?? '')) best = image;
  }
  return best;
}

/**
 * Resolves the source AMI in the build region.
 *
 * @throws SourceAmiNotFoundError when nothing matches, when several images match without `most_recent`, or when
 *   EC2 rejects the query (for example a malformed image id).
 */
export async function resolveSourceImage(ec2: EC2Client, config: BuildConfig): Promise<Image> {
  const input = sourceImageQuery(config);
  let images: Image[];
  try {
    images = (await ec2.send(new DescribeImagesCommand(input))).Images ?? [];
  } catch (error) {
    if (isTransient(error)) throw error;
    const e = error as Error;
    if (e.name === 'InvalidAMIID.NotFound' || e.name === 'InvalidAMIID.Unavailable') images = [];
    else throw new SourceAmiNotFoundError(`Error querying AMI: ${e.name}: ${e.message}`);
  }
  if (images.length === 0) {
    throw new SourceAmiNotFoundError(`No AMI was found matching filters: ${describeQuery(input)}`);
  }
  const mostRecentWanted = config.sourceAmiFilter?.mostRecent ?? false;
  if (images.length > 1 && !mostRecentWanted) {
    throw new SourceAmiNotFoundError(
      'Your query returned more than one result. Please try a more specific search, or set most_recent to true.',
    );
  }
  const image = mostRecentWanted ? mostRecent(images) : images[0];
  if (image?.ImageId === undefined) {
    throw new SourceAmiNotFoundError(`No AMI was found matching filters: ${describeQuery(input)}`);
  }
  return image;
}

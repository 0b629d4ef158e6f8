/**
 * Copy AMI (Packer's `StepAMIRegionCopy`, reference §1.1 step 19): one iteration of the Copy To Regions Map
 * copies the registered AMI into one `ami_regions` region. The wait is Check AMI Copy's loop.
 */
import { createHash } from 'node:crypto';
import { CopyImageCommand, type CopyImageCommandInput, DescribeImagesCommand } from '@aws-sdk/client-ec2';
import * as z from 'zod/mini';
import '../shared/zod-english.js';
import { ImageCopyError } from '../shared/errors.js';
import {
  type Clients,
  isTransient,
  ownershipTags,
  TagKeys,
  type TaskEnvironment,
} from '../shared/runtime.js';
import type { BuildState, ExecutionInfo, ImageInfo, TaskEvent } from '../shared/state.js';
import { familyTags } from '../shared/tags.js';
import { requireState } from '../shared/task-event.js';

export const copyImageArgs = z.object({
  /** The target region: one item of `$.config.amiRegions`. */
  region: z.string().check(z.minLength(1)),
});

export type CopyImageArgs = z.infer<typeof copyImageArgs>;

export interface CopyImageDeps {
  clients: Pick<Clients, 'ec2'>;
  env: Pick<TaskEnvironment, 'stackName'>;
  /** Where Packer's progress messages go (the function's log). */
  log: (message: string) => void;
}

/**
 * The CopyImage idempotency token: the SHA-256 (64 hex characters, EC2's limit) of the execution, the build and
 * the target region. A retry or redrive of the same copy sends the same token; another region or build does not.
 */
export function copyClientToken(
  execution: Pick<ExecutionInfo, 'id'>,
  buildName: string,
  region: string,
): string {
  return createHash('sha256').update(`${execution.id}\n${buildName}\n${region}`).digest('hex');
}

/** The CopyImage request (reference §1.1 step 19, plus ownership tags so cleanup can find the copy). */
export function copyImageInput(
  build: BuildState,
  region: string,
  env: Pick<TaskEnvironment, 'stackName'>,
): CopyImageCommandInput {
  const { config, execution } = build;
  const image = requireState(build, 'image');
  const input: CopyImageCommandInput = {
    SourceRegion: image.region,
    SourceImageId: image.imageId,
    Name: config.amiName,
    ClientToken: copyClientToken(execution, config.name, region),
    // Packer copies the tags (packer-plugin-amazon#295); tags in TagSpecifications are applied atomically, which
    // tag-on-create policies require (#591).
    CopyImageTags: true,
    TagSpecifications: [
      {
        ResourceType: 'image',
        Tags: [...ownershipTags(env, execution.id, config.name, config.onError), ...familyTags(config)],
      },
    ],
  };
  const description = build.source?.rendered.amiDescription;
  if (description !== undefined && description !== '') input.Description = description;
  return input;
}

/**
 * Starts the copy, idempotently: a copy this execution already made in the region (found by name and execution
 * tag) is returned without a new call, and CopyImage itself carries a stable client token.
 *
 * @throws ImageCopyError naming the region when EC2 refuses the copy.
 */
export async function copyImage(event: TaskEvent<CopyImageArgs>, deps: CopyImageDeps): Promise<ImageInfo> {
  const { build, args } = event;
  const { region } = args;
  const input = copyImageInput(build, region, deps.env);
  const ec2 = deps.clients.ec2(region);
  const source = `${input.SourceImageId} (${input.SourceRegion})`;

  try {
    const existing = await ec2.send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [
          { Name: 'name', Values: [build.config.amiName] },
          { Name: `tag:${TagKeys.execution}`, Values: [build.execution.id] },
        ],
      }),
    );
    const ours = existing.Images?.find((i) => i.ImageId !== undefined && i.State !== 'deregistered');
    if (ours?.ImageId !== undefined) {
      deps.log(`Copying to: ${region} (already copied by this execution: ${ours.ImageId})`);
      return { region, imageId: ours.ImageId };
    }

    deps.log(`Copying to: ${region}`);
    const response = await ec2.send(new CopyImageCommand(input));
    if (response.ImageId === undefined) {
      throw new ImageCopyError(`Copying AMI ${source} to ${region} failed: CopyImage returned no image id`);
    }
    return { region, imageId: response.ImageId };
  } catch (error) {
    if (error instanceof ImageCopyError || isTransient(error) || !(error instanceof Error)) throw error;
    throw new ImageCopyError(
      `Copying AMI ${source} to ${region} failed: ${error.name}: ${error.message}${hint(error, build, region)}`,
    );
  }
}

function hint(error: Error, build: BuildState, region: string): string {
  if (error.name === 'InvalidAMIName.Duplicate') {
    return `\nAn AMI named '${build.config.amiName}' already exists in ${region}: choose another ami_name, or set force_deregister to replace it.`;
  }
  if (/AccessDenied|UnauthorizedOperation|S3/i.test(`${error.name} ${error.message}`)) {
    // Facts file: copying an instance-store AMI writes its bundle to a bucket in the target region.
    return `\nCopying an instance-store AMI needs S3 permissions in ${region} (s3:CreateBucket, s3:PutBucketOwnershipControls, s3:GetBucketAcl, s3:ListAllMyBuckets, s3:GetObject, s3:PutObject, s3:PutObjectAcl) besides ec2:CopyImage and ec2:CreateTags.`;
  }
  return '';
}

/**
 * Finish AMI / Finish AMI Copy: what Packer does to every AMI after the waits (reference §1.1 steps 20–23), for
 * one region: deprecation, deregistration protection, one ModifyImageAttribute call per attribute, then tags.
 * Each call sets a state rather than toggling one, so running the task again is harmless.
 */
import {
  CreateTagsCommand,
  DescribeImagesCommand,
  type EC2Client,
  EnableImageDeprecationCommand,
  EnableImageDeregistrationProtectionCommand,
  type Image,
  ModifyImageAttributeCommand,
  type ModifyImageAttributeCommandInput,
} from '@aws-sdk/client-ec2';
import * as z from 'zod/mini';
import '../shared/zod-english.js';
import type { BuildConfig } from '../shared/config.js';
import { ImageFinishError } from '../shared/errors.js';
import { checkImageOwnedByBuild } from '../shared/ownership.js';
import {
  type Clients,
  isTransient,
  ownershipTags,
  TagKeys,
  type TaskEnvironment,
} from '../shared/runtime.js';
import type { BuildState, ImageInfo, TaskEvent } from '../shared/state.js';
import { familyTags } from '../shared/tags.js';

export const finishImageArgs = z.object({
  /** The image's region: the build region, or one of `ami_regions`. */
  region: z.string().check(z.minLength(1)),
  /** The AMI: `$.image.imageId` in the build region, `$.copy.imageId` for a copy. */
  imageId: z.string().check(z.minLength(1)),
});

export type FinishImageArgs = z.infer<typeof finishImageArgs>;

export interface FinishImageDeps {
  clients: Pick<Clients, 'ec2'>;
  env: Pick<TaskEnvironment, 'stackName'>;
  /** Where Packer's progress messages go (the function's log). */
  log: (message: string) => void;
  /** Waits between retries of a call that did not see the image yet. */
  sleep: (milliseconds: number) => Promise<void>;
}

/** One `ModifyImageAttribute` call, named as Packer names it in "Modifying: <name>". */
export interface AttributeChange {
  name: string;
  input: Omit<ModifyImageAttributeCommandInput, 'ImageId'>;
}

/**
 * Tries a call up to this many times while EC2 does not see the image or snapshot yet (Packer retries 11 times
 * with a 200 ms → 30 s backoff; a Lambda has less time, so fewer tries with a shorter one).
 * @default 6 tries, waiting 1, 2, 4, 8 and 16 s between them
 */
export const NOT_FOUND_TRIES = 6;
const NOT_FOUND_ERRORS = new Set(['InvalidAMIID.NotFound', 'InvalidSnapshot.NotFound']);

/**
 * The ModifyImageAttribute calls Packer's `StepModifyAMIAttributes` makes, in a fixed order (Packer's map order
 * is random). Attributes EC2 reports as already set are left out: `imds_support` cannot be set twice, and a
 * product code cannot be attached twice.
 */
export function attributeChanges(
  config: BuildConfig,
  description: string | undefined,
  current: Pick<Image, 'ImdsSupport' | 'ProductCodes'> = {},
): AttributeChange[] {
  const changes: AttributeChange[] = [];
  if (description !== undefined && description !== '') {
    changes.push({ name: 'description', input: { Description: { Value: description } } });
  }
  if (config.amiGroups.length > 0) {
    changes.push({
      name: 'groups',
      input: {
        UserGroups: config.amiGroups,
        LaunchPermission: { Add: config.amiGroups.map((g) => ({ Group: g as 'all' })) },
      },
    });
  }
  if (config.amiUsers.length > 0) {
    changes.push({
      name: 'users',
      input: {
        UserIds: config.amiUsers,
        LaunchPermission: { Add: config.amiUsers.map((u) => ({ UserId: u })) },
      },
    });
  }
  if (config.amiOrgArns.length > 0) {
    changes.push({
      name: 'org arns',
      input: { LaunchPermission: { Add: config.amiOrgArns.map((a) => ({ OrganizationArn: a })) } },
    });
  }
  if (config.amiOuArns.length > 0) {
    changes.push({
      name: 'ou arns',
      input: { LaunchPermission: { Add: config.amiOuArns.map((a) => ({ OrganizationalUnitArn: a })) } },
    });
  }
  const attached = new Set((current.ProductCodes ?? []).map((p) => p.ProductCodeId));
  const codes = config.amiProductCodes.filter((c) => !attached.has(c));
  if (codes.length > 0) changes.push({ name: 'product codes', input: { ProductCodes: codes } });
  if (config.imdsSupport !== undefined && current.ImdsSupport !== config.imdsSupport) {
    changes.push({ name: 'imds_support', input: { ImdsSupport: { Value: config.imdsSupport } } });
  }
  return changes;
}

/**
 * Finishes one AMI in one region, in Packer's order: EnableImageDeprecation (`deprecate_at`),
 * EnableImageDeregistrationProtection (`deregistration_protection`), ModifyImageAttribute per attribute,
 * CreateTags (`tags` rendered with the build variables, plus the ownership tags; snapshots get `tags` only).
 *
 * @throws ImageFinishError naming the region and the attribute when EC2 refuses a change.
 * @throws ResourceNotOwnedError when the image does not carry this build's ownership tags (nothing is changed).
 */
export async function finishImage(
  event: TaskEvent<FinishImageArgs>,
  deps: FinishImageDeps,
): Promise<ImageInfo> {
  const { build, args } = event;
  const { region, imageId } = args;
  const { config } = build;
  const ec2 = deps.clients.ec2(region);
  const step = <T>(what: string, call: () => Promise<T>) => retrying(what, region, imageId, call, deps);

  const image = await step('describe', () => describe(ec2, imageId));
  // Register AMI and Copy AMI tag the images they create; any other image is not this build's to change.
  checkImageOwnedByBuild(image, region, {
    stackName: deps.env.stackName,
    executionId: build.execution.id,
    buildName: config.name,
  });

  if (config.deprecateAt !== undefined) {
    deps.log(`Enabling AMI deprecation on AMI (${imageId}) in ${region}...`);
    const deprecateAt = new Date(config.deprecateAt);
    await step('deprecate_at', () =>
      ec2.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: deprecateAt })),
    );
  } else {
    deps.log('Skipping Enable AMI deprecation...');
  }

  if (config.deregistrationProtection.enabled) {
    deps.log(`Enabling deregistration protection on AMI (${imageId}) in ${region}...`);
    const withCooldown = config.deregistrationProtection.withCooldown;
    await step('deregistration_protection', () =>
      ec2.send(
        new EnableImageDeregistrationProtectionCommand({ ImageId: imageId, WithCooldown: withCooldown }),
      ),
    );
  } else {
    deps.log('Skipping Enable AMI deregistration protection...');
  }

  const changes = attributeChanges(config, build.source?.rendered.amiDescription, image);
  if (changes.length > 0) deps.log(`Modifying attributes on AMI (${imageId})...`);
  for (const change of changes) {
    deps.log(`Modifying: ${change.name}`);
    await step(change.name, () =>
      ec2.send(new ModifyImageAttributeCommand({ ...change.input, ImageId: imageId })),
    );
  }

  await tag(build, image, args, deps, step);
  // A copy carries its checks out of the Copy To Regions iteration, for the cost estimate.
  const copyChecks = build.poll.copy;
  return copyChecks?.target === imageId && copyChecks.counts !== undefined
    ? { region, imageId, counts: copyChecks.counts }
    : { region, imageId };
}

async function tag(
  build: BuildState,
  image: Image,
  { region, imageId }: FinishImageArgs,
  deps: FinishImageDeps,
  step: <T>(what: string, call: () => Promise<T>) => Promise<T>,
): Promise<void> {
  const { config, execution } = build;
  const ec2 = deps.clients.ec2(region);
  const rendered = build.source?.rendered.tags ?? {};
  const tags = new Map<string, string>(Object.entries(rendered));
  // Ownership tags last: a template tag must not hide which execution made the image.
  for (const t of [
    ...ownershipTags(deps.env, execution.id, config.name, config.onError),
    ...familyTags(config),
  ])
    tags.set(t.Key, t.Value);
  // The image went through every step of its region: Sweep Orphans never takes it for a failed build's image.
  tags.set(TagKeys.finished, 'true');

  deps.log(`Adding tags to AMI (${imageId})...`);
  deps.log('Creating AMI tags');
  for (const [key, value] of Object.entries(rendered)) deps.log(`Adding tag: "${key}": "${value}"`);
  await step('tags', () =>
    ec2.send(
      new CreateTagsCommand({
        Resources: [imageId],
        Tags: [...tags].map(([Key, Value]) => ({ Key, Value })),
      }),
    ),
  );

  // Packer tags the AMI's EBS snapshots with `tags` too. They get no ownership tags: a snapshot named in
  // ami_block_device_mappings is the user's, and cleanup must never take it for a resource of this build.
  const snapshots = (image.BlockDeviceMappings ?? [])
    .map((m) => m.Ebs?.SnapshotId)
    .filter((id): id is string => id !== undefined && id !== '');
  if (snapshots.length === 0 || Object.keys(rendered).length === 0) return;
  deps.log('Creating snapshot tags');
  for (const id of snapshots) deps.log(`Tagging snapshot: ${id}`);
  await step('snapshot tags', () =>
    ec2.send(
      new CreateTagsCommand({
        Resources: snapshots,
        Tags: Object.entries(rendered).map(([Key, Value]) => ({ Key, Value })),
      }),
    ),
  );
}

async function describe(ec2: EC2Client, imageId: string): Promise<Image> {
  const response = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  const image = response.Images?.find((i) => i.ImageId === imageId);
  if (image === undefined) {
    // An empty answer right after the image became available is EC2's eventual consistency: retry it as such.
    throw Object.assign(new Error(`AMI ${imageId} is not visible yet`), { name: 'InvalidAMIID.NotFound' });
  }
  return image;
}

async function retrying<T>(
  what: string,
  region: string,
  imageId: string,
  call: () => Promise<T>,
  deps: FinishImageDeps,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (isTransient(error) || !(error instanceof Error)) throw error;
      if (NOT_FOUND_ERRORS.has(error.name) && attempt < NOT_FOUND_TRIES) {
        await deps.sleep(1000 * 2 ** (attempt - 1));
        continue;
      }
      const action = what === 'describe' ? 'describing' : `setting ${what} on`;
      throw new ImageFinishError(
        `Error ${action} AMI ${imageId} in ${region}: ${error.name}: ${error.message}`,
      );
    }
  }
}

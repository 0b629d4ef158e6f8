/**
 * Ownership, checked in code before any destructive or modifying call (IAM checks the same tags: see
 * infra/permissions.ts). Whatever a build creates carries `ami-builder:stack = <stack>` (and its execution and
 * build); a task terminates, deletes or modifies a resource only when it carries them.
 */
import type { Image, Tag } from '@aws-sdk/client-ec2';
import { ResourceNotOwnedError } from './errors.js';
import { TagKeys } from './tags.js';

/** Tags as EC2 and SSM return them. */
export type TagList = readonly Pick<Tag, 'Key' | 'Value'>[] | undefined;

/** The value of `key` in `tags`, if present. */
export function tagValue(tags: TagList, key: string): string | undefined {
  return (tags ?? []).find((t) => t.Key === key)?.Value;
}

/** True when the tags say this stack created the resource (`ami-builder:stack = stackName`). */
export function isOwnedByStack(tags: TagList, stackName: string): boolean {
  return tagValue(tags, TagKeys.stack) === stackName;
}

/** True when the tags say this stack created the resource in this execution, for this build. */
export function isOwnedByBuild(
  tags: TagList,
  owner: { stackName: string; executionId: string; buildName: string },
): boolean {
  return (
    isOwnedByStack(tags, owner.stackName) &&
    tagValue(tags, TagKeys.execution) === owner.executionId &&
    tagValue(tags, TagKeys.build) === owner.buildName
  );
}

/** How an image is described in errors and logs: id, region, owner and, when tagged, the stack that built it. */
export function describeImage(image: Image, region: string): string {
  const builtBy = tagValue(image.Tags, TagKeys.stack);
  const owner = image.ImageOwnerAlias ?? image.OwnerId ?? 'unknown';
  return (
    `AMI ${image.ImageId ?? '?'} ('${image.Name ?? ''}') in ${region}, owner ${owner}` +
    (builtBy === undefined ? ', no ami-builder:stack tag' : `, built by stack '${builtBy}'`)
  );
}

/**
 * The error for a resource a task will not touch: names it, its region, and the stack tag it lacks.
 *
 * @param found the `ami-builder:stack` value the resource carries, if any
 */
export function notOwnedError(
  what: string,
  id: string,
  region: string,
  stackName: string,
  found: string | undefined,
): ResourceNotOwnedError {
  return new ResourceNotOwnedError(
    `Refusing to touch ${what} ${id} in ${region}: it does not carry ${TagKeys.stack}=${stackName} ` +
      `(${found === undefined ? 'no such tag' : `found '${found}'`}), so this stack did not create it`,
  );
}

/**
 * Checks that an AMI was created by this build (stack, execution and build tags) before its attributes, launch
 * permissions, deprecation, protection or tags change.
 *
 * @throws ResourceNotOwnedError naming the image and the tag that does not match
 */
export function checkImageOwnedByBuild(
  image: Image,
  region: string,
  owner: { stackName: string; executionId: string; buildName: string },
): void {
  if (isOwnedByBuild(image.Tags, owner)) return;
  throw new ResourceNotOwnedError(
    `Refusing to modify ${describeImage(image, region)}: only an AMI this build registered or copied ` +
      `(tags ${TagKeys.stack}=${owner.stackName}, ${TagKeys.execution}=${owner.executionId}, ` +
      `${TagKeys.build}=${owner.buildName}) is finished by it`,
  );
}

/**
 * Check AMI Available / Check AMI Copy: one check of the wait that replaces Packer's `WaitUntilImageAvailable` /
 * `WaitUntilAMIAvailable` (reference §1.1 steps 18–19, §1.4). The bound is `aws_polling` (Packer's default for
 * the AMI wait: 120 × 15 s, so 30 min). Without `aws_polling` in the template, the checks follow the poll
 * schedule (the state's Retry on PollPendingError, lambdas/shared/poll.ts) for those 30 min; a template that
 * sets it gets Packer's fixed delay: `{ done: false, waitSeconds }`, and the Choice → Wait loop checks again.
 */
import { DescribeImagesCommand, type Image } from '@aws-sdk/client-ec2';
import * as z from 'zod/mini';
import '../shared/zod-english.js';
import { ImageCopyError, ImageNotAvailableError, TaskInputError } from '../shared/errors.js';
import { checkProgress, nextAttempt, pending, pollResult } from '../shared/poll.js';
import { type Clients, isTransient } from '../shared/runtime.js';
import type { BuildState, ImageInfo, PollResult, TaskEvent } from '../shared/state.js';

export const checkImageArgs = z.object({
  /** The region the image lives in: the build region for `image`, the copy's region for `copy`. */
  region: z.string().check(z.minLength(1)),
  /** `image`: the registered AMI at `$.image`; `copy`: a region copy at `$.copy` (inside the Copy Map). */
  key: z.enum(['image', 'copy']),
});

export type CheckImageArgs = z.infer<typeof checkImageArgs>;

/** The iteration state inside the Copy To Regions Map: a build plus the item and the copy made for it. */
export type CopyIterationState = BuildState & { region?: string; copy?: ImageInfo };

export interface CheckImageDeps {
  clients: Pick<Clients, 'ec2'>;
}

// EC2 states from which an image never becomes available.
const FAILED_STATES = new Set(['failed', 'invalid', 'error', 'deregistered', 'disabled']);

/**
 * Describes the image once. `available` ends the wait; `pending` (and an image not visible yet, right after
 * RegisterImage or CopyImage) is checked again: after `aws_polling.delay_seconds` when the template sets it,
 * else on the poll schedule ({@link PollPendingError}); a failed state or the bound ends the build.
 *
 * @throws PollPendingError while the image is pending (no `aws_polling` in the template).
 * @throws ImageNotAvailableError (key `image`) or ImageCopyError (key `copy`, naming the region) when the
 *   image failed or did not become available within `aws_polling.max_attempts` checks.
 */
export async function checkImage(
  event: TaskEvent<CheckImageArgs> & { build: CopyIterationState },
  deps: CheckImageDeps,
): Promise<PollResult> {
  const { build, args } = event;
  const imageId = targetImage(build, args.key);
  const { delaySeconds, maxAttempts, explicit } = build.config.polling;
  const progress = checkProgress(event.check, args.key);
  const attempt = nextAttempt(build, args.key, imageId) + progress.attempt - 1;
  const waitSeconds = explicit === true ? delaySeconds : progress.nextDelaySeconds;
  const fail = (message: string) =>
    args.key === 'image' ? new ImageNotAvailableError(message) : new ImageCopyError(message);
  const what =
    args.key === 'image'
      ? `AMI ${imageId} in ${args.region}`
      : `Copy ${imageId} of AMI ${build.image?.imageId ?? '(unknown)'} to ${args.region}`;

  let image: Image | undefined;
  try {
    image = await describe(deps, args.region, imageId);
  } catch (error) {
    if (isTransient(error) || !(error instanceof Error)) throw error;
    throw fail(`Error describing ${what.replace(/^Copy/, 'copy')}: ${error.name}: ${error.message}`);
  }
  const status = image?.State ?? 'not-found';

  if (status === 'available') {
    return pollResult({ done: true, attempt, waitSeconds, status, target: imageId });
  }
  if (FAILED_STATES.has(status)) {
    throw fail(`${what} went to state '${status}'${stateReason(image)}.`);
  }
  const boundSeconds = maxAttempts * delaySeconds;
  if (explicit === true ? attempt >= maxAttempts : progress.waitedSeconds >= boundSeconds) {
    const minutes = Math.round(boundSeconds / 60);
    const bound =
      explicit === true
        ? `after ${maxAttempts} × ${delaySeconds} s (about ${minutes} min)`
        : `within ${boundSeconds} s (about ${minutes} min, aws_polling's default ${maxAttempts} × ${delaySeconds} s; ${attempt} checks)`;
    throw fail(
      `${what} was not available ${bound}; last state '${status}'${stateReason(image)}. ` +
        'Large images can take longer: raise aws_polling { max_attempts, delay_seconds } in the template.',
    );
  }
  if (explicit !== true) throw pending(what, status, progress);
  return pollResult({ done: false, attempt, waitSeconds, status, target: imageId });
}

function targetImage(build: CopyIterationState, key: CheckImageArgs['key']): string {
  const info = key === 'image' ? build.image : build.copy;
  if (info === undefined) {
    throw new TaskInputError(
      `task input lacks $.${key}: the state machine must run the step that sets it (${key === 'image' ? 'Register AMI' : 'Copy AMI'}) first`,
    );
  }
  return info.imageId;
}

async function describe(deps: CheckImageDeps, region: string, imageId: string): Promise<Image | undefined> {
  try {
    const response = await deps.clients.ec2(region).send(new DescribeImagesCommand({ ImageIds: [imageId] }));
    return response.Images?.find((i) => i.ImageId === imageId);
  } catch (error) {
    // EC2 is eventually consistent: a just-created image may not be described yet.
    if (error instanceof Error && error.name === 'InvalidAMIID.NotFound') return undefined;
    throw error;
  }
}

function stateReason(image: Image | undefined): string {
  const reason = image?.StateReason;
  if (reason === undefined || (reason.Code === undefined && reason.Message === undefined)) return '';
  return `: ${[reason.Code, reason.Message].filter((s) => s !== undefined && s !== '').join(': ')}`;
}

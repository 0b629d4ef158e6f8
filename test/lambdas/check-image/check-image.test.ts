import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type CheckImageDeps,
  type CopyIterationState,
  checkImage,
} from '../../../lambdas/check-image/check-image.js';
import {
  AwsTransientError,
  ImageCopyError,
  ImageNotAvailableError,
  PollPendingError,
  TaskInputError,
} from '../../../lambdas/shared/errors.js';
import { AMI_POLL_SCHEDULE, retriesFor, waitedSeconds } from '../../../lambdas/shared/poll.js';
import { lambdaHandler } from '../../../lambdas/shared/runtime.js';
import type { PollResult } from '../../../lambdas/shared/state.js';
import { type BuildStateOverrides, makeBuildState } from '../fixtures.js';

let clients: Record<string, EC2Client>;
let ec2: Record<string, AwsClientStub<EC2Client>>;
let deps: CheckImageDeps;

beforeEach(() => {
  clients = {
    'us-east-1': new EC2Client({ region: 'us-east-1' }),
    'eu-west-1': new EC2Client({ region: 'eu-west-1' }),
  };
  ec2 = Object.fromEntries(Object.entries(clients).map(([r, c]) => [r, mockClient(c)]));
  deps = {
    clients: {
      ec2: (region) => {
        const client = clients[region];
        if (client === undefined) throw new Error(`no client for ${region}`);
        return client;
      },
    },
  };
});

function awsError(name: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode } });
}

function imageState(overrides: BuildStateOverrides = {}): CopyIterationState {
  return makeBuildState({
    image: { region: 'us-east-1', imageId: 'ami-main' },
    // The template sets aws_polling: Packer's fixed delay, through the Choice → Wait loop.
    config: { polling: { delaySeconds: 15, maxAttempts: 120, explicit: true } },
    ...overrides,
  });
}

function copyState(poll: Record<string, PollResult> = {}): CopyIterationState {
  return { ...imageState({ poll }), region: 'eu-west-1', copy: { region: 'eu-west-1', imageId: 'ami-copy' } };
}

const checkMain = (build: CopyIterationState) =>
  checkImage({ build, args: { region: 'us-east-1', key: 'image' } }, deps);
const checkCopy = (build: CopyIterationState) =>
  checkImage({ build, args: { region: 'eu-west-1', key: 'copy' } }, deps);

describe('checkImage', () => {
  it('is done when the AMI is available', async () => {
    // Prepare
    ec2['us-east-1']
      ?.on(DescribeImagesCommand)
      .resolves({ Images: [{ ImageId: 'ami-main', State: 'available' }] });

    // Act
    const result = await checkMain(imageState());

    // Assess
    expect(result).toEqual({
      done: true,
      attempt: 1,
      waitSeconds: 15,
      status: 'available',
      target: 'ami-main',
    });
    expect(ec2['us-east-1']?.commandCalls(DescribeImagesCommand)[0]?.args[0].input).toEqual({
      ImageIds: ['ami-main'],
    });
  });

  it('waits aws_polling.delay_seconds while the AMI is pending, counting attempts for the same image', async () => {
    // Prepare
    ec2['us-east-1']
      ?.on(DescribeImagesCommand)
      .resolves({ Images: [{ ImageId: 'ami-main', State: 'pending' }] });
    const build = imageState({
      config: { polling: { delaySeconds: 30, maxAttempts: 10, explicit: true } },
      poll: { image: { done: false, attempt: 4, waitSeconds: 30, target: 'ami-main' } },
    });

    // Act
    const result = await checkMain(build);

    // Assess
    expect(result).toEqual({
      done: false,
      attempt: 5,
      waitSeconds: 30,
      status: 'pending',
      target: 'ami-main',
    });
  });

  it('restarts the count for another image under the same key', async () => {
    // Prepare
    ec2['us-east-1']
      ?.on(DescribeImagesCommand)
      .resolves({ Images: [{ ImageId: 'ami-main', State: 'pending' }] });
    const build = imageState({
      poll: { image: { done: false, attempt: 119, waitSeconds: 15, target: 'ami-gone' } },
    });

    // Act
    const result = await checkMain(build);

    // Assess
    expect(result.attempt).toBe(1);
  });

  it('is not done while the new image is not visible yet, and counts the attempt', async () => {
    // Prepare
    ec2['us-east-1']
      ?.on(DescribeImagesCommand)
      .rejectsOnce(awsError('InvalidAMIID.NotFound', "The image id '[ami-main]' does not exist"))
      .resolves({ Images: [] });

    // Act
    const first = await checkMain(imageState());
    const second = await checkMain(imageState({ poll: { image: first } }));

    // Assess
    expect(first).toEqual({
      done: false,
      attempt: 1,
      waitSeconds: 15,
      status: 'not-found',
      target: 'ami-main',
    });
    expect(second).toMatchObject({ done: false, attempt: 2, status: 'not-found' });
  });

  it('fails when the AMI goes to state failed, with its state reason', async () => {
    // Prepare
    ec2['us-east-1']?.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ImageId: 'ami-main',
          State: 'failed',
          StateReason: { Code: 'Client.InvalidManifest', Message: 'Manifest signature is invalid' },
        },
      ],
    });

    // Act
    const act = checkMain(imageState());

    // Assess
    await expect(act).rejects.toThrow(ImageNotAvailableError);
    await expect(act).rejects.toThrow(
      "AMI ami-main in us-east-1 went to state 'failed': Client.InvalidManifest: Manifest signature is invalid.",
    );
  });

  it.each(['invalid', 'error', 'deregistered', 'disabled'] as const)(
    'fails when the AMI is %s',
    async (state) => {
      // Prepare
      ec2['us-east-1']
        ?.on(DescribeImagesCommand)
        .resolves({ Images: [{ ImageId: 'ami-main', State: state }] });

      // Act
      const act = checkMain(imageState());

      // Assess
      await expect(act).rejects.toThrow(`went to state '${state}'`);
    },
  );

  it('fails when the AMI is still pending at the last attempt, saying how to wait longer', async () => {
    // Prepare
    ec2['us-east-1']
      ?.on(DescribeImagesCommand)
      .resolves({ Images: [{ ImageId: 'ami-main', State: 'pending' }] });
    const build = imageState({
      poll: { image: { done: false, attempt: 119, waitSeconds: 15, target: 'ami-main' } },
    });

    // Act
    const act = checkMain(build);

    // Assess
    await expect(act).rejects.toThrow(ImageNotAvailableError);
    await expect(act).rejects.toThrow(
      "AMI ami-main in us-east-1 was not available after 120 × 15 s (about 30 min); last state 'pending'. " +
        'Large images can take longer: raise aws_polling { max_attempts, delay_seconds } in the template.',
    );
  });

  it('is done at the last attempt when the AMI became available', async () => {
    // Prepare
    ec2['us-east-1']
      ?.on(DescribeImagesCommand)
      .resolves({ Images: [{ ImageId: 'ami-main', State: 'available' }] });
    const build = imageState({
      poll: { image: { done: false, attempt: 119, waitSeconds: 15, target: 'ami-main' } },
    });

    // Act
    const result = await checkMain(build);

    // Assess
    expect(result).toMatchObject({ done: true, attempt: 120 });
  });

  it('checks a copy in its region under the copy key', async () => {
    // Prepare
    ec2['eu-west-1']
      ?.on(DescribeImagesCommand)
      .resolves({ Images: [{ ImageId: 'ami-copy', State: 'pending' }] });

    // Act
    const result = await checkCopy(
      copyState({ image: { done: true, attempt: 7, waitSeconds: 15, target: 'ami-main' } }),
    );

    // Assess
    expect(result).toEqual({
      done: false,
      attempt: 1,
      waitSeconds: 15,
      status: 'pending',
      target: 'ami-copy',
    });
    expect(ec2['eu-west-1']?.commandCalls(DescribeImagesCommand)[0]?.args[0].input).toEqual({
      ImageIds: ['ami-copy'],
    });
    expect(ec2['us-east-1']?.calls()).toHaveLength(0);
  });

  it('fails when a copy fails, naming the region', async () => {
    // Prepare
    ec2['eu-west-1']?.on(DescribeImagesCommand).resolves({
      Images: [
        { ImageId: 'ami-copy', State: 'failed', StateReason: { Code: 'Server.InternalError', Message: 'x' } },
      ],
    });

    // Act
    const act = checkCopy(copyState());

    // Assess
    await expect(act).rejects.toThrow(ImageCopyError);
    await expect(act).rejects.toThrow(
      "Copy ami-copy of AMI ami-main to eu-west-1 went to state 'failed': Server.InternalError: x.",
    );
  });

  it('fails when a copy times out, naming the region', async () => {
    // Prepare
    ec2['eu-west-1']
      ?.on(DescribeImagesCommand)
      .resolves({ Images: [{ ImageId: 'ami-copy', State: 'pending' }] });
    const build = copyState({ copy: { done: false, attempt: 119, waitSeconds: 15, target: 'ami-copy' } });

    // Act
    const act = checkCopy(build);

    // Assess
    await expect(act).rejects.toThrow(ImageCopyError);
    await expect(act).rejects.toThrow(
      'Copy ami-copy of AMI ami-main to eu-west-1 was not available after 120 × 15 s',
    );
  });

  describe('without aws_polling in the template (Packer’s default bound, 120 × 15 s)', () => {
    const defaults = (retryCount: number, key: 'image' | 'copy' = 'image') => {
      const build: CopyIterationState =
        key === 'image'
          ? imageState({ config: { polling: { delaySeconds: 15, maxAttempts: 120 } } })
          : {
              ...copyState(),
              config: { ...copyState().config, polling: { delaySeconds: 15, maxAttempts: 120 } },
            };
      return checkImage(
        {
          build,
          args: { region: key === 'image' ? 'us-east-1' : 'eu-west-1', key },
          check: { retryCount, enteredTime: '2030-01-01T00:00:00.000Z' },
        },
        deps,
      );
    };
    const last = retriesFor(AMI_POLL_SCHEDULE, 1800);

    it('asks the state’s Retry to check again while the AMI is pending, sooner than Packer would', async () => {
      // Prepare
      ec2['us-east-1']
        ?.on(DescribeImagesCommand)
        .resolves({ Images: [{ ImageId: 'ami-main', State: 'pending' }] });

      // Act
      const act = defaults(2);

      // Assess
      await expect(act).rejects.toThrow(PollPendingError);
      await expect(act).rejects.toThrow(
        `AMI ami-main in us-east-1 is pending (check 3, next in ${Math.round(4 * 1.1 ** 2)} s).`,
      );
      expect(AMI_POLL_SCHEDULE.maxDelaySeconds).toBeLessThan(15);
    });

    it('is done with the checks of the state’s retries counted', async () => {
      // Prepare
      ec2['us-east-1']
        ?.on(DescribeImagesCommand)
        .resolves({ Images: [{ ImageId: 'ami-main', State: 'available' }] });

      // Act
      const result = await defaults(5);

      // Assess
      expect(result).toMatchObject({ done: true, attempt: 6, status: 'available' });
    });

    it('fails once the schedule has waited 30 min, saying how to wait longer', async () => {
      // Prepare
      ec2['us-east-1']
        ?.on(DescribeImagesCommand)
        .resolves({ Images: [{ ImageId: 'ami-main', State: 'pending' }] });

      // Act
      const before = defaults(last - 1);
      const act = defaults(last);

      // Assess
      await expect(before).rejects.toThrow(PollPendingError);
      expect(waitedSeconds(AMI_POLL_SCHEDULE, last)).toBeGreaterThanOrEqual(1800);
      await expect(act).rejects.toThrow(ImageNotAvailableError);
      await expect(act).rejects.toThrow(
        `AMI ami-main in us-east-1 was not available within 1800 s (about 30 min, aws_polling's default 120 × 15 s; ${last + 1} checks); last state 'pending'. ` +
          'Large images can take longer: raise aws_polling { max_attempts, delay_seconds } in the template.',
      );
    });

    it('fails a copy that is not available within the bound, naming the region', async () => {
      // Prepare
      ec2['eu-west-1']
        ?.on(DescribeImagesCommand)
        .resolves({ Images: [{ ImageId: 'ami-copy', State: 'pending' }] });

      // Act
      const act = defaults(last, 'copy');

      // Assess
      await expect(act).rejects.toThrow(ImageCopyError);
      await expect(act).rejects.toThrow(
        'Copy ami-copy of AMI ami-main to eu-west-1 was not available within 1800 s',
      );
    });
  });

  it('fails when DescribeImages is refused, naming the region', async () => {
    // Prepare
    ec2['eu-west-1']?.on(DescribeImagesCommand).rejects(awsError('UnauthorizedOperation', 'no'));

    // Act
    const act = checkCopy(copyState());

    // Assess
    await expect(act).rejects.toThrow(ImageCopyError);
    await expect(act).rejects.toThrow(
      'Error describing copy ami-copy of AMI ami-main to eu-west-1: UnauthorizedOperation: no',
    );
  });

  it('fails when the state lacks the image to check', async () => {
    // Act
    const act = checkCopy(imageState());

    // Assess
    await expect(act).rejects.toThrow(TaskInputError);
    await expect(act).rejects.toThrow('$.copy');
  });

  it('lets throttling through unwrapped, so the handler turns it into AwsTransientError', async () => {
    // Prepare
    ec2['us-east-1']?.on(DescribeImagesCommand).rejects(awsError('RequestLimitExceeded', 'slow down', 503));
    const task = lambdaHandler(checkMain);

    // Act
    const act = task(imageState());

    // Assess
    await expect(act).rejects.toThrow(AwsTransientError);
  });
});

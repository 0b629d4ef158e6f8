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
  TaskInputError,
} from '../../../lambdas/shared/errors.js';
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
    config: { polling: { delaySeconds: 15, maxAttempts: 120 } },
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
      config: { polling: { delaySeconds: 30, maxAttempts: 10 } },
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

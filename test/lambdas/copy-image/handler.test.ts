import { CopyImageCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { handler } from '../../../lambdas/copy-image/handler.js';
import { TaskInputError } from '../../../lambdas/shared/errors.js';
import { makeBuildState } from '../fixtures.js';

const ec2 = mockClient(EC2Client);

afterEach(() => {
  ec2.reset();
});

describe('copy-image handler', () => {
  it('copies into args.region', async () => {
    // Prepare
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    ec2.on(CopyImageCommand).resolves({ ImageId: 'ami-copy' });
    const build = makeBuildState({ image: { region: 'us-east-1', imageId: 'ami-main' } });

    // Act
    const result = await handler({ build, args: { region: 'eu-west-1' } });

    // Assess
    expect(result).toEqual({ region: 'eu-west-1', imageId: 'ami-copy' });
  });

  it('fails when args.region is missing', async () => {
    // Act
    const act = handler({ build: makeBuildState(), args: {} });

    // Assess
    await expect(act).rejects.toThrow(TaskInputError);
    expect(ec2.calls()).toHaveLength(0);
  });
});

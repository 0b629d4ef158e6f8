import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { handler } from '../../../lambdas/check-image/handler.js';
import { TaskInputError } from '../../../lambdas/shared/errors.js';
import { makeBuildState } from '../fixtures.js';

const ec2 = mockClient(EC2Client);

afterEach(() => {
  ec2.reset();
});

describe('check-image handler', () => {
  it('checks the image named by args.key in args.region', async () => {
    // Prepare
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-main', State: 'available' }] });
    const build = makeBuildState({ image: { region: 'us-east-1', imageId: 'ami-main' } });

    // Act
    const result = await handler({ build, args: { region: 'us-east-1', key: 'image' } });

    // Assess
    expect(result).toMatchObject({ done: true, target: 'ami-main' });
  });

  it('fails when args.key is neither image nor copy', async () => {
    // Act
    const act = handler({ build: makeBuildState(), args: { region: 'us-east-1', key: 'snapshot' } });

    // Assess
    await expect(act).rejects.toThrow(TaskInputError);
    expect(ec2.calls()).toHaveLength(0);
  });
});

import { CreateTagsCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { handler } from '../../../lambdas/finish-image/handler.js';
import { TaskInputError } from '../../../lambdas/shared/errors.js';
import { makeBuildState } from '../fixtures.js';

const ec2 = mockClient(EC2Client);

afterEach(() => {
  ec2.reset();
});

describe('finish-image handler', () => {
  it('finishes args.imageId in args.region', async () => {
    // Prepare
    const build = makeBuildState();
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ImageId: 'ami-copy',
          Tags: [
            { Key: 'ami-builder:stack', Value: 'AmiBuilder' },
            { Key: 'ami-builder:execution', Value: build.execution.id },
            { Key: 'ami-builder:build', Value: build.config.name },
          ],
        },
      ],
    });
    ec2.on(CreateTagsCommand).resolves({});

    // Act
    const result = await handler({
      build,
      args: { region: 'eu-west-1', imageId: 'ami-copy' },
    });

    // Assess
    expect(result).toEqual({ region: 'eu-west-1', imageId: 'ami-copy' });
    expect(ec2.commandCalls(CreateTagsCommand)[0]?.args[0].input.Resources).toEqual(['ami-copy']);
  });

  it('fails when args.imageId is missing', async () => {
    // Act
    const act = handler({ build: makeBuildState(), args: { region: 'eu-west-1' } });

    // Assess
    await expect(act).rejects.toThrow(TaskInputError);
    expect(ec2.calls()).toHaveLength(0);
  });
});

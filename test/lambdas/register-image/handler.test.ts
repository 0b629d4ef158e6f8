import { DescribeImagesCommand, EC2Client, RegisterImageCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { handler } from '../../../lambdas/register-image/handler.js';
import { TaskInputError } from '../../../lambdas/shared/errors.js';
import { makeBuildState } from '../fixtures.js';

const ec2 = mockClient(EC2Client);

afterEach(() => {
  ec2.reset();
});

describe('register-image handler', () => {
  it('registers the manifest at $.bucket.manifestLocation', async () => {
    // Prepare
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    ec2.on(RegisterImageCommand).resolves({ ImageId: 'ami-new' });
    const build = makeBuildState({
      bucket: {
        name: 'b',
        keyPrefix: '',
        region: 'us-east-1',
        manifestLocation: 'b/i.manifest.xml',
        created: false,
      },
      source: {
        imageId: 'ami-src',
        name: 'src',
        ownerId: '1',
        creationDate: '',
        tags: {},
        rootDeviceType: 'instance-store',
        architecture: 'x86_64',
        virtualizationType: 'paravirtual',
        accountId: '123456789012',
        rendered: { tags: {}, runTags: {} },
      },
    });

    // Act
    const result = await handler({ build, args: {} });

    // Assess
    expect(result).toEqual({ region: 'us-east-1', imageId: 'ami-new' });
    expect(ec2.commandCalls(RegisterImageCommand)[0]?.args[0].input.ImageLocation).toBe('b/i.manifest.xml');
  });

  it('fails when the payload has no build', async () => {
    // Act
    const act = handler({ args: {} });

    // Assess
    await expect(act).rejects.toThrow(TaskInputError);
    expect(ec2.calls()).toHaveLength(0);
  });
});

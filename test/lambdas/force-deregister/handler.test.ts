import { DeregisterImageCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { handler } from '../../../lambdas/force-deregister/handler.js';
import { TaskInputError } from '../../../lambdas/shared/errors.js';
import { makeBuildState } from '../fixtures.js';

const ec2 = mockClient(EC2Client);

afterEach(() => {
  ec2.reset();
});

describe('force-deregister handler', () => {
  it('deregisters the same-named image this stack built', async () => {
    // Prepare: the handler reads STACK_NAME at load; unset, it is AmiBuilder.
    ec2.on(DescribeImagesCommand).resolves({
      Images: [{ ImageId: 'ami-old', Tags: [{ Key: 'ami-builder:stack', Value: 'AmiBuilder' }] }],
    });
    ec2.on(DeregisterImageCommand).resolves({});

    // Act
    const result = await handler({ build: makeBuildState({ config: { forceDeregister: true } }), args: {} });

    // Assess
    expect(result).toEqual({ deregistered: [{ region: 'us-east-1', imageId: 'ami-old' }] });
  });

  it('fails when the payload has no build', async () => {
    // Act
    const act = handler({});

    // Assess
    await expect(act).rejects.toThrow(TaskInputError);
    expect(ec2.calls()).toHaveLength(0);
  });
});

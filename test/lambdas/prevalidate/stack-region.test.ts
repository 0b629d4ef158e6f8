import { EC2Client } from '@aws-sdk/client-ec2';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { prevalidate } from '../../../lambdas/prevalidate/prevalidate.js';
import { makeBuildState, makeConfig } from '../fixtures.js';

describe('prevalidate and the stack region', () => {
  it('fails when the build region is not the stack’s region, before any AWS call', async () => {
    // Prepare
    const ec2 = mockClient(EC2Client);
    const sts = mockClient(STSClient);
    const build = makeBuildState({ config: makeConfig({ region: 'eu-west-1' }) });
    const deps = {
      clients: {
        ec2: () => new EC2Client({ region: 'eu-west-1' }),
        sts: () => new STSClient({ region: 'eu-west-1' }),
      },
      env: { stackName: 'AmiBuilder', adoptForeignImages: false },
      stackRegion: 'us-east-1',
    };

    // Act
    const result = prevalidate({ build, args: {} }, deps);

    // Assess
    await expect(result).rejects.toMatchObject({
      name: 'InvalidRegionError',
      message: expect.stringContaining('this stack builds in us-east-1 only'),
    });
    expect(ec2.calls()).toHaveLength(0);
    expect(sts.calls()).toHaveLength(0);
    ec2.restore();
    sts.restore();
  });
});

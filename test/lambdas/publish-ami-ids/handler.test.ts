import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { handler } from '../../../lambdas/publish-ami-ids/handler.js';
import { TaskInputError } from '../../../lambdas/shared/errors.js';
import { awsError, makeBuildState } from '../fixtures.js';

const ssmMock = mockClient(SSMClient);

afterEach(() => {
  ssmMock.reset();
});

describe('publish-ami-ids handler', () => {
  it('publishes under the default prefix /ami-builder/ami-ids/', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).rejects(awsError('ParameterNotFound'));
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
    const build = makeBuildState({
      config: { amiIdParameter: '/ami-builder/ami-ids/web' },
      image: { region: 'us-east-1', imageId: 'ami-0east' },
    });

    // Act
    const result = await handler({ build, args: {} });

    // Assess
    expect(result).toEqual({
      parameter: '/ami-builder/ami-ids/web',
      published: [{ region: 'us-east-1', imageId: 'ami-0east', version: 1, changed: true }],
    });
  });

  it('fails with TaskInputError when the state lacks the registered image', async () => {
    // Prepare
    const build = makeBuildState({ config: { amiIdParameter: '/ami-builder/ami-ids/web' } });

    // Act
    const act = handler({ build, args: {} });

    // Assess
    await expect(act).rejects.toThrow(TaskInputError);
    expect(ssmMock.calls()).toHaveLength(0);
  });
});

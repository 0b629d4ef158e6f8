import {
  GetParameterCommand,
  ListTagsForResourceCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AMI_DATA_TYPE,
  checkParameterName,
  type PublishAmiIdsDeps,
  publishAmiIds,
} from '../../../lambdas/publish-ami-ids/publish-ami-ids.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import type { TaskEvent } from '../../../lambdas/shared/state.js';
import { awsError, type BuildStateOverrides, makeBuildState, regionOf } from '../fixtures.js';

const ssmMock = mockClient(SSMClient);

function makeDeps(prefix = '/ami-builder/'): PublishAmiIdsDeps {
  return {
    clients: createClients({ ssm: SSMClient }),
    env: { amiParameterPrefix: prefix, stackName: 'AmiBuilder' },
  };
}

/** The tag Publish AMI IDs puts on the parameters it creates. */
const OWNED = [{ Key: 'ami-builder:stack', Value: 'AmiBuilder' }];

function event(parameter: string | undefined, overrides: BuildStateOverrides = {}): TaskEvent {
  return {
    build: makeBuildState({
      config: { amiIdParameter: parameter, amiRegions: ['us-west-2', 'eu-west-1'] },
      image: { region: 'us-east-1', imageId: 'ami-0east' },
      copies: [
        { region: 'us-west-2', imageId: 'ami-0west' },
        { region: 'eu-west-1', imageId: 'ami-0eu' },
      ],
      ...overrides,
    }),
    args: {},
  };
}

describe('publishAmiIds', () => {
  beforeEach(() => {
    ssmMock.reset();
    ssmMock.on(GetParameterCommand).rejects(awsError('ParameterNotFound'));
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
    ssmMock.on(ListTagsForResourceCommand).resolves({ TagList: OWNED });
  });

  afterEach(() => {
    ssmMock.reset();
  });

  it('creates the parameter in each region with that region’s AMI id, as aws:ec2:image, tagged as the stack’s', async () => {
    // Prepare
    const input = event('/ami-builder/web/latest');

    // Act
    const result = await publishAmiIds(input, makeDeps());

    // Assess
    expect(result).toEqual({
      parameter: '/ami-builder/web/latest',
      published: [
        { region: 'eu-west-1', imageId: 'ami-0eu', version: 1, changed: true },
        { region: 'us-east-1', imageId: 'ami-0east', version: 1, changed: true },
        { region: 'us-west-2', imageId: 'ami-0west', version: 1, changed: true },
      ],
    });
    const calls = ssmMock.commandCalls(PutParameterCommand);
    const byRegion = Object.fromEntries(
      await Promise.all(calls.map(async (c) => [await regionOf(c), c.args[0].input] as const)),
    );
    expect(Object.keys(byRegion).sort()).toEqual(['eu-west-1', 'us-east-1', 'us-west-2']);
    expect(byRegion['us-west-2']).toMatchObject({
      Name: '/ami-builder/web/latest',
      Value: 'ami-0west',
      Type: 'String',
      DataType: AMI_DATA_TYPE,
      Tags: OWNED,
    });
    expect(byRegion['us-west-2']?.Overwrite).toBeUndefined();
    expect(byRegion['us-east-1']?.Value).toBe('ami-0east');
    expect(byRegion['eu-west-1']?.Value).toBe('ami-0eu');
  });

  it('leaves a parameter that already holds the AMI id alone, so a retry adds no version', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).resolves({
      Parameter: {
        Name: '/ami-builder/web',
        Value: 'ami-0east',
        Type: 'String',
        DataType: AMI_DATA_TYPE,
        Version: 4,
      },
    });
    const input = event('/ami-builder/web', { copies: [] });

    // Act
    const result = await publishAmiIds(input, makeDeps());

    // Assess
    expect(result.published).toEqual([
      { region: 'us-east-1', imageId: 'ami-0east', version: 4, changed: false },
    ]);
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  it('overwrites a parameter it created that holds an older AMI id', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).resolves({
      Parameter: {
        Name: '/ami-builder/web',
        Value: 'ami-0old',
        Type: 'String',
        DataType: AMI_DATA_TYPE,
        Version: 4,
      },
    });
    ssmMock.on(PutParameterCommand).resolves({ Version: 5 });

    // Act
    const result = await publishAmiIds(event('/ami-builder/web', { copies: [] }), makeDeps());

    // Assess
    expect(result.published).toEqual([
      { region: 'us-east-1', imageId: 'ami-0east', version: 5, changed: true },
    ]);
    expect(ssmMock.commandCalls(ListTagsForResourceCommand)[0]?.args[0].input).toEqual({
      ResourceType: 'Parameter',
      ResourceId: '/ami-builder/web',
    });
    expect(ssmMock.commandCalls(PutParameterCommand)[0]?.args[0].input).toMatchObject({
      Overwrite: true,
      Value: 'ami-0east',
    });
    expect(ssmMock.commandCalls(PutParameterCommand)[0]?.args[0].input.Tags).toBeUndefined();
  });

  it('refuses to overwrite a SecureString, in any region, before writing anything', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).resolves({
      Parameter: { Name: '/ami-builder/web', Value: 'AQICAH…', Type: 'SecureString', DataType: 'text' },
    });

    // Act
    const error = await publishAmiIds(event('/ami-builder/web'), makeDeps()).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ name: 'AmiParameterNotOwnedError' });
    expect((error as Error).message).toContain(
      'ami_id_parameter "/ami-builder/web" in eu-west-1 already exists as a SecureString of data type text',
    );
    expect((error as Error).message).not.toContain('AQICAH');
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  it('refuses to overwrite a String of data type text', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).resolves({
      Parameter: { Name: '/ami-builder/web', Value: 'hello', Type: 'String', DataType: 'text' },
    });

    // Act
    const error = await publishAmiIds(event('/ami-builder/web', { copies: [] }), makeDeps()).catch(
      (e: unknown) => e,
    );

    // Assess
    expect(error).toMatchObject({ name: 'AmiParameterNotOwnedError' });
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  it('refuses to overwrite an AMI-id parameter this stack did not create', async () => {
    // Prepare: only us-west-2's parameter is foreign; no region is written.
    ssmMock.on(GetParameterCommand).resolves({
      Parameter: { Name: '/ami-builder/web', Value: 'ami-0old', Type: 'String', DataType: AMI_DATA_TYPE },
    });
    ssmMock.on(ListTagsForResourceCommand).callsFake(async (_input, getClient) => {
      const region = await (getClient() as SSMClient).config.region();
      return { TagList: region === 'us-west-2' ? [{ Key: 'Team', Value: 'web' }] : OWNED };
    });

    // Act
    const error = await publishAmiIds(event('/ami-builder/web'), makeDeps()).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ name: 'AmiParameterNotOwnedError' });
    expect((error as Error).message).toBe(
      'ami_id_parameter "/ami-builder/web" in us-west-2 already exists without the tag ami-builder:stack; this stack overwrites only parameters it created (type String, data type aws:ec2:image, tag ami-builder:stack=AmiBuilder). Name another parameter, or delete this one if it may be replaced.',
    );
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  it('checks again when the parameter appears between the check and the create', async () => {
    // Prepare
    ssmMock
      .on(GetParameterCommand)
      .rejectsOnce(awsError('ParameterNotFound'))
      .resolves({
        Parameter: { Name: '/ami-builder/web', Value: 'x', Type: 'SecureString', DataType: 'text' },
      });
    ssmMock.on(PutParameterCommand).rejects(awsError('ParameterAlreadyExists'));

    // Act
    const error = await publishAmiIds(event('/ami-builder/web', { copies: [] }), makeDeps()).catch(
      (e: unknown) => e,
    );

    // Assess
    expect(error).toMatchObject({ name: 'AmiParameterNotOwnedError' });
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(1);
  });

  it('does nothing when the template has no ami_id_parameter', async () => {
    // Act
    const result = await publishAmiIds(event(undefined), makeDeps());

    // Assess
    expect(result).toEqual({ published: [] });
    expect(ssmMock.calls()).toHaveLength(0);
  });

  it('fails when the parameter is outside the stack’s prefix, before writing anything', async () => {
    // Act
    const error = await publishAmiIds(event('/other/web'), makeDeps()).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ name: 'AmiParameterNotAllowedError' });
    expect((error as Error).message).toBe(
      'ami_id_parameter "/other/web" is not under the stack\'s AMI parameter prefix "/ami-builder/": name a parameter such as "/ami-builder/<name>", or deploy the stack with -c amiParameterPrefix=<path>',
    );
    expect(ssmMock.calls()).toHaveLength(0);
  });

  it('passes other SSM errors through with their names, for the state machine’s retries', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).rejects(awsError('ThrottlingException', 'Rate exceeded', 400));

    // Act
    const error = await publishAmiIds(event('/ami-builder/web'), makeDeps()).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ name: 'ThrottlingException' });
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
  });
});

describe('checkParameterName', () => {
  it('accepts names strictly under the prefix', () => {
    expect(() => checkParameterName('/ami-builder/a/b', '/ami-builder/')).not.toThrow();
  });

  it('fails when the name is the prefix itself or only shares its start', () => {
    expect(() => checkParameterName('/ami-builder/', '/ami-builder/')).toThrow(/not under/);
    expect(() => checkParameterName('/ami-builder-evil/x', '/ami-builder/')).toThrow(/not under/);
    expect(() => checkParameterName('/ami-builder-evil/x', '/ami-builder')).toThrow(/not under/);
  });
});

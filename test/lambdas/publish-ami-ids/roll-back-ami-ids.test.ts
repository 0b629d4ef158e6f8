import {
  DeleteParameterCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  ListTagsForResourceCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handler } from '../../../lambdas/publish-ami-ids/handler.js';
import { rollBackAmiIds } from '../../../lambdas/publish-ami-ids/roll-back-ami-ids.js';
import { createClients } from '../../../lambdas/shared/runtime.js';
import type { TaskEvent } from '../../../lambdas/shared/state.js';
import { awsError, makeBuildState, regionOf } from '../fixtures.js';

const ssmMock = mockClient(SSMClient);
const deps = { clients: createClients({ ssm: SSMClient }), env: { stackName: 'AmiBuilder' } };
const NAME = '/ami-builder/ami-ids/web';
const OWNED = { TagList: [{ Key: 'ami-builder:stack', Value: 'AmiBuilder' }] };

function failedBuild(): TaskEvent {
  return {
    build: makeBuildState({
      config: { amiIdParameter: NAME },
      image: { region: 'us-east-1', imageId: 'ami-0new' },
      error: { Error: 'InstanceNotTerminatedError', Cause: 'x' },
    }),
    args: {},
  };
}

describe('rollBackAmiIds', () => {
  beforeEach(() => {
    ssmMock.reset();
    ssmMock.on(ListTagsForResourceCommand).resolves(OWNED);
    ssmMock.on(PutParameterCommand).resolves({ Version: 3 });
    ssmMock.on(DeleteParameterCommand).resolves({});
  });
  afterEach(() => {
    ssmMock.reset();
  });

  it('writes back the value the parameter held before this build published it', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Name: NAME, Value: 'ami-0new', Version: 2 } });
    ssmMock.on(GetParameterHistoryCommand).resolves({
      Parameters: [
        { Name: NAME, Value: 'ami-0new', Version: 2 },
        { Name: NAME, Value: 'ami-0old', Version: 1 },
      ],
    });

    // Act
    const report = await rollBackAmiIds(failedBuild(), deps);

    // Assess
    const puts = ssmMock.commandCalls(PutParameterCommand);
    expect(puts.map((c) => c.args[0].input)).toEqual([
      { Name: NAME, Value: 'ami-0old', Type: 'String', DataType: 'aws:ec2:image', Overwrite: true },
    ]);
    expect(await regionOf(puts[0]!)).toBe('us-east-1');
    expect(report.rolledBackParameters).toEqual([{ name: NAME, region: 'us-east-1', restored: 'ami-0old' }]);
    expect(report.leaked).toBeUndefined();
  });

  it('deletes a parameter this build created', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Name: NAME, Value: 'ami-0new', Version: 1 } });
    ssmMock
      .on(GetParameterHistoryCommand)
      .resolves({ Parameters: [{ Name: NAME, Value: 'ami-0new', Version: 1 }] });

    // Act
    const report = await rollBackAmiIds(failedBuild(), deps);

    // Assess
    expect(ssmMock.commandCalls(DeleteParameterCommand).map((c) => c.args[0].input)).toEqual([
      { Name: NAME },
    ]);
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
    expect(report.rolledBackParameters).toEqual([{ name: NAME, region: 'us-east-1' }]);
  });

  it('leaves alone a parameter that no longer holds this build’s AMI id, so a second run does nothing', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Name: NAME, Value: 'ami-0old', Version: 3 } });

    // Act
    const report = await rollBackAmiIds(failedBuild(), deps);

    // Assess
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
    expect(ssmMock.commandCalls(DeleteParameterCommand)).toHaveLength(0);
    expect(report.rolledBackParameters).toBeUndefined();
  });

  it('does nothing where the parameter does not exist', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).rejects(awsError('ParameterNotFound'));

    // Act
    const report = await rollBackAmiIds(failedBuild(), deps);

    // Assess
    expect(report.rolledBackParameters).toBeUndefined();
    expect(report.leaked).toBeUndefined();
  });

  it('reports the parameter left behind, with the command that restores it, when SSM refuses', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Name: NAME, Value: 'ami-0new', Version: 2 } });
    ssmMock.on(GetParameterHistoryCommand).resolves({
      Parameters: [
        { Name: NAME, Value: 'ami-0old', Version: 1 },
        { Name: NAME, Value: 'ami-0new', Version: 2 },
      ],
    });
    ssmMock.on(PutParameterCommand).rejects(awsError('AccessDeniedException', 'not authorized', 400));

    // Act
    const report = await rollBackAmiIds(failedBuild(), deps);

    // Assess
    expect(report.leaked).toEqual([
      {
        type: 'AMI id parameter',
        id: NAME,
        region: 'us-east-1',
        reason:
          'still names ami-0new of this failed build: roll-back failed: AccessDeniedException: not authorized',
        hint:
          `aws ssm put-parameter --region us-east-1 --name ${NAME} --type String --data-type aws:ec2:image ` +
          '--overwrite --value ami-0old',
      },
    ]);
  });

  it('does not touch a parameter holding this AMI id without this stack’s tag, and reports it', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Name: NAME, Value: 'ami-0new', Version: 2 } });
    ssmMock.on(ListTagsForResourceCommand).resolves({ TagList: [] });

    // Act
    const report = await rollBackAmiIds(failedBuild(), deps);

    // Assess
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
    expect(ssmMock.commandCalls(DeleteParameterCommand)).toHaveLength(0);
    expect(report.leaked?.[0]?.reason).toMatch(
      /does not carry ami-builder:stack=AmiBuilder: not rolled back/,
    );
  });

  it('is what the handler runs for action roll-back, merged into the cleanup report', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).rejects(awsError('ParameterNotFound'));
    const { build } = failedBuild();
    build.cleanup = {
      terminatedInstances: ['i-1'],
      deletedSecurityGroups: [],
      deletedStagedObjects: 0,
      deregisteredImages: [],
      kept: [],
    };

    // Act
    const report = await handler({ build, args: { action: 'roll-back' } });

    // Assess
    expect(report).toEqual(build.cleanup);
  });
});

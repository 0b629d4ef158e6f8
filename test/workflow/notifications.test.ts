/**
 * What a finished build tells the world: one EventBridge event per execution (succeeded or failed), and the new
 * AMI ids published to the template's `ami_id_parameter` in every region of the build.
 */
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { StateNames } from '../../infra/state-names.js';
import { DetailTypes, EVENT_SOURCE } from '../../lambdas/notify/notify.js';
import { AMI_DATA_TYPE } from '../../lambdas/publish-ami-ids/publish-ami-ids.js';
import { BUILD_REGION, basicExample, enteredStates, useWorkflowHarness } from './harness.js';

const harness = useWorkflowHarness({ leastPrivilege: true });

const PARAMETER = '/ami-builder/ami-ids/workflow-test/base-ami';
const COPY_REGIONS = ['eu-west-1', 'us-west-2'];

async function parameterIn(region: string) {
  const ssm = harness().ssm(region);
  try {
    return (await ssm.send(new GetParameterCommand({ Name: PARAMETER }))).Parameter;
  } catch (error) {
    if ((error as Error).name === 'ParameterNotFound') return undefined;
    throw error;
  }
}

describe('notifications and published AMI ids', () => {
  it('puts an "AMI Build Succeeded" event and writes the AMI id of every region to ami_id_parameter', async () => {
    // Prepare
    const h = harness();
    const template = { ...basicExample(h.x509), ami_regions: COPY_REGIONS, ami_id_parameter: PARAMETER };

    // Act
    const result = await h.run(template, { label: 'notify' });

    // Assess
    expect({ status: result.status, error: result.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
    const build = result.output?.builds[0];
    expect(Object.keys(build?.artifacts ?? {}).sort()).toEqual([BUILD_REGION, ...COPY_REGIONS].sort());
    const events = await h.emulator.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      region: BUILD_REGION,
      eventBusName: 'default',
      source: EVENT_SOURCE,
      detailType: DetailTypes.succeeded,
      detail: {
        executionArn: result.executionArn,
        failed: 0,
        builds: [
          {
            name: 'amazon-instance',
            status: 'succeeded',
            artifacts: build?.artifacts,
            artifactId: build?.artifactId,
          },
        ],
      },
    });
    for (const region of [BUILD_REGION, ...COPY_REGIONS]) {
      const parameter = await parameterIn(region);
      expect(parameter, `${PARAMETER} in ${region}`).toMatchObject({
        Value: build?.artifacts[region],
        DataType: AMI_DATA_TYPE,
      });
    }
  });

  it('puts an "AMI Build Failed" event with the error and publishes no AMI id when the build fails', async () => {
    // Prepare
    const h = harness();
    const template = {
      builders: [{ ...basicExample(h.x509), ami_id_parameter: PARAMETER }],
      provisioners: [{ type: 'shell', inline: ['exit 1'] }],
    };
    await h.emulator.addFault({ type: 'command', match: '01-provision', exitCode: 1 });

    // Act
    const result = await h.run(template, { label: 'notify-failed' });

    // Assess
    expect(result.error).toBe('ProvisionerFailedError');
    const events = await h.emulator.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      source: EVENT_SOURCE,
      detailType: DetailTypes.failed,
      detail: {
        executionArn: result.executionArn,
        failed: 1,
        builds: [{ name: 'amazon-instance', status: 'failed', error: { Error: 'ProvisionerFailedError' } }],
      },
    });
    expect(enteredStates(result)).not.toContain(StateNames.PublishAmiIds);
    expect(await parameterIn(BUILD_REGION)).toBeUndefined();
  });

  it('still succeeds when the notification cannot be delivered', async () => {
    // Prepare
    const h = harness();
    await h.emulator.addFault({
      type: 'api',
      service: 'events',
      operation: 'PutEvents',
      error: 'permanent',
      code: 'AccessDeniedException',
    });

    // Act
    const result = await h.run(basicExample(h.x509), { label: 'notify-denied' });

    // Assess
    expect({ status: result.status, error: result.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
    expect(await h.emulator.events()).toEqual([]);
    expect(JSON.stringify(result.output)).toContain('AccessDeniedException');
  });
});

/**
 * Honest results: when AWS refuses a cleanup step, the rest of the cleanup still runs, and every resource left
 * behind is listed, with its id, type, region, why and the command that removes it, in the build result, the
 * EventBridge event and the CLI's closing listing (whose exit status is then 2). A failed build that had already
 * published its AMI id puts the parameter back.
 */
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../cli/local/runner.js';
import { EXIT_LEFT_BEHIND, ProgressPrinter, runExitCode } from '../../cli/progress/printer.js';
import { StateNames } from '../../infra/state-names.js';
import { DetailTypes } from '../../lambdas/notify/notify.js';
import { AMI_DATA_TYPE } from '../../lambdas/publish-ami-ids/publish-ami-ids.js';
import { TagKeys } from '../../lambdas/shared/runtime.js';
import { BUILD_REGION, basicExample, enteredStates, SOURCE_AMI, useWorkflowHarness } from './harness.js';

const harness = useWorkflowHarness();

/** The closing lines `ami-builder build` / `local` print for the result, and the exit status they return. */
function cliClosing(result: RunResult): { lines: string[]; exitCode: number } {
  const lines: string[] = [];
  const output = result.output ?? { builds: [] };
  new ProgressPrinter({ write: (line) => lines.push(line) }).summary(output, 1000);
  return { lines, exitCode: runExitCode(output, result.status === 'SUCCEEDED' ? 0 : 1) };
}

describe('a cleanup that AWS refuses', () => {
  it('reports the instance and its security group left behind when TerminateInstances is denied, and deletes the rest', async () => {
    // Prepare
    const h = harness();
    await h.emulator.addFault({
      type: 'api',
      service: 'ec2',
      operation: 'TerminateInstances',
      error: 'permanent',
      code: 'UnauthorizedOperation',
      message: 'You are not authorized to perform this operation.',
      count: 1,
    });

    // Act
    const result = await h.run(basicExample(h.x509), { label: 'terminate-denied' });

    // Assess
    expect({ status: result.status, error: result.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
    const [launch] = await h.emulator.launches();
    const instanceId = launch?.instanceId ?? '';
    const build = result.output?.builds[0];
    expect(build?.status).toBe('succeeded');
    const leaked = build?.cleanup?.leaked ?? [];
    expect(leaked).toEqual([
      {
        type: 'instance',
        id: instanceId,
        region: BUILD_REGION,
        reason: 'not terminated: UnauthorizedOperation: You are not authorized to perform this operation.',
        hint: `aws ec2 terminate-instances --region ${BUILD_REGION} --instance-ids ${instanceId}`,
      },
      expect.objectContaining({
        type: 'security group',
        region: BUILD_REGION,
        reason: `not deleted: its instance ${instanceId} was not terminated`,
      }),
    ]);
    // The rest of the cleanup ran: no termination wait, the role and the staged files are gone.
    expect(enteredStates(result)).not.toContain(StateNames.CheckInstanceTerminated);
    expect(build?.cleanup?.deletedInstanceRoles).toHaveLength(1);
    expect(build?.cleanup?.deletedStagedObjects).toBeGreaterThan(0);

    const [event] = await h.emulator.events();
    expect(event).toMatchObject({
      detailType: DetailTypes.succeeded,
      detail: { leaked: 2, builds: [{ name: 'amazon-instance', leaked }] },
    });

    const cli = cliClosing(result);
    expect(cli.exitCode).toBe(EXIT_LEFT_BEHIND);
    expect(cli.lines).toContain(
      '==> Resources left behind: cleanup could not remove them; remove them by hand:',
    );
    expect(cli.lines).toContain(
      `--> amazon-instance: instance ${instanceId} (${BUILD_REGION}): not terminated: UnauthorizedOperation: ` +
        'You are not authorized to perform this operation.',
    );
    expect(cli.lines).toContain(
      `    aws ec2 terminate-instances --region ${BUILD_REGION} --instance-ids ${instanceId}`,
    );
  });

  it('reports the security group left behind when DeleteSecurityGroup fails past its retries', async () => {
    // Prepare
    const h = harness();
    await h.emulator.addFault({
      type: 'api',
      service: 'ec2',
      operation: 'DeleteSecurityGroup',
      error: 'permanent',
      code: 'DependencyViolation',
      message: 'resource has a dependent object',
      // Delete Temporary Resources and its 10 retries, then Finish Cleanup.
      count: 12,
    });

    // Act
    const result = await h.run(basicExample(h.x509), { label: 'group-in-use' });

    // Assess
    expect({ status: result.status, error: result.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
    expect(enteredStates(result)).toContain(StateNames.FinishCleanup);
    const build = result.output?.builds[0];
    const leaked = build?.cleanup?.leaked ?? [];
    const group = leaked[0]?.id ?? '';
    expect(group).toMatch(/^sg-/);
    expect(leaked).toEqual([
      {
        type: 'security group',
        id: group,
        region: BUILD_REGION,
        reason:
          'not deleted: still in use after every retry (DependencyViolation: resource has a dependent object)',
        hint: `once no instance uses it: aws ec2 delete-security-group --region ${BUILD_REGION} --group-id ${group}`,
      },
    ]);
    expect(build?.cleanup?.terminatedInstances).toHaveLength(1);
    expect(build?.cleanup?.deletedInstanceRoles).toHaveLength(1);

    const [event] = await h.emulator.events();
    expect(event).toMatchObject({ detail: { leaked: 1, builds: [{ leaked }] } });

    const cli = cliClosing(result);
    expect(cli.exitCode).toBe(EXIT_LEFT_BEHIND);
    expect(cli.lines).toContain(
      `--> amazon-instance: security group ${group} (${BUILD_REGION}): not deleted: still in use after every ` +
        'retry (DependencyViolation: resource has a dependent object)',
    );
  });
});

describe('a failed build that published its AMI id', () => {
  it('puts the parameter back to the AMI id it held before the build', async () => {
    // Prepare
    const h = harness();
    const name = '/ami-builder/ami-ids/workflow-test/rolled-back';
    await h.ssm().send(
      new PutParameterCommand({
        Name: name,
        Type: 'String',
        DataType: AMI_DATA_TYPE,
        Value: SOURCE_AMI,
        Tags: [{ Key: TagKeys.stack, Value: h.stack.stackName }],
      }),
    );
    // The build region is published, the copy's region refuses: Publish AMI IDs fails after one write.
    await h.emulator.addFault({
      type: 'api',
      service: 'ssm',
      operation: 'PutParameter',
      region: 'eu-west-1',
      error: 'permanent',
      code: 'AccessDeniedException',
      message: 'not authorized to perform ssm:PutParameter',
      count: 1,
    });
    const template = { ...basicExample(h.x509), ami_regions: ['eu-west-1'], ami_id_parameter: name };

    // Act
    const result = await h.run(template, { label: 'roll-back' });

    // Assess
    expect(result.status).toBe('FAILED');
    expect(enteredStates(result)).toContain(StateNames.RollBackAmiIds);
    const parameter = (await h.ssm().send(new GetParameterCommand({ Name: name }))).Parameter;
    expect(parameter?.Value).toBe(SOURCE_AMI);
    expect(result.cause).toContain(`rolled back ${name} (${BUILD_REGION}) to ${SOURCE_AMI}`);
    expect(await h.leftovers(['us-east-1', 'eu-west-1'])).toMatchObject({
      instances: [],
      securityGroups: [],
    });
  });
});

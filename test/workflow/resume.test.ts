/**
 * Resuming a failed build (input `{ resume, template }`): a build that failed in its last provisioner with
 * `on_error: abort` is resumed after its script is fixed, on the instance it kept; Validate Template refuses when
 * the kept instance is gone or the template changed a step before the failed one; a resumed build that cannot
 * adopt the kept resources fails without touching them.
 */
import { DescribeInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it, vi } from 'vitest';
import type { RunResult } from '../../cli/local/runner.js';
import { StateNames } from '../../infra/state-names.js';
import { TagKeys } from '../../lambdas/shared/tags.js';
import { BUILD_REGION, basicExample, enteredStates, useWorkflowHarness, type X509Pair } from './harness.js';

// Starting the emulator and synthesizing the app take minutes on a busy machine.
vi.setConfig({ hookTimeout: 600_000 });
const harness = useWorkflowHarness({ leastPrivilege: true });

const NO_LEFTOVERS = { instances: [], securityGroups: [], stagedObjects: [], instanceRoles: [] };
const BROKEN = 'broken-last-step';
const LAST_PROVISIONER = '-provision-01-a1';
const FIRST_PROVISIONER = '-provision-00-a1';

/** Two shell provisioners; the last one fails (a command fault matches its text) until it is fixed. */
function template(x509: X509Pair, options: { last?: string; first?: string } = {}): Record<string, unknown> {
  return {
    builders: [{ ...basicExample(x509), on_error: 'abort' }],
    provisioners: [
      { type: 'shell', inline: [`echo ${options.first ?? 'first-step'}`] },
      { type: 'shell', inline: [`echo ${options.last ?? BROKEN}`] },
    ],
  };
}

/** The kept instance's id, from the failed build's report. */
function keptInstance(result: RunResult): string {
  const report = result.events.find(
    (e) => e.type === 'StateEntered' && e.state?.name === StateNames.ReportFailedBuild,
  );
  const state = report?.state?.input as { instance?: { instanceId?: string }; config?: { amiName?: string } };
  if (state?.instance?.instanceId === undefined) throw new Error('the failed build launched no instance');
  return state.instance.instanceId;
}

/** The AMI name the failed build had resolved. */
function failedAmiName(result: RunResult): string {
  const report = result.events.find(
    (e) => e.type === 'StateEntered' && e.state?.name === StateNames.ReportFailedBuild,
  );
  const state = report?.state?.input as { config?: { amiName?: string } } | undefined;
  return state?.config?.amiName ?? '';
}

async function runInstancesCalls(h: ReturnType<typeof harness>): Promise<number> {
  return (await h.emulator.calls())
    .filter((c) => c.service === 'ec2' && c.operation === 'RunInstances')
    .reduce((n, c) => n + c.count, 0);
}

/** Fails the build in its last provisioner, keeping the instance. */
async function failedBuild(h: ReturnType<typeof harness>): Promise<RunResult> {
  // The last provisioner's first command fails (its staged folder is `…-provision-01-a1`).
  await h.emulator.addFault({
    type: 'command',
    match: LAST_PROVISIONER,
    exitCode: 3,
    stderr: 'E: broken',
    times: 1,
  });
  const failed = await h.run(template(h.x509), { label: 'resume-failed' });
  expect(failed.status).toBe('FAILED');
  expect(failed.error, failed.cause).toBe('ProvisionerFailedError');
  return failed;
}

describe('resume a failed build', () => {
  it('reruns the fixed last provisioner on the kept instance, registers the AMI and cleans up', async () => {
    // Prepare
    const h = harness();
    const failed = await failedBuild(h);
    const instanceId = keptInstance(failed);
    expect((await h.leftovers()).instances).toEqual([instanceId]);

    // Act: the script is fixed; an hour later (a {{timestamp}} would change), the build resumes.
    const resumed = await h.run(
      { template: template(h.x509, { last: 'fixed-last-step' }), resume: failed.executionArn },
      { label: 'resume-fixed', startTime: new Date(Date.now() + 3_600_000) },
    );

    // Assess
    expect(resumed.status, resumed.cause).toBe('SUCCEEDED');
    const entered = enteredStates(resumed);
    expect(entered).toContain(StateNames.AdoptKeptResources);
    expect(entered).toContain(StateNames.ProvisionerSkipped);
    expect(entered).not.toContain(StateNames.LaunchInstance);
    expect(entered).not.toContain(StateNames.CreateSecurityGroup);
    expect(entered).not.toContain(StateNames.CreateInstanceRole);
    // One instance for both executions, and the first provisioner ran once.
    expect(await runInstancesCalls(h)).toBe(1);
    const commands = await h.emulator.commands();
    const first = commands.filter((c) => (c.staged?.prefix ?? '').includes(FIRST_PROVISIONER));
    expect(first).toHaveLength(1);
    const last = commands.filter((c) => (c.staged?.prefix ?? '').includes(LAST_PROVISIONER));
    expect(last.map((c) => [c.status, c.instanceIds])).toEqual([
      ['Failed', [instanceId]],
      ['Success', [instanceId]],
    ]);
    // The AMI has the failed build's name.
    const build = resumed.output?.builds[0];
    expect(build?.status).toBe('succeeded');
    const imageId = build?.artifacts[BUILD_REGION];
    const image = (await h.images(BUILD_REGION)).find((i) => i.ImageId === imageId);
    expect(image?.Name).toBe(failedAmiName(failed));
    expect(image?.Tags).toContainEqual({ Key: TagKeys.execution, Value: resumed.executionArn });
    // Everything the failed build kept is gone now.
    expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
    const instance = await h.ec2().send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const tags = instance.Reservations?.[0]?.Instances?.[0]?.Tags ?? [];
    expect(tags).toContainEqual({ Key: TagKeys.resumedFrom, Value: failed.executionArn });
    expect(tags).toContainEqual({ Key: TagKeys.execution, Value: resumed.executionArn });
  });

  it('refuses when the kept instance is gone, and nothing is created', async () => {
    // Prepare
    const h = harness();
    const failed = await failedBuild(h);
    const instanceId = keptInstance(failed);
    await h.ec2().send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));

    // Act
    const resumed = await h.run(
      { template: template(h.x509, { last: 'fixed-last-step' }), resume: failed.executionArn },
      { label: 'resume-gone' },
    );

    // Assess
    expect(resumed.status).toBe('FAILED');
    expect(resumed.error).toBe('TemplateValidationError');
    expect(resumed.cause).toContain(`the kept instance ${instanceId} in ${BUILD_REGION} is gone`);
    expect(enteredStates(resumed)).toEqual([
      StateNames.ValidateTemplate,
      StateNames.ResumeRequestedChoice,
      StateNames.PrepareResume,
      StateNames.TemplateInvalid,
    ]);
    expect(await runInstancesCalls(h)).toBe(1);
  });

  it('refuses an ARN of another state machine in Validate Template, before reading any execution', async () => {
    // Prepare
    const h = harness();
    const other = 'arn:aws:states:us-east-1:123456789012:execution:AnotherMachine:failed';

    // Act
    const resumed = await h.run(
      { template: template(h.x509, { last: 'fixed-last-step' }), resume: other },
      { label: 'resume-other-machine' },
    );

    // Assess
    expect(resumed.error).toBe('TemplateValidationError');
    expect(resumed.cause).toContain(`resume: ${other} is not an execution of this state machine`);
    expect(enteredStates(resumed)).toEqual([StateNames.ValidateTemplate, StateNames.TemplateInvalid]);
  });

  it('refuses when the template changed a step before the failed one, or when the execution did not fail', async () => {
    // Prepare
    const h = harness();
    const failed = await failedBuild(h);

    // Act
    const changed = await h.run(
      {
        template: template(h.x509, { first: 'another-first-step', last: 'fixed-last-step' }),
        resume: failed.executionArn,
      },
      { label: 'resume-changed' },
    );
    const notFailed = await h.run(
      { template: template(h.x509, { last: 'fixed-last-step' }), resume: changed.executionArn },
      { label: 'resume-not-failed' },
    );

    // Assess
    expect(changed.error).toBe('TemplateValidationError');
    expect(changed.cause).toContain('the template changed provisioner 0 (shell)');
    expect(changed.cause).toContain('provisioner 1 (shell)');
    // The failed resume ended in Template Invalid: it failed, but it is not a failed build to resume.
    expect(notFailed.error).toBe('TemplateValidationError');
    expect(notFailed.cause).toContain('is not a failed build of');
    // The kept instance is still there, still the failed execution's.
    expect((await h.leftovers()).instances).toEqual([keptInstance(failed)]);
  });

  it('fails without touching the kept resources when it cannot adopt them', async () => {
    // Prepare
    const h = harness();
    const failed = await failedBuild(h);
    const instanceId = keptInstance(failed);
    await h.emulator.addFault({
      type: 'api',
      service: 'ec2',
      operation: 'CreateTags',
      error: 'permanent',
      code: 'UnauthorizedOperation',
    });

    // Act
    const resumed = await h.run(
      { template: template(h.x509, { last: 'fixed-last-step' }), resume: failed.executionArn },
      { label: 'resume-adopt-fails' },
    );

    // Assess
    expect(resumed.status).toBe('FAILED');
    expect(enteredStates(resumed)).toContain(StateNames.AdoptKeptResources);
    expect(enteredStates(resumed)).toContain(StateNames.ReportFailedBuild);
    const left = await h.leftovers();
    expect(left.instances).toEqual([instanceId]);
    expect(left.securityGroups).toHaveLength(1);
    expect(left.instanceRoles.length).toBeGreaterThan(0);
    const instance = await h.ec2().send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const tags = instance.Reservations?.[0]?.Instances?.[0]?.Tags ?? [];
    expect(tags).toContainEqual({ Key: TagKeys.execution, Value: failed.executionArn });
  });
});

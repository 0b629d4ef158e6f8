/**
 * Builds that meet AWS's everyday trouble still succeed, once: throttling and 5xx errors that outlast the SDK's
 * own retries are retried by the state machine (AwsTransientError), and a task run twice with the same input
 * (a retry after a lost response, a redrive) creates nothing twice.
 */
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../cli/local/runner.js';
import type { Fault } from '../../emulator/index.js';
import { StateNames } from '../../infra/state-names.js';
import type { TaskId } from '../../infra/tasks.js';
import { ErrorNames } from '../../lambdas/shared/errors.js';
import { BUILD_REGION, basicExample, SOURCE_AMI, useWorkflowHarness } from './harness.js';

const harness = useWorkflowHarness();

/** More failures than the handlers' SDK clients try (`maxAttempts: 4`), so each reaches the state machine. */
const BEYOND_SDK_ATTEMPTS = 5;

function retriedStates(result: RunResult, error: string): string[] {
  return result.events.flatMap((e) => {
    const retrier = (e.retry as { retrier?: { ErrorEquals?: string[] } } | undefined)?.retrier;
    return e.type === 'StateRetried' && e.state && retrier?.ErrorEquals?.includes(error)
      ? [e.state.name]
      : [];
  });
}

/** The operations each kind of error hits. Throttling backs off longest in the SDK, so it hits two operations. */
const transientCases = [
  {
    error: 'throttle',
    faults: [
      ['ec2', 'RunInstances'],
      ['ssm', 'SendCommand'],
    ],
    retried: [StateNames.LaunchInstance, StateNames.UploadX509Certificate],
  },
  {
    error: '5xx',
    faults: [
      ['ec2', 'DescribeImages'],
      ['ec2', 'RunInstances'],
      ['ssm', 'SendCommand'],
    ],
    retried: [StateNames.Prevalidate, StateNames.LaunchInstance, StateNames.UploadX509Certificate],
  },
] as const;

describe('transient AWS errors', () => {
  for (const { error, faults, retried } of transientCases) {
    it(`retries ${error} errors on ${faults.map(([, op]) => op).join(', ')} and the build succeeds`, async () => {
      // Prepare
      const h = harness();
      for (const [service, operation] of faults) {
        const fault: Fault = { type: 'api', service, operation, error, count: BEYOND_SDK_ATTEMPTS };
        await h.emulator.addFault(fault);
      }

      // Act
      const result = await h.run(basicExample(h.x509), { label: `transient-${error}` });

      // Assess
      expect({ status: result.status, error: result.error }).toEqual({
        status: 'SUCCEEDED',
        error: undefined,
      });
      expect(new Set(retriedStates(result, ErrorNames.AwsTransient))).toEqual(new Set(retried));
      expect(await h.emulator.faults()).toEqual([]);
      expect(await h.emulator.launches()).toHaveLength(1);
      expect((await h.emulator.commands()).map((c) => c.staged?.prefix.split('/').at(-2))).toEqual([
        '02-x509',
        '03-bundle',
        '04-upload',
      ]);
      expect((await h.images(BUILD_REGION)).filter((i) => i.ImageId !== SOURCE_AMI)).toHaveLength(1);
      expect(await h.leftovers()).toEqual({
        instances: [],
        securityGroups: [],
        stagedObjects: [],
        instanceRoles: [],
      });
    });
  }
});

describe('a task invoked twice with the same input', () => {
  const twice: TaskId[] = [
    'CreateSecurityGroup',
    'LaunchInstance',
    'SendCommand',
    'RegisterImage',
    'CopyImage',
  ];

  it('creates no second security group, instance, command, AMI or copy', async () => {
    // Prepare
    const h = harness();
    const copyRegions = ['eu-west-1', 'us-west-2'];
    const template = {
      builders: [{ ...basicExample(h.x509), ami_regions: copyRegions }],
      provisioners: [{ type: 'shell', inline: ['echo once'] }],
    };
    const repeated: { task: TaskId; first: unknown; second: unknown }[] = [];

    // Act
    const result = await h.run(template, {
      label: 'twice',
      invoke: async (task, handler, payload) => {
        if (!twice.includes(task)) return handler(payload);
        const first = await handler(JSON.parse(JSON.stringify(payload)));
        const second = await handler(JSON.parse(JSON.stringify(payload)));
        repeated.push({ task, first, second });
        return second;
      },
    });

    // Assess
    expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({
      status: 'SUCCEEDED',
      error: undefined,
      cause: undefined,
    });
    expect(new Set(repeated.map((r) => r.task))).toEqual(new Set(twice));
    for (const { task, first, second } of repeated) expect(second, `${task}'s second result`).toEqual(first);
    expect(await h.emulator.launches()).toHaveLength(1);
    const commands = await h.emulator.commands();
    expect(commands.map((c) => c.staged?.prefix.split('/').at(-2))).toEqual([
      expect.stringMatching(/^01-provision-00/),
      '02-x509',
      '03-bundle',
      '04-upload',
    ]);
    for (const region of [BUILD_REGION, ...copyRegions]) {
      const images = (await h.images(region)).filter((i) => i.ImageId !== SOURCE_AMI);
      expect(
        images.map((i) => i.ImageId),
        `AMIs in ${region}`,
      ).toHaveLength(1);
      expect(result.output?.builds[0]?.artifacts[region]).toBe(images[0]?.ImageId);
    }
    // A second security group would outlive the build: cleanup deletes only the one in $.network.
    expect(await h.leftovers([BUILD_REGION, ...copyRegions])).toEqual({
      instances: [],
      securityGroups: [],
      stagedObjects: [],
      instanceRoles: [],
    });
  });
});

/**
 * Every path of the workflow, with the real handlers against the emulator: each build state's Catch, the
 * error-cleanup provisioner (and its own failure), failures inside cleanup, the termination waits and each
 * retrier class. The coverage check (test/workflow/coverage-check.ts) fails the run when a state or Catch of the
 * definition is left out, here or elsewhere in the tier.
 *
 * Failures come from what really happens where the emulator can make it happen (a provisioner that exits 3 in the
 * sandbox, an instance terminated from outside, an upload path that cannot exist); an AWS error is armed just
 * before the one task whose call must fail otherwise, and a state whose handler makes no AWS call fails as a
 * Lambda invocation fails (the function's runtime exits).
 */
import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import type { RunOptions, RunResult } from '../../cli/local/runner.js';
import type { Fault } from '../../emulator/index.js';
import { StateNames } from '../../infra/state-names.js';
import type { TaskId } from '../../infra/tasks.js';
import { ErrorNames } from '../../lambdas/shared/errors.js';
import {
  BUILD_REGION,
  basicExample,
  enteredStates,
  useWorkflowHarness,
  type WorkflowHarness,
} from './harness.js';

const harness = useWorkflowHarness();

const S = StateNames;
const NO_LEFTOVERS = { instances: [], securityGroups: [], stagedObjects: [], instanceRoles: [] };

interface Payload {
  build?: { error?: unknown; instance?: { instanceId?: string }; config?: { region?: string } };
  args?: {
    kind?: string;
    reason?: string;
    want?: string;
    key?: string;
    groupInUse?: string;
    action?: string;
  };
}

/** Which invocation the trouble hits: a task, and what its payload says. */
interface At {
  task: TaskId;
  when?: (payload: Payload) => boolean;
}

/** Trouble for one invocation: an AWS error armed just before it, or something the test does to the world. */
type Trouble =
  | { kind: 'aws'; fault: Omit<Fault & { type: 'api' }, 'type'> }
  | { kind: 'lambda-crash' }
  | { kind: 'terminate-instance' };

/** The `invoke` wrapper that brings `trouble` to the first invocation matching `at`. */
function troubleAt(h: WorkflowHarness, at: At, trouble: Trouble): RunOptions['invoke'] {
  return troublesAt(h, [[at, trouble]]);
}

/** The `invoke` wrapper that brings each trouble to the first invocation matching its `At`. */
function troublesAt(h: WorkflowHarness, list: [At, Trouble][]): RunOptions['invoke'] {
  const pending = [...list];
  return async (task, handler, payload) => {
    const p = payload as Payload;
    const index = pending.findIndex(([at]) => task === at.task && (at.when?.(p) ?? true));
    if (index >= 0) {
      const [[, trouble]] = pending.splice(index, 1) as [[At, Trouble]];
      if (trouble.kind === 'aws') await h.emulator.addFault({ type: 'api', ...trouble.fault });
      if (trouble.kind === 'terminate-instance') {
        const id = p.build?.instance?.instanceId;
        if (id) await h.ec2(BUILD_REGION).send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      }
      if (trouble.kind === 'lambda-crash') {
        // As Lambda reports a function whose runtime exited before it returned.
        const error = new Error('RequestId: local Error: Runtime exited with error: signal: killed');
        error.name = 'Runtime.ExitError';
        throw error;
      }
    }
    return handler(payload);
  };
}

const denied = (service: string, code = 'UnauthorizedOperation'): Trouble => ({
  kind: 'aws',
  fault: { service, operation: '*', error: 'permanent', code, message: 'denied (armed by the test)' },
});

/** The Catch entries taken, as `<state> → <Next>`. */
function caught(result: RunResult): string[] {
  return result.events.flatMap((e) => {
    const next = (e as { catch?: { catcher?: { Next?: string } } }).catch?.catcher?.Next;
    return e.type === 'StateCaught' && e.state ? [`${e.state.name} → ${next}`] : [];
  });
}

/** A template whose first provisioner fails for real (exit 3) in the sandbox; simulated mode gets that exit code. */
function failingBuild(
  h: WorkflowHarness,
  extra: Record<string, unknown> = {},
): { template: unknown; faults: Fault[] } {
  return {
    template: {
      builders: [basicExample(h.x509)],
      provisioners: [{ type: 'shell', inline: ['echo "failing on purpose" >&2', 'exit 3'] }],
      ...extra,
    },
    faults:
      h.emulator.mode === 'sandbox'
        ? []
        : [{ type: 'command', match: '01-provision', exitCode: 3, stderr: 'failing on purpose' }],
  };
}

interface BuildStateCase {
  state: string;
  at: At;
  trouble: Trouble;
  builder?: Record<string, unknown>;
}

/** Each build state from Ensure Bundle Bucket on fails once, and its Catch starts the failure path. */
const buildStateCases: BuildStateCase[] = [
  { state: S.EnsureBundleBucket, at: { task: 'EnsureBundleBucket' }, trouble: denied('s3', 'AccessDenied') },
  { state: S.CreateSecurityGroup, at: { task: 'CreateSecurityGroup' }, trouble: denied('ec2') },
  { state: S.CreateInstanceRole, at: { task: 'CreateInstanceRole' }, trouble: denied('iam', 'AccessDenied') },
  {
    state: S.LaunchInstance,
    at: { task: 'LaunchInstance' },
    trouble: {
      kind: 'aws',
      fault: { service: 'ec2', operation: 'RunInstances', error: 'permanent', code: 'UnauthorizedOperation' },
    },
  },
  {
    state: S.CheckInstanceRunning,
    at: { task: 'CheckInstance', when: (p) => p.args?.want === 'running' },
    trouble: { kind: 'terminate-instance' },
  },
  {
    state: S.UploadX509Certificate,
    at: { task: 'SendCommand', when: (p) => p.args?.kind === 'x509' },
    trouble: denied('ssm', 'AccessDeniedException'),
  },
  {
    state: S.BundleVolume,
    at: { task: 'SendCommand', when: (p) => p.args?.kind === 'bundle' },
    trouble: denied('ssm', 'AccessDeniedException'),
  },
  {
    state: S.UploadBundle,
    at: { task: 'SendCommand', when: (p) => p.args?.kind === 'upload' },
    trouble: denied('ssm', 'AccessDeniedException'),
  },
  {
    state: S.ForceDeregister,
    at: { task: 'ForceDeregister' },
    trouble: denied('ec2'),
    builder: { force_deregister: true },
  },
  {
    state: S.CheckAmiAvailable,
    at: { task: 'CheckImage', when: (p) => p.args?.key === 'image' },
    trouble: denied('ec2'),
  },
  {
    // A refused TerminateInstances is reported as left behind, not thrown (test/workflow/leaks.test.ts): the Catch
    // is for the function itself failing.
    state: S.TerminateInstance,
    at: { task: 'TerminateInstance', when: (p) => p.args?.reason === 'success' },
    trouble: { kind: 'lambda-crash' },
  },
  {
    state: S.CheckInstanceTerminated,
    at: { task: 'CheckInstance', when: (p) => p.args?.want === 'terminated' },
    trouble: denied('ec2'),
  },
  {
    state: S.ReportBuild,
    at: { task: 'ReportBuild', when: (p) => p.build?.error === undefined },
    trouble: { kind: 'lambda-crash' },
  },
];

describe('a build state that fails', () => {
  for (const c of buildStateCases) {
    it(`runs the failure path from ${c.state}'s Catch and leaves nothing behind`, async () => {
      // Prepare
      const h = harness();

      // Act
      const result = await h.run(
        { builders: [{ ...basicExample(h.x509), ...c.builder }] },
        { label: 'path', invoke: troubleAt(h, c.at, c.trouble) },
      );

      // Assess
      expect(result.status).toBe('FAILED');
      expect(caught(result)).toContain(`${c.state} → ${S.RunErrorCleanupProvisionerChoice}`);
      expect(enteredStates(result)).toContain(S.ReportFailedBuild);
      // The build's own cleanup, or else the abort cleanup the stack's rule runs afterwards, removed everything.
      expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
    });
  }

  it('fails in Check X509 Upload when the upload path cannot exist on the instance', async () => {
    // Prepare: a directory under /dev/null cannot be made (in the sandbox for real; simulated: its exit code).
    const h = harness();
    if (h.emulator.mode !== 'sandbox') {
      await h.emulator.addFault({
        type: 'command',
        match: '02-x509',
        exitCode: 1,
        stderr: 'Not a directory',
      });
    }

    // Act
    const result = await h.run(
      { builders: [{ ...basicExample(h.x509), x509_upload_path: '/dev/null/x509' }] },
      { label: 'x509-path' },
    );

    // Assess
    expect(result.error).toBe('X509UploadError');
    expect(caught(result)).toContain(`${S.CheckX509Upload} → ${S.RunErrorCleanupProvisionerChoice}`);
    expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
  });
});

describe('the error-cleanup provisioner', () => {
  it('runs after a provisioner fails, then the instance is terminated and waited for', async () => {
    // Prepare
    const h = harness();
    const { template, faults } = failingBuild(h, {
      'error-cleanup-provisioner': { type: 'shell', inline: ['echo collecting logs'] },
    });
    for (const f of faults) await h.emulator.addFault(f);

    // Act
    const result = await h.run(template, { label: 'error-cleanup' });

    // Assess
    expect(result.error).toBe('ProvisionerFailedError');
    const entered = enteredStates(result);
    for (const state of [
      S.SendErrorCleanupCommand,
      S.CheckErrorCleanupCommand,
      S.ErrorCleanupCommandDone,
      S.CleanUpAfterFailure,
      S.CheckInstanceTerminatedAfterFailure,
      S.DeleteTemporaryResourcesAfterFailure,
      S.ReportFailedBuild,
    ]) {
      expect(entered).toContain(state);
    }
    const kinds = (await h.emulator.commands()).map((c) => c.staged?.prefix.split('/').at(-2));
    expect(kinds.at(-1)).toMatch(/error-cleanup/);
    expect(result.abortCleanup).toMatchObject({ terminatedInstances: [], deletedSecurityGroups: [] });
    expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
  });

  it('still terminates the instance when the error-cleanup provisioner itself fails', async () => {
    // Prepare
    const h = harness();
    const { template, faults } = failingBuild(h, {
      'error-cleanup-provisioner': { type: 'shell', inline: ['echo cleanup fails too >&2', 'exit 1'] },
    });
    for (const f of faults) await h.emulator.addFault(f);
    if (h.emulator.mode !== 'sandbox') {
      await h.emulator.addFault({ type: 'command', match: 'error-cleanup', exitCode: 1 });
    }

    // Act
    const result = await h.run(template, { label: 'error-cleanup-fails' });

    // Assess: the build's first error is kept; the cleanup's own goes to $.cleanupError.
    expect(result.error).toBe('ProvisionerFailedError');
    expect(caught(result)).toContain(`${S.CheckErrorCleanupCommand} → ${S.InstanceLaunched}`);
    expect(enteredStates(result)).toContain(S.CleanUpAfterFailure);
    expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
  });

  it('goes on to terminate the instance when the error-cleanup command cannot be sent', async () => {
    // Prepare
    const h = harness();
    const { template, faults } = failingBuild(h, {
      'error-cleanup-provisioner': { type: 'shell', inline: ['echo collecting logs'] },
    });
    for (const f of faults) await h.emulator.addFault(f);

    // Act
    const result = await h.run(template, {
      label: 'error-cleanup-send',
      invoke: troubleAt(
        h,
        { task: 'SendCommand', when: (p) => p.args?.kind === 'error-cleanup' },
        denied('ssm', 'AccessDeniedException'),
      ),
    });

    // Assess
    expect(result.error).toBe('ProvisionerFailedError');
    expect(caught(result)).toContain(`${S.SendErrorCleanupCommand} → ${S.InstanceLaunched}`);
    expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
  });
});

describe('a failure inside the cleanup after a failure', () => {
  // Each cleanup step's Catch goes on to the next cleanup step.
  const cases: { state: string; at: At; next: string }[] = [
    {
      state: S.CleanUpAfterFailure,
      at: { task: 'TerminateInstance', when: (p) => p.args?.reason === 'failure' },
      next: S.DeleteTemporaryResourcesAfterFailure,
    },
    {
      state: S.CheckInstanceTerminatedAfterFailure,
      at: { task: 'CheckInstance', when: (p) => p.args?.want === 'terminated' },
      next: S.DeleteTemporaryResourcesAfterFailure,
    },
    {
      state: S.DeleteTemporaryResourcesAfterFailure,
      at: {
        task: 'DeleteTemporaryResources',
        when: (p) => p.args?.reason === 'failure' && p.args.groupInUse === undefined,
      },
      next: S.FinishCleanupAfterFailure,
    },
  ];
  for (const c of cases) {
    it(`reports the build failed with its first error when ${c.state} fails, goes on to ${c.next}, and nothing is left behind`, async () => {
      // Prepare
      const h = harness();
      const { template, faults } = failingBuild(h);
      for (const f of faults) await h.emulator.addFault(f);

      // Act
      const result = await h.run(template, {
        label: 'cleanup-fails',
        invoke: troubleAt(h, c.at, { kind: 'lambda-crash' }),
      });

      // Assess
      expect(result.error).toBe('ProvisionerFailedError');
      expect(caught(result)).toContain(`${c.state} → ${c.next}`);
      expect(enteredStates(result)).toContain(S.ReportFailedBuild);
      expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
    });
  }
});

describe('a failure inside the cleanup after a success', () => {
  const deleteStep: At = {
    task: 'DeleteTemporaryResources',
    when: (p) => p.args?.reason === 'success' && p.args.groupInUse === undefined,
  };
  const finishStep: At = {
    task: 'DeleteTemporaryResources',
    when: (p) => p.args?.reason === 'success' && p.args.groupInUse === 'report',
  };

  it('goes on to Finish Cleanup when Delete Temporary Resources fails, which removes the rest', async () => {
    // Prepare
    const h = harness();

    // Act
    const result = await h.run(
      { builders: [basicExample(h.x509)] },
      { label: 'delete-fails', invoke: troubleAt(h, deleteStep, { kind: 'lambda-crash' }) },
    );

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    expect(caught(result)).toEqual([`${S.DeleteTemporaryResources} → ${S.FinishCleanup}`]);
    expect(enteredStates(result)).toContain(S.ReportBuild);
    expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
  });

  it('goes on to Report Build when Finish Cleanup fails too', async () => {
    // Prepare
    const h = harness();

    // Act
    const result = await h.run(
      { builders: [basicExample(h.x509)] },
      {
        label: 'finish-fails',
        invoke: troublesAt(h, [
          [deleteStep, { kind: 'lambda-crash' }],
          [finishStep, { kind: 'lambda-crash' }],
        ]),
      },
    );

    // Assess
    expect(caught(result)).toEqual([
      `${S.DeleteTemporaryResources} → ${S.FinishCleanup}`,
      `${S.FinishCleanup} → ${S.ApplyRetentionChoice}`,
    ]);
    expect(enteredStates(result)).toContain(S.ReportBuild);
    // The build succeeded; what no cleanup step removed is reported as left behind, and is really there.
    expect(result.status).toBe('SUCCEEDED');
    const leaked = result.output?.builds[0]?.cleanup?.leaked ?? [];
    const failed = expect.stringMatching(/^cleanup failed: Runtime\.ExitError: /);
    expect(leaked).toEqual([
      expect.objectContaining({ type: 'security group', region: BUILD_REGION, reason: failed }),
      expect.objectContaining({ type: 'instance role', region: 'global', reason: failed }),
    ]);
    const left = await h.leftovers();
    expect(left).toMatchObject({ instances: [], securityGroups: [leaked[0]?.id], stagedObjects: [] });
    expect(left.instanceRoles.map((r) => r.split('/').at(-1))).toEqual([leaked[1]?.id, leaked[1]?.id]);
  });
});

describe('the last steps of the cleanup after a failure', () => {
  it('goes on to roll back the AMI ids when Finish Cleanup After Failure fails, and nothing is left behind', async () => {
    // Prepare
    const h = harness();
    const { template, faults } = failingBuild(h);
    for (const f of faults) await h.emulator.addFault(f);

    // Act
    const result = await h.run(template, {
      label: 'finish-after-failure-fails',
      invoke: troublesAt(h, [
        [
          {
            task: 'DeleteTemporaryResources',
            when: (p) => p.args?.reason === 'failure' && p.args.groupInUse === undefined,
          },
          { kind: 'lambda-crash' },
        ],
        [
          {
            task: 'DeleteTemporaryResources',
            when: (p) => p.args?.reason === 'failure' && p.args.groupInUse === 'report',
          },
          { kind: 'lambda-crash' },
        ],
      ]),
    });

    // Assess
    expect(result.error).toBe('ProvisionerFailedError');
    expect(caught(result)).toContain(`${S.FinishCleanupAfterFailure} → ${S.RollBackAmiIdsChoice}`);
    expect(enteredStates(result)).toContain(S.ReportFailedBuild);
    // What the build's cleanup could not remove, the abort cleanup the stack's rule runs afterwards did.
    expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
  });

  it('reports the build failed with its first error when Roll Back AMI IDs fails', async () => {
    // Prepare
    const h = harness();
    const { faults } = failingBuild(h);
    for (const f of faults) await h.emulator.addFault(f);
    const template = {
      builders: [
        { ...basicExample(h.x509), ami_id_parameter: '/ami-builder/ami-ids/workflow-test/roll-back-fails' },
      ],
      provisioners: [{ type: 'shell', inline: ['echo "failing on purpose" >&2', 'exit 3'] }],
    };

    // Act
    const result = await h.run(template, {
      label: 'roll-back-fails',
      invoke: troubleAt(
        h,
        { task: 'PublishAmiIds', when: (p) => p.args?.action === 'roll-back' },
        { kind: 'lambda-crash' },
      ),
    });

    // Assess
    expect(result.error).toBe('ProvisionerFailedError');
    expect(caught(result)).toContain(`${S.RollBackAmiIds} → ${S.ReportFailedBuild}`);
    expect(enteredStates(result)).toContain(S.ReportFailedBuild);
    expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
  });
});

describe('retriers', () => {
  it('retries Delete Temporary Resources while the security group is in use, after success and after failure', async () => {
    // Prepare: EC2 answers DependencyViolation twice, as it does while the instance's interface is released.
    const h = harness();
    const inUse: Trouble = {
      kind: 'aws',
      fault: {
        service: 'ec2',
        operation: 'DeleteSecurityGroup',
        error: 'permanent',
        code: 'DependencyViolation',
        message: 'resource sg has a dependent object',
        count: 2,
      },
    };

    // Act
    const succeeded = await h.run(
      { builders: [basicExample(h.x509)] },
      { label: 'sg-in-use', invoke: troubleAt(h, { task: 'DeleteTemporaryResources' }, inUse) },
    );
    const { template, faults } = failingBuild(h);
    for (const f of faults) await h.emulator.addFault(f);
    const failed = await h.run(template, {
      label: 'sg-in-use-failure',
      invoke: troubleAt(h, { task: 'DeleteTemporaryResources' }, inUse),
    });

    // Assess
    const retried = (result: RunResult) =>
      result.events.flatMap((e) => {
        const errors = (e.retry as { retrier?: { ErrorEquals?: string[] } } | undefined)?.retrier
          ?.ErrorEquals;
        return e.type === 'StateRetried' && errors?.includes(ErrorNames.SecurityGroupInUse)
          ? [e.state?.name]
          : [];
      });
    expect(succeeded.status).toBe('SUCCEEDED');
    expect(retried(succeeded)).toEqual([S.DeleteTemporaryResources, S.DeleteTemporaryResources]);
    expect(failed.error).toBe('ProvisionerFailedError');
    expect(retried(failed)).toEqual([
      S.DeleteTemporaryResourcesAfterFailure,
      S.DeleteTemporaryResourcesAfterFailure,
    ]);
    expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
  });

  it('retries Launch Instance while the new instance profile is not visible to EC2 yet', async () => {
    // Prepare: RunInstances' answer before IAM has propagated a new profile.
    const h = harness();
    const notReady: Trouble = {
      kind: 'aws',
      fault: {
        service: 'ec2',
        operation: 'RunInstances',
        error: 'permanent',
        code: 'InvalidParameterValue',
        message:
          'Value (build-x) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name',
        count: 2,
      },
    };

    // Act
    const result = await h.run(
      { builders: [basicExample(h.x509)] },
      { label: 'profile', invoke: troubleAt(h, { task: 'LaunchInstance' }, notReady) },
    );

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    const retried = result.events.filter(
      (e) =>
        e.type === 'StateRetried' &&
        (e.retry as { retrier?: { ErrorEquals?: string[] } } | undefined)?.retrier?.ErrorEquals?.includes(
          ErrorNames.InstanceProfileNotReady,
        ),
    );
    expect(retried).toHaveLength(2);
    expect(await h.leftovers()).toEqual(NO_LEFTOVERS);
  });
});

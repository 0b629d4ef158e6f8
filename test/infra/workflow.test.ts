import { StateMachine } from 'aws-local-stepfunctions';
import { beforeAll, describe, expect, it } from 'vitest';
import { TASK_TIMEOUT_SECONDS } from '../../infra/constructs/task-function.js';
import { StateDescriptions, StateNames } from '../../infra/state-names.js';
import { pruneDefinition } from '../../lambdas/shared/cost/path.js';
import { ErrorNames } from '../../lambdas/shared/errors.js';
import {
  AMI_POLL_SCHEDULE,
  POLL_BACKSTOP_SECONDS,
  POLL_SCHEDULE,
  pollSchedule,
  retriesFor,
} from '../../lambdas/shared/poll.js';
import { type AslMachine, type AslState, allStates, type Synthesized, successPath, synth } from './synth.js';

const S = StateNames;
let synthesized: Synthesized;
let definition: AslMachine;
let states: ReturnType<typeof allStates>;
const stateNamed = (name: string): AslState => {
  const found = states.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no state ${name}`);
  return found.state;
};

beforeAll(() => {
  synthesized = synth();
  definition = synthesized.definition;
  states = allStates(definition);
});

/** Every state reachable from `start` inside `machine` (following Next, Choice branches and Default). */
function reachable(machine: AslMachine, start: string, stopAt: Set<string>): Set<string> {
  const seen = new Set<string>();
  const visit = (name: string | undefined) => {
    if (name === undefined || seen.has(name) || stopAt.has(name)) return;
    seen.add(name);
    const state = machine.States[name] as AslState;
    visit(state.Next);
    for (const c of state.Choices ?? []) visit(c.Next);
    visit(state.Default);
  };
  visit(start);
  return seen;
}

describe('the build state machine', () => {
  it('has the state names of docs/ARCHITECTURE.md in build order along the success path', () => {
    expect(successPath(definition)).toEqual([
      S.ValidateTemplate,
      S.ResumeRequestedChoice,
      {
        [S.BuildEachBuilder]: [
          S.ResumeBuildChoice,
          S.Prevalidate,
          S.SkipIfUnchangedChoice,
          S.CheckUnchanged,
          S.UnchangedChoice,
          S.EnsureBundleBucket,
          S.CreateSecurityGroup,
          S.CreateInstanceRole,
          S.LaunchInstance,
          S.CheckInstanceRunning,
          S.CheckSsmAgent,
          S.ResumeAtChoice,
          {
            [S.RunProvisioners]: [
              S.ProvisionerDoneBefore,
              S.PauseBeforeProvisioner,
              S.SendProvisionerCommand,
              S.CheckProvisionerCommand,
              S.ProvisionerCommandDone,
              S.ProvisionerFinished,
            ],
          },
          S.UploadX509Certificate,
          S.CheckX509Upload,
          S.X509UploadDone,
          S.BundleVolume,
          S.CheckBundleVolume,
          S.BundleVolumeDone,
          S.UploadBundle,
          S.CheckUploadBundle,
          S.UploadBundleDone,
          S.ForceDeregisterChoice,
          S.ForceDeregister,
          S.RegisterAmi,
          S.CheckAmiAvailable,
          S.AmiAvailable,
          S.AmiTestChoice,
          S.LaunchTestInstance,
          S.CheckTestInstanceRunning,
          S.CheckTestSsmAgent,
          S.SendTestCommand,
          S.CheckTestCommand,
          S.TerminateTestInstance,
          {
            [S.CopyAndFinish]: [
              [S.FinishAmi],
              [{ [S.CopyToRegions]: [S.CopyAmi, S.CheckAmiCopy, S.AmiCopyAvailable, S.FinishAmiCopy] }],
            ],
          },
          S.PublishAmiIdsChoice,
          S.PublishAmiIds,
          S.TerminateInstance,
          S.InstanceTerminationRequested,
          S.CheckInstanceTerminated,
          S.DeleteTemporaryResources,
          S.ApplyRetentionChoice,
          S.ApplyRetention,
          S.ReportBuild,
        ],
      },
      S.SummarizeBuilds,
      S.NotifyBuildResult,
      S.AllBuildsSucceeded,
      S.BuildSucceeded,
    ]);
  });

  it('uses every name of infra/state-names.ts exactly once, and describes each state', () => {
    // Prepare
    const names = states.map((s) => s.name).sort();

    // Assess
    expect(names).toEqual(Object.values(StateNames).sort());
    for (const { name, state } of states) {
      const key = (Object.keys(StateNames) as (keyof typeof StateNames)[]).find(
        (k) => StateNames[k] === name,
      );
      expect(state.Comment ?? (key === undefined ? undefined : StateDescriptions[key])).toBeTruthy();
    }
  });

  it('runs the failure path in cleanup order and ends every build in a report', () => {
    // Prepare
    const build = stateNamed(S.BuildEachBuilder).ItemProcessor as AslMachine;
    const next = (name: string) => build.States[name] as AslState;

    // Assess: the path a failure after launch takes when an instance is terminated
    expect(next(S.RunErrorCleanupProvisionerChoice).Default).toBe(S.InstanceLaunched);
    expect(next(S.RunErrorCleanupProvisionerChoice).Choices?.[0]?.Next).toBe(S.SendErrorCleanupCommand);
    expect(next(S.SendErrorCleanupCommand).Next).toBe(S.CheckErrorCleanupCommand);
    expect(next(S.CheckErrorCleanupCommand).Next).toBe(S.ErrorCleanupCommandDone);
    expect(next(S.ErrorCleanupCommandDone).Choices?.[0]?.Next).toBe(S.InstanceLaunched);
    expect(next(S.InstanceLaunched).Choices?.[0]?.Next).toBe(S.CleanUpAfterFailure);
    expect(next(S.InstanceLaunched).Default).toBe(S.DeleteTemporaryResourcesAfterFailure);
    expect(next(S.CleanUpAfterFailure).Next).toBe(S.InstanceTerminating);
    expect(next(S.InstanceTerminating).Choices?.[0]?.Next).toBe(S.CheckInstanceTerminatedAfterFailure);
    expect(next(S.InstanceTerminating).Default).toBe(S.DeleteTemporaryResourcesAfterFailure);
    expect(next(S.CheckInstanceTerminatedAfterFailure).Next).toBe(S.DeleteTemporaryResourcesAfterFailure);
    expect(next(S.DeleteTemporaryResourcesAfterFailure).Next).toBe(S.RollBackAmiIdsChoice);
    expect(next(S.FinishCleanupAfterFailure).Next).toBe(S.RollBackAmiIdsChoice);
    expect(next(S.RollBackAmiIds).Next).toBe(S.ReportFailedBuild);
    expect(next(S.ReportFailedBuild).End).toBe(true);
    expect(next(S.ReportBuild).End).toBe(true);
  });

  it('gives every Task the Lambda service retry, the AwsTransientError backoff and a timeout', () => {
    const tasks = states.filter((s) => s.state.Type === 'Task');
    expect(tasks.length).toBeGreaterThan(30);
    for (const { name, state } of tasks) {
      const retries = state.Retry ?? [];
      expect(retries, name).toContainEqual(
        expect.objectContaining({
          ErrorEquals: expect.arrayContaining(['Lambda.ServiceException', 'Lambda.SdkClientException']),
        }),
      );
      expect(retries, name).toContainEqual({
        ErrorEquals: [ErrorNames.AwsTransient],
        IntervalSeconds: 5,
        BackoffRate: 2,
        MaxAttempts: 6,
        JitterStrategy: 'FULL',
      });
      expect(state.TimeoutSeconds, name).toBeGreaterThan(0);
    }
  });

  it('times each Task out a minute after its function', () => {
    expect(stateNamed(S.LaunchInstance).TimeoutSeconds).toBe(120);
    expect(stateNamed(S.SendProvisionerCommand).TimeoutSeconds).toBe(
      (TASK_TIMEOUT_SECONDS.SendCommand ?? 0) + 60,
    );
    expect(stateNamed(S.CleanUpAfterFailure).TimeoutSeconds).toBe(
      (TASK_TIMEOUT_SECONDS.TerminateInstance ?? 0) + 60,
    );
  });

  it('retries Launch Instance while IAM propagates the new instance profile', () => {
    expect(stateNamed(S.LaunchInstance).Retry).toContainEqual({
      ErrorEquals: [ErrorNames.InstanceProfileNotReady],
      IntervalSeconds: 3,
      BackoffRate: 1.5,
      MaxAttempts: 8,
    });
  });

  it('retries a security group in use on both Delete Temporary Resources states, then finishes without waiting', () => {
    for (const name of [S.DeleteTemporaryResources, S.DeleteTemporaryResourcesAfterFailure]) {
      expect(stateNamed(name).Retry).toContainEqual({
        ErrorEquals: [ErrorNames.SecurityGroupInUse],
        IntervalSeconds: 10,
        BackoffRate: 1.5,
        MaxAttempts: 10,
      });
    }
    for (const name of [S.FinishCleanup, S.FinishCleanupAfterFailure]) {
      expect(stateNamed(name).Parameters).toMatchObject({
        args: { groupInUse: 'report' },
      });
    }
  });

  it('covers every state from Launch Instance on with the failure Catch (Map and Parallel cover their insides)', () => {
    // Prepare: the success path inside a build, from Launch Instance to Report Build
    const build = stateNamed(S.BuildEachBuilder).ItemProcessor as AslMachine;
    const failurePath = reachable(build, S.RunErrorCleanupProvisionerChoice, new Set());
    const mainPath = reachable(build, S.Prevalidate, failurePath);

    // Assess
    expect(mainPath.has(S.LaunchInstance)).toBe(true);
    expect(mainPath.has(S.ReportBuild)).toBe(true);
    // Once the AMI is built, cleanup's own failures are reported with the build (next test).
    const endCleanup = new Set<string>([S.DeleteTemporaryResources, S.FinishCleanup, S.ApplyRetention]);
    // While the new AMI is tested, a failure first settles the AMI (ami_test's on_failure), then joins the path.
    const amiTest = reachable(
      build,
      S.LaunchTestInstance,
      new Set([S.AmiTestFailedChoice, S.TerminateTestInstance]),
    );
    const failedTest = reachable(build, S.AmiTestFailedChoice, failurePath);
    for (const name of failedTest) {
      const state = build.States[name] as AslState;
      if (state.Type === 'Task') {
        expect(state.Catch?.[0]?.Next, name).toBe(S.RunErrorCleanupProvisionerChoice);
      }
    }
    for (const name of mainPath) {
      const state = build.States[name] as AslState;
      if (!['Task', 'Map', 'Parallel'].includes(state.Type) || endCleanup.has(name) || failedTest.has(name))
        continue;
      expect(state.Catch, name).toEqual([
        {
          ErrorEquals: ['States.ALL'],
          ResultPath: '$.error',
          Next: amiTest.has(name) ? S.AmiTestFailedChoice : S.RunErrorCleanupProvisionerChoice,
        },
      ]);
    }
    // Choice and Wait states cannot fail on their own: only Tasks, Maps and Parallels need the Catch.
    expect(
      [...mainPath].filter(
        (n) => !['Task', 'Map', 'Parallel', 'Choice', 'Wait'].includes(build.States[n]?.Type ?? ''),
      ),
    ).toEqual([]);
  });

  it('sends a cleanup state’s own error on to the next cleanup step without losing the build’s first error', () => {
    const cleanupCatch = (next: string) => [
      { ErrorEquals: ['States.ALL'], ResultPath: '$.cleanupError', Next: next },
    ];
    const expected: [string, string][] = [
      [S.CleanUpAfterFailure, S.DeleteTemporaryResourcesAfterFailure],
      [S.CheckInstanceTerminatedAfterFailure, S.DeleteTemporaryResourcesAfterFailure],
      [S.DeleteTemporaryResourcesAfterFailure, S.FinishCleanupAfterFailure],
      [S.FinishCleanupAfterFailure, S.RollBackAmiIdsChoice],
      [S.RollBackAmiIds, S.ReportFailedBuild],
      [S.DeleteTemporaryResources, S.FinishCleanup],
      [S.FinishCleanup, S.ApplyRetentionChoice],
      [S.SendErrorCleanupCommand, S.InstanceLaunched],
      [S.CheckErrorCleanupCommand, S.InstanceLaunched],
    ];
    for (const [name, next] of expected) expect(stateNamed(name).Catch, name).toEqual(cleanupCatch(next));
    // Retention that fails is reported with the build, which keeps its AMI.
    expect(stateNamed(S.ApplyRetention).Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.retentionError', Next: S.ReportBuild },
    ]);
  });

  it('rolls back published AMI ids on the failure path only when the template sets ami_id_parameter', () => {
    expect(stateNamed(S.DeleteTemporaryResourcesAfterFailure).Next).toBe(S.RollBackAmiIdsChoice);
    expect(stateNamed(S.RollBackAmiIdsChoice)).toMatchObject({
      Choices: [{ Variable: '$.config.amiIdParameter', IsPresent: true, Next: S.RollBackAmiIds }],
      Default: S.ReportFailedBuild,
    });
    expect(stateNamed(S.RollBackAmiIds)).toMatchObject({
      Parameters: { args: { action: 'roll-back' } },
      ResultPath: '$.cleanup',
      Next: S.ReportFailedBuild,
    });
  });

  it('skips the termination wait on both paths when the instance was not terminated', () => {
    for (const [choice, loop, otherwise] of [
      [S.InstanceTerminationRequested, S.CheckInstanceTerminated, S.DeleteTemporaryResources],
      [S.InstanceTerminating, S.CheckInstanceTerminatedAfterFailure, S.DeleteTemporaryResourcesAfterFailure],
    ] as const) {
      expect(stateNamed(choice), choice).toMatchObject({
        Choices: [{ Variable: '$.cleanup.terminatedInstances[0]', IsPresent: true, Next: loop }],
        Default: otherwise,
      });
    }
  });

  it('fails an invalid template at once with TemplateValidationError, and a failed build with its own error', () => {
    expect(stateNamed(S.ValidateTemplate).Catch).toEqual([
      { ErrorEquals: [ErrorNames.TemplateValidation], ResultPath: '$.error', Next: S.TemplateInvalid },
    ]);
    // A resume is refused the same way, before the builds start.
    expect(stateNamed(S.ResumeRequestedChoice)).toMatchObject({
      Choices: [{ Not: { Variable: '$.resume', IsPresent: true }, Next: S.BuildEachBuilder }],
      Default: S.PrepareResume,
    });
    expect(stateNamed(S.PrepareResume)).toMatchObject({
      Next: S.BuildEachBuilder,
      Catch: [
        { ErrorEquals: [ErrorNames.TemplateValidation], ResultPath: '$.error', Next: S.TemplateInvalid },
      ],
    });
    expect(stateNamed(S.TemplateInvalid)).toMatchObject({
      Type: 'Fail',
      Error: 'TemplateValidationError',
      CausePath: '$.error.Cause',
    });
    expect(stateNamed(S.AllBuildsSucceeded).Choices).toEqual([
      { Variable: '$.failed', NumericEquals: 0, Next: S.BuildSucceeded },
    ]);
    expect(stateNamed(S.BuildFailed)).toMatchObject({
      Type: 'Fail',
      ErrorPath: '$.error',
      CausePath: '$.cause',
    });
  });

  it('waits by retrying each Check task on PollPendingError, on its poll schedule, 1 transition per check', () => {
    // [check, choice, wait, key]: the Choice only where a check can return something other than done (a command
    // retry; a fixed delay of aws_polling, with its Wait state).
    const waits: [string, string | undefined, string | undefined, string][] = [
      [S.CheckInstanceRunning, undefined, undefined, 'instanceRunning'],
      [S.CheckSsmAgent, undefined, undefined, 'agent'],
      [S.CheckProvisionerCommand, S.ProvisionerCommandDone, undefined, 'command'],
      [S.CheckX509Upload, S.X509UploadDone, undefined, 'command'],
      [S.CheckBundleVolume, S.BundleVolumeDone, undefined, 'command'],
      [S.CheckUploadBundle, S.UploadBundleDone, undefined, 'command'],
      [S.CheckAmiAvailable, S.AmiAvailable, S.WaitForAmi, 'image'],
      [S.CheckAmiCopy, S.AmiCopyAvailable, S.WaitForAmiCopy, 'copy'],
      [S.CheckInstanceTerminated, undefined, undefined, 'instanceTerminated'],
      [S.CheckInstanceTerminatedAfterFailure, undefined, undefined, 'instanceTerminated'],
      [S.CheckErrorCleanupCommand, S.ErrorCleanupCommandDone, undefined, 'command'],
    ];
    for (const [check, choice, wait, key] of waits) {
      const schedule = pollSchedule(key);
      expect(stateNamed(check), check).toMatchObject({
        ResultPath: `$.poll.${key}`,
        Parameters: {
          check: { 'retryCount.$': '$$.State.RetryCount', 'enteredTime.$': '$$.State.EnteredTime' },
        },
      });
      expect(stateNamed(check).Retry, check).toContainEqual({
        ErrorEquals: [ErrorNames.PollPending],
        IntervalSeconds: schedule.intervalSeconds,
        BackoffRate: schedule.backoffRate,
        MaxDelaySeconds: schedule.maxDelaySeconds,
        MaxAttempts: schedule.maxAttempts,
        JitterStrategy: 'NONE',
      });
      if (choice === undefined) continue;
      expect(stateNamed(check).Next, check).toBe(choice);
      expect(stateNamed(choice).Choices?.[0], choice).toMatchObject({
        Variable: `$.poll.${key}.done`,
        BooleanEquals: true,
      });
      expect(stateNamed(choice).Default, choice).toBe(wait);
      if (wait !== undefined) {
        expect(stateNamed(wait), wait).toMatchObject({
          SecondsPath: `$.poll.${key}.waitSeconds`,
          Next: check,
        });
      }
    }
    // The schedules meet the shape of the targets: each delay at most 10 % longer than the one before, capped.
    for (const schedule of [POLL_SCHEDULE, AMI_POLL_SCHEDULE]) {
      expect(schedule.backoffRate).toBeLessThanOrEqual(1.1);
      expect(schedule.maxDelaySeconds).toBeLessThanOrEqual(300);
      expect(retriesFor(schedule, POLL_BACKSTOP_SECONDS)).toBeLessThan(schedule.maxAttempts);
    }
    // The AMI waits notice sooner than Packer's (15 s between checks).
    expect(AMI_POLL_SCHEDULE.maxDelaySeconds).toBeLessThan(15);
  });

  it('sends a command again when its check asks for a retry (max_retries)', () => {
    const pairs: [string, string][] = [
      [S.ProvisionerCommandDone, S.SendProvisionerCommand],
      [S.X509UploadDone, S.UploadX509Certificate],
      [S.BundleVolumeDone, S.BundleVolume],
      [S.UploadBundleDone, S.UploadBundle],
      [S.ErrorCleanupCommandDone, S.SendErrorCleanupCommand],
    ];
    for (const [choice, send] of pairs) {
      expect(stateNamed(choice).Choices?.[1], choice).toEqual({
        And: [
          { Variable: '$.poll.command.retry', IsPresent: true },
          { Variable: '$.poll.command.retry', BooleanEquals: true },
        ],
        Next: send,
      });
    }
  });

  it('passes each task the payloads and stores the results at the paths of docs/ARCHITECTURE.md', () => {
    // Report Build's `path`: the build iteration pruned to what decides its path (lambdas/shared/cost/path.ts).
    const buildPath = JSON.stringify(
      pruneDefinition(stateNamed(S.BuildEachBuilder).ItemProcessor as unknown as Record<string, unknown>),
    );
    // A Check task's payload also carries its place in the state's retries.
    const check = { 'retryCount.$': '$$.State.RetryCount', 'enteredTime.$': '$$.State.EnteredTime' };
    const expected: Record<string, [Record<string, unknown>, string | null]> = {
      [S.Prevalidate]: [{ 'build.$': '$', args: {} }, '$.source'],
      [S.EnsureBundleBucket]: [{ 'build.$': '$', args: {} }, '$.bucket'],
      [S.CreateSecurityGroup]: [{ 'build.$': '$', args: {} }, '$.network'],
      [S.CreateInstanceRole]: [{ 'build.$': '$', args: {} }, '$.instanceRole'],
      [S.LaunchInstance]: [{ 'build.$': '$', args: {} }, '$.instance'],
      [S.CheckInstanceRunning]: [
        { 'build.$': '$', args: { want: 'running' }, check },
        '$.poll.instanceRunning',
      ],
      [S.CheckSsmAgent]: [{ 'build.$': '$', args: {}, check }, '$.poll.agent'],
      [S.SendProvisionerCommand]: [
        { 'build.$': '$', args: { kind: 'provision', 'provisionerIndex.$': '$.provisionerIndex' } },
        '$.command',
      ],
      [S.CheckProvisionerCommand]: [{ 'build.$': '$', args: {}, check }, '$.poll.command'],
      [S.UploadX509Certificate]: [{ 'build.$': '$', args: { kind: 'x509' } }, '$.command'],
      [S.BundleVolume]: [{ 'build.$': '$', args: { kind: 'bundle' } }, '$.command'],
      [S.UploadBundle]: [{ 'build.$': '$', args: { kind: 'upload' } }, '$.command'],
      [S.SendErrorCleanupCommand]: [{ 'build.$': '$', args: { kind: 'error-cleanup' } }, '$.command'],
      [S.ForceDeregister]: [{ 'build.$': '$', args: {} }, '$.forceDeregister'],
      [S.RegisterAmi]: [{ 'build.$': '$', args: {} }, '$.image'],
      [S.CheckAmiAvailable]: [
        {
          'build.$': '$',
          args: { key: 'image', 'region.$': '$.image.region', 'imageId.$': '$.image.imageId' },
          check,
        },
        '$.poll.image',
      ],
      [S.CopyAmi]: [{ 'build.$': '$', args: { 'region.$': '$.region' } }, '$.copy'],
      [S.CheckAmiCopy]: [
        {
          'build.$': '$',
          args: { key: 'copy', 'region.$': '$.region', 'imageId.$': '$.copy.imageId' },
          check,
        },
        '$.poll.copy',
      ],
      [S.FinishAmiCopy]: [
        { 'build.$': '$', args: { 'region.$': '$.copy.region', 'imageId.$': '$.copy.imageId' } },
        '$',
      ],
      [S.FinishAmi]: [
        { 'build.$': '$', args: { 'region.$': '$.image.region', 'imageId.$': '$.image.imageId' } },
        '$',
      ],
      [S.TerminateInstance]: [{ 'build.$': '$', args: { reason: 'success' } }, '$.cleanup'],
      [S.CheckInstanceTerminated]: [
        { 'build.$': '$', args: { want: 'terminated' }, check },
        '$.poll.instanceTerminated',
      ],
      [S.DeleteTemporaryResources]: [{ 'build.$': '$', args: { reason: 'success' } }, '$.cleanup'],
      [S.ReportBuild]: [{ 'build.$': '$', args: { status: 'succeeded', path: buildPath } }, '$'],
      [S.CleanUpAfterFailure]: [{ 'build.$': '$', args: { reason: 'failure' } }, '$.cleanup'],
      [S.DeleteTemporaryResourcesAfterFailure]: [
        { 'build.$': '$', args: { reason: 'failure' } },
        '$.cleanup',
      ],
      [S.FinishCleanup]: [{ 'build.$': '$', args: { reason: 'success', groupInUse: 'report' } }, '$.cleanup'],
      [S.FinishCleanupAfterFailure]: [
        { 'build.$': '$', args: { reason: 'failure', groupInUse: 'report' } },
        '$.cleanup',
      ],
      [S.RollBackAmiIds]: [{ 'build.$': '$', args: { action: 'roll-back' } }, '$.cleanup'],
      [S.ReportFailedBuild]: [{ 'build.$': '$', args: { status: 'failed', path: buildPath } }, '$'],
      [S.ValidateTemplate]: [
        {
          'input.$': '$',
          execution: {
            'id.$': '$$.Execution.Id',
            'name.$': '$$.Execution.Name',
            'startTime.$': '$$.Execution.StartTime',
          },
        },
        '$',
      ],
      [S.PrepareResume]: [
        {
          'resume.$': '$.resume',
          'builds.$': '$.builds',
          'warnings.$': '$.warnings',
          'skipped.$': '$.skipped',
          'parallelBuilds.$': '$.parallelBuilds',
          'execution.$': '$.execution',
        },
        '$',
      ],
      [S.SummarizeBuilds]: [
        {
          'results.$': '$.results',
          'warnings.$': '$.warnings',
          'skipped.$': '$.skipped',
          'execution.$': '$.execution',
        },
        '$',
      ],
    };
    for (const [name, [parameters, resultPath]] of Object.entries(expected)) {
      // Every payload names its state, for the task's logs.
      expect(stateNamed(name).Parameters, name).toEqual({ ...parameters, state: name });
      // A result that replaces the state has no ResultPath (its default, "$").
      expect(stateNamed(name).ResultPath, name).toBe(resultPath === '$' ? undefined : resultPath);
      // The function's return value is the result (direct invocation), not a { Payload } envelope.
      expect(stateNamed(name).Resource, name).toMatch(/^arn:aws:lambda:us-east-1:123456789012:function:\w+$/);
      expect(stateNamed(name).ResultSelector, name).toBeUndefined();
    }
  });

  it('selects the build state into each Map iteration and keeps the Maps’ results small', () => {
    expect(stateNamed(S.BuildEachBuilder)).toMatchObject({
      ItemsPath: '$.builds',
      ItemSelector: { 'config.$': '$$.Map.Item.Value', 'execution.$': '$.execution', poll: {} },
      ResultPath: '$.results',
    });
    expect(stateNamed(S.BuildEachBuilder).MaxConcurrency ?? 0).toBe(0);
    expect(stateNamed(S.RunProvisioners)).toMatchObject({
      ItemsPath: '$.config.provisioners',
      MaxConcurrency: 1,
      ResultPath: '$.provisioned',
      ItemSelector: {
        'config.$': '$.config',
        'execution.$': '$.execution',
        'poll.$': '$.poll',
        'instance.$': '$.instance',
        'provisioner.$': '$$.Map.Item.Value',
        'provisionerIndex.$': '$$.Map.Item.Index',
      },
    });
    expect(stateNamed(S.PauseBeforeProvisioner)).toMatchObject({
      SecondsPath: '$.provisioner.pauseBeforeSeconds',
    });
    // Each iteration's result is its command's last check, whose counts the cost estimate reads.
    expect(stateNamed(S.ProvisionerFinished)).toMatchObject({
      Type: 'Succeed',
      OutputPath: '$.poll.command',
    });
    expect(stateNamed(S.CopyToRegions)).toMatchObject({
      ItemsPath: '$.config.amiRegions',
      ResultPath: '$.copies',
      ItemSelector: { 'image.$': '$.image', 'region.$': '$$.Map.Item.Value' },
    });
    expect(stateNamed(S.CopyAndFinish)).toMatchObject({ OutputPath: '$[1]' });
  });

  it('is JSONPath only: no state and no definition sets QueryLanguage JSONata', () => {
    expect(JSON.stringify(definition)).not.toMatch(/JSONata|\{%/);
  });

  it('passes the local runner’s validation (aws-local-stepfunctions 3)', () => {
    expect(() => new StateMachine(definition as never)).not.toThrow();
  });

  it('sets the execution timeout from the configuration', () => {
    const resources = synthesized.template.findResources('AWS::StepFunctions::StateMachine');
    expect(Object.values(resources)).toHaveLength(1);
    expect(definition.TimeoutSeconds).toBe(24 * 3600);
  });

  it('matches the snapshot (Lambda ARNs as task placeholders, so no asset hash appears)', () => {
    const text = JSON.stringify(definition, null, 2);
    expect(text).not.toMatch(/[0-9a-f]{64}|[A-Z][A-Za-z]+[0-9A-F]{8}\b/);
    expect(definition).toMatchSnapshot();
  });
});

/**
 * The build workflow, top to bottom as docs/ARCHITECTURE.md draws it. State names come from
 * `infra/state-names.ts`; error names from `lambdas/shared/errors.ts`; every wait is a {@link PollLoop}: a Check
 * task retried on PollPendingError.
 *
 * JSONPath only: the local runner (aws-local-stepfunctions) does not execute JSONata.
 */
import { Duration, Lazy } from 'aws-cdk-lib';
import {
  type CatchProps,
  Chain,
  Choice,
  Condition,
  Errors,
  Fail,
  type IChainable,
  JitterType,
  JsonPath,
  Map as MapState,
  Parallel,
  type RetryProps,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { pruneDefinition } from '../lambdas/shared/cost/path.js';
import { ErrorNames } from '../lambdas/shared/errors.js';
import { pollSchedule } from '../lambdas/shared/poll.js';
import { PollLoop } from './constructs/poll-loop.js';
import type { TaskFunction } from './constructs/task-function.js';
import { StateDescriptions, type StateKey, StateNames } from './state-names.js';
import type { TaskId } from './tasks.js';

/** Retry of {@link ErrorNames.AwsTransient} (throttling, 5xx) on every task. */
export const TRANSIENT_RETRY: RetryProps = {
  errors: [ErrorNames.AwsTransient],
  interval: Duration.seconds(5),
  backoffRate: 2,
  maxAttempts: 6,
  jitterStrategy: JitterType.FULL,
};

/** Retry of {@link ErrorNames.SecurityGroupInUse} on the Delete Temporary Resources states. */
export const SECURITY_GROUP_IN_USE_RETRY: RetryProps = {
  errors: [ErrorNames.SecurityGroupInUse],
  interval: Duration.seconds(10),
  backoffRate: 1.5,
  maxAttempts: 10,
};

/**
 * Retry of {@link ErrorNames.InstanceProfileNotReady} on Launch Instance: IAM propagates a new instance profile
 * to EC2 within seconds, occasionally a minute or two (about 150 s in all here).
 */
export const INSTANCE_PROFILE_NOT_READY_RETRY: RetryProps = {
  errors: [ErrorNames.InstanceProfileNotReady],
  interval: Duration.seconds(3),
  backoffRate: 1.5,
  maxAttempts: 8,
};

/**
 * Retry of {@link ErrorNames.PollPending} on the Check task of the wait at `$.poll.<waitKey>`: its poll schedule
 * (lambdas/shared/poll.ts), without jitter so that each delay is as computed. Each check's own bound ends the
 * wait before `maxAttempts`.
 */
export function pollRetry(waitKey: string): RetryProps {
  const schedule = pollSchedule(waitKey);
  return {
    errors: [ErrorNames.PollPending],
    interval: Duration.seconds(schedule.intervalSeconds),
    backoffRate: schedule.backoffRate,
    maxDelay: Duration.seconds(schedule.maxDelaySeconds),
    maxAttempts: schedule.maxAttempts,
    jitterStrategy: JitterType.NONE,
  };
}

/** A Task's `TimeoutSeconds`: the function's own timeout plus this margin, so the Lambda's timeout wins. */
export const TASK_TIMEOUT_MARGIN = Duration.seconds(60);

/** Where the failure Catch puts Step Functions' `{ Error, Cause }`. */
export const ERROR_PATH = '$.error';
/** Where a cleanup state's own error goes, so that `$.error` keeps the build's first error. */
export const CLEANUP_ERROR_PATH = '$.cleanupError';

/** The functions the workflow invokes, by task id. */
export type WorkflowFunctions = Record<TaskId, TaskFunction>;

interface InvokeOptions {
  /** `args` of the `{ build: $, args, state }` payload. */
  args?: Record<string, unknown>;
  /** A payload other than `{ build: $, args }` (`state`, the state's name, is added to either). */
  payload?: Record<string, unknown>;
  /**
   * Where the task's result goes; `$` replaces the state. `$` is written by leaving ResultPath out (its default):
   * aws-local-stepfunctions 3 mishandles an explicit `"ResultPath": "$"`.
   */
  resultPath: string;
}

/**
 * The build state machine's definition.
 *
 * @param scope the construct the states are created in
 * @param functions one function per task
 */
export function buildWorkflow(scope: Construct, functions: WorkflowFunctions): IChainable {
  const states = new Construct(scope, 'States');
  const name = (key: StateKey) => StateNames[key];
  const comment = (key: StateKey) => StateDescriptions[key];

  /**
   * A Lambda task: the function is invoked directly (`payloadResponseOnly`), so its return value is the
   * result and lands at `resultPath` as is. CDK retries Lambda service errors; throttling and 5xx that survive
   * the SDK's own retries (AwsTransientError) are retried with backoff; TimeoutSeconds is always set.
   */
  const invoke = (key: StateKey, taskId: TaskId, options: InvokeOptions): LambdaInvoke => {
    const fn = functions[taskId];
    const timeout = (fn.timeout ?? Duration.seconds(60)).plus(TASK_TIMEOUT_MARGIN);
    const task = new LambdaInvoke(states, name(key), {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      // `state` names the state in the task's logs (the local runner's context has no `$$.State.Name`).
      payload: TaskInput.fromObject({
        ...(options.payload ?? { build: JsonPath.entirePayload, args: options.args ?? {} }),
        state: name(key),
      }),
      resultPath: options.resultPath === '$' ? undefined : options.resultPath,
      taskTimeout: Timeout.duration(timeout),
      comment: comment(key),
    });
    task.addRetry(TRANSIENT_RETRY);
    return task;
  };

  /**
   * A wait: the Check task, retried on PollPendingError on the poll schedule (1 transition per check), storing
   * its result at `$.poll.<waitKey>`; then the Choice (`keys.choice`: done, or `retry` for a command) and, for a
   * check that may ask for a fixed delay, the Wait (`keys.wait`) back to the Check. The payload carries the
   * state's `$$.State.RetryCount` and `EnteredTime` as `check`.
   */
  const poll = (
    keys: { check: StateKey; choice?: StateKey; wait?: StateKey },
    taskId: TaskId,
    waitKey: string,
    args: Record<string, unknown>,
    retry?: IChainable,
  ): { loop: PollLoop; check: LambdaInvoke } => {
    const check = invoke(keys.check, taskId, {
      payload: {
        build: JsonPath.entirePayload,
        args,
        check: {
          retryCount: JsonPath.numberAt('$$.State.RetryCount'),
          enteredTime: JsonPath.stringAt('$$.State.EnteredTime'),
        },
      },
      resultPath: `$.poll.${waitKey}`,
    });
    check.addRetry(pollRetry(waitKey));
    const loop = new PollLoop(states, `${name(keys.check)} Loop`, {
      check,
      waitKey,
      ...(keys.choice === undefined ? {} : { choiceName: name(keys.choice) }),
      ...(keys.wait === undefined ? {} : { waitName: name(keys.wait) }),
      comments: {
        ...(keys.choice === undefined ? {} : { choice: comment(keys.choice) }),
        ...(keys.wait === undefined ? {} : { wait: comment(keys.wait) }),
      },
      retry,
    });
    return { loop, check };
  };

  // The build's part of this definition, pruned to what decides its path: Report Build counts the build's
  // transitions and invocations on it (lambdas/shared/cost/path.ts). Rendered once the graph is complete.
  let buildIteration: MapState | undefined;
  const buildPath = Lazy.string({
    produce: () => {
      const processor = (buildIteration?.toStateJson() as { ItemProcessor?: Record<string, unknown> })
        ?.ItemProcessor;
      if (processor === undefined) throw new Error('the build iteration is not defined yet');
      return JSON.stringify(pruneDefinition(processor));
    },
  });

  // ─── Failure path: every build state from Prevalidate on catches into it ─────────────────────────────────
  const reportFailedBuild = invoke('ReportFailedBuild', 'ReportBuild', {
    args: { status: 'failed', path: buildPath },
    resultPath: '$',
  });
  const cleanupFailed = catchInto(reportFailedBuild, CLEANUP_ERROR_PATH);

  // A published AMI id must not outlive its failed build: put back each region's earlier value.
  const rollBackAmiIds = cleanupFailed(
    invoke('RollBackAmiIds', 'PublishAmiIds', { args: { action: 'roll-back' }, resultPath: '$.cleanup' }),
  );
  rollBackAmiIds.next(reportFailedBuild);
  const rollBackChoice = new Choice(states, name('RollBackAmiIdsChoice'), {
    comment: comment('RollBackAmiIdsChoice'),
  })
    .when(Condition.isPresent('$.config.amiIdParameter'), rollBackAmiIds)
    .otherwise(reportFailedBuild);

  // Each cleanup step's own failure goes on to the next step: what one leaves behind is reported, not a reason
  // to skip the others.
  const finishAfterFailure = catchInto(
    rollBackChoice,
    CLEANUP_ERROR_PATH,
  )(
    invoke('FinishCleanupAfterFailure', 'DeleteTemporaryResources', {
      args: { reason: 'failure', groupInUse: 'report' },
      resultPath: '$.cleanup',
    }),
  );
  finishAfterFailure.next(rollBackChoice);

  const deleteAfterFailure = catchInto(
    finishAfterFailure,
    CLEANUP_ERROR_PATH,
  )(
    invoke('DeleteTemporaryResourcesAfterFailure', 'DeleteTemporaryResources', {
      args: { reason: 'failure' },
      resultPath: '$.cleanup',
    }),
  );
  deleteAfterFailure.addRetry(SECURITY_GROUP_IN_USE_RETRY);
  deleteAfterFailure.next(rollBackChoice);
  const terminationFailed = catchInto(deleteAfterFailure, CLEANUP_ERROR_PATH);

  const terminationAfterFailure = poll(
    { check: 'CheckInstanceTerminatedAfterFailure' },
    'CheckInstance',
    'instanceTerminated',
    { want: 'terminated' },
  );
  terminationFailed(terminationAfterFailure.check);
  terminationAfterFailure.loop.next(deleteAfterFailure);

  const cleanUpAfterFailure = terminationFailed(
    invoke('CleanUpAfterFailure', 'TerminateInstance', {
      args: { reason: 'failure' },
      resultPath: '$.cleanup',
    }),
  ).next(
    // Nothing to wait for when no instance was terminated (on_error: abort keeps it, or termination was refused).
    new Choice(states, name('InstanceTerminating'), { comment: comment('InstanceTerminating') })
      .when(Condition.isPresent('$.cleanup.terminatedInstances[0]'), terminationAfterFailure.loop)
      .otherwise(deleteAfterFailure),
  );

  const instanceLaunched = new Choice(states, name('InstanceLaunched'), {
    comment: comment('InstanceLaunched'),
  })
    .when(Condition.isPresent('$.instance.instanceId'), cleanUpAfterFailure)
    .otherwise(deleteAfterFailure);

  // The error-cleanup provisioner's own failure must not skip the instance's termination.
  const errorCleanupFailed = catchInto(instanceLaunched, CLEANUP_ERROR_PATH);
  const sendErrorCleanup = errorCleanupFailed(
    invoke('SendErrorCleanupCommand', 'SendCommand', {
      args: { kind: 'error-cleanup' },
      resultPath: '$.command',
    }),
  );
  const errorCleanupCommand = poll(
    { check: 'CheckErrorCleanupCommand', choice: 'ErrorCleanupCommandDone' },
    'CheckCommand',
    'command',
    {},
    sendErrorCleanup,
  );
  errorCleanupFailed(errorCleanupCommand.check);
  sendErrorCleanup.next(errorCleanupCommand.loop);
  errorCleanupCommand.loop.next(instanceLaunched);

  // Packer runs the error-cleanup provisioner once provisioning has started (the agent was reachable), and not
  // with -on-error=abort; -on-error=run-cleanup-provisioner runs it, then keeps the instance.
  const failurePath = new Choice(states, name('RunErrorCleanupProvisionerChoice'), {
    comment: comment('RunErrorCleanupProvisionerChoice'),
  })
    .when(
      Condition.and(
        Condition.isPresent('$.config.errorCleanupProvisioner'),
        Condition.isPresent('$.poll.agent.done'),
        Condition.booleanEquals('$.poll.agent.done', true),
        Condition.or(
          Condition.stringEquals('$.config.onError', 'cleanup'),
          Condition.stringEquals('$.config.onError', 'run-cleanup-provisioner'),
        ),
      ),
      sendErrorCleanup,
    )
    .otherwise(instanceLaunched);

  const guard = catchInto(failurePath, ERROR_PATH);

  // ─── One build: Packer's steps ───────────────────────────────────────────────────────────────────────────
  const prevalidate = guard(invoke('Prevalidate', 'Prevalidate', { resultPath: '$.source' }));
  const ensureBundleBucket = guard(
    invoke('EnsureBundleBucket', 'EnsureBundleBucket', { resultPath: '$.bucket' }),
  );
  const createSecurityGroup = guard(
    invoke('CreateSecurityGroup', 'CreateSecurityGroup', { resultPath: '$.network' }),
  );
  const createInstanceRole = guard(
    invoke('CreateInstanceRole', 'CreateInstanceRole', { resultPath: '$.instanceRole' }),
  );
  const launchInstance = guard(invoke('LaunchInstance', 'LaunchInstance', { resultPath: '$.instance' }));
  launchInstance.addRetry(INSTANCE_PROFILE_NOT_READY_RETRY);
  const instanceRunning = poll({ check: 'CheckInstanceRunning' }, 'CheckInstance', 'instanceRunning', {
    want: 'running',
  });
  guard(instanceRunning.check);
  const agentOnline = poll({ check: 'CheckSsmAgent' }, 'CheckAgent', 'agent', {});
  guard(agentOnline.check);

  // Provisioners, one at a time. The iteration state is the build plus the provisioner and its index; each
  // iteration ends with only its command's last check (its counts are the cost estimate's), so the Map's result
  // stays small.
  const sendProvisionerCommand = invoke('SendProvisionerCommand', 'SendCommand', {
    args: { kind: 'provision', provisionerIndex: JsonPath.numberAt('$.provisionerIndex') },
    resultPath: '$.command',
  });
  const provisionerCommand = poll(
    { check: 'CheckProvisionerCommand', choice: 'ProvisionerCommandDone' },
    'CheckCommand',
    'command',
    {},
    sendProvisionerCommand,
  );
  const runProvisioner = Chain.start(
    new Wait(states, name('PauseBeforeProvisioner'), {
      comment: comment('PauseBeforeProvisioner'),
      time: WaitTime.secondsPath('$.provisioner.pauseBeforeSeconds'),
    }),
  )
    .next(sendProvisionerCommand)
    .next(provisionerCommand.loop)
    .next(
      new Succeed(states, name('ProvisionerFinished'), {
        comment: comment('ProvisionerFinished'),
        outputPath: '$.poll.command',
      }),
    );
  const runProvisioners = guard(
    new MapState(states, name('RunProvisioners'), {
      comment: comment('RunProvisioners'),
      itemsPath: '$.config.provisioners',
      maxConcurrency: 1,
      itemSelector: {
        ...buildStateSelector(['source', 'bucket', 'network', 'instance']),
        provisioner: JsonPath.objectAt('$$.Map.Item.Value'),
        provisionerIndex: JsonPath.numberAt('$$.Map.Item.Index'),
      },
      resultPath: '$.provisioned',
    }),
  ).itemProcessor(
    // A resumed build skips the provisioners that ran in the failed execution.
    new Choice(states, name('ProvisionerDoneBefore'), { comment: comment('ProvisionerDoneBefore') })
      // A Choice rule on a missing path fails the execution: builds that do not resume leave first (Not IsPresent:
      // the local runner mishandles `IsPresent: false`).
      .when(Condition.not(Condition.isPresent('$.config.resume.provisionerIndex')), runProvisioner)
      .when(
        Condition.numberLessThanJsonPath('$.provisionerIndex', '$.config.resume.provisionerIndex'),
        new Succeed(states, name('ProvisionerSkipped'), {
          comment: comment('ProvisionerSkipped'),
          outputPath: '$.provisionerIndex',
        }),
      )
      .otherwise(runProvisioner),
  );

  const command = (
    send: StateKey,
    keys: { check: StateKey; choice: StateKey },
    kind: 'x509' | 'bundle' | 'upload',
  ): Chain => {
    const sendTask = guard(invoke(send, 'SendCommand', { args: { kind }, resultPath: '$.command' }));
    const wait = poll(keys, 'CheckCommand', 'command', {}, sendTask);
    guard(wait.check);
    return Chain.start(sendTask).next(wait.loop);
  };

  const registerAmi = guard(invoke('RegisterAmi', 'RegisterImage', { resultPath: '$.image' }));
  const amiAvailable = poll(
    { check: 'CheckAmiAvailable', choice: 'AmiAvailable', wait: 'WaitForAmi' },
    'CheckImage',
    'image',
    {
      key: 'image',
      region: JsonPath.stringAt('$.image.region'),
      imageId: JsonPath.stringAt('$.image.imageId'),
    },
  );
  guard(amiAvailable.check);

  // ─── ami_test: one instance from the new AMI runs the test before anything uses the AMI ──────────────────
  // Any error while testing settles the AMI (deregistered, or kept and tagged), then takes the failure path,
  // whose Clean Up After Failure terminates the test instance with the build instance.
  const settleFailedAmi = (key: StateKey, failedTest: 'deregister' | 'keep') =>
    catchInto(
      failurePath,
      CLEANUP_ERROR_PATH,
    )(invoke(key, 'ForceDeregister', { args: { failedTest }, resultPath: '$.testCleanup' })).next(
      failurePath,
    );
  const amiTestFailed = new Choice(states, name('AmiTestFailedChoice'), {
    comment: comment('AmiTestFailedChoice'),
  })
    .when(
      Condition.stringEquals('$.config.amiTest.onFailure', 'keep'),
      settleFailedAmi('KeepFailedAmi', 'keep'),
    )
    .otherwise(settleFailedAmi('DeregisterFailedAmi', 'deregister'));
  const testGuard = catchInto(amiTestFailed, ERROR_PATH);
  const launchTestInstance = testGuard(
    invoke('LaunchTestInstance', 'LaunchTestInstance', { resultPath: '$.testInstance' }),
  );
  launchTestInstance.addRetry(INSTANCE_PROFILE_NOT_READY_RETRY);
  const testInstanceRunning = poll(
    { check: 'CheckTestInstanceRunning' },
    'CheckInstance',
    'testInstanceRunning',
    {
      want: 'running',
      instance: 'test',
    },
  );
  testGuard(testInstanceRunning.check);
  const testAgentOnline = poll({ check: 'CheckTestSsmAgent' }, 'CheckAgent', 'testAgent', {
    instance: 'test',
  });
  testGuard(testAgentOnline.check);
  const sendTestCommand = testGuard(
    invoke('SendTestCommand', 'SendCommand', { args: { kind: 'test' }, resultPath: '$.command' }),
  );
  const testCommand = poll({ check: 'CheckTestCommand' }, 'CheckCommand', 'command', {});
  testGuard(testCommand.check);
  const testAmi = Chain.start(launchTestInstance)
    .next(testInstanceRunning.loop)
    .next(testAgentOnline.loop)
    .next(sendTestCommand)
    .next(testCommand.loop)
    .next(
      guard(
        invoke('TerminateTestInstance', 'TerminateInstance', {
          args: { reason: 'success', instance: 'test' },
          resultPath: '$.testCleanup',
        }),
      ),
    );

  // Copies: the iteration state is the build plus the region (the item); each ends with the finished copy's
  // ImageInfo, so the Map's result is the list of copies.
  const amiCopy = poll(
    { check: 'CheckAmiCopy', choice: 'AmiCopyAvailable', wait: 'WaitForAmiCopy' },
    'CheckImage',
    'copy',
    { key: 'copy', region: JsonPath.stringAt('$.region'), imageId: JsonPath.stringAt('$.copy.imageId') },
  );
  const copyToRegions = new MapState(states, name('CopyToRegions'), {
    comment: comment('CopyToRegions'),
    itemsPath: '$.config.amiRegions',
    itemSelector: {
      ...buildStateSelector(['source', 'bucket', 'network', 'instance', 'image']),
      region: JsonPath.stringAt('$$.Map.Item.Value'),
    },
    resultPath: '$.copies',
  }).itemProcessor(
    Chain.start(
      invoke('CopyAmi', 'CopyImage', {
        args: { region: JsonPath.stringAt('$.region') },
        resultPath: '$.copy',
      }),
    )
      .next(amiCopy.loop)
      .next(
        invoke('FinishAmiCopy', 'FinishImage', {
          args: { region: JsonPath.stringAt('$.copy.region'), imageId: JsonPath.stringAt('$.copy.imageId') },
          resultPath: '$',
        }),
      ),
  );
  // Branch 1 ends with the build region's ImageInfo, branch 2 with the whole state plus `copies`: the Parallel
  // passes on branch 2's output (OutputPath `$[1]`).
  const copyAndFinish = guard(
    new Parallel(states, name('CopyAndFinish'), { comment: comment('CopyAndFinish'), outputPath: '$[1]' }),
  )
    .branch(
      invoke('FinishAmi', 'FinishImage', {
        args: { region: JsonPath.stringAt('$.image.region'), imageId: JsonPath.stringAt('$.image.imageId') },
        resultPath: '$',
      }),
    )
    .branch(copyToRegions);

  const reportBuild = guard(
    invoke('ReportBuild', 'ReportBuild', { args: { status: 'succeeded', path: buildPath }, resultPath: '$' }),
  );
  // The AMI is built and published: retention's own failure is reported with the build, never loses it.
  const applyRetention = catchInto(
    reportBuild,
    '$.retentionError',
  )(invoke('ApplyRetention', 'ApplyRetention', { resultPath: '$.retention' }));
  applyRetention.next(reportBuild);
  const applyRetentionChoice = new Choice(states, name('ApplyRetentionChoice'), {
    comment: comment('ApplyRetentionChoice'),
  })
    .when(Condition.isPresent('$.config.retention'), applyRetention)
    .otherwise(reportBuild);
  // The AMI is built: a cleanup step that fails is reported with the build, and the others still run.
  const finishCleanup = catchInto(
    applyRetentionChoice,
    CLEANUP_ERROR_PATH,
  )(
    invoke('FinishCleanup', 'DeleteTemporaryResources', {
      args: { reason: 'success', groupInUse: 'report' },
      resultPath: '$.cleanup',
    }),
  );
  finishCleanup.next(applyRetentionChoice);
  const deleteTemporaryResources = catchInto(
    finishCleanup,
    CLEANUP_ERROR_PATH,
  )(
    invoke('DeleteTemporaryResources', 'DeleteTemporaryResources', {
      args: { reason: 'success' },
      resultPath: '$.cleanup',
    }),
  );
  deleteTemporaryResources.addRetry(SECURITY_GROUP_IN_USE_RETRY);
  deleteTemporaryResources.next(applyRetentionChoice);

  const instanceTerminated = poll(
    { check: 'CheckInstanceTerminated' },
    'CheckInstance',
    'instanceTerminated',
    { want: 'terminated' },
  );
  guard(instanceTerminated.check);
  instanceTerminated.loop.next(deleteTemporaryResources);

  const terminateInstance = guard(
    invoke('TerminateInstance', 'TerminateInstance', {
      args: { reason: 'success' },
      resultPath: '$.cleanup',
    }),
  );
  terminateInstance.next(
    // A refused termination is reported; the other resources are still deleted.
    new Choice(states, name('InstanceTerminationRequested'), {
      comment: comment('InstanceTerminationRequested'),
    })
      .when(Condition.isPresent('$.cleanup.terminatedInstances[0]'), instanceTerminated.loop)
      .otherwise(deleteTemporaryResources),
  );

  const publishAmiIdsChoice = new Choice(states, name('PublishAmiIdsChoice'), {
    comment: comment('PublishAmiIdsChoice'),
  })
    .when(
      Condition.isPresent('$.config.amiIdParameter'),
      guard(invoke('PublishAmiIds', 'PublishAmiIds', { resultPath: '$.published' })).next(terminateInstance),
    )
    .otherwise(terminateInstance);

  // skip_if_unchanged: fingerprint the build; when an AMI with the same fingerprint exists in every target
  // region, launch nothing and go on to publishing and reporting it (Terminate Instance and Delete Temporary
  // Resources then have nothing to remove).
  const checkUnchanged = guard(invoke('CheckUnchanged', 'CheckUnchanged', { resultPath: '$.fingerprint' }));
  checkUnchanged.next(
    new Choice(states, name('UnchangedChoice'), { comment: comment('UnchangedChoice') })
      // Not(IsPresent), not IsPresent false: the local runner (aws-local-stepfunctions) mishandles the latter.
      .when(Condition.not(Condition.isPresent('$.fingerprint.unchanged')), ensureBundleBucket)
      .otherwise(publishAmiIdsChoice),
  );
  prevalidate.next(
    new Choice(states, name('SkipIfUnchangedChoice'), { comment: comment('SkipIfUnchangedChoice') })
      .when(
        Condition.and(
          Condition.isPresent('$.config.skipIfUnchanged'),
          Condition.booleanEquals('$.config.skipIfUnchanged', true),
        ),
        checkUnchanged,
      )
      .otherwise(ensureBundleBucket),
  );
  const x509Upload = command(
    'UploadX509Certificate',
    { check: 'CheckX509Upload', choice: 'X509UploadDone' },
    'x509',
  );
  const bundleVolume = command(
    'BundleVolume',
    { check: 'CheckBundleVolume', choice: 'BundleVolumeDone' },
    'bundle',
  );
  const uploadBundle = command(
    'UploadBundle',
    { check: 'CheckUploadBundle', choice: 'UploadBundleDone' },
    'upload',
  );
  const forceDeregisterChoice = new Choice(states, name('ForceDeregisterChoice'), {
    comment: comment('ForceDeregisterChoice'),
  })
    .when(
      Condition.booleanEquals('$.config.forceDeregister', true),
      guard(invoke('ForceDeregister', 'ForceDeregister', { resultPath: '$.forceDeregister' })).next(
        registerAmi,
      ),
    )
    .otherwise(registerAmi);
  const provisionOnwards = Chain.start(runProvisioners)
    .next(x509Upload)
    .next(bundleVolume)
    .next(uploadBundle)
    .next(forceDeregisterChoice.afterwards())
    .next(amiAvailable.loop)
    .next(
      new Choice(states, name('AmiTestChoice'), { comment: comment('AmiTestChoice') })
        .when(Condition.isPresent('$.config.amiTest'), testAmi.next(copyAndFinish))
        .otherwise(copyAndFinish)
        .afterwards(),
    )
    .next(publishAmiIdsChoice);

  // A resumed build (Prepare Resume set `config.resume`) adopts what the failed build kept, checks that the
  // instance and its agent are up, and enters at the failed step.
  const resumeAt = new Choice(states, name('ResumeAtChoice'), { comment: comment('ResumeAtChoice') })
    // A Choice rule on a missing path fails the execution: builds that do not resume leave first (Not IsPresent:
    // the local runner mishandles `IsPresent: false`).
    .when(Condition.not(Condition.isPresent('$.config.resume.step')), provisionOnwards)
    .when(Condition.stringEquals('$.config.resume.step', 'x509'), x509Upload)
    .when(Condition.stringEquals('$.config.resume.step', 'bundle'), bundleVolume)
    .when(Condition.stringEquals('$.config.resume.step', 'upload'), uploadBundle)
    .when(Condition.stringEquals('$.config.resume.step', 'register'), forceDeregisterChoice)
    .otherwise(provisionOnwards);
  Chain.start(ensureBundleBucket)
    .next(createSecurityGroup)
    .next(createInstanceRole)
    .next(launchInstance)
    .next(instanceRunning.loop)
    .next(agentOnline.loop)
    .next(resumeAt);
  const build = new Choice(states, name('ResumeBuildChoice'), { comment: comment('ResumeBuildChoice') })
    .when(Condition.not(Condition.isPresent('$.config.resume')), prevalidate)
    .otherwise(
      guard(invoke('AdoptKeptResources', 'AdoptKeptResources', { resultPath: '$' })).next(
        instanceRunning.loop,
      ),
    );

  // ─── The execution: validate, build every builder, summarize ─────────────────────────────────────────────
  const validateTemplate = invoke('ValidateTemplate', 'ValidateTemplate', {
    payload: {
      input: JsonPath.entirePayload,
      execution: {
        id: JsonPath.stringAt('$$.Execution.Id'),
        name: JsonPath.stringAt('$$.Execution.Name'),
        startTime: JsonPath.stringAt('$$.Execution.StartTime'),
      },
    },
    resultPath: '$',
  });
  const templateInvalid = new Fail(states, name('TemplateInvalid'), {
    comment: comment('TemplateInvalid'),
    error: ErrorNames.TemplateValidation,
    causePath: `${ERROR_PATH}.Cause`,
  });
  validateTemplate.addCatch(templateInvalid, {
    errors: [ErrorNames.TemplateValidation],
    resultPath: ERROR_PATH,
  });
  // A resume (Validate Template passed its ARN on) is read and checked before any build starts.
  const prepareResume = invoke('PrepareResume', 'PrepareResume', {
    payload: {
      resume: JsonPath.stringAt('$.resume'),
      builds: JsonPath.listAt('$.builds'),
      warnings: JsonPath.listAt('$.warnings'),
      skipped: JsonPath.listAt('$.skipped'),
      parallelBuilds: JsonPath.numberAt('$.parallelBuilds'),
      execution: JsonPath.objectAt('$.execution'),
    },
    resultPath: '$',
  });
  prepareResume.addCatch(templateInvalid, {
    errors: [ErrorNames.TemplateValidation],
    resultPath: ERROR_PATH,
  });

  const buildEachBuilder = new MapState(states, name('BuildEachBuilder'), {
    comment: comment('BuildEachBuilder'),
    itemsPath: '$.builds',
    // Packer's -parallel-builds (the input's parallel_builds; 0: no limit).
    maxConcurrencyPath: '$.parallelBuilds',
    itemSelector: {
      config: JsonPath.objectAt('$$.Map.Item.Value'),
      execution: JsonPath.objectAt('$.execution'),
      poll: {},
    },
    resultPath: '$.results',
  }).itemProcessor(build);
  buildIteration = buildEachBuilder;

  const summarizeBuilds = invoke('SummarizeBuilds', 'SummarizeBuilds', {
    payload: {
      results: JsonPath.listAt('$.results'),
      warnings: JsonPath.listAt('$.warnings'),
      skipped: JsonPath.listAt('$.skipped'),
      execution: JsonPath.objectAt('$.execution'),
    },
    resultPath: '$',
  });

  // A notification that cannot be delivered is recorded in the output, never turned into a build failure.
  const notifyBuildResult = invoke('NotifyBuildResult', 'Notify', {
    payload: {
      summary: JsonPath.objectAt('$'),
      execution: {
        id: JsonPath.stringAt('$$.Execution.Id'),
        name: JsonPath.stringAt('$$.Execution.Name'),
        startTime: JsonPath.stringAt('$$.Execution.StartTime'),
      },
    },
    resultPath: '$.notification',
  });

  const allBuildsSucceeded = new Choice(states, name('AllBuildsSucceeded'), {
    comment: comment('AllBuildsSucceeded'),
  });
  notifyBuildResult.addCatch(allBuildsSucceeded, { resultPath: '$.notificationError' });

  prepareResume.next(buildEachBuilder);
  const resumeRequested = new Choice(states, name('ResumeRequestedChoice'), {
    comment: comment('ResumeRequestedChoice'),
  })
    .when(Condition.not(Condition.isPresent('$.resume')), buildEachBuilder)
    .otherwise(prepareResume);
  Chain.start(buildEachBuilder)
    .next(summarizeBuilds)
    .next(notifyBuildResult)
    .next(
      allBuildsSucceeded
        .when(
          Condition.numberEquals('$.failed', 0),
          new Succeed(states, name('BuildSucceeded'), { comment: comment('BuildSucceeded') }),
        )
        .otherwise(
          new Fail(states, name('BuildFailed'), {
            comment: comment('BuildFailed'),
            errorPath: '$.error',
            causePath: '$.cause',
          }),
        ),
    );
  return Chain.start(validateTemplate).next(resumeRequested);
}

/** States that can catch errors. */
interface Catchable {
  addCatch(handler: IChainable, props?: CatchProps): unknown;
}

/** Adds a Catch of every error (`States.ALL`) to `handler`, with the error at `resultPath`, and returns the state. */
function catchInto(handler: IChainable, resultPath: string): <T extends Catchable>(state: T) => T {
  return (state) => {
    state.addCatch(handler, { errors: [Errors.ALL], resultPath });
    return state;
  };
}

/** ItemSelector entries that copy the build state (`config`, `execution`, `poll` and the given fields). */
function buildStateSelector(fields: string[]): Record<string, unknown> {
  const selector: Record<string, unknown> = {
    config: JsonPath.objectAt('$.config'),
    execution: JsonPath.objectAt('$.execution'),
    poll: JsonPath.objectAt('$.poll'),
  };
  for (const field of fields) selector[field] = JsonPath.objectAt(`$.${field}`);
  return selector;
}

/**
 * `{ "resume": "<execution ARN>", "template": … }`: Prepare Resume, the state after Validate Template, reads the
 * failed execution's history, checks that each selected build can be resumed, and gives it the failed build's
 * names and kept resources (`config.resume`). Every reason to refuse is a problem of the TemplateValidationError,
 * so that nothing is created (README, "Resume a failed build").
 */
import { DescribeInstancesCommand, DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { GetInstanceProfileCommand } from '@aws-sdk/client-iam';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { awsErrorCode } from '../shared/cleanup-report.js';
import type { BuildConfig } from '../shared/config.js';
import { TemplateValidationError } from '../shared/errors.js';
import { type TagList, tagValue } from '../shared/ownership.js';
import {
  buildNameOf,
  changedSteps,
  describePoint,
  type EnteredState,
  failedStep,
  type KeptState,
  ResumeStateNames,
  resumeArnProblems,
} from '../shared/resume.js';
import { type Clients, TagKeys } from '../shared/runtime.js';
import type { BuildState, ExecutionInfo } from '../shared/state.js';

/** The failed execution as Step Functions reports it. */
export interface ExecutionHistory {
  status: string;
  stateMachineArn: string;
  /** Every state entered, with its input, in history order. */
  entered: EnteredState[];
}

/** A kept resource as EC2 or IAM shows it now. */
export interface ResourceView {
  /** EC2's instance state name (instances only). */
  state?: string;
  tags: TagList;
}

/** How the resume check reads AWS (the handler's implementation: {@link awsResumeReader}). */
export interface ResumeReader {
  /** undefined: Step Functions knows no such execution. */
  execution(arn: string): Promise<ExecutionHistory | undefined>;
  /** undefined: no such instance. */
  instance(region: string, instanceId: string): Promise<ResourceView | undefined>;
  /** undefined: no such group. */
  securityGroup(region: string, groupId: string): Promise<ResourceView | undefined>;
  /** false: no such instance profile. */
  instanceProfileExists(name: string): Promise<boolean>;
}

const parse = (text: string | undefined): unknown => {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** The states entered, from history events (oldest first). */
export function enteredStates(events: readonly HistoryEvent[]): EnteredState[] {
  return events.flatMap((e) =>
    e.type?.endsWith('StateEntered') && e.stateEnteredEventDetails?.name !== undefined
      ? [{ name: e.stateEnteredEventDetails.name, input: parse(e.stateEnteredEventDetails.input) }]
      : [],
  );
}

/** Step Functions, EC2 and IAM through the task's clients. */
export function awsResumeReader(
  clients: Pick<Clients, 'sfn' | 'ec2' | 'iam'>,
  homeRegion: string,
): ResumeReader {
  return {
    async execution(arn) {
      const region = arn.split(':')[3] || homeRegion;
      const sfn = clients.sfn(region);
      let described: DescribeExecutionCommandOutput;
      try {
        described = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      } catch (error) {
        if (awsErrorCode(error) === 'ExecutionDoesNotExist') return undefined;
        throw error;
      }
      const events: HistoryEvent[] = [];
      let token: string | undefined;
      do {
        const page = await sfn.send(
          new GetExecutionHistoryCommand({
            executionArn: arn,
            includeExecutionData: true,
            maxResults: 1000,
            nextToken: token,
          }),
        );
        events.push(...(page.events ?? []));
        token = page.nextToken;
      } while (token !== undefined);
      return {
        status: described.status ?? 'UNKNOWN',
        stateMachineArn: described.stateMachineArn ?? '',
        entered: enteredStates(events),
      };
    },
    async instance(region, instanceId) {
      try {
        const out = await clients
          .ec2(region)
          .send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
        const instance = (out.Reservations ?? [])
          .flatMap((r) => r.Instances ?? [])
          .find((i) => i.InstanceId === instanceId);
        return instance === undefined ? undefined : { state: instance.State?.Name, tags: instance.Tags };
      } catch (error) {
        if (awsErrorCode(error) === 'InvalidInstanceID.NotFound') return undefined;
        throw error;
      }
    },
    async securityGroup(region, groupId) {
      try {
        const out = await clients
          .ec2(region)
          .send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
        const group = (out.SecurityGroups ?? []).find((g) => g.GroupId === groupId);
        return group === undefined ? undefined : { tags: group.Tags };
      } catch (error) {
        if (awsErrorCode(error) === 'InvalidGroup.NotFound') return undefined;
        throw error;
      }
    },
    async instanceProfileExists(name) {
      try {
        await clients.iam(homeRegion).send(new GetInstanceProfileCommand({ InstanceProfileName: name }));
        return true;
      } catch (error) {
        if (awsErrorCode(error) === 'NoSuchEntity') return false;
        throw error;
      }
    },
  };
}

/** The state a build had when it entered `stateName`, the last time (the failed build's full state). */
function lastStateOf(
  entered: readonly EnteredState[],
  stateName: string,
  buildName: string,
): BuildState | undefined {
  let found: BuildState | undefined;
  for (const state of entered) {
    if (state.name === stateName && buildNameOf(state.input) === buildName) found = state.input as BuildState;
  }
  return found;
}

const liveInstance = (state: string | undefined) =>
  state !== undefined && !['shutting-down', 'terminated'].includes(state);

/**
 * Checks that each build of `builds` can resume the failed execution `arn`, and returns the builds with
 * `config.resume`, the failed build's AMI name and bundle prefix.
 *
 * @throws TemplateValidationError listing every reason to refuse
 */
export async function resumeBuilds(
  arn: string,
  builds: readonly BuildConfig[],
  execution: ExecutionInfo,
  context: { stackName: string; reader: ResumeReader },
): Promise<BuildConfig[]> {
  const refuse = (problems: string[]): never => {
    throw new TemplateValidationError(problems.map((p) => `resume: ${p}`));
  };
  // Validate Template checked the ARN already; checked again, as this state trusts no input to read AWS with.
  const arnProblems = resumeArnProblems(arn, execution.id);
  if (arnProblems.length > 0) refuse(arnProblems);
  const failed = await context.reader.execution(arn);
  if (failed === undefined) refuse([`execution ${arn} does not exist`]);
  const history = failed as ExecutionHistory;
  if (history.status !== 'FAILED') {
    refuse([`execution ${arn} did not fail (status ${history.status}); only a failed build can be resumed`]);
  }

  const problems: string[] = [];
  const resumed: BuildConfig[] = [];
  for (const config of builds) {
    const name = config.name;
    const where = `build "${name}"`;
    const old = lastStateOf(history.entered, ResumeStateNames.reportFailedBuild, name);
    if (old === undefined) {
      const succeeded = lastStateOf(history.entered, ResumeStateNames.reportBuild, name) !== undefined;
      problems.push(
        succeeded
          ? `${where} succeeded in ${arn}: select only the failed builds (only/-only)`
          : `${where} is not a failed build of ${arn}`,
      );
      continue;
    }
    if (old.config.onError !== 'abort') {
      problems.push(
        `${where} of ${arn} ran with on_error ${old.config.onError}, not abort: its instance was not kept, run a new build`,
      );
      continue;
    }
    const point = failedStep(history.entered, name);
    if (typeof point === 'string') {
      problems.push(`${where} cannot be resumed: ${point}`);
      continue;
    }
    const { source, bucket, network, instance, instanceRole } = old;
    if (
      source === undefined ||
      bucket === undefined ||
      network === undefined ||
      instance === undefined ||
      instanceRole === undefined
    ) {
      problems.push(`${where} cannot be resumed: the failed build had not launched its instance`);
      continue;
    }
    const changed = changedSteps(old.config, config, point);
    for (const c of changed) {
      problems.push(
        `${where}: ${c.message}, a step before the failed one (${describePoint(point, old.config)}); ` +
          'a resumed build runs again only the failed step and those after it: run a new build',
      );
    }

    // The kept resources: still there, still this stack's, still the failed execution's (or this one's).
    const region = old.config.region;
    const ownedByFailed = (tags: TagList) =>
      tagValue(tags, TagKeys.stack) === context.stackName &&
      [arn, execution.id].includes(tagValue(tags, TagKeys.execution) ?? '');
    const view = await context.reader.instance(region, instance.instanceId);
    if (view === undefined || !liveInstance(view.state)) {
      problems.push(
        `${where}: the kept instance ${instance.instanceId} in ${region} is gone` +
          `${view?.state === undefined ? '' : ` (${view.state})`}: run a new build`,
      );
    } else if (!ownedByFailed(view.tags)) {
      problems.push(
        `${where}: instance ${instance.instanceId} in ${region} is not tagged ${TagKeys.execution}=${arn} ` +
          `of stack ${context.stackName} (another execution resumed it already?)`,
      );
    }
    const groupId = network.temporarySecurityGroupId;
    if (groupId !== undefined) {
      const group = await context.reader.securityGroup(region, groupId);
      if (group === undefined) {
        problems.push(`${where}: the kept security group ${groupId} in ${region} is gone: run a new build`);
      } else if (!ownedByFailed(group.tags)) {
        problems.push(
          `${where}: security group ${groupId} in ${region} is not tagged ${TagKeys.execution}=${arn} of stack ${context.stackName}`,
        );
      }
    }
    if (
      instanceRole.temporary &&
      !(await context.reader.instanceProfileExists(instanceRole.instanceProfileName))
    ) {
      problems.push(
        `${where}: the kept instance profile ${instanceRole.instanceProfileName} is gone: run a new build`,
      );
    }
    if (changed.length > 0) continue;

    const kept: KeptState = { source, bucket, network, instance, instanceRole };
    resumed.push({
      ...config,
      // The failed build's resolved names: a {{timestamp}} must not change between the two executions.
      amiName: old.config.amiName,
      bundle: { ...config.bundle, prefix: old.config.bundle.prefix },
      resume: {
        from: arn,
        origin: old.config.resume?.origin ?? { id: old.execution.id, name: old.execution.name },
        step: point.step,
        ...(point.provisionerIndex === undefined ? {} : { provisionerIndex: point.provisionerIndex }),
        kept,
      },
    });
  }
  if (problems.length > 0) refuse(problems);
  return resumed;
}

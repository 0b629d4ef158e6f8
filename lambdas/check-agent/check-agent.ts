/**
 * Check SSM Agent: one check of the wait that replaces Packer's "Waiting for SSH to become available". Run
 * Command can reach the instance only once its SSM agent has registered and reports `PingStatus = Online`;
 * commands sent earlier fail.
 */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand } from '@aws-sdk/client-ssm';
import { AgentNotOnlineError, InstanceNotRunningError } from '../shared/errors.js';
import { checkProgress, nextAttempt, pending, pollResult } from '../shared/poll.js';
import type { Clients } from '../shared/runtime.js';
import type { PollResult, TaskEvent } from '../shared/state.js';
import { requireState } from '../shared/task-event.js';

export interface CheckAgentDeps {
  clients: Pick<Clients, 'ec2' | 'ssm'>;
}

/** `$.poll` key of the agent wait. */
export const AGENT_POLL_KEY = 'agent';

/** `$.poll` key of the wait for the `ami_test` instance's agent. */
export const TEST_AGENT_POLL_KEY = 'testAgent';

export interface CheckAgentArgs {
  /**
   * Which instance: the build instance (`$.instance`, default) or the `ami_test` instance (`$.testInstance`).
   * @default 'build'
   */
  instance?: 'build' | 'test';
}

async function pingStatus(
  deps: CheckAgentDeps,
  region: string,
  instanceId: string,
): Promise<string | undefined> {
  const out = await deps.clients
    .ssm(region)
    .send(
      new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }),
    );
  return out.InstanceInformationList?.find((i) => i.InstanceId === instanceId)?.PingStatus;
}

async function instanceState(
  deps: CheckAgentDeps,
  region: string,
  instanceId: string,
): Promise<{ state: string; reason?: string }> {
  try {
    const out = await deps.clients
      .ec2(region)
      .send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = out.Reservations?.[0]?.Instances?.[0];
    const reason = instance?.StateReason?.Message;
    return { state: instance?.State?.Name ?? 'terminated', ...(reason === undefined ? {} : { reason }) };
  } catch (error) {
    if ((error as Error).name === 'InvalidInstanceID.NotFound') return { state: 'terminated' };
    throw error;
  }
}

/**
 * One check of the SSM agent. Returns `done` once the agent reports Online; otherwise throws
 * {@link PollPendingError} (the state's Retry checks again on the poll schedule) until `ssh_timeout` seconds
 * have been waited.
 *
 * @throws InstanceNotRunningError when the instance stopped or terminated meanwhile.
 * @throws PollPendingError while the agent is not Online yet.
 * @throws AgentNotOnlineError when the agent is not Online by the last check; the message lists the usual causes.
 */
export async function checkAgent(
  event: TaskEvent<CheckAgentArgs>,
  deps: CheckAgentDeps,
): Promise<PollResult> {
  const { build, args } = event;
  const { config } = build;
  const test = args.instance === 'test';
  const key = test ? TEST_AGENT_POLL_KEY : AGENT_POLL_KEY;
  const instanceId = requireState(build, test ? 'testInstance' : 'instance').instanceId;
  const progress = checkProgress(event.check, key);
  const attempt = nextAttempt(build, key, instanceId) + progress.attempt - 1;
  const waitSeconds = progress.nextDelaySeconds;

  const ping = await pingStatus(deps, config.region, instanceId);
  if (ping === 'Online') {
    return pollResult({ done: true, attempt, waitSeconds, status: 'Online', target: instanceId });
  }

  // An instance that died (for example a kernel that does not boot on this type) never brings its agent up:
  // say so now instead of after ssh_timeout.
  const { state, reason } = await instanceState(deps, config.region, instanceId);
  if (state !== 'running' && state !== 'pending') {
    throw new InstanceNotRunningError(
      `Instance ${instanceId} entered state "${state}" while waiting for its SSM agent` +
        `${reason === undefined ? '' : `: ${reason}`}.`,
    );
  }

  const status = ping ?? 'not registered';
  if (progress.waitedSeconds >= config.agentTimeoutSeconds) {
    const profile = build.instanceRole?.instanceProfileName ?? config.iamInstanceProfile ?? '';
    throw new AgentNotOnlineError(
      `The SSM agent of ${test ? 'the ami_test instance (launched from the new AMI) ' : 'instance '}${instanceId} did not report Online within ${config.agentTimeoutSeconds} s ` +
        `(ssh_timeout); last status: ${status}. Usual causes: ` +
        '(1) the source AMI has no SSM agent, or it does not start: use an AMI that ships it or install it with ' +
        'user_data; ' +
        (profile === ''
          ? '(2) the instance has no instance profile, so it cannot register with SSM; '
          : `(2) the instance profile "${profile}" is missing or its role lacks the SSM agent's permissions (ssm:UpdateInstanceInformation, ssmmessages, ec2messages); `) +
        '(3) the instance has no route to the SSM endpoints (ssm, ssmmessages, ec2messages) on HTTPS: give it a ' +
        'public IP (associate_public_ip_address) in a subnet with an internet gateway, a NAT gateway, or VPC ' +
        'interface endpoints. A slow first boot may also need a longer ssh_timeout.',
    );
  }
  throw pending(`The SSM agent of instance ${instanceId}`, status, progress);
}

import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';
import { timedCheck } from '../shared/build-metrics.js';
import { createClients, lambdaHandler, systemClock } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { AGENT_POLL_KEY, checkAgent, TEST_AGENT_POLL_KEY } from './check-agent.js';

const deps = { clients: createClients({ ec2: EC2Client, ssm: SSMClient }) };
const argsSchema = z.object({ instance: z.optional(z.enum(['build', 'test'])) });

/** State "Check SSM Agent": `{ build, args: {} }` → `PollResult` at `$.poll.agent`; its end closes the agent phase. */
export const handler = lambdaHandler(async (event: unknown) => {
  const task = parseTaskEvent(event, argsSchema);
  const result = await checkAgent(task, deps);
  if (task.args.instance === 'test') {
    return timedCheck(task.build, TEST_AGENT_POLL_KEY, result, systemClock.now(), {}, task.state, task.check);
  }
  return timedCheck(
    task.build,
    AGENT_POLL_KEY,
    result,
    systemClock.now(),
    { phase: 'agent' },
    task.state,
    task.check,
  );
});

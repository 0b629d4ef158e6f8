import { EC2Client } from '@aws-sdk/client-ec2';
import * as z from 'zod/mini';
import { timedCheck } from '../shared/build-metrics.js';
import { createClients, lambdaHandler, systemClock } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { checkInstance, instancePollKey } from './check-instance.js';

const deps = { clients: createClients({ ec2: EC2Client }) };
const argsSchema = z.object({
  want: z.enum(['running', 'terminated']),
  instance: z.optional(z.enum(['build', 'test'])),
});

/**
 * States "Check Instance Running" (`want: running`, closes the launch phase) and the termination checks
 * (`want: terminated`) → `PollResult` at `$.poll.instanceRunning` / `$.poll.instanceTerminated`.
 */
export const handler = lambdaHandler(async (event: unknown) => {
  const task = parseTaskEvent(event, argsSchema);
  const result = await checkInstance(task, deps);
  const key = instancePollKey(task.args);
  // The test instance's launch is not the build's launch phase.
  const measures =
    task.args.want === 'running' && task.args.instance !== 'test' ? { phase: 'launch' as const } : {};
  return timedCheck(task.build, key, result, systemClock.now(), measures, task.state, task.check);
});

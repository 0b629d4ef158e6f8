import { EC2Client } from '@aws-sdk/client-ec2';
import { timedCheck } from '../shared/build-metrics.js';
import { createClients, lambdaHandler, systemClock } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { checkImage, checkImageArgs } from './check-image.js';

const deps = { clients: createClients({ ec2: EC2Client }) };

/**
 * States "Check AMI Available" (`args: { region, key: 'image' }`) and "Check AMI Copy"
 * (`args: { region, key: 'copy' }`) → `PollResult` at `$.poll.<key>`. Their ends close the register and copy
 * phases.
 */
export const handler = lambdaHandler(async (event: unknown) => {
  const task = parseTaskEvent(event, checkImageArgs);
  const result = await checkImage(task, deps);
  const phase = task.args.key === 'copy' ? 'copy' : 'register';
  return timedCheck(task.build, task.args.key, result, systemClock.now(), { phase }, task.state, task.check);
});

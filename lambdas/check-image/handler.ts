import { EC2Client } from '@aws-sdk/client-ec2';
import { createClients, lambdaHandler } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { checkImage, checkImageArgs } from './check-image.js';

const deps = { clients: createClients({ ec2: EC2Client }) };

/**
 * States "Check AMI Available" (`args: { region, key: 'image' }`) and "Check AMI Copy"
 * (`args: { region, key: 'copy' }`) → `PollResult` at `$.poll.<key>`.
 */
export const handler = lambdaHandler((event: unknown) =>
  checkImage(parseTaskEvent(event, checkImageArgs), deps),
);

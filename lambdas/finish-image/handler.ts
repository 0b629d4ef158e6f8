import { setTimeout as sleep } from 'node:timers/promises';
import { EC2Client } from '@aws-sdk/client-ec2';
import { logInfo } from '../shared/observability.js';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { finishImage, finishImageArgs } from './finish-image.js';

const deps = {
  clients: createClients({ ec2: EC2Client }),
  env: readEnvironment(),
  log: logInfo,
  sleep: async (milliseconds: number) => {
    await sleep(milliseconds);
  },
};

/**
 * States "Finish AMI" (build region, `args: { region, imageId: $.image.imageId }`) and "Finish AMI Copy"
 * (`args: { region, imageId: $.copy.imageId }`) → `ImageInfo`.
 */
export const handler = lambdaHandler((event: unknown) =>
  finishImage(parseTaskEvent(event, finishImageArgs), deps),
);

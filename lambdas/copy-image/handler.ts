import { EC2Client } from '@aws-sdk/client-ec2';
import { logInfo } from '../shared/observability.js';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { copyImage, copyImageArgs } from './copy-image.js';

const deps = {
  clients: createClients({ ec2: EC2Client }),
  env: readEnvironment(),
  log: logInfo,
};

/** State "Copy AMI" (inside the Copy To Regions Map): `{ build, args: { region } }` → `ImageInfo` at `$.copy`. */
export const handler = lambdaHandler((event: unknown) =>
  copyImage(parseTaskEvent(event, copyImageArgs), deps),
);

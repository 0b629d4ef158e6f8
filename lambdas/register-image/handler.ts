import { EC2Client } from '@aws-sdk/client-ec2';
import * as z from 'zod/mini';
import { logInfo } from '../shared/observability.js';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { registerImage } from './register-image.js';

const deps = {
  clients: createClients({ ec2: EC2Client }),
  env: readEnvironment(),
  log: logInfo,
};
const argsSchema = z.object({});

/** State "Register AMI": `{ build, args: {} }` → `ImageInfo` at `$.image`. */
export const handler = lambdaHandler((event: unknown) =>
  registerImage(parseTaskEvent(event, argsSchema), deps),
);

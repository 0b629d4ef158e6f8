import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { logInfo } from '../shared/observability.js';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { forceDeregister } from './force-deregister.js';

const deps = {
  clients: createClients({ ec2: EC2Client, s3: S3Client }),
  env: readEnvironment(),
  log: logInfo,
};
const argsSchema = z.object({});

/** State "Force Deregister": `{ build, args: {} }` → `{ deregistered: ImageInfo[] }` at `$.forceDeregister`. */
export const handler = lambdaHandler((event: unknown) =>
  forceDeregister(parseTaskEvent(event, argsSchema), deps),
);

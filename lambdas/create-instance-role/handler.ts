import { IAMClient } from '@aws-sdk/client-iam';
import * as z from 'zod/mini';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { createInstanceRole } from './create-instance-role.js';

const deps = {
  clients: createClients({ iam: IAMClient }),
  env: readEnvironment(),
  homeRegion: process.env.AWS_REGION ?? 'us-east-1',
};
const argsSchema = z.object({});

/** State "Create Instance Role": `{ build, args: {} }` → `InstanceRoleInfo` at `$.instanceRole`. */
export const handler = lambdaHandler((event: unknown) =>
  createInstanceRole(parseTaskEvent(event, argsSchema), deps),
);

import { EC2Client } from '@aws-sdk/client-ec2';
import * as z from 'zod/mini';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { launchTestInstance } from './launch-test-instance.js';

const deps = { clients: createClients({ ec2: EC2Client }), env: readEnvironment() };
const argsSchema = z.object({});

/** State "Launch Test Instance": `{ build, args: {} }` → `InstanceInfo` at `$.testInstance`. */
export const handler = lambdaHandler((event: unknown) =>
  launchTestInstance(parseTaskEvent(event, argsSchema), deps),
);

import { EC2Client } from '@aws-sdk/client-ec2';
import * as z from 'zod/mini';
import { createClients, lambdaHandler } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { checkInstance } from './check-instance.js';

const deps = { clients: createClients({ ec2: EC2Client }) };
const argsSchema = z.object({ want: z.enum(['running', 'terminated']) });

export const handler = lambdaHandler((event: unknown) =>
  checkInstance(parseTaskEvent(event, argsSchema), deps),
);

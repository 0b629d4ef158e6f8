import { EC2Client } from '@aws-sdk/client-ec2';
import * as z from 'zod/mini';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { createSecurityGroup } from './create-security-group.js';

const deps = { clients: createClients({ ec2: EC2Client }), env: readEnvironment() };
const argsSchema = z.object({});

export const handler = lambdaHandler((event: unknown) =>
  createSecurityGroup(parseTaskEvent(event, argsSchema), deps),
);

import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';
import { createClients, lambdaHandler } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { checkAgent } from './check-agent.js';

const deps = { clients: createClients({ ec2: EC2Client, ssm: SSMClient }) };
const argsSchema = z.object({});

export const handler = lambdaHandler((event: unknown) => checkAgent(parseTaskEvent(event, argsSchema), deps));

import { EC2Client } from '@aws-sdk/client-ec2';
import { STSClient } from '@aws-sdk/client-sts';
import * as z from 'zod/mini';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { prevalidate } from './prevalidate.js';

const deps = {
  clients: createClients({ ec2: EC2Client, sts: STSClient }),
  env: readEnvironment(),
  stackRegion: process.env.AWS_REGION,
};
const argsSchema = z.object({});

export const handler = lambdaHandler((event: unknown) =>
  prevalidate(parseTaskEvent(event, argsSchema), deps),
);

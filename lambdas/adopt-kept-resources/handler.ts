import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import * as z from 'zod/mini';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { adoptKeptResources } from './adopt-kept-resources.js';

const deps = {
  clients: createClients({ ec2: EC2Client, iam: IAMClient }),
  env: readEnvironment(),
  homeRegion: process.env.AWS_REGION ?? 'us-east-1',
};
const argsSchema = z.object({});

/** State "Adopt Kept Resources": `{ build, args: {} }` → the build state, which replaces the state. */
export const handler = lambdaHandler((event: unknown) =>
  adoptKeptResources(parseTaskEvent(event, argsSchema), deps),
);

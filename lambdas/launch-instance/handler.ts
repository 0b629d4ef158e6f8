import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { launchInstance } from './launch-instance.js';

const deps = { clients: createClients({ ec2: EC2Client, s3: S3Client }), env: readEnvironment() };
const argsSchema = z.object({});

export const handler = lambdaHandler((event: unknown) =>
  launchInstance(parseTaskEvent(event, argsSchema), deps),
);

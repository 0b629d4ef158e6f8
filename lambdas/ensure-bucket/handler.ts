import { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { createClients, lambdaHandler, readEnvironment } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { ensureBundleBucket } from './ensure-bucket.js';

const deps = { clients: createClients({ s3: S3Client }), env: readEnvironment() };
const argsSchema = z.object({});

export const handler = lambdaHandler((event: unknown) =>
  ensureBundleBucket(parseTaskEvent(event, argsSchema), deps),
);

import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { logInfo } from '../shared/observability.js';
import { createClients, lambdaHandler, readEnvironment, systemClock } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import { checkUnchanged } from './check-unchanged.js';

const deps = {
  clients: createClients({ ec2: EC2Client, s3: S3Client }),
  env: readEnvironment(),
  stagingRegion: process.env.AWS_REGION ?? 'us-east-1',
  clock: systemClock,
  log: logInfo,
};
const argsSchema = z.object({});

/** State "Check Unchanged" (only with `skip_if_unchanged`): `{ build }` → `FingerprintInfo` at `$.fingerprint`. */
export const handler = lambdaHandler((event: unknown) =>
  checkUnchanged(parseTaskEvent(event, argsSchema), deps),
);

import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { logInfo } from '../shared/observability.js';
import { createClients, lambdaHandler, readEnvironment, systemClock } from '../shared/runtime.js';
import { parseTaskEvent } from '../shared/task-event.js';
import {
  applyBuildRetention,
  applyStackRetention,
  type FamilyRetention,
  parseRetentionRequest,
  type RetentionReport,
  readStackDefault,
} from './apply-retention.js';

const deps = {
  clients: createClients({ ec2: EC2Client, s3: S3Client, ssm: SSMClient }),
  env: readEnvironment(),
  clock: systemClock,
  stackDefault: readStackDefault(process.env.RETENTION_DEFAULT),
  homeRegion: process.env.AWS_REGION ?? 'us-east-1',
  log: logInfo,
};

/**
 * State "Apply Retention": `{ build, args: {} }` → the family's `FamilyRetention` at `$.retention`.
 * The retention schedule (`{ "dryRun": false }`) and `ami-builder retention [--dry-run]` → `RetentionReport`.
 */
export const handler = lambdaHandler(
  (event: unknown): Promise<FamilyRetention | RetentionReport> =>
    event !== null && typeof event === 'object' && 'build' in event
      ? applyBuildRetention(parseTaskEvent(event).build, deps)
      : applyStackRetention(parseRetentionRequest(event), deps),
);
